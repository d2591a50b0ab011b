package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The sign-in pages against SECURITY.md's SC and LG items; the magic-link
// items (ML) are in magiclink_test.go.

// TestSigninSC03CSRF: every sign-in POST without this browser's CSRF token,
// or with another value, is refused with 403 and changes nothing: no
// session, no email, the link still unused.
func TestSigninSC03CSRF(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	alice := e.user(t, e.email)
	b := newBrowser(t)
	page, challenge := e.authorize(t, b)
	link := linkPath(t, e.newLink(t, b, page, e.email, 1))
	token := strings.TrimPrefix(link, "/login/link?token=")

	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/login", url.Values{"email": {e.email}, "challenge": {challenge}}},
		{"/login/password", url.Values{"email": {e.email}, "password": {e.pass}, "challenge": {challenge}}},
		{"/login/email-link", url.Values{"email": {e.email}, "challenge": {challenge}}},
		{"/login/link", url.Values{"token": {token}}},
	} {
		for name, csrf := range map[string]string{"no token": "", "another token": strings.Repeat("x", 43)} {
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			if csrf != "" {
				form.Set("csrf_token", csrf)
			}
			r := e.fetch(t, b, http.MethodPost, tc.path, form)
			if r.status != http.StatusForbidden || hasSessionCookie(r) {
				t.Errorf("POST %s with %s = %d (session cookie %t), want 403 and no session", tc.path, name, r.status, hasSessionCookie(r))
			}
		}
	}
	if n := e.sessions(t, alice.ID); n != 0 {
		t.Errorf("alice has %d sessions after the refused posts, want 0", n)
	}
	e.mail.Quiet(t, 1, 2*time.Second)
	// The link was not used: it still signs in.
	if r := e.fetch(t, b, http.MethodGet, link, nil); r.status != http.StatusOK {
		t.Errorf("GET the link after the refused posts = %v, want 200", r)
	}
}

// TestSigninSC08SeeOther: a successful credential POST answers 303, so the
// browser never posts the password on (RFC 9700 §4.12): to the pending
// authorization when there is one, else to the account page.
func TestSigninSC08SeeOther(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	page, challenge := e.authorize(t, b)
	r := e.post(t, b, "/login/password", e.passwordStep(t, b, page, e.email), url.Values{"password": {e.pass}})
	if want := "/oauth2/authorize/continue?challenge=" + url.QueryEscape(challenge); r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		t.Errorf("password with an authorization = %d to %q, want 303 to %q", r.status, r.header.Get("Location"), want)
	}

	b = newBrowser(t)
	r = e.post(t, b, "/login/password", e.passwordStep(t, b, e.loginPage(t, b), e.email), url.Values{"password": {e.pass}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Errorf("password without an authorization = %d to %q, want 303 to /account", r.status, r.header.Get("Location"))
	}

	link := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 1))
	r = e.post(t, b, "/login/link", e.fetch(t, b, http.MethodGet, link, nil).body, nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Errorf("magic link = %d to %q, want 303 to /account", r.status, r.header.Get("Location"))
	}
}

// TestSigninLG01SameAnswer: an unknown email, a wrong password and an
// account without a password get the same status and the same page, the
// email aside, at both steps.
func TestSigninLG01SameAnswer(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	e.createUser(t, "nopass@example.com", "", true)
	b := newBrowser(t)
	page, _ := e.authorize(t, b)

	emails := []string{e.email, "nobody@example.com", "nopass@example.com"}
	var steps, answers []reply
	for _, email := range emails {
		second := e.post(t, b, "/login", page, url.Values{"email": {email}})
		steps = append(steps, second)
		answers = append(answers, e.post(t, b, "/login/password", second.body, url.Values{"password": {"wrong password 123"}}))
	}
	for i := range emails {
		if steps[i].status != http.StatusOK || !sameShape(steps[0].body, emails[0], steps[i].body, emails[i]) {
			t.Errorf("second step for %s = %d, differs from %s's:\n%s", emails[i], steps[i].status, emails[0], steps[i].body)
		}
		if answers[i].status != http.StatusUnauthorized || !sameShape(answers[0].body, emails[0], answers[i].body, emails[i]) {
			t.Errorf("wrong password for %s = %d, differs from %s's:\n%s", emails[i], answers[i].status, emails[0], answers[i].body)
		}
		if !strings.Contains(answers[i].body, "The email or password is not right.") {
			t.Errorf("wrong password for %s does not say so:\n%s", emails[i], visibleText(answers[i].body))
		}
	}
}

