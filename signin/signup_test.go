package signin_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	chromeLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	goodPassword  = "correct horse battery"
	otherPassword = "a different passphrase"
)

// nonceRE finds the CSP nonce, which differs in every response.
var nonceRE = regexp.MustCompile(`nonce="[^"]*"`)

func signupForm(email, pw string) url.Values {
	return url.Values{"email": {email}, "name": {"Ada"}, "password": {pw}}
}

// TestSignupVerifySignIn: sign-up stores an unverified user and mails a
// link; the person is not signed in until they press Verify.
func TestSignupVerifySignIn(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)

	r := b.post("/signup", signupForm("Ada@Example.com", goodPassword))
	wantStatus(t, "POST /signup", r, http.StatusSeeOther, "/signup/sent?email=Ada%40Example.com")
	page := b.get(r.location)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Ada@Example.com") || !strings.Contains(page.body, "not signed in until you verify") {
		t.Errorf("GET %s = %d, want the check-your-email page:\n%s", r.location, page.status, page.body)
	}
	u, err := e.userByEmail("ada@example.com")
	if err != nil || u.EmailVerified || u.Name != "Ada" {
		t.Fatalf("user after sign-up = %+v, %v; want Ada, unverified", u, err)
	}
	if b.signedIn() {
		t.Error("signed in before verifying")
	}
	token := e.oneLink("Ada@Example.com", "/verify-email")

	r = b.post("/verify-email", url.Values{"token": {token}})
	wantStatus(t, "POST /verify-email", r, http.StatusSeeOther, "/account")
	if !e.user(u.ID).EmailVerified {
		t.Error("email not verified after POST /verify-email")
	}
	if !b.signedIn() {
		t.Fatal("not signed in after verifying")
	}
	if s := e.sessionsOf(u.ID); len(s) != 1 || strings.Join(s[0].AMR, " ") != "email" {
		t.Errorf("sessions after verifying = %+v, want one with amr [email]", s)
	}
	if id, err := e.dir.Authenticate(t.Context(), "ada@example.com", goodPassword); err != nil || id != u.ID {
		t.Errorf("Authenticate with the sign-up password = %q, %v", id, err)
	}
}

// TestUnverifiedPasswordSignIn: before the address is verified, even the
// right password signs nobody in (else whoever signed up with someone
// else's address could use the account first: pre-hijacking); it sends a
// fresh verification link instead. A wrong password is just wrong.
func TestUnverifiedPasswordSignIn(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	first := e.oneLink("ada@example.com", "/verify-email")

	r := b.post("/login/password", url.Values{"email": {"ada@example.com"}, "password": {"wrong password here"}})
	if r.status != http.StatusUnauthorized || strings.Contains(r.body, "not verified") {
		t.Errorf("wrong password for an unverified account = %d, want 401 without a word on verification", r.status)
	}
	r = b.post("/login/password", url.Values{"email": {"ada@example.com"}, "password": {goodPassword}})
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "is not verified yet") || b.signedIn() {
		t.Fatalf("right password, unverified = %d (signed in %v), want 403 and the verify-first page:\n%s", r.status, b.signedIn(), r.body)
	}
	second := e.oneLink("ada@example.com", "/verify-email")
	if second == first {
		t.Fatal("no new verification link was sent")
	}
	r = b.post("/verify-email", url.Values{"token": {second}})
	wantStatus(t, "POST /verify-email with the new link", r, http.StatusSeeOther, "/account")
	r = e.browser(firefoxWin).post("/login/password", url.Values{"email": {"ada@example.com"}, "password": {goodPassword}})
	wantStatus(t, "password sign-in once verified", r, http.StatusSeeOther, "/account")
}

// TestSignupContinuesAuthorization: a sign-up started from a pending
// authorization continues it once the address is verified; an unknown
// challenge is dropped, never followed (ML-07).
func TestSignupContinuesAuthorization(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	form := signupForm("ada@example.com", goodPassword)
	form.Set("challenge", pendingChallenge)
	b.post("/signup", form)
	r := b.post("/verify-email", url.Values{"token": {e.oneLink("ada@example.com", "/verify-email")}})
	wantStatus(t, "POST /verify-email", r, http.StatusSeeOther, "/oauth2/authorize/continue?challenge="+pendingChallenge)

	form = signupForm("bob@example.com", goodPassword)
	form.Set("challenge", "https://evil.example/")
	b.post("/signup", form)
	r = b.post("/verify-email", url.Values{"token": {e.oneLink("bob@example.com", "/verify-email")}})
	wantStatus(t, "POST /verify-email (unknown challenge)", r, http.StatusSeeOther, "/account")
}

