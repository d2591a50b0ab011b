// Package session is the browser side of signing in: the session cookie and
// its server-side record, idle and absolute timeouts, and the CSRF token of
// every form. The sign-in pages start sessions; the authorization endpoint,
// the account page and logout read and end them.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Cookie names. Outside --dev the cookies are Secure and carry the
// __Host- prefix, which pins them to this host and path / (SC-02).
const (
	cookieName     = "foyer_session"
	csrfCookieName = "foyer_csrf"
	hostPrefix     = "__Host-"
)

// touchEvery limits how often a request writes the session's last-seen
// time: the idle timeout needs minutes, not every request.
const touchEvery = time.Minute

// Options configure a Manager.
type Options struct {
	Store storage.BrowserSessions
	// Secure marks cookies Secure (and __Host-); off only for http:// in --dev.
	Secure bool
	// IdleTimeout ends a session unused for this long; AbsoluteTimeout
	// ends it this long after sign-in whatever happens.
	IdleTimeout, AbsoluteTimeout time.Duration
	Now                          func() time.Time
}

// Manager reads, starts and ends browser sessions.
type Manager struct{ o Options }

// New returns a Manager; zero timeouts default to 8 hours idle and 7 days
// absolute.
func New(o Options) *Manager {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 8 * time.Hour
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 7 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{o: o}
}

// Current returns the browser's signed-in session, or nil when there is
// none, it expired or it sat idle too long. A storage failure is an error,
// never "signed out" (DB-04).
func (m *Manager) Current(c *gin.Context) (*storage.BrowserSession, error) {
	token, err := c.Cookie(m.cookie(cookieName))
	if err != nil || token == "" {
		return nil, nil
	}
	ctx, now := c.Request.Context(), m.o.Now()
	s, err := m.o.Store.GetBrowserSession(ctx, Hash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= m.o.IdleTimeout {
		return nil, nil
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		s, err = m.o.Store.UpdateBrowserSession(ctx, s.ID, func(s storage.BrowserSession) (storage.BrowserSession, error) {
			s.LastSeenAt, s.IP, s.UserAgent = now, c.ClientIP(), c.Request.UserAgent()
			return s, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil // ended a moment ago
		}
		if err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// Start signs the browser in as userID with a new session ID, ending the
// browser's previous session (no fixation, SC-01).
func (m *Manager) Start(c *gin.Context, userID string, amr []string) (storage.BrowserSession, error) {
	if err := m.forget(c); err != nil {
		return storage.BrowserSession{}, err
	}
	token, now := randomToken(), m.o.Now()
	s, err := m.o.Store.CreateBrowserSession(c.Request.Context(), storage.BrowserSession{
		ID: Hash(token), SID: randomToken(), UserID: userID, AuthTime: now, AMR: amr,
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.o.AbsoluteTimeout),
	})
	if err != nil {
		return s, err
	}
	m.setCookie(c, cookieName, token, int(m.o.AbsoluteTimeout.Seconds()))
	return s, nil
}

// End signs the browser out: its session record goes and the cookie is
// cleared. Ending a browser that is not signed in is no error.
func (m *Manager) End(c *gin.Context) error {
	if err := m.forget(c); err != nil {
		return err
	}
	m.setCookie(c, cookieName, "", -1)
	return nil
}

// forget deletes the record of the browser's session, if any.
func (m *Manager) forget(c *gin.Context) error {
	token, err := c.Cookie(m.cookie(cookieName))
	if err != nil || token == "" {
		return nil
	}
	err = m.o.Store.DeleteBrowserSession(c.Request.Context(), Hash(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// Sweep deletes the sessions that ended by either timeout; Current already
// ignores them, this only keeps the table small. It returns how many.
func (m *Manager) Sweep(ctx context.Context) (int64, error) {
	now := m.o.Now()
	return m.o.Store.DeleteExpiredBrowserSessions(ctx, now, now.Add(-m.o.IdleTimeout))
}

// CSRFToken returns this browser's CSRF token for a form, setting the
// cookie the first time (double submit: the field must equal the cookie).
func (m *Manager) CSRFToken(c *gin.Context) string {
	if t, err := c.Cookie(m.cookie(csrfCookieName)); err == nil && len(t) >= 32 {
		return t
	}
	t := randomToken()
	m.setCookie(c, csrfCookieName, t, 0)
	return t
}

// CheckCSRF reports whether a form post carries this browser's CSRF token
// (SC-03, SC-04).
func (m *Manager) CheckCSRF(c *gin.Context) bool {
	return m.CheckCSRFValue(c, c.PostForm("csrf_token"))
}

// CheckCSRFValue reports whether value is this browser's CSRF token, for
// a request that carries it elsewhere than in a form (a JSON post's
// X-CSRF-Token header).
func (m *Manager) CheckCSRFValue(c *gin.Context, value string) bool {
	cookie, err := c.Cookie(m.cookie(csrfCookieName))
	return err == nil && len(cookie) >= 32 && subtle.ConstantTimeCompare([]byte(cookie), []byte(value)) == 1
}

func (m *Manager) cookie(name string) string {
	if m.o.Secure {
		return hostPrefix + name
	}
	return name
}

func (m *Manager) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: m.cookie(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: m.o.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// Hash is the at-rest form of a random handle (a session cookie, a
// challenge ID): SHA-256 suffices for 256-bit random values.
func Hash(h string) string {
	sum := sha256.Sum256([]byte(h))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}