// TestSigninLG02Timing measures the password step for an unknown email, a
// wrong password and an empty one. The unknown email spends a decoy hash,
// so all three cost one argon2id; without the decoy the unknown email
// would answer about a hundred times faster. The bound is loose: the
// numbers are in the log, the machine is shared.
func TestSigninLG02Timing(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	const perAccount = 5 // the lockout's free attempts
	var known []string
	for i := range 8 {
		email := fmt.Sprintf("known%d@example.com", i)
		e.createUser(t, email, "the right password", true)
		known = append(known, email)
	}
	b := newBrowser(t)
	step := e.passwordStep(t, b, e.loginPage(t, b), e.email)
	requests := 0
	measure := func(email, password string) time.Duration {
		if requests++; requests%90 == 0 {
			e.clock.Advance(16 * time.Minute) // a new per-IP window
		}
		form := hidden(step)
		form.Set("email", email)
		form.Set("password", password)
		start := time.Now()
		r := e.fetch(t, b, http.MethodPost, "/login/password", form)
		d := time.Since(start)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("password for %s = %v, want 401", email, r)
		}
		return d
	}
	var unknown, wrong, empty []time.Duration
	for i, email := range known {
		for j := range perAccount {
			unknown = append(unknown, measure(fmt.Sprintf("nobody%d-%d@example.com", i, j), "a wrong password"))
			if i < 6 {
				wrong = append(wrong, measure(email, "a wrong password"))
			} else {
				empty = append(empty, measure(email, ""))
			}
		}
	}
	pu, pw, pe := percentile(unknown, 50), percentile(wrong, 50), percentile(empty, 50)
	t.Logf("LG-02 p50/p90: unknown email %v/%v (n=%d), wrong password %v/%v (n=%d), empty password %v/%v (n=%d)",
		pu, percentile(unknown, 90), len(unknown), pw, percentile(wrong, 90), len(wrong), pe, percentile(empty, 90), len(empty))
	for name, p := range map[string]time.Duration{"wrong password": pw, "empty password": pe} {
		if ratio := float64(pu) / float64(p); ratio < 1.0/3 || ratio > 3 {
			t.Errorf("p50 unknown email %v vs %s %v: ratio %.2f, want within a factor of 3", pu, name, p, ratio)
		}
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)*p/100, len(s)-1)]
}

// TestSigninLG03Lockout: after the free attempts each wrong password makes
// the next wait longer; a locked account, known or not, is told when to
// come back (429, Retry-After) and the lock ends by itself. A right
// password after it signs in and forgets the failures.
func TestSigninLG03Lockout(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	e.clock.Stop() // the waits are exact, however slow the machine
	b := newBrowser(t)
	for _, email := range []string{e.email, "nobody@example.com"} {
		step := e.passwordStep(t, b, e.loginPage(t, b), email)
		try := func(password string) reply {
			t.Helper()
			return e.post(t, b, "/login/password", step, url.Values{"password": {password}})
		}
		for i := range 5 {
			if r := try("wrong password"); r.status != http.StatusUnauthorized {
				t.Fatalf("%s: wrong password %d = %v, want 401", email, i+1, r)
			}
		}
		checks := e.checks.Load()
		r := try(e.pass)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" ||
			!strings.Contains(r.body, "Too many attempts. Try again in 1 second.") {
			t.Fatalf("%s: 6th attempt at once = %d Retry-After %q:\n%s; want 429, 1 second", email, r.status, r.header.Get("Retry-After"), visibleText(r.body))
		}
		if e.checks.Load() != checks {
			t.Errorf("%s: the refused attempt checked the password", email)
		}
		// Each failure doubles the wait: 1s after the 5th, 64s after the
		// 11th.
		for range 6 {
			e.clock.Advance(16 * time.Minute)
			if r := try("wrong password"); r.status != http.StatusUnauthorized {
				t.Fatalf("%s: wrong password after the wait = %v, want 401", email, r)
			}
		}
		r = try(e.pass)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "64" ||
			!strings.Contains(r.body, "Too many attempts. Try again in 2 minutes.") {
			t.Errorf("%s: after 11 failures = %d Retry-After %q:\n%s; want 429, 2 minutes", email, r.status, r.header.Get("Retry-After"), visibleText(r.body))
		}
		e.clock.Advance(65 * time.Second)
		r = try(e.pass)
		if email == e.email && r.status != http.StatusSeeOther {
			t.Errorf("%s: right password once the lock ended = %v, want 303", email, r)
		}
		if email != e.email && r.status != http.StatusUnauthorized {
			t.Errorf("%s: password once the lock ended = %v, want 401", email, r)
		}
	}
	// The success forgot alice's failures: five free attempts again.
	step := e.passwordStep(t, b, e.loginPage(t, b), e.email)
	for i := range 5 {
		if r := e.post(t, b, "/login/password", step, url.Values{"password": {"wrong"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d after a success = %v, want 401", i+1, r)
		}
	}
}

// TestSigninLG04ParallelGuesses: 50 wrong passwords at once for one account
// reach the password check at most 5 times (the lockout's free attempts);
// the others are refused before it.
func TestSigninLG04ParallelGuesses(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			b := newBrowser(t)
			step := e.passwordStep(t, b, e.loginPage(t, b), e.email)
			form := hidden(step)
			form.Set("password", "wrong password")
			// The clock stands still: the lockout's delays start at one
			// second, which a slow machine could take to send the 50.
			e.clock.Stop()
			defer e.clock.Start()
			statuses := make([]int, 50)
			var wg sync.WaitGroup
			for i := range statuses {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login/password", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					if r, err := do(stay(b), req); err == nil {
						statuses[i] = r.status
					}
				})
			}
			wg.Wait()
			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
			}
			checks := int(e.checks.Load())
			t.Logf("LG-04: 50 parallel wrong passwords: %d password checks, statuses %v", checks, count)
			if checks > 5 || count[http.StatusUnauthorized] != checks || count[http.StatusTooManyRequests] != 50-checks {
				t.Errorf("50 parallel wrong passwords: %d checks, statuses %v; want at most 5 checks, each a 401, the rest 429", checks, count)
			}
		})
	}
}