// TestLG06SignupPasswordPolicy: a short or common password is refused
// with the problem next to the field, nothing stored or sent; a long one
// is accepted.
func TestLG06SignupPasswordPolicy(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	for _, tc := range []struct{ name, pw, want string }{
		{"short", "Tr0ub4!", "Password must be at least 8 characters."},
		{"common", "iloveyou", "This password is too common. Choose another."},
		{"common in capitals", "SUNSHINE", "This password is too common. Choose another."},
		{"empty", "", "Password is required."},
	} {
		r := b.post("/signup", signupForm("ada@example.com", tc.pw))
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `<p id="password-error" class="field-error">`+tc.want+`</p>`) {
			t.Errorf("%s: POST /signup = %d, want 400 with %q next to the password:\n%s", tc.name, r.status, tc.want, r.body)
		}
		if strings.Contains(r.body, tc.pw) && tc.pw != "" {
			t.Errorf("%s: the refused password is sent back in the page", tc.name)
		}
	}
	if _, err := e.userByEmail("ada@example.com"); !errors.Is(err, errNoUser) {
		t.Errorf("a refused sign-up stored a user: %v", err)
	}
	if m := e.mails(); len(m) != 0 {
		t.Errorf("a refused sign-up sent %v", recipients(m))
	}

	long := strings.Repeat("many words make a long passphrase ", 3) // 102 characters
	r := b.post("/signup", signupForm("ada@example.com", long))
	wantStatus(t, "POST /signup (102-character password)", r, http.StatusSeeOther, "/signup/sent?email=ada%40example.com")
	if _, err := e.dir.Authenticate(t.Context(), "ada@example.com", long); err != nil {
		t.Errorf("the long password does not sign in: %v", err)
	}
}

// TestLG07SignupTakenAddress: signing up with an address that has an
// account answers exactly like a new address, sends nothing and changes
// nothing of the account.
func TestLG07SignupTakenAddress(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	alice := e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)

	known := b.post("/signup", signupForm("alice@example.com", otherPassword))
	unknown := b.post("/signup", signupForm("carol@example.com", otherPassword))
	sameAnswer(t, "POST /signup", known, "alice@example.com", unknown, "carol@example.com")
	sameAnswer(t, "GET /signup/sent", b.get(known.location), "alice@example.com", b.get(unknown.location), "carol@example.com")

	if m := e.mails(); len(m) != 1 || m[0].To != "carol@example.com" {
		t.Errorf("emails = %v, want only carol's verification", recipients(m))
	}
	if got := e.user(alice.ID); got.PasswordHash != alice.PasswordHash {
		t.Error("signing up with alice's address changed her password")
	}
}

// sameAnswer: the two replies are equal once each email is replaced by a
// placeholder (the page shows the address typed).
func sameAnswer(t *testing.T, what string, a accountReply, emailA string, b accountReply, emailB string) {
	t.Helper()
	norm := func(r accountReply, email string) accountReply {
		r.location = strings.ReplaceAll(r.location, url.QueryEscape(email), "EMAIL")
		r.body = nonceRE.ReplaceAllString(strings.ReplaceAll(r.body, email, "EMAIL"), "NONCE")
		return r
	}
	if na, nb := norm(a, emailA), norm(b, emailB); na != nb {
		t.Errorf("%s differs between %s and %s:\n%d %q\n%s\n---\n%d %q\n%s", what, emailA, emailB, na.status, na.location, na.body, nb.status, nb.location, nb.body)
	}
}

// TestLG08SignupClosed: with sign-up disabled or by invitation only, the
// page says so without a form and the POST refuses too.
func TestLG08SignupClosed(t *testing.T) {
	for _, mode := range []string{"disabled", "invite_only"} {
		t.Run(mode, func(t *testing.T) {
			e := newAccountEnv(t, accountEnvOptions{signupMode: mode})
			b := e.browser(chromeLinux)
			page := b.get("/signup")
			if page.status != http.StatusForbidden || strings.Contains(page.body, `action="/signup"`) || !strings.Contains(page.body, "Ask your administrator") {
				t.Errorf("GET /signup = %d, want 403 saying sign-up is closed, without a form:\n%s", page.status, page.body)
			}
			r := b.post("/signup", signupForm("ada@example.com", goodPassword))
			if r.status != http.StatusForbidden {
				t.Errorf("POST /signup = %d %q, want 403", r.status, r.location)
			}
			if _, err := e.userByEmail("ada@example.com"); !errors.Is(err, errNoUser) {
				t.Errorf("POST /signup with sign-up %s created a user (%v)", mode, err)
			}
			if m := e.mails(); len(m) != 0 {
				t.Errorf("POST /signup with sign-up %s sent %v", mode, recipients(m))
			}
		})
	}
}

// TestLG09LinksIgnoreHostHeaders: a forged Host or X-Forwarded-Host does
// not change the emailed links, which come from the issuer.
func TestLG09LinksIgnoreHostHeaders(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	forged := http.Header{"Host": {"evil.example"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"https"}}

	form := signupForm("ada@example.com", goodPassword)
	form.Set("csrf_token", b.csrfToken())
	r := b.postRaw("/signup", form, forged)
	wantStatus(t, "POST /signup with forged host headers", r, http.StatusSeeOther, "/signup/sent?email=ada%40example.com")
	e.oneLink("ada@example.com", "/verify-email") // fails unless the link starts with the issuer

	r = b.postRaw("/forgot-password", url.Values{"email": {"alice@example.com"}, "csrf_token": {b.csrfToken()}}, forged)
	wantStatus(t, "POST /forgot-password with forged host headers", r, http.StatusSeeOther, "/forgot-password/sent?email=alice%40example.com")
	e.oneLink("alice@example.com", "/reset-password")
}

