package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
)

// TestBrowserPasskeys: passkeys end to end in headless Chromium with the
// DevTools protocol's virtual authenticator (CTAP2, resident keys, user
// verification), every ceremony verified by the server. Alice signs in
// with her password and adds a passkey on the security page, signs out,
// and the sign-in page signs her in with the passkey alone through
// autofill (conditional mediation; the virtual authenticator answers it at
// once, where a person would pick the passkey in the email field):
// passwordless, amr hwk and mfa. In a second browser whose authenticator
// holds a copy of the key as a non-discoverable credential (so autofill
// offers nothing), her password leads to the second-factor page, and its
// "Use a passkey" button finishes the sign-in. The two copies' counters
// then disagree, and the first browser's next sign-in is refused with a
// clone warning recorded and shown (WA-05); the security page renames and
// deletes the passkey. The issuer is http://localhost:port: WebAuthn
// refuses IP addresses.
func TestBrowserPasskeys(t *testing.T) {
	e := newSigninEnvAt(t, "embedded", "localhost")
	ctx := t.Context()
	p := newPerson(t, e.issuer)
	auth := p.AddPasskeyAuthenticator()

	p.signIn(e.email, e.pass)
	text := p.open("/account/security", "#passkey-button")
	if !strings.Contains(text, "No passkeys yet") {
		t.Errorf("security page before adding a passkey:\n%s", text)
	}
	p.Screenshot("security")
	p.Click("#passkey-button")
	text = p.at("/account/security?notice=passkey-added", "ul.sessions")
	if !strings.Contains(text, "Your passkey is added") || !strings.Contains(text, "Passkey added") {
		t.Errorf("security page after adding a passkey:\n%s", text)
	}
	p.Screenshot("security-passkey-added")
	alice := e.user(t, e.email)
	pks, err := e.store.ListPasskeys(ctx, alice.ID)
	if err != nil || len(pks) != 1 {
		t.Fatalf("stored passkeys: %d, %v; want 1", len(pks), err)
	}
	creds := auth.Credentials()
	if len(creds) != 1 || !creds[0].IsResidentCredential || string(creds[0].UserHandle) != alice.ID || !slices.Equal(creds[0].CredentialID, pks[0].ID) {
		t.Fatalf("the authenticator holds %+v; want one discoverable credential for %s, the one stored", creds, alice.ID)
	}

	// Passwordless, through autofill.
	p.open("/account", signOutButton)
	p.Click(signOutButton)
	p.at("/account/signed-out", "main")
	p.Navigate(e.issuer + "/login")
	p.at("/account", signOutButton)
	sessions, err := e.store.ListBrowserSessions(ctx, alice.ID)
	if err != nil || len(sessions) != 1 || !slices.Contains(sessions[0].AMR, "hwk") || !slices.Contains(sessions[0].AMR, "mfa") ||
		slices.Contains(sessions[0].AMR, "pwd") {
		t.Fatalf("passwordless session: %+v, %v; want amr hwk and mfa", sessions, err)
	}
	if pk, _ := e.store.GetPasskey(ctx, pks[0].ID); pk.LastUsedAt.IsZero() || pk.CloneWarning {
		t.Errorf("after signing in with it the passkey is %+v", pk)
	}

	// The passkey as the second factor after a password, in a browser
	// whose copy of the key autofill cannot offer.
	q := newPerson(t, e.issuer)
	orig := auth.Credentials()[0]
	q.AddPasskeyAuthenticator().Add(webauthn.Credential{
		CredentialID: orig.CredentialID, RpID: orig.RpID, PrivateKey: orig.PrivateKey, UserHandle: orig.UserHandle,
		SignCount: orig.SignCount,
	})
	q.open("/login", "#passkey-button")
	q.continueAs(e.email)
	q.Fill("#password", e.pass)
	q.Click(signInButton)
	text = q.at("/login/second-factor", "#passkey-button")
	if !strings.Contains(text, "Confirm it") {
		t.Errorf("second factor page:\n%s", text)
	}
	q.Screenshot("second-factor-passkey")
	q.Click("#passkey-button")
	q.at("/account", signOutButton)
	sessions, _ = e.store.ListBrowserSessions(ctx, alice.ID)
	var second []string
	for _, s := range sessions {
		if slices.Contains(s.AMR, "pwd") {
			second = s.AMR
		}
	}
	if !slices.Contains(second, "hwk") || !slices.Contains(second, "mfa") {
		t.Errorf("password and passkey session amr %v, want pwd, hwk, mfa", second)
	}

	// WA-05: the two copies now disagree on the signature counter. The
	// first browser's next use presents a count the server has seen: the
	// sign-in is refused and the clone warning recorded.
	p.open("/account", signOutButton)
	p.Click(signOutButton)
	p.at("/account/signed-out", "main")
	p.Navigate(e.issuer + "/login") // autofill answers at once, as above
	deadline := time.Now().Add(10 * time.Second)
	for pk, _ := e.store.GetPasskey(ctx, pks[0].ID); !pk.CloneWarning; pk, _ = e.store.GetPasskey(ctx, pks[0].ID) {
		if time.Now().After(deadline) {
			t.Fatal("WA-05: a counter that went backwards was not recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if u := p.URL(); u.Path != "/login" {
		t.Errorf("WA-05: the cloned passkey signed in: at %s", u)
	}

	// The security page warns, and renames and deletes passkeys.
	text = q.open("/account/security", "ul.sessions")
	if !strings.Contains(text, "it may have been copied") {
		t.Errorf("security page does not warn of the clone:\n%s", text)
	}
	q.Fill("ul.sessions input[name=name]", "Work laptop")
	q.Click(`form[action="/account/security/passkeys/rename"] button`)
	text = q.at("/account/security?notice=passkey-rename", "ul.sessions")
	if !strings.Contains(text, "Work laptop") {
		t.Errorf("after renaming:\n%s", text)
	}
	q.Click(`form[action="/account/security/passkeys/delete"] button`)
	text = q.at("/account/security?notice=passkey-gone", "#passkey-button")
	if !strings.Contains(text, "No passkeys yet") {
		t.Errorf("after deleting:\n%s", text)
	}
	if pks, _ := e.store.ListPasskeys(ctx, alice.ID); len(pks) != 0 {
		t.Errorf("%d passkeys stored after deleting", len(pks))
	}
}