// TestSigninLG07SameAnswerForLinks (and ML-06): asking for a sign-in link
// gets the same page, status and cookies for a known and an unknown email;
// only the known one gets mail, and at most 3 per 15 minutes: the 4th
// request looks the same and sends nothing.
func TestSigninLG07SameAnswerForLinks(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	page := e.loginPage(t, b)
	ask := func(email string) (reply, time.Duration) {
		t.Helper()
		step := e.passwordStep(t, b, page, email)
		start := time.Now()
		r := e.requestLink(t, b, step)
		return r, time.Since(start)
	}
	known, dk := ask(e.email)
	unknown, du := ask("nobody@example.com")
	t.Logf("LG-07: link request for a known email %v, unknown %v", dk, du)
	if known.status != http.StatusOK || unknown.status != http.StatusOK || !sameShape(known.body, e.email, unknown.body, "nobody@example.com") {
		t.Errorf("link requests: known %d, unknown %d; want the same 200 page:\n%s\n%s", known.status, unknown.status, known.body, unknown.body)
	}
	if diff := cmp.Diff(cookieNames(known), cookieNames(unknown)); diff != "" {
		t.Errorf("cookies set for a known and an unknown email differ (-known +unknown):\n%s", diff)
	}
	e.mail.Wait(t, 1)
	for range 3 {
		if r, _ := ask(e.email); r.status != http.StatusOK || !sameShape(known.body, e.email, r.body, e.email) {
			t.Errorf("a further link request = %d, want the same page:\n%s", r.status, r.body)
		}
	}
	e.mail.Wait(t, 3)
	e.mail.Quiet(t, 3, 3*time.Second)
	for _, m := range e.mail.Messages() {
		if m.To != e.email {
			t.Errorf("email went to %s, want only %s", m.To, e.email)
		}
	}
	// A new window, a new link.
	e.clock.Advance(16 * time.Minute)
	ask(e.email)
	e.mail.Wait(t, 4)
}

// TestSigninLG09ForgedHost: a forged Host or X-Forwarded-Host does not
// change the emailed link, which is built from the configured issuer.
func TestSigninLG09ForgedHost(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	step := e.passwordStep(t, b, e.loginPage(t, b), e.email)
	req, err := http.NewRequest(http.MethodPost, e.issuer+"/login/email-link", strings.NewReader(hidden(step).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// The browser's cookies, by hand: a client's jar goes by the Host.
	for _, c := range b.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	req.Host = "evil.example"
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	r, err := do(noFollow, req)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("link request with a forged host = %v, %v", r, err)
	}
	m := e.mail.Wait(t, 1)[0]
	if link := m.Link(t); !strings.HasPrefix(link, e.issuer+"/login/link?token=") || strings.Contains(m.Text+m.HTML, "evil.example") {
		t.Errorf("emailed link %q; want it under the issuer %s, and no trace of the forged host", link, e.issuer)
	}
}
