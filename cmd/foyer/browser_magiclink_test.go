package main

import (
	"strings"
	"testing"

	"github.com/foyerdev/foyer/cmd/foyer/internal/browsertest"
)

// TestBrowserMagicLink signs in with an emailed link in headless Chromium:
// "Email me a sign-in link" on the password step, the email from a real
// SMTP server, the link opened in another browser first (which is warned,
// ML-05) and then in the one that asked, Sign in, consent, and back to the
// relying party with a code. It saves screenshots of every page.
func TestBrowserMagicLink(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	v, verifier := authParams(e.web, callback)

	b := browsertest.New(t)
	b.Navigate(e.issuer + "/oauth2/authorize?" + v.Encode())
	b.WaitVisible("#email")
	b.Fill("#email", e.email)
	b.Click("button[type=submit]")
	b.WaitVisible("#password")
	b.Click(`form[action="/login/email-link"] button`)
	b.WaitURL(e.issuer + "/login/email-link")
	b.WaitVisible("main")
	if got := b.Text("main"); !strings.Contains(got, "Check your email") || !strings.Contains(got, e.email) {
		t.Errorf("after asking for a link:\n%s", got)
	}
	b.Screenshot("magic-link-check-email")
	link := e.mail.Wait(t, 1)[0].Link(t)

	other := browsertest.New(t)
	other.Navigate(link)
	other.WaitVisible(".notice")
	if got := other.Text("main"); !strings.Contains(got, otherDeviceWarning) {
		t.Errorf("the link in another browser does not warn:\n%s", got)
	}
	other.Screenshot("magic-link-other-device")

	b.Navigate(link)
	b.WaitVisible(`form[action="/login/link"] button`)
	if got := b.Text("main"); !strings.Contains(got, "You are signing in as "+e.email) || strings.Contains(got, "on this device") {
		t.Errorf("the link in the browser that asked:\n%s", got)
	}
	b.Screenshot("magic-link")
	b.Click(`form[action="/login/link"] button`)
	b.WaitVisible("button[value=allow]")
	b.Click("button[value=allow]")
	got := b.WaitURL(callback)
	if got.Query().Get("state") != v.Get("state") || got.Query().Get("code") == "" {
		t.Fatalf("callback %s, want the state and a code", got)
	}
	if c := e.idTokenClaims(t, got.Query().Get("code"), verifier); len(c.AMR) != 1 || c.AMR[0] != "email" {
		t.Errorf("ID token amr %q, want [email]", c.AMR)
	}
	for _, br := range []*browsertest.Browser{b, other} {
		if errs := pageErrors(br); len(errs) > 0 {
			t.Errorf("the pages reported errors:\n%s", strings.Join(errs, "\n"))
		}
	}
}
