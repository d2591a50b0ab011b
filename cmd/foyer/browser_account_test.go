package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/cmd/foyer/internal/browsertest"
)

// Browser end-to-end tests of the account side, in headless Chromium, with
// the email read from a real SMTP server and, where an application is
// involved, go-oidc and x/oauth2 as the relying party: sign-up and
// verification, password reset, the sessions on the account page, and an
// expired link. Every page they reach is checked for console errors (CSP
// violations among them) and saved as a screenshot at a phone's and a
// desktop's width under a name of its own.

// The buttons the tests press, by the form they are in.
const (
	continueButton  = `form[action="/login"] button`
	signInButton    = `form[action="/login/password"] button`
	emailLinkButton = `form[action="/login/email-link"] button`
	signUpButton    = `form[action="/signup"] button`
	verifyButton    = `form[action="/verify-email"] button`
	forgotButton    = `form[action="/forgot-password"] button`
	resetButton     = `form[action="/reset-password"] button`
	allowButton     = `button[value=allow]` // only the consent page has it
	signOutButton   = `form[action="/account/sign-out"] button`
	endOthersButton = `form[action="/account/sessions/end-others"] button`
	// otherSessionEnd is the "End session" button of the first session
	// on the account page that is not this browser's.
	otherSessionEnd = `ul.sessions li:not(:has(.badge)) button`
)

// headlessDevice is how the account page names headless Chromium on Linux.
const headlessDevice = "Chrome on Linux"

// person is one browser, with a profile (cookies) of its own, that checks
// every page it arrives at for errors.
type person struct {
	*browsertest.Browser
	t        *testing.T
	issuer   string
	reported int // errors already looked at: ConsoleErrors accumulates
	status   int // see expectStatus
}

func newPerson(t *testing.T, issuer string) *person {
	t.Helper()
	return &person{Browser: browsertest.New(t), t: t, issuer: issuer}
}

// expectStatus says that the next page the browser arrives at is answered
// with an error status, such as 400 for a form shown again with a field
// error: Chromium reports that as a failed load, which is then no error,
// and its absence is.
func (p *person) expectStatus(status int) { p.status = status }

// at waits until the tab's address starts with issuer+path (any address
// when path is "") and selector is visible, checks that the page reported
// no errors, and returns the text of its main element.
func (p *person) at(path, selector string) string {
	p.t.Helper()
	if path != "" {
		p.WaitURL(p.issuer + path)
	}
	p.WaitVisible(selector)
	p.noErrors()
	return p.Text("main")
}

// open loads target, a path on Foyer or an absolute URL, and waits as at
// does for selector.
func (p *person) open(target, selector string) string {
	p.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = p.issuer + target
	}
	p.Navigate(target)
	return p.at("", selector)
}

// noErrors fails the test with the errors the pages reported since the last
// check (pageErrors: the favicon's 404 aside), but for the expected status
// of this page, which it fails the test without.
func (p *person) noErrors() {
	p.t.Helper()
	all := pageErrors(p.Browser)
	errs := all[p.reported:]
	p.reported = len(all)
	if p.status != 0 {
		page := p.URL().String()
		want := fmt.Sprintf("Failed to load resource: the server responded with a status of %d ", p.status)
		i := slices.IndexFunc(errs, func(e string) bool {
			return strings.Contains(e, want) && strings.HasSuffix(e, "("+page+")")
		})
		if i < 0 {
			p.t.Errorf("%s: Chromium saw no status %d", page, p.status)
		} else {
			errs = slices.Delete(slices.Clone(errs), i, i+1)
		}
		p.status = 0
	}
	if len(errs) > 0 {
		p.t.Errorf("%s: the page reported errors:\n%s", p.URL(), strings.Join(errs, "\n"))
	}
}

// continueAs types email on the sign-in page and presses Continue; it
// returns the text of the password step.
func (p *person) continueAs(email string) string {
	p.t.Helper()
	p.Fill("#email", email)
	p.Click(continueButton)
	return p.at("", "#password")
}

// signIn signs in to Foyer itself with a password, from the sign-in page
// to the account page, and returns the account page's text.
func (p *person) signIn(email, password string) string {
	p.t.Helper()
	p.open("/login", "#email")
	p.continueAs(email)
	p.Fill("#password", password)
	p.Click(signInButton)
	return p.at("/account", signOutButton)
}

