package main

import (
	"strings"
	"testing"
)

const (
	deviceContinueButton = `form[action="/device"] button`
	deviceAllowButton    = `form[action="/device/confirm"] button[value=allow]`
	// deviceDone is on the page after Allow, at the same address as the
	// confirmation page, whose paragraph after the heading is the warning.
	deviceDone = `main h1 + p:not(.alert)`
)

// TestBrowserLoginDV is the DV browser test of foyer login: the binary
// runs as a person would run it and shows a code; headless Chromium opens
// verification_uri_complete (the code filled in, DV-07), Continue leads to
// the sign-in page, alice signs in with her password and lands on the
// confirmation page, which names Foyer CLI and the code; Allow, and the
// polling CLI receives its tokens (DV-05), says who signed in and exits 0,
// and foyer whoami answers for alice.
func TestBrowserLoginDV(t *testing.T) {
	e := newLoginEnv(t, "embedded")
	home := t.TempDir()
	login := startLogin(t, home, e.issuer)

	b := newPerson(t, e.issuer)
	b.open(login.complete, deviceContinueButton)
	if got := b.URL().Path; got != "/device" {
		t.Errorf("verification_uri_complete opened %s, want /device", got)
	}
	if html := b.HTML(); !strings.Contains(html, `value="`+login.userCode+`"`) {
		t.Errorf("DV-07: /device does not have the code %s filled in", login.userCode)
	}
	b.Screenshot("device-login-code")
	b.Click(deviceContinueButton)
	b.at("/login", "#email")
	b.Screenshot("device-login-sign-in")
	b.continueAs(e.email)
	b.Fill("#password", e.pass)
	b.Click(signInButton)
	text := b.at("/device/confirm", deviceAllowButton)
	for _, want := range []string{"Sign in Foyer CLI on your device?", login.userCode, "Signed in as " + e.email} {
		if !strings.Contains(text, want) {
			t.Errorf("the confirmation page lacks %q:\n%s", want, text)
		}
	}
	b.Screenshot("device-login-confirm")
	b.Click(deviceAllowButton)
	if text := b.at("", deviceDone); !strings.Contains(text, "Your device is signed in") {
		t.Errorf("after Allow:\n%s", text)
	}
	b.Screenshot("device-login-done")

	r := login.wait()
	if r.code != 0 || r.stdout != "signed in to "+e.issuer+" as alice@example.com (Alice)\n" {
		t.Fatalf("foyer login: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if stored := readCredentials(t, home).Issuers[e.issuer]; stored.AccessToken == "" || stored.RefreshToken == "" {
		t.Errorf("stored credential = %+v", stored)
	}
	if r := foyer(t, home, nil, "whoami"); r.code != 0 || !strings.Contains(r.stdout, e.email) {
		t.Errorf("whoami: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
