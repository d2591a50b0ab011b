package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// env is a Manager on an embedded database with a settable clock, and a
// browser's cookie jar.
type env struct {
	m     *Manager
	store *sqlite.Store
	now   time.Time
	jar   []*http.Cookie
	user  string
}

func newEnv(t *testing.T, secure bool) *env {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(t.Context(), storage.User{ID: storage.NewID("usr"), Email: "alice@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: s, now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), user: u.ID}
	e.m = New(Options{Store: s, Secure: secure, IdleTimeout: time.Hour, AbsoluteTimeout: 24 * time.Hour,
		Now: func() time.Time { return e.now }})
	return e
}

// do runs fn as a request from the browser and keeps the cookies it sets.
func (e *env) do(t *testing.T, form url.Values, fn func(c *gin.Context)) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode())).WithContext(context.Background())
	c.Request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, k := range e.jar {
		c.Request.AddCookie(k)
	}
	fn(c)
	for _, set := range w.Result().Cookies() {
		kept := e.jar[:0]
		for _, k := range e.jar {
			if k.Name != set.Name {
				kept = append(kept, k)
			}
		}
		e.jar = kept
		if set.MaxAge >= 0 && set.Value != "" {
			e.jar = append(e.jar, set)
		}
	}
	return w
}

func (e *env) current(t *testing.T) *storage.BrowserSession {
	t.Helper()
	var s *storage.BrowserSession
	e.do(t, nil, func(c *gin.Context) {
		var err error
		if s, err = e.m.Current(c); err != nil {
			t.Fatal(err)
		}
	})
	return s
}

func (e *env) start(t *testing.T) storage.BrowserSession {
	t.Helper()
	var s storage.BrowserSession
	e.do(t, nil, func(c *gin.Context) {
		var err error
		if s, err = e.m.Start(c, e.user, []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
	})
	return s
}

func TestCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		secure bool
		name   string
	}{{true, "__Host-foyer_session"}, {false, "foyer_session"}} {
		e := newEnv(t, tc.secure)
		w := e.do(t, nil, func(c *gin.Context) {
			if _, err := e.m.Start(c, e.user, []string{"pwd"}); err != nil {
				t.Fatal(err)
			}
		})
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("secure=%v: Start set %d cookies, want 1", tc.secure, len(cookies))
		}
		k := cookies[0]
		// SC-02: HttpOnly, SameSite=Lax, Secure and __Host- outside dev,
		// 256 bits of randomness.
		if k.Name != tc.name || !k.HttpOnly || k.Secure != tc.secure || k.SameSite != http.SameSiteLaxMode ||
			k.Path != "/" || k.Domain != "" || len(k.Value) < 43 {
			t.Errorf("secure=%v: session cookie %+v", tc.secure, k)
		}
	}
}

func TestTimeoutsAndFixation(t *testing.T) {
	e := newEnv(t, true)
	first := e.start(t)
	if s := e.current(t); s == nil || s.ID != first.ID {
		t.Fatalf("Current after Start = %+v, want the new session", s)
	}
	// Use within the idle timeout keeps it alive, past the last use too.
	for range 3 {
		e.now = e.now.Add(50 * time.Minute)
		if e.current(t) == nil {
			t.Fatalf("session ended while in use at %s", e.now)
		}
	}
	// Idle for the timeout: gone.
	e.now = e.now.Add(time.Hour)
	if s := e.current(t); s != nil {
		t.Errorf("session idle for an hour is still current: %+v", s)
	}

	// SC-01: signing in again replaces the session and its ID; the old
	// cookie value is worthless.
	e.now = e.now.Add(time.Minute)
	a := e.start(t)
	oldJar := append([]*http.Cookie(nil), e.jar...)
	b := e.start(t)
	if a.ID == b.ID || a.SID == b.SID {
		t.Errorf("second sign-in kept the session: %s/%s", a.ID, b.ID)
	}
	if _, err := e.store.GetBrowserSession(t.Context(), a.ID); err == nil {
		t.Error("the replaced session is still stored")
	}
	newJar := e.jar
	e.jar = oldJar
	if s := e.current(t); s != nil {
		t.Errorf("the replaced session's cookie still signs in: %+v", s)
	}
	e.jar = newJar

	// Absolute timeout: ends even while in use.
	for e.now.Before(b.CreatedAt.Add(24 * time.Hour)) {
		if e.current(t) == nil {
			t.Fatalf("session ended before its absolute timeout, at %s", e.now)
		}
		e.now = e.now.Add(50 * time.Minute)
	}
	if s := e.current(t); s != nil {
		t.Errorf("session past its absolute timeout is still current: %+v", s)
	}
}

func TestEnd(t *testing.T) {
	e := newEnv(t, false)
	s := e.start(t)
	e.do(t, nil, func(c *gin.Context) {
		if err := e.m.End(c); err != nil {
			t.Fatal(err)
		}
	})
	if e.current(t) != nil {
		t.Error("session still current after End")
	}
	if _, err := e.store.GetBrowserSession(t.Context(), s.ID); err == nil {
		t.Error("ended session is still stored")
	}
	e.do(t, nil, func(c *gin.Context) {
		if err := e.m.End(c); err != nil {
			t.Errorf("End without a session = %v", err)
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, true)
	var token string
	e.do(t, nil, func(c *gin.Context) { token = e.m.CSRFToken(c) })
	if len(token) < 43 {
		t.Fatalf("CSRF token %q is short", token)
	}
	e.do(t, nil, func(c *gin.Context) {
		if again := e.m.CSRFToken(c); again != token {
			t.Errorf("CSRF token changed between forms: %q then %q", token, again)
		}
	})
	for _, tc := range []struct {
		name  string
		field string
		want  bool
	}{
		{"matching field", token, true},
		{"missing field", "", false},
		{"wrong field", strings.Repeat("x", len(token)), false},
		{"prefix of the token", token[:32], false},
	} {
		e.do(t, url.Values{"csrf_token": {tc.field}}, func(c *gin.Context) {
			if got := e.m.CheckCSRF(c); got != tc.want {
				t.Errorf("%s: CheckCSRF = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	// A browser without the cookie (a cross-site forger) never passes.
	e.jar = nil
	e.do(t, url.Values{"csrf_token": {token}}, func(c *gin.Context) {
		if e.m.CheckCSRF(c) {
			t.Error("CheckCSRF passed without the cookie")
		}
	})
}

func TestSweep(t *testing.T) {
	e := newEnv(t, true)
	idle := e.start(t)
	e.jar = nil
	e.now = e.now.Add(30 * time.Minute)
	live := e.start(t)
	e.now = e.now.Add(45 * time.Minute) // idle: 75 minutes; live: 45
	n, err := e.m.Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := e.store.GetBrowserSession(t.Context(), idle.ID); err == nil {
		t.Error("the idle session is still stored")
	}
	if _, err := e.store.GetBrowserSession(t.Context(), live.ID); err != nil {
		t.Errorf("the live session was swept: %v", err)
	}
}
