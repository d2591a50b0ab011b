package render

// The sign-in pages (package signin parses each with ParsePage). Every form
// posts csrf_token (layout.html's "csrf"); the ones that continue an
// authorization also post challenge. The pages look the same whether or
// not an account uses the email typed: nothing on them depends on it
// (SECURITY.md LG-01, LG-07).

// LoginIdentifierPage is the first sign-in step: the email and Continue.
// It posts email, challenge and csrf_token to /login.
type LoginIdentifierPage struct {
	Page
	// Challenge is the pending authorization, sent back as "challenge";
	// empty when the person came to sign in to Foyer itself.
	Challenge string
	// ClientName, when set, adds "to continue to <ClientName>".
	ClientName string
	// Email pre-fills the field: the application's login_hint, or what
	// the person typed.
	Email string
	// EmailError is shown next to the field.
	EmailError string
	// SignupOpen shows the "Create an account" link.
	SignupOpen bool
	// Invitation, when set, is the token of the invitation page to return
	// to once signed in, posted as "invitation".
	Invitation string
	// Passkeys shows "Sign in with a passkey" (and passkey autofill).
	Passkeys bool
	// Connections are the "Continue with …" buttons of upstream identity
	// providers.
	Connections []ConnectionButton
}

// ConnectionButton is a "Continue with Name" button: a GET form to
// Action, where a sign-in through an upstream identity provider starts,
// carrying the page's challenge.
type ConnectionButton struct {
	Name, Action string
}

// LoginPasswordPage is the second sign-in step, the same for every email:
// a password form posting email, password, challenge and csrf_token to
// /login/password, and a form posting email, challenge and csrf_token to
// /login/email-link.
type LoginPasswordPage struct {
	Page
	Challenge  string
	ClientName string
	// Email is the address typed in the first step, shown with a "Not
	// you?" link back to it and carried in both forms.
	Email string
	// Error is about the whole form, such as "Too many attempts".
	Error string
	// PasswordError is shown next to the password field.
	PasswordError string
	// SignupOpen shows the "Create an account" link.
	SignupOpen bool
	// Invitation is LoginIdentifierPage.Invitation, carried by the
	// password form only.
	Invitation string
}

// CheckEmailPage follows a request for a sign-in link. It says the same for
// every address, whether or not a link was sent (ML-06).
type CheckEmailPage struct {
	Page
	Challenge string
	// Email is the address typed.
	Email string
	// ValidMinutes is how long a link works.
	ValidMinutes int
}

// MagicLinkPage is what an emailed sign-in link opens: opening it consumes
// nothing (mail scanners fetch links, ML-04); the person presses Sign in,
// which posts token and csrf_token to /login/link.
type MagicLinkPage struct {
	Page
	// Token is the link's token, posted back as "token".
	Token string
	// Email is the account the link signs in to.
	Email string
	// ClientName, when set, adds "to continue to <ClientName>".
	ClientName string
	// OtherDevice: the link was asked for in another browser, so the page
	// says plainly which account this browser is about to sign in to
	// (ML-05: someone may have sent their own link to trick this person).
	OtherDevice bool
}
