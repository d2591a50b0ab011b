package signin

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Magic links (SECURITY.md ML-01…07). A link is single-use, lives
// magicLinkTTL, and a newer one replaces it (the store supersedes earlier
// tokens). It is bound to the browser that asked for it by the binding
// cookie: opened there, it signs in after one press of "Sign in"; opened
// anywhere else, the page first says which account it signs in to, so a
// link someone sent to trick a person into their account shows itself
// (ML-05). Opening the link (GET) consumes nothing, since mail scanners
// fetch links (ML-04); only the page's POST uses it.

const (
	// magicLinkTTL is how long an emailed sign-in link works (ML-03).
	magicLinkTTL = 10 * time.Minute
	// bindingCookie holds a random value whose hash the link's record
	// keeps; with Secure it takes the __Host- prefix, like the session's.
	bindingCookie = "foyer_link"
	// linkRequestMinDuration is the least time a link request takes, so
	// that the transaction a known email costs does not make its answer
	// slower than an unknown one's (LG-07, ML-06).
	linkRequestMinDuration = 100 * time.Millisecond
)

// Why a link does not sign in; each has its own page.
var (
	errLinkInvalid = errors.New("sign-in link not valid")
	errLinkUsed    = errors.New("sign-in link used already")
	errLinkExpired = errors.New("sign-in link expired")
)

// requestLink sends a sign-in link to a known email. Every well-formed
// request gets the same page, status and cookie, whether the email is
// known, unknown or over its limit (LG-07, ML-06).
func (s *Service) requestLink(c *gin.Context) {
	start := time.Now()
	if !s.checkCSRF(c) {
		return
	}
	f, ok := s.loadFlow(c, c.PostForm("challenge"))
	if !ok {
		return
	}
	email := strings.TrimSpace(c.PostForm("email"))
	if problem := emailProblem(email); problem != "" {
		s.identifierPage(c, http.StatusBadRequest, f, email, problem)
		return
	}
	ctx := c.Request.Context()
	binding := s.bindBrowser(c)
	err := s.sendLink(ctx, c.ClientIP(), email, binding, f.challenge)
	waitUntil(ctx, start.Add(linkRequestMinDuration))
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.CheckEmailPage{
		Page: render.Page{Title: "Check your email"}, Challenge: f.challenge, Email: email,
		ValidMinutes: int(magicLinkTTL / time.Minute),
	}
	show(s, c, http.StatusOK, s.login.checkEmail, &d, &d.Page)
}

// sendLink makes a link for the account of email, if there is one and the
// limits allow, and queues the email in the same transaction as the token
// (F6): both are kept or neither. SMTP is never waited on.
func (s *Service) sendLink(ctx context.Context, clientIP, email, binding, challenge string) error {
	u, ok, err := s.linkRecipient(ctx, clientIP, email)
	if !ok {
		return err
	}
	token, now := newToken(), s.o.Now()
	msg, err := s.o.Emails.MagicLink(render.MagicLinkEmail{
		Email: u.Email, Link: s.link("/login/link", token), ValidFor: magicLinkTTL,
	})
	if err != nil {
		return err
	}
	return s.inTransaction(ctx, func(ctx context.Context) error {
		return s.issueLink(ctx, storage.OneTimeToken{
			Purpose: storage.PurposeMagicLink, UserID: u.ID, Email: u.Email,
			Binding: s.keyedHash(bindingCookie, binding), Challenge: challenge,
			CreatedAt: now, ExpiresAt: now.Add(magicLinkTTL),
		}, token, msg)
	})
}

// emailAllowed counts the request against the client IP's and the
// address's limits; beyond either, nothing is sent (ML-06).
func (s *Service) emailAllowed(ctx context.Context, clientIP, email string) (bool, error) {
	d, err := s.o.Limiter.Allow(ctx, s.o.Policies.EmailIP, ratelimit.IPKey(clientIP))
	if err != nil || !d.Allowed {
		return false, err
	}
	d, err = s.o.Limiter.Allow(ctx, s.o.Policies.EmailAddress, storage.EmailKey(email))
	return d.Allowed, err
}

