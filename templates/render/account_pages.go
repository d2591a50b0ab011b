package render

// The account pages: sign-up, email verification, password reset and the
// account page (package signin parses each with ParsePage). Every form
// posts csrf_token (layout.html's "csrf"). Pages that follow a request
// for an email say the same whether or not an account uses the address
// (SECURITY.md LG-07).

// SignupPage creates an account. It posts email, name, password,
// challenge and csrf_token to /signup. When sign-up is closed it shows
// Closed instead of the form.
type SignupPage struct {
	Page
	// Challenge is the pending authorization the person came from, if
	// any, sent back as "challenge": verifying the address continues it.
	Challenge string
	// Closed, when set, says why nobody can sign up here; no form is shown.
	Closed string
	// Email and Name pre-fill the fields after a refused attempt; the
	// password is never sent back.
	Email, Name string
	// EmailError, NameError and PasswordError are shown next to their
	// fields.
	EmailError, NameError, PasswordError string
	// Error is about the whole form, such as "Too many attempts".
	Error string
}

// AccountCheckEmailPage follows a sign-up or a request to reset a
// password. It says the same for every address, whether or not an account
// uses it, and whether or not an email was sent (LG-07).
type AccountCheckEmailPage struct {
	Page
	// Email is the address typed.
	Email string
	// Reset: the page follows a password-reset request, not a sign-up.
	Reset bool
	// Unverified: the page follows a right password for an account whose
	// address is not verified yet; a new verification link was sent.
	Unverified bool
}

// VerifyEmailPage is what an emailed verification link opens. Opening it
// consumes nothing (mail scanners fetch links); Verify posts token and
// csrf_token to /verify-email.
type VerifyEmailPage struct {
	Page
	// Token is the link's token, posted back as "token".
	Token string
	// Email is the address being verified, shown so that nobody verifies
	// (and signs in to) an account that is not theirs.
	Email string
}

// ForgotPasswordPage asks for the email of the account whose password to
// reset. It posts email and csrf_token to /forgot-password.
type ForgotPasswordPage struct {
	Page
	Email      string
	EmailError string
	// Error is about the whole form.
	Error string
}

// ResetPasswordPage is what an emailed reset link opens: the new-password
// form, which posts token, password and csrf_token to /reset-password.
// Opening it consumes nothing.
type ResetPasswordPage struct {
	Page
	// Token is the link's token, posted back as "token".
	Token string
	// Email is the account whose password is being reset.
	Email         string
	PasswordError string
}

// AccountSession is one signed-in browser on the account page.
type AccountSession struct {
	// SID identifies the session in the "End session" form (posted as
	// "sid"); it is the public session ID, never the cookie or its hash.
	SID string
	// Device says in plain words what the browser is: "Chrome on Linux".
	Device string
	IP     string
	// LastSeen says when it was last used: "just now", "5 minutes ago".
	LastSeen string
	// Current marks the browser showing the page ("This device").
	Current bool
}

// AccountPage shows the signed-in person's account. Its forms post to
// /account/sessions/end (sid), /account/sessions/end-others,
// /account/password (current_password, new_password) and
// /account/sign-out, each with csrf_token.
type AccountPage struct {
	Page
	Email, Name string
	// Notice confirms what the last action did, such as "Your password
	// was changed."
	Notice string
	// Sessions lists the person's signed-in browsers, this one first.
	Sessions []AccountSession
	// HasPassword: the account has a password (else the form sets one).
	HasPassword bool
	// RecentSignIn: the person signed in minutes ago, so changing the
	// password does not ask for the current one.
	RecentSignIn bool
	// Errors of the change-password form, next to their fields, and about
	// the whole form (such as "Too many attempts").
	CurrentPasswordError, NewPasswordError, PasswordFormError string
	// Links are the person's sign-ins through upstream identity
	// providers, each with a remove form posting connection_id and
	// subject to /account/connections/remove.
	Links []AccountLink
	// PendingLink, when set, offers to link the upstream account this
	// browser signed in with.
	PendingLink *AccountPendingLink
}

// AccountLink is one linked upstream account; Removable is false when it
// is the person's only way to sign in.
type AccountLink struct {
	ConnectionID, Subject, Name string
	Removable                   bool
}

// AccountPendingLink is an upstream account waiting to be linked: a form
// posting csrf_token to Action.
type AccountPendingLink struct {
	ConnectionName, Email, Action string
}

// UpstreamLinkPage asks a person whose upstream account has the address
// of an existing account to sign in to that account first (SignedIn
// false: a link to /login), or, signed in as it, to link it (a form
// posting csrf_token to Action).
type UpstreamLinkPage struct {
	Page
	ConnectionName, Email, Action string
	SignedIn                      bool
}
