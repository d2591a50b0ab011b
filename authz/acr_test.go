package authz

import "testing"

func TestACR(t *testing.T) {
	for _, tc := range []struct {
		amr  []string
		want string
	}{
		{nil, acrSingleFactor},
		{[]string{"pwd"}, acrSingleFactor},
		{[]string{"email"}, acrSingleFactor},
		{[]string{"pwd", "otp", "mfa"}, acrMultiFactor},
		{[]string{"hwk", "mfa"}, acrPhishingResistant},
		{[]string{"pwd", "swk", "mfa"}, acrPhishingResistant},
	} {
		if got := acrOf(tc.amr); got != tc.want {
			t.Errorf("acrOf(%v) = %s, want %s", tc.amr, got, tc.want)
		}
	}
	for _, tc := range []struct {
		values string
		amr    []string
		want   bool
	}{
		{"", []string{"pwd"}, true},
		{"urn:example:unknown", []string{"pwd"}, true},
		{acrSingleFactor, []string{"pwd"}, true},
		{acrMultiFactor, []string{"pwd"}, false},
		{acrMultiFactor, []string{"pwd", "otp", "mfa"}, true},
		{acrPhishingResistant, []string{"pwd", "otp", "mfa"}, false},
		{acrPhishingResistant + " " + acrMultiFactor, []string{"pwd", "otp", "mfa"}, true},
		{acrPhishingResistant, []string{"hwk", "mfa"}, true},
		{acrMultiFactor, []string{"hwk", "mfa"}, true},
	} {
		if got := acrSatisfied(tc.values, tc.amr); got != tc.want {
			t.Errorf("acrSatisfied(%q, %v) = %v, want %v", tc.values, tc.amr, got, tc.want)
		}
	}
}