// showLink is what the emailed link opens: the account it signs in to and
// a Sign in button. It changes nothing (ML-04).
func (s *Service) showLink(c *gin.Context) {
	token := c.Query("token")
	tok, err := s.openLink(c.Request.Context(), storage.PurposeMagicLink, token)
	if err != nil {
		s.linkError(c, storage.PurposeMagicLink, err)
		return
	}
	d := render.MagicLinkPage{
		Page: render.Page{Title: "Sign in"}, Token: token, Email: tok.Email,
		OtherDevice: !s.sameBrowser(c, tok.Binding),
	}
	if tok.Challenge != "" {
		// Only to name the application; an expired authorization shows
		// when the link is used.
		if name, _, err := s.o.Authorizations.LoginChallenge(c.Request.Context(), tok.Challenge); err == nil {
			d.ClientName = name
		}
	}
	show(s, c, http.StatusOK, s.login.magicLink, &d, &d.Page)
}

// useLink uses the link once (ML-02), marks the address verified (its
// owner just proved they read it) and signs in with amr "email".
func (s *Service) useLink(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	tok, err := s.consumeLink(c.Request.Context(), c.PostForm("token"))
	if err != nil {
		if reason := linkReason(err); reason != "" {
			// The account of a link that was used or expired is known.
			s.recordFailure(c, methodMagicLink, reason, tok.UserID)
		}
		s.linkError(c, storage.PurposeMagicLink, err)
		return
	}
	s.signIn(c, tok.UserID, methodMagicLink, []string{"email"}, tok.Challenge, "")
}

// consumeLink marks the token used and the user's email verified in one
// transaction. A link sent to an address the account no longer has is not
// valid: it would verify the new address through the old mailbox.
func (s *Service) consumeLink(ctx context.Context, token string) (storage.OneTimeToken, error) {
	tx, err := s.o.Store.BeginTx(ctx)
	if err != nil {
		return storage.OneTimeToken{}, err
	}
	defer s.o.Store.Rollback(tx) // an error after Commit is expected
	used, err := s.spendLink(tx, storage.PurposeMagicLink, token)
	if err != nil {
		return used, err
	}
	now := s.o.Now()
	var proved bool
	_, err = s.o.Store.UpdateUser(tx, used.UserID, func(u storage.User) (storage.User, error) {
		if storage.EmailKey(u.Email) != storage.EmailKey(used.Email) {
			return u, errLinkInvalid
		}
		proved = !u.EmailVerified
		if proved {
			u.EmailVerified, u.UpdatedAt = true, now
		}
		return u, nil
	})
	switch {
	case errors.Is(err, errLinkInvalid), errors.Is(err, storage.ErrNotFound):
		return used, errLinkInvalid
	case err != nil:
		return used, err
	}
	if proved {
		if err := s.addressProved(tx, used.UserID); err != nil {
			return used, err
		}
	}
	if err := s.o.Store.Commit(tx); err != nil {
		return used, err
	}
	return used, nil
}

// bindBrowser returns this browser's binding value, setting the cookie
// when there is none, and (re)starting its life for the link about to be
// sent. It is set for every request, known email or not (LG-07).
func (s *Service) bindBrowser(c *gin.Context) string {
	value, err := c.Cookie(s.bindingCookieName())
	if err != nil || !validToken(value) {
		value = newToken()
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: s.bindingCookieName(), Value: value, Path: "/", MaxAge: int(magicLinkTTL / time.Second),
		// Lax, not Strict: the link arrives as a navigation from a mail
		// client or webmail, which Strict would strip the cookie from.
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode,
	})
	return value
}

// sameBrowser reports whether this browser holds the binding cookie whose
// hash the link's record keeps.
func (s *Service) sameBrowser(c *gin.Context, binding string) bool {
	value, err := c.Cookie(s.bindingCookieName())
	if err != nil || binding == "" || !validToken(value) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(s.keyedHash(bindingCookie, value)), []byte(binding)) == 1
}

// secureCookies is the session's rule: Secure (and __Host-) whenever the
// issuer is https.
func (s *Service) secureCookies() bool { return strings.HasPrefix(s.o.Issuer, "https://") }

func (s *Service) bindingCookieName() string {
	if s.secureCookies() {
		return "__Host-" + bindingCookie
	}
	return bindingCookie
}

// waitUntil returns at t, or when ctx ends.
func waitUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}
