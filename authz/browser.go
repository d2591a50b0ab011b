package authz

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Cookie names. Both are HttpOnly and SameSite=Lax; Secure outside --dev.
const (
	sessionCookie = "foyer_session"
	csrfCookie    = "foyer_csrf"
)

// sessionLifetime is the absolute life of a browser session; the sign-in
// work makes it and the idle timeout configurable.
const sessionLifetime = 24 * time.Hour

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Provider) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.opts.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// browserSession returns the signed-in session of this browser, or nil. A
// storage failure is an error, never "signed out" (DB-04).
func (p *Provider) browserSession(c *gin.Context) (*storage.BrowserSession, error) {
	token, err := c.Cookie(sessionCookie)
	if err != nil || token == "" {
		return nil, nil
	}
	s, err := p.store.GetBrowserSession(c.Request.Context(), hashHandle(token))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !p.now().Before(s.ExpiresAt) {
		return nil, nil
	}
	return &s, nil
}

// startSession signs the browser in as userID with a new session ID (no
// fixation: any previous session of this browser ends).
func (p *Provider) startSession(c *gin.Context, userID string, amr []string) (storage.BrowserSession, error) {
	ctx := c.Request.Context()
	if old, err := c.Cookie(sessionCookie); err == nil && old != "" {
		if err := p.store.DeleteBrowserSession(ctx, hashHandle(old)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.BrowserSession{}, err
		}
	}
	token, now := randomToken(), p.now()
	s, err := p.store.CreateBrowserSession(ctx, storage.BrowserSession{
		ID: hashHandle(token), SID: randomToken(), UserID: userID, AuthTime: now, AMR: amr,
		IP: c.ClientIP(), UserAgent: c.Request.UserAgent(),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(sessionLifetime),
	})
	if err != nil {
		return s, err
	}
	p.setCookie(c, sessionCookie, token, int(sessionLifetime.Seconds()))
	return s, nil
}

// csrfToken returns this browser's CSRF token, setting the cookie the first
// time (double-submit: the form field must equal the cookie).
func (p *Provider) csrfToken(c *gin.Context) string {
	if t, err := c.Cookie(csrfCookie); err == nil && len(t) >= 32 {
		return t
	}
	t := randomToken()
	p.setCookie(c, csrfCookie, t, 0)
	return t
}

// checkCSRF reports whether a form post carries this browser's CSRF token.
func (p *Provider) checkCSRF(c *gin.Context) bool {
	cookie, err := c.Cookie(csrfCookie)
	field := c.PostForm("csrf_token")
	return err == nil && len(cookie) >= 32 && subtle.ConstantTimeCompare([]byte(cookie), []byte(field)) == 1
}

// page renders a server page with a fresh CSP nonce for its style element.
func (p *Provider) page(c *gin.Context, status int, render func(nonce string, buf *bytes.Buffer) error) {
	nonce := randomToken()
	var buf bytes.Buffer
	if err := render(nonce, &buf); err != nil {
		p.opts.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
		c.String(http.StatusInternalServerError, "The page could not be shown.")
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage shows a public message; the cause goes to the log only.
func (p *Provider) errorPage(c *gin.Context, status int, title, message string, cause error) {
	if cause != nil {
		p.opts.Logger.WarnContext(c.Request.Context(), "browser request failed", "status", status, "err", cause)
	}
	p.page(c, status, func(nonce string, buf *bytes.Buffer) error {
		return p.opts.Pages.Error(buf, render.ErrorPage{
			Page: render.Page{Nonce: nonce, Title: title}, Message: message,
			RequestID: c.Writer.Header().Get("X-Request-Id"),
		})
	})
}

func (p *Provider) now() time.Time { return p.opts.Now() }

// unavailable answers a storage failure on a browser route.
func (p *Provider) unavailable(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, storage.ErrUnavailable) {
		status = http.StatusServiceUnavailable
		c.Header("Retry-After", "5")
	}
	p.errorPage(c, status, "Try again shortly", "Foyer could not complete this request. Please try again in a moment.", err)
}