// signedOut checks that the browser has no session any more: its account
// page sends it to sign in.
func (p *person) signedOut(who string) {
	p.t.Helper()
	p.Navigate(p.issuer + "/account") // returns once the redirect's page loaded
	if got := p.URL(); got.Path != "/login" {
		p.t.Errorf("%s is still signed in: /account went to %s, want the sign-in page", who, got)
		return
	}
	p.at("", "#email")
}

// relyingParty is an application signing people in with Foyer through
// go-oidc and x/oauth2: the code flow with PKCE, a state and a nonce.
type relyingParty struct {
	t                      *testing.T
	conf                   oauth2.Config
	provider               *oidc.Provider
	state, nonce, verifier string
}

// newRelyingParty is the web client of e, configured by discovery.
func newRelyingParty(t *testing.T, e *oidcEnv) *relyingParty {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &relyingParty{
		t: t, provider: provider,
		conf: oauth2.Config{
			ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
			RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
		},
		state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier(),
	}
}

// authURL is where the application sends the browser to sign in.
func (rp *relyingParty) authURL() string {
	return rp.conf.AuthCodeURL(rp.state, oidc.Nonce(rp.nonce), oauth2.S256ChallengeOption(rp.verifier))
}

// finish is the application's callback: given the address the browser
// reached, it checks the state, redeems the code with the PKCE verifier,
// verifies the ID token (signature, issuer, audience, expiry, nonce,
// at_hash) with go-oidc and returns its claims.
func (rp *relyingParty) finish(at *url.URL) idClaims {
	t := rp.t
	t.Helper()
	if got := at.Query().Get("state"); got != rp.state {
		t.Errorf("callback state = %q, want %q (%s)", got, rp.state, at)
	}
	code := at.Query().Get("code")
	if code == "" {
		t.Fatalf("callback carries no code: %s", at)
	}
	tok, err := rp.conf.Exchange(t.Context(), code, oauth2.VerifierOption(rp.verifier))
	if err != nil {
		t.Fatalf("exchange the code from the browser: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("token response lacks an id_token")
	}
	idToken, err := rp.provider.Verifier(&oidc.Config{ClientID: rp.conf.ClientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("verify the ID token: %v", err)
	}
	if idToken.Nonce != rp.nonce {
		t.Errorf("ID token nonce = %q, want %q", idToken.Nonce, rp.nonce)
	}
	if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var c idClaims
	if err := idToken.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// consent allows the application on the consent page, which must say who
// is signed in, and returns the address the browser reached at the
// callback. Nothing listens there, so Chromium shows its own error page;
// the address is what the application would get.
func (p *person) consent(email string) *url.URL {
	p.t.Helper()
	text := p.at("/consent", allowButton)
	if !strings.Contains(text, "Web App") || !strings.Contains(text, "Signed in as "+email) {
		p.t.Errorf("consent page does not say who asks, or who is signed in:\n%s", text)
	}
	p.Click(allowButton)
	return p.WaitURL(callback)
}

// TestBrowserSignUpVerifyOIDC: a new person signs up from the sign-in page
// (a common password is refused next to its field, LG-06), the
// verification email arrives at the SMTP server with a link built from the
// issuer (LG-09), opening it consumes nothing (ML-04) and Verify signs in.
// The same browser then signs in to an application through go-oidc
// without typing anything: consent, a code, and an ID token for the new
// address, verified, with amr "email".
func TestBrowserSignUpVerifyOIDC(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	const email, name, pass = "ada@example.com", "Ada Lovelace", "analytical engine notes"
	b := newPerson(t, e.issuer)

	b.open("/login", "#email")
	b.Click(`.links a[href^="/signup"]`)
	b.at("/signup", "#name")
	b.Screenshot("signup")
	b.Fill("#email", email)
	b.Fill("#name", name)
	b.Fill("#password", "password123")
	b.expectStatus(http.StatusBadRequest)
	b.Click(signUpButton)
	b.at("", "#password-error")
	if got := b.Text("#password-error"); got != "This password is too common. Choose another." {
		t.Errorf("LG-06: the password field says %q, want that it is too common", got)
	}
	if page := b.HTML(); !strings.Contains(page, `value="`+email+`"`) || !strings.Contains(page, `value="`+name+`"`) {
		t.Error("the form shown again lost the email or the name")
	}
	b.Screenshot("signup-common-password")
	b.Fill("#password", pass)
	b.Click(signUpButton)
	text := b.at("/signup/sent", "h1")
	if !strings.Contains(text, "Check your email") || !strings.Contains(text, email) {
		t.Errorf("after signing up:\n%s", text)
	}
	b.Screenshot("signup-check-email")

	m := e.mail.Wait(t, 1)[0]
	link := m.Link(t)
	if m.To != email || !strings.HasPrefix(link, e.issuer+"/verify-email?token=") {
		t.Fatalf("LG-09: verification email to %s with the link %s", m.To, link)
	}
	text = b.open(link, verifyButton)
	if !strings.Contains(text, "Verify your email address") || !strings.Contains(text, email) {
		t.Errorf("verification page:\n%s", text)
	}
	if e.user(t, email).EmailVerified {
		t.Error("ML-04: opening the link verified the address before Verify was pressed")
	}
	b.Screenshot("verify-email")
	b.Click(verifyButton)
	text = b.at("/account", signOutButton)
	if !strings.Contains(text, email) || !strings.Contains(text, name) || strings.Count(text, "This device") != 1 {
		t.Errorf("account page after verifying:\n%s", text)
	}
	if !e.user(t, email).EmailVerified {
		t.Error("Verify did not verify the address")
	}
	b.Screenshot("account-new")

	rp := newRelyingParty(t, e.oidcEnv)
	b.Navigate(rp.authURL())
	claims := rp.finish(b.consent(email))
	if claims.Email != email || !claims.EmailVerified || !slices.Contains(claims.AMR, "email") {
		t.Errorf("ID token email %q, email_verified %v, amr %q: want %s, true and email", claims.Email, claims.EmailVerified, claims.AMR, email)
	}
}

// TestBrowserPasswordResetSC07: "Forgot password?" on the password step,
// the emailed link, a common password refused next to its field (LG-06),
// a good one saved, and the person is signed in on their account page. A
// browser signed in before the reset is signed out (SC-07); a fresh one
// cannot sign in with the old password but can with the new one. The link
// then works no more: the error page.
func TestBrowserPasswordResetSC07(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	const newPass = "a brand new pass phrase"
	laptop := newPerson(t, e.issuer)
	laptop.signIn(e.email, e.pass)

	b := newPerson(t, e.issuer)
	b.open("/login", "#email")
	b.continueAs(e.email)
	b.Click(`a[href="/forgot-password"]`)
	b.at("/forgot-password", forgotButton)
	b.Screenshot("forgot-password")
	b.Fill("#email", e.email)
	b.Click(forgotButton)
	text := b.at("/forgot-password/sent", "h1")
	if !strings.Contains(text, "Check your email") || !strings.Contains(text, e.email) {
		t.Errorf("after asking for a reset link:\n%s", text)
	}
	b.Screenshot("forgot-password-sent")

	m := e.mail.Wait(t, 1)[0]
	link := m.Link(t)
	if m.To != e.email || !strings.HasPrefix(link, e.issuer+"/reset-password?token=") {
		t.Fatalf("LG-09: reset email to %s with the link %s", m.To, link)
	}
	text = b.open(link, resetButton)
	if !strings.Contains(text, "Choose a new password") || !strings.Contains(text, e.email) {
		t.Errorf("reset page:\n%s", text)
	}
	b.Screenshot("reset-password")
	b.Fill("#password", "password123")
	b.expectStatus(http.StatusBadRequest)
	b.Click(resetButton)
	b.at("", "#password-error")
	if got := b.Text("#password-error"); got != "This password is too common. Choose another." {
		t.Errorf("LG-06: the password field says %q, want that it is too common", got)
	}
	b.Screenshot("reset-password-common")
	b.Fill("#password", newPass)
	b.Click(resetButton)
	text = b.at("/account?done=reset", signOutButton)
	if !strings.Contains(text, "Your new password is saved") || strings.Count(text, headlessDevice) != 1 {
		t.Errorf("account page after the reset, want the notice and one session:\n%s", text)
	}
	b.Screenshot("account-after-reset")
	if m := e.mail.Wait(t, 2)[1]; m.To != e.email || !strings.Contains(m.Subject, "password was changed") {
		t.Errorf("second email %q to %s, want the password-changed notice", m.Subject, m.To)
	}

	laptop.signedOut("SC-07: the browser signed in before the reset")

	fresh := newPerson(t, e.issuer)
	fresh.open("/login", "#email")
	fresh.continueAs(e.email)
	fresh.Fill("#password", e.pass)
	fresh.expectStatus(http.StatusUnauthorized)
	fresh.Click(signInButton)
	fresh.at("", "#password-error")
	if got := fresh.Text("#password-error"); got != "The email or password is not right." {
		t.Errorf("the old password: the field says %q", got)
	}
	fresh.Fill("#password", newPass)
	fresh.Click(signInButton)
	fresh.at("/account", signOutButton)

	b.expectStatus(http.StatusGone)
	text = b.open(link, "h1")
	if !strings.Contains(text, "This link was already used") {
		t.Errorf("the reset link a second time:\n%s", text)
	}
	b.Screenshot("error-link-used")
}

// TestBrowserAccountSessions: the same person signed in in browsers A and
// B sees both sessions on A's account page, A's marked "This device". A
// ends B's session with its button, and B's next visit to its account
// page lands on the sign-in page: the session is gone on the server, not
// only from the list (SC-07). "Sign out of all other sessions" ends B's
// and C's new ones; "Sign out" ends A's own, and its OIDC session with it:
// an application's next authorization asks A to sign in again.
func TestBrowserAccountSessions(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	alice := e.user(t, e.email)
	a, b := newPerson(t, e.issuer), newPerson(t, e.issuer)
	a.signIn(e.email, e.pass)
	b.signIn(e.email, e.pass)

	text := a.open("/account", signOutButton)
	if n := strings.Count(a.Text("ul.sessions"), headlessDevice); n != 2 {
		t.Errorf("A's account page lists %d sessions, want 2:\n%s", n, text)
	}
	if first := a.Text("ul.sessions li:first-child"); !strings.Contains(first, "This device") ||
		!strings.Contains(first, "127.0.0.1") || !strings.Contains(first, "Last active just now") {
		t.Errorf("A's session, first, says %q: want This device, the IP and when", first)
	}
	if n := strings.Count(text, "This device"); n != 1 {
		t.Errorf("%d sessions are marked This device, want 1:\n%s", n, text)
	}
	a.Screenshot("account-sessions")

	a.Click(otherSessionEnd)
	text = a.at("/account?done=ended", signOutButton)
	if !strings.Contains(text, "The session was ended.") || strings.Count(text, headlessDevice) != 1 {
		t.Errorf("after ending B's session, want the notice and one session:\n%s", text)
	}
	a.Screenshot("account-session-ended")
	b.signedOut("B, whose session A ended")
	if n := e.sessions(t, alice.ID); n != 1 {
		t.Errorf("alice has %d sessions in the database, want 1", n)
	}

	c := newPerson(t, e.issuer)
	b.signIn(e.email, e.pass)
	c.signIn(e.email, e.pass)
	text = a.open("/account", endOthersButton)
	if n := strings.Count(text, headlessDevice); n != 3 {
		t.Errorf("A's account page lists %d sessions, want 3:\n%s", n, text)
	}
	a.Click(endOthersButton)
	text = a.at("/account?done=others", signOutButton)
	if !strings.Contains(text, "Your other sessions were signed out.") || strings.Count(text, headlessDevice) != 1 {
		t.Errorf("after signing out the others, want the notice and one session:\n%s", text)
	}
	a.Screenshot("account-others-signed-out")
	b.signedOut("B, after Sign out of all other sessions")
	c.signedOut("C, after Sign out of all other sessions")

	a.Click(signOutButton)
	if text := a.at("/account/signed-out", "h1"); !strings.Contains(text, "You are signed out") {
		t.Errorf("after Sign out:\n%s", text)
	}
	a.Screenshot("signed-out")
	a.signedOut("A, after Sign out")
	if n := e.sessions(t, alice.ID); n != 0 {
		t.Errorf("alice has %d sessions in the database, want none", n)
	}
	rp := newRelyingParty(t, e.oidcEnv)
	a.Navigate(rp.authURL())
	a.at("/login", "#email")
}

// TestBrowserMagicLinkExpiredML03: a sign-in link opened after its ten
// minutes shows the error page, which says what happened and what to do.
func TestBrowserMagicLinkExpiredML03(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newPerson(t, e.issuer)
	b.open("/login", "#email")
	b.continueAs(e.email)
	b.Click(emailLinkButton)
	b.at("/login/email-link", "h1")
	link := e.mail.Wait(t, 1)[0].Link(t)

	e.clock.Advance(10*time.Minute + time.Second)
	b.expectStatus(http.StatusGone)
	text := b.open(link, "h1")
	if !strings.Contains(text, "This link has expired") || strings.Contains(text, "signing in as") {
		t.Errorf("ML-03: an expired link shows:\n%s", text)
	}
	if n := e.sessions(t, e.user(t, e.email).ID); n != 0 {
		t.Errorf("ML-03: alice has %d sessions after the expired link, want none", n)
	}
	b.Screenshot("error-link-expired")
}
