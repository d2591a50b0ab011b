// Package mfa is the second factor: TOTP authenticator apps with recovery
// codes, and passkeys (WebAuthn), both as a second factor and, for
// passkeys, passwordless. It owns the pages of the second sign-in step and
// of the account's security settings.
//
// A sign-in reaches it through Begin once the first factor (a password, an
// emailed link) passed: a person with a factor, or one the MFA policy
// requires to have one, continues here, and mfa starts the session when
// the second factor passed. mfa never imports signin or authz; cmd/foyer
// wires them together through Authorizations and signin's SecondFactor.
package mfa

import (
	"github.com/foyerdev/foyer/keyed"

	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Store is the slice of storage mfa uses.
type Store interface {
	storage.Users
	storage.MFA
	storage.Memberships
	storage.Organizations
	storage.Transactions
}

// Sealer encrypts TOTP secrets at rest (TO-05): they must be read back,
// so they cannot be hashed. context binds a ciphertext to its owner.
type Sealer interface {
	Seal(plaintext []byte, context string) []byte
	Open(sealed []byte, context string) ([]byte, error)
}

// Authorizations resumes a pending authorization once the person signed
// in (authz.Provider).
type Authorizations interface {
	CompleteLogin(ctx context.Context, id string) (next string, err error)
}

// Mailer queues an email; it never waits on SMTP (mail.Mailer).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Options configure the service.
type Options struct {
	// Issuer is the public base URL: the WebAuthn origin, and the relying
	// party ID unless RPID is set.
	Issuer string
	// RPID is the WebAuthn relying party ID, when passkeys should work on
	// a parent domain of the issuer's host.
	RPID           string
	Store          Store
	Sealer         Sealer
	Sessions       *session.Manager
	Authorizations Authorizations
	Limiter        *ratelimit.Limiter
	Policies       ratelimit.Policies
	// CodeKey (32 bytes) keys the hashes of recovery codes and ceremony
	// handles.
	CodeKey []byte
	// RequireMFA makes everyone enrol a second factor before they can
	// finish signing in; organizations can require it of their members.
	RequireMFA bool
	// Templates holds the page templates (templates.FS).
	Templates fs.FS
	// Mailer and Emails send the notice that a person's second factors
	// changed (TO-04, TO-06).
	Mailer Mailer
	Emails *render.Emails
	// Audit records the security events (audit.go); nil records nothing.
	Audit  *audit.Recorder
	Logger *slog.Logger
	Now    func() time.Time
}

// Service serves the second-factor step and the security settings.
type Service struct {
	o     Options
	pages *pages
	wa    *webAuthn
}

// New checks the options and parses the pages.
func New(o Options) (*Service, error) {
	switch {
	case o.Issuer == "" || o.Store == nil || o.Sealer == nil || o.Sessions == nil || o.Authorizations == nil || o.Limiter == nil || o.Templates == nil:
		return nil, errors.New("mfa: Issuer, Store, Sealer, Sessions, Authorizations, Limiter and Templates are required")
	case o.Mailer == nil || o.Emails == nil:
		return nil, errors.New("mfa: Mailer and Emails are required: changes of second factors are emailed (TO-04, TO-06)")
	case len(o.CodeKey) < 32:
		return nil, errors.New("mfa: CodeKey must be at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o}
	var err error
	if s.pages, err = parsePages(o.Templates); err != nil {
		return nil, err
	}
	if s.wa, err = newWebAuthn(o.Issuer, o.RPID); err != nil {
		return nil, err
	}
	return s, nil
}

// Mount adds the pages to the browser group.
func (s *Service) Mount(r gin.IRouter) {
	s.mountSignIn(r)
	s.mountAccount(r)
	s.mountPasskeys(r)
}

// PasskeysAvailable reports whether passkeys work here: WebAuthn needs the
// issuer's host to be a domain name, not an IP address.
func (s *Service) PasskeysAvailable() bool { return s.wa != nil }

// Sweep deletes expired ceremonies; serve runs it with the other sweeps.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	return s.o.Store.DeleteExpiredMFAChallenges(ctx, s.o.Now())
}

// keyedHash is the at-rest form of value under CodeKey.
func (s *Service) keyedHash(label, value string) string { return keyed.Hash(s.o.CodeKey, label, value) }

// newHandle is a random 256-bit handle for the browser to hold; the store
// keeps only its keyed hash.
func newHandle() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secure reports whether cookies must be Secure: the issuer is https.
func (s *Service) secure() bool { return strings.HasPrefix(s.o.Issuer, "https://") }

// cookieName is name with the __Host- prefix over https, as session's
// cookies: bound to this host, path / and Secure.
func (s *Service) cookieName(name string) string {
	if s.secure() {
		return "__Host-" + name
	}
	return name
}

func (s *Service) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode,
	})
}

func (s *Service) cookie(c *gin.Context, name string) string {
	v, _ := c.Cookie(s.cookieName(name))
	return v
}

// unavailable answers a failure of the database (or anything else the
// request needed) with 503 and a sentence, never the error.
func (s *Service) unavailable(c *gin.Context, err error) {
	if !errors.Is(err, storage.ErrUnavailable) {
		s.o.Logger.ErrorContext(c.Request.Context(), "mfa request failed", "err", err)
	}
	c.Header("Retry-After", "5")
	s.errorPage(c, http.StatusServiceUnavailable, "Try again shortly", "Foyer could not complete this request. Please try again in a moment.", "", "")
}

// errorPage explains in plain words why a request failed.
func (s *Service) errorPage(c *gin.Context, status int, title, message, next, nextText string) {
	d := render.ErrorPage{Page: render.Page{Title: title}, Message: message, RequestID: c.Writer.Header().Get("X-Request-Id"),
		Next: next, NextText: nextText}
	show(s, c, status, s.pages.errorPage, &d, &d.Page)
}

// checkCSRF answers 403 and returns false when a form post lacks this
// browser's CSRF token (SC-03).
func (s *Service) checkCSRF(c *gin.Context) bool {
	if s.o.Sessions.CheckCSRF(c) {
		return true
	}
	s.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", "", "")
	return false
}

// signedIn returns the browser's session, or sends the person to sign in
// (back to this page afterwards is the account page's job).
func (s *Service) signedIn(c *gin.Context) (*storage.BrowserSession, bool) {
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return nil, false
	}
	if bs == nil {
		c.Redirect(http.StatusSeeOther, "/login")
		return nil, false
	}
	return bs, true
}

// recentSignIn is how long after signing in a person may turn a factor
// off or add one without signing in again (TO-04, WA-06).
const recentSignIn = 10 * time.Minute

// isRecent reports whether bs signed in within recentSignIn.
func (s *Service) isRecent(bs *storage.BrowserSession) bool {
	return s.o.Now().Sub(bs.AuthTime) < recentSignIn
}

// resume is where a finished sign-in goes: the pending authorization, or
// next (a path signin chose), or the account page.
func (s *Service) resume(ctx context.Context, challenge, next string) (string, error) {
	if challenge != "" {
		return s.o.Authorizations.CompleteLogin(ctx, challenge)
	}
	if next != "" && strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") {
		return next, nil
	}
	return "/account", nil
}

// withQuery adds k=v to path.
func withQuery(path, k, v string) string {
	return path + "?" + url.Values{k: {v}}.Encode()
}
