package signin

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// showVerifyEmail is what the emailed verification link opens: the address
// and a Verify button. It changes nothing, since mail scanners fetch
// links (ML-04).
func (s *Service) showVerifyEmail(c *gin.Context) {
	token := c.Query("token")
	tok, err := s.openLink(c.Request.Context(), storage.PurposeVerifyEmail, token)
	if err != nil {
		s.accountLinkError(c, storage.PurposeVerifyEmail, err)
		return
	}
	d := render.VerifyEmailPage{Page: render.Page{Title: "Verify your email address"}, Token: token, Email: tok.Email}
	show(s, c, http.StatusOK, s.account.verify, &d, &d.Page)
}

// verifyEmail uses the link once, marks the address verified and signs
// the person in (amr "email"), then continues the authorization they
// signed up from, if any, or shows their account.
func (s *Service) verifyEmail(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	ctx := c.Request.Context()
	var tok storage.OneTimeToken
	err := s.inTransaction(ctx, func(ctx context.Context) error {
		var err error
		if tok, err = s.useAccountLink(ctx, storage.PurposeVerifyEmail, c.PostForm("token")); err != nil {
			return err
		}
		_, err = s.o.Store.UpdateUser(ctx, tok.UserID, func(u storage.User) (storage.User, error) {
			if storage.EmailKey(u.Email) != storage.EmailKey(tok.Email) {
				// The account's address changed since the link was sent.
				return u, errLinkInvalid
			}
			u.EmailVerified, u.UpdatedAt = true, s.o.Now()
			return u, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return errLinkInvalid // the account was deleted
		}
		return err
	})
	if err != nil {
		s.accountLinkError(c, storage.PurposeVerifyEmail, err)
		return
	}
	s.signIn(c, tok.UserID, []string{"email"}, tok.Challenge)
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

// useAccountLink uses the token of purpose p in a link, once: of
// concurrent uses exactly one succeeds (ML-02).
func (s *Service) useAccountLink(ctx context.Context, p storage.TokenPurpose, token string) (storage.OneTimeToken, error) {
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

// accountLinkError explains why a verification or reset link does not
// work: 400 for a link that never worked, 410 for one that did.
func (s *Service) accountLinkError(c *gin.Context, p storage.TokenPurpose, err error) {
	again := "Ask for a new link on the “Forgot password” page."
	if p == storage.PurposeVerifyEmail {
		// Resetting the password verifies the address too; signing up
		// again does not send a second link (see signup.go).
		again = "If you have verified your address already, sign in. If not, use “Forgot password” on the sign-in page: choosing a new password verifies your address too."
	}
	switch {
	case errors.Is(err, errLinkInvalid):
		s.errorPage(c, http.StatusBadRequest, "This link is not valid",
			"It may have been copied incompletely, or a newer link replaced it. "+again, nil)
	case errors.Is(err, errLinkExpired):
		s.errorPage(c, http.StatusGone, "This link has expired", again, nil)
	case errors.Is(err, errLinkUsed):
		s.errorPage(c, http.StatusGone, "This link was already used", "Each link works once. "+again, nil)
	default:
		s.unavailable(c, err)
	}
}
