package render

import "html/template"

// The second-factor pages (package mfa parses each with ParsePage). Every
// form posts csrf_token; the sign-in step is bound to the browser by a
// cookie, so its forms carry nothing else that identifies the sign-in.

// SecondFactorPage is the second sign-in step. Its form posts method
// ("totp" or "recovery"), code and csrf_token to /login/second-factor.
type SecondFactorPage struct {
	Page
	// Method is the form to show: "totp" (the default) or "recovery".
	Method string
	// HasTOTP, HasPasskey and HasRecovery say which ways the person has.
	HasTOTP, HasPasskey, HasRecovery bool
	// Error is shown next to the code field.
	Error string
}

// TOTPSetupPage shows a new authenticator-app secret as a QR code and as
// text, and asks for a code from the app. It posts code and csrf_token to
// Action.
type TOTPSetupPage struct {
	Page
	Action string
	// QR is the otpauth:// URI as a PNG data: URL.
	QR template.URL
	// Secret is the same secret as text, for typing into the app.
	Secret string
	// Required says the person's organization or Foyer requires a second
	// factor before they can continue.
	Required bool
	Error    string
}

// RecoveryCodesPage shows a new set of recovery codes, once. Continue
// posts csrf_token to Action when set; otherwise Next is a link onwards.
type RecoveryCodesPage struct {
	Page
	Codes  []string
	Action string
	Next   string
}

// Passkey is one passkey as the security page lists it.
type Passkey struct {
	// ID is the credential ID, base64url, posted as "id".
	ID       string
	Name     string
	Created  string
	LastUsed string
	// CloneWarning says the passkey's signature counter went backwards:
	// it may have been copied.
	CloneWarning bool
}

// SecurityPage is the account's security settings: the authenticator app,
// recovery codes and passkeys. Its forms post csrf_token (and id, name for
// a passkey) to the /account/security/… URLs.
type SecurityPage struct {
	Page
	Email string
	// TOTP says an authenticator app is set up.
	TOTP bool
	// RecoveryCodes is how many unused recovery codes are left.
	RecoveryCodes int
	Passkeys      []Passkey
	// PasskeysAvailable is false when WebAuthn cannot work here (the
	// issuer's host is an IP address).
	PasskeysAvailable bool
	// Notice is a sentence about what just happened.
	Notice string
	Error  string
}

// SSOConfirmPage asks a person whose identity provider started a sign-in
// on its own (IdP-initiated SAML) to confirm it, so that a response posted
// by someone else cannot sign them in unawares. It posts csrf_token to
// Action.
type SSOConfirmPage struct {
	Page
	Action         string
	ConnectionName string
	Email          string
}
