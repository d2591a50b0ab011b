package signin_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/idp/password"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/signin"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/sqlite"
	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
)

// The account tests run the real service over the embedded database: the
// real session manager, rate limiter, mailer (its outbox is where the
// tests read the emails, so an email counts only once its transaction
// committed) and idp.Directory, behind httptest. Each browser is an
// http.Client with its own cookie jar that does not follow redirects.

// accountIssuer is where emailed links must point, whatever the request's
// Host (LG-09). Plain http keeps cookies without the __Host- prefix, so
// the jar sends them to the test server.
const accountIssuer = "http://foyer.example"

type accountEnv struct {
	t      *testing.T
	store  *sqlite.Store
	dir    *idp.Directory
	clock  *accountClock
	server *httptest.Server
	svc    *signin.Service
}

type accountEnvOptions struct {
	signupMode string // default "open"
}

func newAccountEnv(t *testing.T, opts accountEnvOptions) *accountEnv {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := &accountClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	limiter, err := ratelimit.New(ratelimit.Options{Store: store, HashKey: make([]byte, 32), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	emails, err := render.NewEmails(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	policies := ratelimit.DefaultPolicies()
	policies.EmailIP.Limit = 1000 // every test browser is 127.0.0.1
	if opts.signupMode == "" {
		opts.signupMode = "open"
	}
	dir := idp.NewDirectory(idp.Options{Store: store, PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1}, Now: clock.Now})
	svc, err := signin.New(signin.Options{
		Issuer:         accountIssuer,
		Store:          store,
		Accounts:       dir,
		Authorizations: accountAuthorizations{},
		Sessions:       session.New(session.Options{Store: store, Now: clock.Now}),
		Limiter:        limiter,
		Policies:       policies,
		Mailer:         mail.NewMailer(mail.MailerOptions{Outbox: store, Now: clock.Now}),
		Emails:         emails,
		Templates:      templates.FS,
		TokenKey:       []byte("0123456789abcdef0123456789abcdef"),
		SignupMode:     opts.signupMode,
		Now:            clock.Now,
	})
	if err != nil {
		t.Fatalf("signin.New: %v", err)
	}
	gin.SetMode(gin.TestMode)
	e := gin.New()
	svc.Mount(e)
	server := httptest.NewServer(e)
	t.Cleanup(server.Close)
	return &accountEnv{t: t, store: store, dir: dir, clock: clock, server: server, svc: svc}
}

// accountClock is the service's clock, moved by the tests.
type accountClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *accountClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *accountClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// accountAuthorizations knows one pending authorization, "ch_pending".
type accountAuthorizations struct{}

const pendingChallenge = "ch_pending"

func (accountAuthorizations) LoginChallenge(_ context.Context, id string) (string, string, error) {
	if id != pendingChallenge {
		return "", "", storage.ErrNotFound
	}
	return "Demo App", "", nil
}

func (accountAuthorizations) CompleteLogin(_ context.Context, id string) (string, error) {
	if id != pendingChallenge {
		return "", storage.ErrNotFound
	}
	return "/oauth2/authorize/continue?challenge=" + id, nil
}

// createUser stores a verified user with a password.
func (e *accountEnv) createUser(email, pw string) storage.User {
	e.t.Helper()
	u, err := e.dir.CreateUser(e.t.Context(), idp.NewUser{Email: email, Password: pw, EmailVerified: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *accountEnv) user(id string) storage.User {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// mails returns the emails committed to the outbox since the last call.
func (e *accountEnv) mails() []storage.OutboxMessage {
	e.t.Helper()
	m, err := e.store.ClaimOutboxMessages(e.t.Context(), e.clock.Now().Add(1000*time.Hour), 100, 100000*time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

var linkRE = regexp.MustCompile(`(?m)^(https?://\S+)\?token=([A-Za-z0-9_-]+)$`)

// oneLink returns the path-and-token link of the one email sent since
// the last call, to whom, and checks the link starts with the issuer.
func (e *accountEnv) oneLink(to, path string) (token string) {
	e.t.Helper()
	m := e.mails()
	if len(m) != 1 || m[0].To != to {
		e.t.Fatalf("emails sent = %v, want one to %s", recipients(m), to)
	}
	match := linkRE.FindStringSubmatch(m[0].TextBody)
	if match == nil || match[1] != accountIssuer+path {
		e.t.Fatalf("email to %s has no link to %s%s?token=…:\n%s", to, accountIssuer, path, m[0].TextBody)
	}
	return match[2]
}

func recipients(m []storage.OutboxMessage) []string {
	var to []string
	for _, msg := range m {
		to = append(to, msg.To+" ("+msg.Subject+")")
	}
	return to
}

// sessionsOf returns the user's browser sessions.
func (e *accountEnv) sessionsOf(userID string) []storage.BrowserSession {
	e.t.Helper()
	list, err := e.store.ListBrowserSessions(e.t.Context(), userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// accountBrowser is one browser: a cookie jar, a user agent, no
// redirects followed.
type accountBrowser struct {
	e         *accountEnv
	client    *http.Client
	userAgent string
	csrf      string
}

func (e *accountEnv) browser(userAgent string) *accountBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &accountBrowser{e: e, userAgent: userAgent, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// signIn gives the browser a session of userID that started at authTime,
// as a sign-in would.
func (b *accountBrowser) signIn(userID string, authTime time.Time) storage.BrowserSession {
	b.e.t.Helper()
	token := randomString()
	now := b.e.clock.Now()
	s, err := b.e.store.CreateBrowserSession(b.e.t.Context(), storage.BrowserSession{
		ID: session.Hash(token), SID: randomString(), UserID: userID, AuthTime: authTime, AMR: []string{"pwd"},
		IP: "127.0.0.1", UserAgent: b.userAgent, CreatedAt: authTime, LastSeenAt: now, ExpiresAt: now.Add(24 * time.Hour),
	})
	if err != nil {
		b.e.t.Fatal(err)
	}
	u, _ := url.Parse(b.e.server.URL)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "foyer_session", Value: token, Path: "/"}})
	return s
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type accountReply struct {
	status   int
	location string
	body     string
}

func (b *accountBrowser) do(req *http.Request) accountReply {
	b.e.t.Helper()
	req.Header.Set("User-Agent", b.userAgent)
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return accountReply{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *accountBrowser) get(path string) accountReply {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.server.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post submits form with this browser's CSRF token, as its pages do.
func (b *accountBrowser) post(path string, form url.Values) accountReply {
	b.e.t.Helper()
	form = cloneForm(form)
	form.Set("csrf_token", b.csrfToken())
	return b.postRaw(path, form, nil)
}

// csrfToken is the token this browser's forms carry, read from a page.
func (b *accountBrowser) csrfToken() string {
	b.e.t.Helper()
	if b.csrf == "" {
		page := b.get("/forgot-password")
		m := csrfRE.FindStringSubmatch(page.body)
		if m == nil {
			b.e.t.Fatalf("no CSRF token on /forgot-password:\n%s", page.body)
		}
		b.csrf = m[1]
	}
	return b.csrf
}

// postRaw submits form as it is, with extra headers.
func (b *accountBrowser) postRaw(path string, form url.Values, header http.Header) accountReply {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.server.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		// The jar picks cookies by req.Host: send this browser's own.
		req.Host = h
		for _, c := range b.client.Jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
	}
	return b.do(req)
}

func cloneForm(f url.Values) url.Values {
	c := url.Values{}
	for k, v := range f {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// signedIn reports whether the browser's session lets it see /account.
func (b *accountBrowser) signedIn() bool {
	b.e.t.Helper()
	r := b.get("/account")
	switch {
	case r.status == http.StatusOK:
		return true
	case r.status == http.StatusSeeOther && r.location == "/login":
		return false
	}
	b.e.t.Fatalf("GET /account = %d %s", r.status, r.location)
	return false
}

func wantStatus(t *testing.T, what string, r accountReply, status int, location string) {
	t.Helper()
	if r.status != status || r.location != location {
		t.Errorf("%s = %d %q, want %d %q\n%s", what, r.status, r.location, status, location, r.body)
	}
}

var errNoUser = errors.New("no user")

// userByEmail returns the user with email, or errNoUser.
func (e *accountEnv) userByEmail(email string) (storage.User, error) {
	u, err := e.store.GetUserByEmail(e.t.Context(), email)
	if errors.Is(err, storage.ErrNotFound) {
		return u, errNoUser
	}
	return u, err
}
