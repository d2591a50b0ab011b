package signin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAccountPage: signed out, /account sends the browser to sign in;
// signed in, it shows the person and their sessions in plain words.
func TestAccountPage(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	laptop, phone := e.browser(chromeLinux), e.browser(safariIPhone)
	wantStatus(t, "GET /account signed out", laptop.get("/account"), http.StatusSeeOther, "/login")

	laptop.signIn(alice.ID, e.clock.Now())
	phone.signIn(alice.ID, e.clock.Now().Add(-time.Hour))
	e.clock.Advance(5 * time.Minute)
	page := laptop.get("/account")
	if page.status != http.StatusOK {
		t.Fatalf("GET /account = %d:\n%s", page.status, page.body)
	}
	for _, want := range []string{"alice@example.com", "Chrome on Linux", "This device", "Safari on iPhone", "127.0.0.1",
		"5 minutes ago", ">End session</button>", ">Sign out of all other sessions</button>", ">Change password</button>", ">Sign out</button>"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if i, j := strings.Index(page.body, "Chrome on Linux"), strings.Index(page.body, "Safari on iPhone"); i > j {
		t.Error("this device is not listed first")
	}
}

// TestEndSessions: the person ends one of their other sessions, then all
// others; ending their own current one signs them out.
func TestEndSessions(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	laptop, phone, tablet := e.browser(chromeLinux), e.browser(safariIPhone), e.browser(firefoxWin)
	laptop.signIn(alice.ID, e.clock.Now())
	phoneSession := phone.signIn(alice.ID, e.clock.Now())
	tablet.signIn(alice.ID, e.clock.Now())

	wantStatus(t, "end the phone's session", laptop.post("/account/sessions/end", url.Values{"sid": {phoneSession.SID}}),
		http.StatusSeeOther, "/account?done=ended")
	if phone.signedIn() || !tablet.signedIn() || !laptop.signedIn() {
		t.Error("ending the phone's session did not end exactly that one")
	}
	wantStatus(t, "end the others", laptop.post("/account/sessions/end-others", nil), http.StatusSeeOther, "/account?done=others")
	if tablet.signedIn() || !laptop.signedIn() {
		t.Error("signing out of other sessions did not end exactly the others")
	}
	own := e.sessionsOf(alice.ID)[0]
	wantStatus(t, "end this device's session", laptop.post("/account/sessions/end", url.Values{"sid": {own.SID}}),
		http.StatusSeeOther, "/account/signed-out")
	if laptop.signedIn() {
		t.Error("ending this device's session left it signed in")
	}
}

// TestEndingAnotherUsersSessionIsNotFound: a sid that is not one of the
// person's sessions is 404, and that session lives on.
func TestEndingAnotherUsersSessionIsNotFound(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	bob := e.createUser("bob@example.com", goodPassword)
	a, b := e.browser(chromeLinux), e.browser(firefoxWin)
	a.signIn(alice.ID, e.clock.Now())
	bobSession := b.signIn(bob.ID, e.clock.Now())

	for _, sid := range []string{bobSession.SID, bobSession.ID, ""} {
		r := a.post("/account/sessions/end", url.Values{"sid": {sid}})
		if r.status != http.StatusNotFound {
			t.Errorf("alice ends sid %q = %d %q, want 404", sid, r.status, r.location)
		}
	}
	if !b.signedIn() {
		t.Error("alice ended bob's session")
	}
}

// TestSignOut: signing out ends the session (the OIDC session with it)
// and shows the signed-out page.
func TestSignOut(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.signIn(alice.ID, e.clock.Now())
	wantStatus(t, "POST /account/sign-out", b.post("/account/sign-out", nil), http.StatusSeeOther, "/account/signed-out")
	if page := b.get("/account/signed-out"); page.status != http.StatusOK || !strings.Contains(page.body, "signed out") {
		t.Errorf("GET /account/signed-out = %d:\n%s", page.status, page.body)
	}
	if b.signedIn() || len(e.sessionsOf(alice.ID)) != 0 {
		t.Error("still signed in after signing out")
	}
}

// TestSC07ChangePassword: changing the password needs the current one
// unless the sign-in is recent, applies the policy, ends the other
// sessions (not this one) and mails a notice.
func TestSC07ChangePassword(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	laptop, phone := e.browser(chromeLinux), e.browser(safariIPhone)
	laptop.signIn(alice.ID, e.clock.Now())
	phone.signIn(alice.ID, e.clock.Now())
	e.clock.Advance(11 * time.Minute) // no longer a recent sign-in

	if page := laptop.get("/account"); !strings.Contains(page.body, `name="current_password"`) {
		t.Error("11 minutes after sign-in the form does not ask for the current password")
	}
	for _, tc := range []struct {
		name    string
		form    url.Values
		status  int
		message string
	}{
		{"wrong current password", url.Values{"current_password": {"not my password"}, "new_password": {otherPassword}},
			http.StatusBadRequest, "That is not your current password."},
		{"no current password", url.Values{"new_password": {otherPassword}},
			http.StatusBadRequest, "That is not your current password."},
		{"LG-06 common new password", url.Values{"current_password": {goodPassword}, "new_password": {"Qwertyuiop"}},
			http.StatusBadRequest, "This password is too common. Choose another."},
		{"LG-06 short new password", url.Values{"current_password": {goodPassword}, "new_password": {"abc"}},
			http.StatusBadRequest, "Password must be at least 8 characters."},
	} {
		r := laptop.post("/account/password", tc.form)
		if r.status != tc.status || !strings.Contains(r.body, tc.message) {
			t.Errorf("%s: POST /account/password = %d, want %d with %q:\n%s", tc.name, r.status, tc.status, tc.message, r.body)
		}
	}
	if e.user(alice.ID).PasswordHash != alice.PasswordHash || !phone.signedIn() || len(e.mails()) != 0 {
		t.Fatal("a refused change changed the password, ended a session or sent an email")
	}

	r := laptop.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {otherPassword}})
	wantStatus(t, "POST /account/password", r, http.StatusSeeOther, "/account?done=password")
	if phone.signedIn() {
		t.Error("SC-07: the other session survived the password change")
	}
	if page := laptop.get("/account?done=password"); page.status != http.StatusOK || !strings.Contains(page.body, "Your password was changed") {
		t.Errorf("this session did not survive the change, or the page does not say it happened:\n%s", page.body)
	}
	if _, err := e.dir.Authenticate(t.Context(), "alice@example.com", otherPassword); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	if m := e.mails(); len(m) != 1 || m[0].To != "alice@example.com" || !strings.Contains(m[0].Subject, "password was changed") {
		t.Errorf("emails after the change = %v, want alice's notice", recipients(m))
	}
}

