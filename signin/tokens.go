package signin

import (
	"github.com/foyerdev/foyer/keyed"

	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Emailed links (magic links here; verification and reset too) carry a
// token of 256 random bits. The store keeps only its keyed hash, HMAC-SHA256
// under Options.TokenKey of the purpose and the token (ML-01), so a copy of
// the database opens no link, and a token of one purpose never matches a
// record of another.

// tokenLength is the length of newToken's output: 32 bytes in unpadded
// base64url.
const tokenLength = 43

// newToken returns a fresh random token, safe in a URL.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validToken reports whether s could be a token newToken made, so that
// anything else (junk, a megabyte query string) never reaches the store.
func validToken(s string) bool {
	if len(s) != tokenLength {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// tokenHash is the at-rest form of a token of purpose p.
func (s *Service) tokenHash(p storage.TokenPurpose, token string) string {
	return s.keyedHash(string(p), token)
}

// keyedHash is the at-rest form of value under TokenKey.
func (s *Service) keyedHash(label, value string) string {
	return keyed.Hash(s.o.TokenKey, label, value)
}

// SweepTokens deletes the emailed links' tokens that have expired, used or
// not, and returns how many. Run it now and then; nothing else removes them.
func (s *Service) SweepTokens(ctx context.Context) (int64, error) {
	n, err := s.o.Store.DeleteExpiredOneTimeTokens(ctx, s.o.Now())
	if err != nil {
		return 0, fmt.Errorf("sweep one-time tokens: %w", err)
	}
	return n, nil
}

// openLink finds the unused, unexpired token of purpose p in a link;
// errLinkInvalid, errLinkUsed or errLinkExpired say why not.
func (s *Service) openLink(ctx context.Context, p storage.TokenPurpose, token string) (storage.OneTimeToken, error) {
	if !validToken(token) {
		return storage.OneTimeToken{}, errLinkInvalid
	}
	tok, err := s.o.Store.GetOneTimeToken(ctx, s.tokenHash(p, token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return tok, errLinkInvalid
	case err != nil:
		return tok, err
	case tok.Purpose != p:
		return tok, errLinkInvalid
	case !tok.UsedAt.IsZero():
		return tok, errLinkUsed
	case !s.o.Now().Before(tok.ExpiresAt):
		return tok, errLinkExpired
	}
	return tok, nil
}

// spendLink uses the token of purpose p in a link, once: of
// concurrent uses exactly one succeeds (ML-02).
func (s *Service) spendLink(ctx context.Context, p storage.TokenPurpose, token string) (storage.OneTimeToken, error) {
	tok, err := s.openLink(ctx, p, token)
	if err != nil {
		return tok, err
	}
	now := s.o.Now()
	used, err := s.o.Store.UseOneTimeToken(ctx, tok.Hash, now)
	switch {
	case errors.Is(err, storage.ErrConflict) && !now.Before(tok.ExpiresAt):
		return tok, errLinkExpired
	case errors.Is(err, storage.ErrConflict):
		return tok, errLinkUsed // by a request a moment ago
	case errors.Is(err, storage.ErrNotFound):
		return tok, errLinkInvalid
	}
	return used, err
}

// linkError explains why a link does not work, in plain words and without
// a 500: 400 for a link that never worked, 410 for one that did.
func (s *Service) linkError(c *gin.Context, p storage.TokenPurpose, err error) {
	again, expired, once := "Ask for a new link on the “Forgot password” page.", "", "Each link works once. "
	next, text := "/forgot-password", "Forgot password"
	switch p {
	case storage.PurposeMagicLink:
		next, text = "/login", "Back to sign in"
		again = "Go back to the sign-in page and ask for a new link."
		expired = fmt.Sprintf("Sign-in links work for %d minutes. ", int(magicLinkTTL/time.Minute))
		once = "Each sign-in link works once. "
	case storage.PurposeVerifyEmail:
		// Resetting the password verifies the address too; signing up
		// again does not send a second link (see signup.go).
		again = "If you have verified your address already, sign in. If not, use “Forgot password” on the sign-in page: choosing a new password verifies your address too."
		next, text = "/login", "Sign in"
	}
	switch {
	case errors.Is(err, errLinkInvalid):
		s.errorPageWithLink(c, http.StatusBadRequest, "This link is not valid",
			"It may have been copied incompletely, or a newer link replaced it. "+again, next, text, nil)
	case errors.Is(err, errLinkExpired):
		s.errorPageWithLink(c, http.StatusGone, "This link has expired", expired+again, next, text, nil)
	case errors.Is(err, errLinkUsed):
		s.errorPageWithLink(c, http.StatusGone, "This link was already used", once+again, next, text, nil)
	default:
		s.unavailable(c, err)
	}
}

// issueLink stores t, the record of an emailed link's token, and queues
// msg, the email carrying the link, until t expires. ctx must carry the
// caller's transaction, so both are kept or neither (F6).
func (s *Service) issueLink(ctx context.Context, t storage.OneTimeToken, token string, msg render.Email) error {
	t.Hash = s.tokenHash(t.Purpose, token)
	if err := s.o.Store.CreateOneTimeToken(ctx, t); err != nil {
		return err
	}
	return s.o.Mailer.Send(ctx, mail.Message{
		To: t.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, NotAfter: t.ExpiresAt,
	})
}

// linkRecipient is the account a link for email would go to, when there is
// one and the email limits allow another message (ML-06); ok=false means
// send nothing, and the caller answers exactly as if it had (LG-07).
func (s *Service) linkRecipient(ctx context.Context, clientIP, email string) (u storage.User, ok bool, err error) {
	allowed, err := s.emailAllowed(ctx, clientIP, email)
	if err != nil || !allowed {
		return u, false, err
	}
	u, err = s.o.Store.GetUserByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return u, false, nil
	}
	return u, err == nil, err
}
