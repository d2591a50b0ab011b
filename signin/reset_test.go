package signin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSC07ResetPassword: a reset link opens the form without using the
// link; a refused password leaves it usable; saving ends every session of
// the account, mails a notice, and signs this browser in.
func TestSC07ResetPassword(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	laptop, phone := e.browser(chromeLinux), e.browser(safariIPhone)
	laptop.signIn(alice.ID, e.clock.Now())
	phone.signIn(alice.ID, e.clock.Now())

	b := e.browser(firefoxWin)
	wantStatus(t, "POST /forgot-password", b.post("/forgot-password", url.Values{"email": {"ALICE@example.com"}}),
		http.StatusSeeOther, "/forgot-password/sent?email=ALICE%40example.com")
	token := e.oneLink("alice@example.com", "/reset-password")

	for range 2 {
		page := b.get("/reset-password?token=" + token)
		if page.status != http.StatusOK || !strings.Contains(page.body, "alice@example.com") || !strings.Contains(page.body, `name="password"`) {
			t.Fatalf("GET /reset-password = %d, want the new-password form:\n%s", page.status, page.body)
		}
	}
	r := b.post("/reset-password", url.Values{"token": {token}, "password": {"password123"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "This password is too common. Choose another.") {
		t.Errorf("POST /reset-password with a common password = %d, want 400 with the field error:\n%s", r.status, r.body)
	}
	if e.user(alice.ID).PasswordHash != alice.PasswordHash {
		t.Fatal("a refused reset changed the password")
	}

	r = b.post("/reset-password", url.Values{"token": {token}, "password": {otherPassword}})
	wantStatus(t, "POST /reset-password", r, http.StatusSeeOther, "/account?done=reset")
	if laptop.signedIn() || phone.signedIn() {
		t.Error("SC-07: sessions from before the reset are still signed in")
	}
	if !b.signedIn() {
		t.Error("the browser that reset the password is not signed in")
	}
	if s := e.sessionsOf(alice.ID); len(s) != 1 {
		t.Errorf("alice has %d sessions after the reset, want 1 (the new one)", len(s))
	}
	if _, err := e.dir.Authenticate(t.Context(), "alice@example.com", otherPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if _, err := e.dir.Authenticate(t.Context(), "alice@example.com", goodPassword); err == nil {
		t.Error("the old password still signs in")
	}
	m := e.mails()
	if len(m) != 1 || m[0].To != "alice@example.com" || !strings.Contains(m[0].Subject, "password was changed") ||
		!strings.Contains(m[0].TextBody, accountIssuer+"/forgot-password") {
		t.Errorf("emails after the reset = %v, want alice's password-changed notice", recipients(m))
	}
	wantStatus(t, "the reset link used again", b.post("/reset-password", url.Values{"token": {token}, "password": {"yet another passphrase"}}), http.StatusGone, "")
}

// TestResetVerifiesAddress: a reset proves the person reads the
// account's mail, so an unverified address becomes verified.
func TestResetVerifiesAddress(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	e.mails()
	b.post("/forgot-password", url.Values{"email": {"ada@example.com"}})
	token := e.oneLink("ada@example.com", "/reset-password")
	wantStatus(t, "POST /reset-password", b.post("/reset-password", url.Values{"token": {token}, "password": {otherPassword}}), http.StatusSeeOther, "/account?done=reset")
	if u, _ := e.userByEmail("ada@example.com"); !u.EmailVerified {
		t.Error("the address is not verified after a reset")
	}
}

// TestLG07ForgotPasswordSameAnswer: a known and an unknown address get
// the same answer; only the known one gets an email; beyond the
// per-address limit nothing more is sent, with the same answer.
func TestLG07ForgotPasswordSameAnswer(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)

	known := b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	unknown := b.post("/forgot-password", url.Values{"email": {"nobody@example.com"}})
	sameAnswer(t, "POST /forgot-password", known, "alice@example.com", unknown, "nobody@example.com")
	sameAnswer(t, "GET /forgot-password/sent", b.get(known.location), "alice@example.com", b.get(unknown.location), "nobody@example.com")
	if m := e.mails(); len(m) != 1 || m[0].To != "alice@example.com" {
		t.Errorf("emails = %v, want one to alice", recipients(m))
	}

	// ML-06: 3 emails per address per 15 minutes; the rest answer the same.
	for range 3 {
		r := b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
		sameAnswer(t, "POST /forgot-password over the limit", r, "alice@example.com", unknown, "nobody@example.com")
	}
	if m := e.mails(); len(m) != 2 {
		t.Errorf("%d more emails sent, want 2 (the limit is 3 per 15 minutes)", len(m))
	}
	e.clock.Advance(15 * time.Minute)
	b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	if m := e.mails(); len(m) != 1 {
		t.Errorf("%d emails sent after the window, want 1", len(m))
	}
}

// TestResetLinkSuperseded: only the newest reset link works.
func TestResetLinkSuperseded(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	first := e.oneLink("alice@example.com", "/reset-password")
	b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	second := e.oneLink("alice@example.com", "/reset-password")
	if r := b.get("/reset-password?token=" + first); r.status != http.StatusGone {
		t.Errorf("GET /reset-password with the older link = %d, want 410", r.status)
	}
	if r := b.get("/reset-password?token=" + second); r.status != http.StatusOK {
		t.Errorf("GET /reset-password with the newest link = %d, want 200", r.status)
	}
}
