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
		s.linkError(c, storage.PurposeVerifyEmail, err)
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
		if tok, err = s.spendLink(ctx, storage.PurposeVerifyEmail, c.PostForm("token")); err != nil {
			return err
		}
		var proved bool
		_, err = s.o.Store.UpdateUser(ctx, tok.UserID, func(u storage.User) (storage.User, error) {
			if storage.EmailKey(u.Email) != storage.EmailKey(tok.Email) {
				// The account's address changed since the link was sent.
				return u, errLinkInvalid
			}
			proved = !u.EmailVerified
			u.EmailVerified, u.UpdatedAt = true, s.o.Now()
			return u, nil
		})
		if errors.Is(err, storage.ErrNotFound) {
			return errLinkInvalid // the account was deleted
		}
		if err != nil || !proved {
			return err
		}
		return s.addressProved(ctx, tok.UserID)
	})
	if err != nil {
		s.linkError(c, storage.PurposeVerifyEmail, err)
		return
	}
	s.signIn(c, tok.UserID, methodEmailVerification, []string{"email"}, tok.Challenge, "")
}
