package render

import "io"

// Page is what the layout needs; every page's data embeds it.
type Page struct {
	// CSRFToken is the value of the hidden csrf_token field in every form
	// on the page.
	CSRFToken string
	// Nonce is the per-response CSP nonce; it goes on the <style> element
	// and must match the Content-Security-Policy header's style-src.
	Nonce string
	// Title is the document title, shown as "<Title> · Foyer"; empty means
	// the page's default (on the error page it is also the heading).
	Title string
}

// withTitle returns p with its Title set to def when empty.
func (p Page) withTitle(def string) Page {
	if p.Title == "" {
		p.Title = def
	}
	return p
}

// Scope is one requested scope as the consent page lists it.
type Scope struct {
	// Name is the scope as requested, such as "email".
	Name string
	// Description says in plain words what it allows, such as "See your
	// email address"; empty means Name alone is shown.
	Description string
}

// ConsentPage asks the signed-in person to let a client act for them. It
// posts decision ("allow" or "deny"), challenge and csrf_token.
type ConsentPage struct {
	Page
	// Action is the URL the form posts to; empty means the page's own URL.
	Action string
	// Challenge is the opaque consent challenge, sent back as "challenge".
	Challenge string
	// ClientName is the application asking ("<ClientName> wants to:").
	ClientName string
	// Scopes lists what it asks for, in the order to show.
	Scopes []Scope
	// Organization is the chosen organization's name, if one is chosen.
	Organization string
	// Email is the signed-in person's address ("Signed in as …").
	Email string
}

// Consent renders the consent page (default title "Allow access").
func (r *Renderer) Consent(w io.Writer, d ConsentPage) error {
	d.Page = d.Page.withTitle("Allow access")
	return r.consent.execute(w, d)
}

// Organization is one choice on the organization picker.
type Organization struct {
	// ID is the value posted as "organization".
	ID string
	// Name is the organization's display name.
	Name string
	// Role is the person's role in it, shown next to the name.
	Role string
}

// SelectOrgPage lets a person who belongs to several organizations pick
// the one to sign in with. It posts organization (an ID), challenge and
// csrf_token.
type SelectOrgPage struct {
	Page
	// Action is the URL the form posts to; empty means the page's own URL.
	Action string
	// Challenge is the opaque challenge of the flow, sent back as
	// "challenge".
	Challenge string
	// ClientName, when set, adds "to continue to <ClientName>".
	ClientName string
	// Organizations are the choices, in the order to show.
	Organizations []Organization
	// Selected is the ID of the choice to check in advance, if any.
	Selected string
	// Error is shown above the choices, such as "Choose an organization
	// to continue."
	Error string
}

// SelectOrg renders the organization picker (default title "Choose an
// organization").
func (r *Renderer) SelectOrg(w io.Writer, d SelectOrgPage) error {
	d.Page = d.Page.withTitle("Choose an organization")
	return r.selectOrg.execute(w, d)
}

// SelectAccountPage is the account chooser of prompt=select_account: the
// signed-in person continues as themselves or signs in as someone else. It
// posts decision ("continue" or "another"), challenge and csrf_token.
type SelectAccountPage struct {
	Page
	// Action is the URL the form posts to; empty means the page's own URL.
	Action string
	// Challenge is the opaque challenge of the flow, sent back as
	// "challenge".
	Challenge string
	// ClientName, when set, adds "to continue to <ClientName>".
	ClientName string
	// Email is the signed-in person's address ("Continue as …").
	Email string
}

// SelectAccount renders the account chooser (default title "Choose an
// account").
func (r *Renderer) SelectAccount(w io.Writer, d SelectAccountPage) error {
	d.Page = d.Page.withTitle("Choose an account")
	return r.selectAccount.execute(w, d)
}

// ErrorPage explains in plain words why a browser request failed. Title is
// its heading. Message is public: never an err.Error() or a stack trace.
type ErrorPage struct {
	Page
	// Message says what happened and what the person can do.
	Message string
	// RequestID, when set, is shown for the person to quote to support.
	RequestID string
	// Next and NextText, when set, link to where the person can go on
	// (a sign-in page after a dead link).
	Next, NextText string
}

// Error renders the error page (default title "Something went wrong"). An
// empty Message gets a generic one.
func (r *Renderer) Error(w io.Writer, d ErrorPage) error {
	d.Page = d.Page.withTitle("Something went wrong")
	if d.Message == "" {
		d.Message = "The request could not be completed. Please try again."
	}
	return r.errorPage.execute(w, d)
}

// LogoutPage asks the person to confirm signing out of Foyer, as
// RP-initiated logout must when the request cannot be trusted on its own.
// It posts challenge and csrf_token.
type LogoutPage struct {
	Page
	// Action is the URL the form posts to; empty means the page's own URL.
	Action string
	// Challenge is the opaque logout challenge, sent back as "challenge".
	Challenge string
	// Email, when set, is shown as "Signed in as …".
	Email string
}

// Logout renders the sign-out confirmation (default title "Sign out").
func (r *Renderer) Logout(w io.Writer, d LogoutPage) error {
	d.Page = d.Page.withTitle("Sign out")
	return r.logout.execute(w, d)
}

// LoggedOutPage tells the person they are signed out.
type LoggedOutPage struct {
	Page
}

// LoggedOut renders the signed-out page (default title "Signed out").
func (r *Renderer) LoggedOut(w io.Writer, d LoggedOutPage) error {
	d.Page = d.Page.withTitle("Signed out")
	return r.loggedOut.execute(w, d)
}

// DevicePage asks for the code a device shows (RFC 8628 §3.3). It posts
// user_code and csrf_token to /device.
type DevicePage struct {
	Page
	// UserCode pre-fills the field (from verification_uri_complete, or as
	// typed before an error).
	UserCode string
	// Error says why the code was refused, in words that never tell
	// whether some other code exists (DV-02).
	Error string
}

// Device renders the code entry page (default title "Connect a device").
func (r *Renderer) Device(w io.Writer, d DevicePage) error {
	d.Page = d.Page.withTitle("Connect a device")
	return r.device.execute(w, d)
}

// DeviceConfirmPage asks the signed-in person whether to sign the device
// in, naming the client, the code, the scopes and the organization, and
// warning against codes someone else sent (DV-07). It posts decision
// ("allow" or "deny"), challenge, organization (when there is a choice)
// and csrf_token to /device/confirm.
type DeviceConfirmPage struct {
	Page
	Challenge  string
	ClientName string
	// UserCode is the code as the device shows it (XXXX-XXXX).
	UserCode string
	Scopes   []Scope
	// Organizations, when there is a choice to make, are the choices (the
	// first is checked); otherwise Organization names the one, if any.
	Organizations []Organization
	Organization  string
	// Email is the signed-in person's address ("Signed in as …").
	Email string
}

// DeviceConfirm renders the confirmation page (default title "Connect a
// device").
func (r *Renderer) DeviceConfirm(w io.Writer, d DeviceConfirmPage) error {
	d.Page = d.Page.withTitle("Connect a device")
	return r.deviceConfirm.execute(w, d)
}

// DeviceDonePage tells the person what became of the device.
type DeviceDonePage struct {
	Page
	ClientName string
	Approved   bool
}

// DeviceDone renders the last page of the device flow (default title
// "Connect a device").
func (r *Renderer) DeviceDone(w io.Writer, d DeviceDonePage) error {
	d.Page = d.Page.withTitle("Connect a device")
	return r.deviceDone.execute(w, d)
}