// TestChangePasswordAfterRecentSignIn: within 10 minutes of signing in,
// the current password is not asked for.
func TestChangePasswordAfterRecentSignIn(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.signIn(alice.ID, e.clock.Now())
	e.clock.Advance(9 * time.Minute)
	if page := b.get("/account"); strings.Contains(page.body, `name="current_password"`) {
		t.Error("9 minutes after sign-in the form asks for the current password")
	}
	r := b.post("/account/password", url.Values{"new_password": {otherPassword}})
	wantStatus(t, "POST /account/password without the current password", r, http.StatusSeeOther, "/account?done=password")
}

// TestChangePasswordLockout: wrong current passwords count against the
// account's sign-in lockout (LG-03).
func TestChangePasswordLockout(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.signIn(alice.ID, e.clock.Now().Add(-time.Hour))
	for range 6 {
		b.post("/account/password", url.Values{"current_password": {"wrong"}, "new_password": {otherPassword}})
	}
	r := b.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {otherPassword}})
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many attempts") {
		t.Errorf("POST /account/password after 6 wrong passwords = %d, want 429 Too many attempts:\n%s", r.status, r.body)
	}
}

// TestSC03PostsWithoutCSRF: every account POST without the form's CSRF
// token is 403 and changes nothing.
func TestSC03PostsWithoutCSRF(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	verify := e.oneLink("ada@example.com", "/verify-email")
	b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	reset := e.oneLink("alice@example.com", "/reset-password")
	own := b.signIn(alice.ID, e.clock.Now())
	other := e.browser(firefoxWin)
	other.signIn(alice.ID, e.clock.Now())

	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/signup", signupForm("carol@example.com", goodPassword)},
		{"/verify-email", url.Values{"token": {verify}}},
		{"/forgot-password", url.Values{"email": {"alice@example.com"}}},
		{"/reset-password", url.Values{"token": {reset}, "password": {otherPassword}}},
		{"/account/password", url.Values{"current_password": {goodPassword}, "new_password": {otherPassword}}},
		{"/account/sessions/end", url.Values{"sid": {own.SID}}},
		{"/account/sessions/end-others", url.Values{}},
		{"/account/sign-out", url.Values{}},
	} {
		for name, csrf := range map[string][]string{"no token": nil, "wrong token": {strings.Repeat("x", 43)}} {
			form := cloneForm(tc.form)
			if csrf != nil {
				form["csrf_token"] = csrf
			}
			if r := b.postRaw(tc.path, form, nil); r.status != http.StatusForbidden {
				t.Errorf("POST %s with %s = %d %q, want 403", tc.path, name, r.status, r.location)
			}
		}
	}
	if _, err := e.userByEmail("carol@example.com"); err == nil {
		t.Error("a sign-up without CSRF token created a user")
	}
	if u, _ := e.userByEmail("ada@example.com"); u.EmailVerified {
		t.Error("a verification without CSRF token verified the address")
	}
	if e.user(alice.ID).PasswordHash != alice.PasswordHash {
		t.Error("a form without CSRF token changed the password")
	}
	if !b.signedIn() || !other.signedIn() {
		t.Error("a form without CSRF token ended a session")
	}
	if m := e.mails(); len(m) != 0 {
		t.Errorf("forms without CSRF token sent %v", recipients(m))
	}
	// The links still work: nothing was used.
	wantStatus(t, "POST /verify-email with the token", b.post("/verify-email", url.Values{"token": {verify}}), http.StatusSeeOther, "/account")
	if r := b.get("/reset-password?token=" + reset); r.status != http.StatusOK {
		t.Errorf("the reset link no longer opens: %d", r.status)
	}
}
