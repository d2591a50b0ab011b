package ratelimit

import (
	"testing"
	"time"
)

// TestLockoutWait pins the default password schedule (LG-03): five free
// attempts, then 1s doubling to the 15min cap, and the 100th failure locks
// for an hour.
func TestLockoutWait(t *testing.T) {
	p := DefaultPolicies().PasswordAccount
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {4, 0},
		{5, time.Second}, {6, 2 * time.Second}, {7, 4 * time.Second},
		{14, 512 * time.Second}, {15, 15 * time.Minute}, {99, 15 * time.Minute},
		{100, time.Hour}, {101, time.Hour}, {1 << 30, time.Hour},
	} {
		if got := p.wait(tc.failures); got != tc.want {
			t.Errorf("PasswordAccount.wait(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

func TestDefaultPoliciesValid(t *testing.T) {
	p := DefaultPolicies()
	for _, err := range []error{
		p.PasswordAccount.Validate(), p.PasswordIP.Validate(), p.EmailAddress.Validate(), p.EmailIP.Validate(),
		p.DeviceCodeSession.Validate(), p.DeviceCodeIP.Validate(), p.TOTPAccount.Validate(), p.TOTPLogin.Validate(),
		p.DeviceAuthorizationIP.Validate(), p.PasskeyOptionsIP.Validate(),
	} {
		if err != nil {
			t.Errorf("DefaultPolicies(): %v", err)
		}
	}
	names := map[string]bool{}
	for _, name := range []string{p.PasswordAccount.Name, p.PasswordIP.Name, p.EmailAddress.Name, p.EmailIP.Name,
		p.DeviceCodeSession.Name, p.DeviceCodeIP.Name, p.TOTPAccount.Name, p.TOTPLogin.Name,
		p.DeviceAuthorizationIP.Name, p.PasskeyOptionsIP.Name} {
		if names[name] {
			t.Errorf("DefaultPolicies(): two policies named %q would share counters", name)
		}
		names[name] = true
	}
}

func TestValidate(t *testing.T) {
	good := Lockout{Name: "l", Free: 3, Delay: time.Second, MaxDelay: time.Minute, HardLockAt: 10, HardLock: time.Hour, ForgetAfter: time.Hour}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"policy without name", Policy{Limit: 1, Window: time.Minute}.Validate()},
		{"policy with limit 0", Policy{Name: "p", Window: time.Minute}.Validate()},
		{"policy without window", Policy{Name: "p", Limit: 1}.Validate()},
		{"lockout without name", func() error { l := good; l.Name = ""; return l.Validate() }()},
		{"lockout without free attempts", func() error { l := good; l.Free = 0; return l.Validate() }()},
		{"lockout without delay", func() error { l := good; l.Delay = 0; return l.Validate() }()},
		{"lockout with max delay below delay", func() error { l := good; l.MaxDelay = time.Millisecond; return l.Validate() }()},
		{"lockout hard locking within the free attempts", func() error { l := good; l.HardLockAt = 2; return l.Validate() }()},
		{"lockout without hard lock", func() error { l := good; l.HardLock = 0; return l.Validate() }()},
		{"lockout never forgetting", func() error { l := good; l.ForgetAfter = 0; return l.Validate() }()},
	} {
		if tc.err == nil {
			t.Errorf("Validate(%s) = nil, want an error", tc.name)
		}
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(good lockout) = %v", err)
	}
}