// TestML04VerifyLinkGETConsumesNothing: opening the link, as a mail
// scanner does, any number of times, uses nothing and signs nobody in.
func TestML04VerifyLinkGETConsumesNothing(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	token := e.oneLink("ada@example.com", "/verify-email")
	scanner := e.browser("Mozilla/5.0 (compatible; SafeLinks)")
	for range 2 {
		page := scanner.get("/verify-email?token=" + token)
		if page.status != http.StatusOK || !strings.Contains(page.body, "ada@example.com") || !strings.Contains(page.body, ">Verify</button>") {
			t.Fatalf("GET /verify-email = %d, want the Verify page for ada@example.com:\n%s", page.status, page.body)
		}
	}
	u, _ := e.userByEmail("ada@example.com")
	if u.EmailVerified || scanner.signedIn() || len(e.sessionsOf(u.ID)) != 0 {
		t.Fatal("opening the link verified the address or signed someone in")
	}
	wantStatus(t, "POST /verify-email after two GETs", b.post("/verify-email", url.Values{"token": {token}}), http.StatusSeeOther, "/account")
}

// TestML02VerifyLinkWorksOnce: the second use of a link, or opening it
// after, is refused with a clear page, and signs nobody in.
func TestML02VerifyLinkWorksOnce(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	token := e.oneLink("ada@example.com", "/verify-email")
	wantStatus(t, "first POST /verify-email", b.post("/verify-email", url.Values{"token": {token}}), http.StatusSeeOther, "/account")

	other := e.browser(firefoxWin)
	for what, r := range map[string]accountReply{
		"second POST /verify-email": other.post("/verify-email", url.Values{"token": {token}}),
		"GET /verify-email after":   other.get("/verify-email?token=" + token),
	} {
		if r.status != http.StatusGone || !strings.Contains(r.body, "already used") {
			t.Errorf("%s = %d, want 410 saying the link was used:\n%s", what, r.status, r.body)
		}
	}
	if other.signedIn() {
		t.Error("a reused link signed the second browser in")
	}
}

// TestML03ExpiredAndUnknownLinks: an expired link (verification: 24
// hours; reset: 30 minutes) is refused with 410, an unknown or malformed
// one with 400.
func TestML03ExpiredAndUnknownLinks(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	e.createUser("alice@example.com", goodPassword)
	b := e.browser(chromeLinux)
	b.post("/signup", signupForm("ada@example.com", goodPassword))
	verify := e.oneLink("ada@example.com", "/verify-email")
	b.post("/forgot-password", url.Values{"email": {"alice@example.com"}})
	reset := e.oneLink("alice@example.com", "/reset-password")

	e.clock.Advance(30*time.Minute + time.Second)
	for what, r := range map[string]accountReply{
		"GET /reset-password":  b.get("/reset-password?token=" + reset),
		"POST /reset-password": b.post("/reset-password", url.Values{"token": {reset}, "password": {otherPassword}}),
	} {
		if r.status != http.StatusGone || !strings.Contains(r.body, "expired") {
			t.Errorf("%s after 30 minutes = %d, want 410 expired:\n%s", what, r.status, r.body)
		}
	}
	if r := b.get("/verify-email?token=" + verify); r.status != http.StatusOK {
		t.Errorf("GET /verify-email after 30 minutes = %d, want 200: it works 24 hours", r.status)
	}
	e.clock.Advance(24 * time.Hour)
	for what, r := range map[string]accountReply{
		"GET /verify-email":  b.get("/verify-email?token=" + verify),
		"POST /verify-email": b.post("/verify-email", url.Values{"token": {verify}}),
	} {
		if r.status != http.StatusGone || !strings.Contains(r.body, "expired") {
			t.Errorf("%s after a day = %d, want 410 expired:\n%s", what, r.status, r.body)
		}
	}
	if u, _ := e.userByEmail("ada@example.com"); u.EmailVerified || b.signedIn() {
		t.Error("an expired link verified the address or signed in")
	}

	for _, token := range []string{"", "nope", strings.Repeat("A", 43), reset + "x"} {
		for what, r := range map[string]accountReply{
			"GET /verify-email":    b.get("/verify-email?token=" + url.QueryEscape(token)),
			"POST /verify-email":   b.post("/verify-email", url.Values{"token": {token}}),
			"GET /reset-password":  b.get("/reset-password?token=" + url.QueryEscape(token)),
			"POST /reset-password": b.post("/reset-password", url.Values{"token": {token}, "password": {otherPassword}}),
		} {
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "not valid") {
				t.Errorf("%s with token %q = %d, want 400 not valid", what, token, r.status)
			}
		}
	}
	// A verification token is no reset token, and the other way round.
	if r := b.get("/reset-password?token=" + verify); r.status != http.StatusBadRequest {
		t.Errorf("GET /reset-password with a verification token = %d, want 400", r.status)
	}
}
