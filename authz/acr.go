package authz

import (
	"slices"
	"strings"
)

// Authentication context classes (the acr claim and the acr_values
// parameter), from weakest to strongest. The multi-factor and
// phishing-resistant values are the OpenID PAPE policy URIs that Auth0,
// Okta and Entra ID also use, so relying-party libraries know them.
const (
	acrSingleFactor      = "urn:foyer:acr:single-factor"
	acrMultiFactor       = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
	acrPhishingResistant = "http://schemas.openid.net/pape/policies/2007/06/phishing-resistant"
)

var acrLevels = []string{acrSingleFactor, acrMultiFactor, acrPhishingResistant}

// acrOf is the class a sign-in with these methods (RFC 8176 amr) reaches:
// a passkey (hwk, swk) is phishing-resistant, any second factor (mfa) is
// multi-factor, anything else one factor.
func acrOf(amr []string) string {
	switch {
	case slices.Contains(amr, "hwk") || slices.Contains(amr, "swk"):
		return acrPhishingResistant
	case slices.Contains(amr, "mfa"):
		return acrMultiFactor
	}
	return acrSingleFactor
}

// acrSatisfied reports whether a sign-in with amr meets acr_values: at
// least one requested class at or below its own. Unknown values are
// ignored; no known value asks for nothing.
func acrSatisfied(acrValues string, amr []string) bool {
	have := slices.Index(acrLevels, acrOf(amr))
	known := false
	for _, v := range strings.Fields(acrValues) {
		want := slices.Index(acrLevels, v)
		if want < 0 {
			continue
		}
		known = true
		if want <= have {
			return true
		}
	}
	return !known
}
