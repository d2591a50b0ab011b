package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/signin"
	"github.com/foyerdev/foyer/storage"
)

// This file holds what the sign-in tests share: a server with a clock the
// test moves, a count of password checks, and a real SMTP server receiving
// its email; and a browser that walks the two sign-in steps.

// signInWithPassword walks the two sign-in steps from a sign-in page, as a
// person would: Continue with email, then the password. It returns the
// answer to the password, redirects followed as b follows them.
func signInWithPassword(t *testing.T, b *http.Client, issuer, page, email, password string) *http.Response {
	t.Helper()
	form := formFields(t, page)
	form.Set("email", email)
	resp, err := b.PostForm(issuer+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	second := read(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(second, `action="/login/password"`) {
		t.Fatalf("Continue as %s = %d at %s, want the password step:\n%s", email, resp.StatusCode, resp.Request.URL, second)
	}
	form = formFields(t, second)
	form.Set("email", email)
	form.Set("password", password)
	if resp, err = b.PostForm(issuer+"/login/password", form); err != nil {
		t.Fatal(err)
	}
	return resp
}

// signinEnv is a running Foyer for the sign-in tests: alice (with a
// password) and a web client from oidcEnv, a mailbox that receives the
// email, a clock the test moves, and a count of password checks.
type signinEnv struct {
	*oidcEnv
	mail   *mailbox
	clock  *testClock
	checks atomic.Int64 // calls of Accounts.Authenticate
}

func newSigninEnv(t *testing.T, backend string) *signinEnv {
	t.Helper()
	return newSigninEnvAt(t, backend, "127.0.0.1")
}

// newSigninEnvAt is newSigninEnv with the issuer's host name (localhost
// for passkeys: newOIDCEnvAt).
func newSigninEnvAt(t *testing.T, backend, host string) *signinEnv {
	t.Helper()
	return newSigninEnvConfigured(t, backend, host, nil)
}

// newSigninEnvConfigured is newSigninEnvAt with configure changing the
// configuration (newOIDCEnvConfigured).
func newSigninEnvConfigured(t *testing.T, backend, host string, configure func(*config.Config)) *signinEnv {
	t.Helper()
	e := &signinEnv{clock: new(testClock), mail: startMailbox(t, "127.0.0.1:0")}
	e.oidcEnv = newOIDCEnvConfigured(t, backend, host, e.mail.URL(), seams{
		now: e.clock.Now,
		accounts: func(a signin.Accounts) signin.Accounts {
			return countingAccounts{Accounts: a, n: &e.checks}
		},
	}, configure)
	return e
}

// testClock is the wall clock moved forward by the test, or stopped.
type testClock struct {
	offset  atomic.Int64
	stopped atomic.Pointer[time.Time]
}

func (c *testClock) Now() time.Time {
	if t := c.stopped.Load(); t != nil {
		return *t
	}
	return time.Now().Add(time.Duration(c.offset.Load()))
}

func (c *testClock) Advance(d time.Duration) {
	c.offset.Add(int64(d))
	if t := c.stopped.Load(); t != nil {
		moved := t.Add(d)
		c.stopped.Store(&moved)
	}
}

// Stop holds the clock where it is until Start.
func (c *testClock) Stop() {
	now := c.Now()
	c.stopped.Store(&now)
}

func (c *testClock) Start() { c.stopped.Store(nil) }

// countingAccounts counts the password checks that reach the directory.
type countingAccounts struct {
	signin.Accounts
	n *atomic.Int64
}

func (a countingAccounts) Authenticate(ctx context.Context, email, password string) (string, error) {
	a.n.Add(1)
	return a.Accounts.Authenticate(ctx, email, password)
}

// createUser adds a person; an empty password makes one who signs in by
// email only.
func (e *signinEnv) createUser(t *testing.T, email, password string, verified bool) storage.User {
	t.Helper()
	u, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateUser(t.Context(), idp.NewUser{
		Email: email, Password: password, Name: "Test Person", EmailVerified: verified,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stay shares b's cookies but follows no redirect, to see Foyer's own
// answer.
func stay(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize starts an authorization of the web client in b and returns the
// sign-in page it leads to and the challenge on it.
func (e *signinEnv) authorize(t *testing.T, b *http.Client) (page, challenge string) {
	t.Helper()
	v, _ := authParams(e.web, callback)
	resp, err := b.Get(e.issuer + "/oauth2/authorize?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page = read(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("authorization went to %s, want /login:\n%s", resp.Request.URL, page)
	}
	return page, hidden(page).Get("challenge")
}

// loginPage opens the sign-in page without an authorization.
func (e *signinEnv) loginPage(t *testing.T, b *http.Client) string {
	t.Helper()
	r := e.fetch(t, b, http.MethodGet, "/login", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /login = %v", r)
	}
	return r.body
}

// fetch sends one request from browser b without following redirects.
// form, when set, is posted.
func (e *signinEnv) fetch(t *testing.T, b *http.Client, method, path string, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := do(stay(b), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	checkReply(t, method+" "+path, r)
	return r
}

// post sends a form of page (its hidden fields, then set) from browser b,
// without following redirects.
func (e *signinEnv) post(t *testing.T, b *http.Client, path, page string, set url.Values) reply {
	t.Helper()
	form := hidden(page)
	for k, v := range set {
		form[k] = v
	}
	return e.fetch(t, b, http.MethodPost, path, form)
}

// passwordStep continues from the sign-in page as email and returns the
// password step.
func (e *signinEnv) passwordStep(t *testing.T, b *http.Client, page, email string) string {
	t.Helper()
	r := e.post(t, b, "/login", page, url.Values{"email": {email}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="/login/password"`) {
		t.Fatalf("Continue as %s = %v, want the password step", email, r)
	}
	return r.body
}

// requestLink presses "Email me a sign-in link" on the password step.
func (e *signinEnv) requestLink(t *testing.T, b *http.Client, passwordPage string) reply {
	t.Helper()
	return e.post(t, b, "/login/email-link", passwordPage, nil)
}

// newLink has browser b ask for a sign-in link for email (from the sign-in
// page, or from the authorization given its page) and returns the n-th
// email the mailbox got, which must carry it.
func (e *signinEnv) newLink(t *testing.T, b *http.Client, page, email string, n int) string {
	t.Helper()
	if r := e.requestLink(t, b, e.passwordStep(t, b, page, email)); r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
		t.Fatalf("request a link for %s = %v, want the check-your-email page", email, r)
	}
	m := e.mail.Wait(t, n)[n-1]
	if m.To != email {
		t.Fatalf("email %d went to %s, want %s", n, m.To, email)
	}
	return m.Link(t)
}

// linkPath is the path and query of an emailed link, to open on the test
// server.
func linkPath(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// sessions counts the user's browser sessions in the database.
func (e *signinEnv) sessions(t *testing.T, userID string) int {
	t.Helper()
	s, err := e.store.ListBrowserSessions(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return len(s)
}

func (e *signinEnv) user(t *testing.T, email string) storage.User {
	t.Helper()
	u, err := e.store.GetUserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hidden reads the hidden fields of a page (the first value of each name).
func hidden(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if !v.Has(m[1]) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	nonceRE = regexp.MustCompile(`nonce="[^"]*"`)
)

// visibleText is a page's text as a person reads it.
func visibleText(page string) string {
	if _, body, ok := strings.Cut(page, "<body>"); ok {
		page = body
	}
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(page, ""))), " ")
}

// sameShape reports the difference of two pages, ignoring the CSP nonce and
// writing each page's email as EMAIL: what tells one account from another.
func sameShape(a, emailA, b, emailB string) bool {
	norm := func(page, email string) string {
		return strings.ReplaceAll(nonceRE.ReplaceAllString(page, `nonce=""`), email, "EMAIL")
	}
	return norm(a, emailA) == norm(b, emailB)
}

// hasSessionCookie reports whether a reply sets the session cookie.
func hasSessionCookie(r reply) bool {
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "foyer_session=") || strings.HasPrefix(c, "__Host-foyer_session=") {
			return true
		}
	}
	return false
}

// cookieNames lists the cookies a reply sets, in order.
func cookieNames(r reply) []string {
	var names []string
	for _, c := range r.header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(c, "=")
		names = append(names, name)
	}
	return names
}
