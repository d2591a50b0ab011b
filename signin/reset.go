package signin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Password reset: an emailed single-use link (resetPasswordTTL) opens the
// new-password form; saving it ends every session of the account (SC-07),
// mails a notice and signs in afresh.

func (s *Service) showForgotPassword(c *gin.Context) {
	d := render.ForgotPasswordPage{Page: render.Page{Title: "Reset your password"}}
	show(s, c, http.StatusOK, s.account.forgot, &d, &d.Page)
}

// submitForgotPassword sends a reset link to a known address. Every
// well-formed request, known address or not, over its limit or not, gets
// the same redirect after the same minimum time (LG-07).
func (s *Service) submitForgotPassword(c *gin.Context) {
	start := time.Now()
	if !s.checkCSRF(c) {
		return
	}
	email := strings.TrimSpace(c.PostForm("email"))
	if problem := emailProblem(email); problem != "" {
		d := render.ForgotPasswordPage{Page: render.Page{Title: "Reset your password"}, Email: email, EmailError: problem}
		show(s, c, http.StatusBadRequest, s.account.forgot, &d, &d.Page)
		return
	}
	ctx := c.Request.Context()
	err := s.sendResetLink(ctx, c.ClientIP(), email)
	waitUntil(ctx, start.Add(linkRequestMinDuration))
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/forgot-password/sent?email="+url.QueryEscape(email))
}

// sendResetLink makes a reset link for the account of email, if there is
// one and the limits allow, and queues its email in the same transaction.
func (s *Service) sendResetLink(ctx context.Context, clientIP, email string) error {
	u, ok, err := s.linkRecipient(ctx, clientIP, email)
	if !ok {
		return err
	}
	token, now := newToken(), s.o.Now()
	msg, err := s.o.Emails.PasswordReset(render.PasswordResetEmail{
		Email: u.Email, Link: s.link("/reset-password", token), ValidFor: resetPasswordTTL,
	})
	if err != nil {
		return err
	}
	return s.inTransaction(ctx, func(ctx context.Context) error {
		return s.issueLink(ctx, storage.OneTimeToken{
			Purpose: storage.PurposeResetPassword, UserID: u.ID, Email: u.Email,
			CreatedAt: now, ExpiresAt: now.Add(resetPasswordTTL),
		}, token, msg)
	})
}

func (s *Service) resetSent(c *gin.Context) {
	d := render.AccountCheckEmailPage{Page: render.Page{Title: "Check your email"}, Email: c.Query("email"), Reset: true}
	show(s, c, http.StatusOK, s.account.checkEmail, &d, &d.Page)
}

// showResetPassword is what the emailed reset link opens: the
// new-password form. It consumes nothing.
func (s *Service) showResetPassword(c *gin.Context) {
	token := c.Query("token")
	tok, err := s.openLink(c.Request.Context(), storage.PurposeResetPassword, token)
	if err != nil {
		s.linkError(c, storage.PurposeResetPassword, err)
		return
	}
	d := render.ResetPasswordPage{Page: render.Page{Title: "Choose a new password"}, Token: token, Email: tok.Email}
	show(s, c, http.StatusOK, s.account.reset, &d, &d.Page)
}

// the policy refuses shows the form again and leaves the link usable.
func (s *Service) resetPassword(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	ctx := c.Request.Context()
	token := c.PostForm("token")
	tok, err := s.openLink(ctx, storage.PurposeResetPassword, token)
	if err != nil {
		s.linkError(c, storage.PurposeResetPassword, err)
		return
	}
	hash, err := s.o.Accounts.HashPassword(c.PostForm("password"))
	if _, msg, ok := fieldProblem(err); ok {
		d := render.ResetPasswordPage{Page: render.Page{Title: "Choose a new password"}, Token: token, Email: tok.Email, PasswordError: msg}
		show(s, c, http.StatusBadRequest, s.account.reset, &d, &d.Page)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.spendLink(ctx, storage.PurposeResetPassword, token); err != nil {
			return err
		}
		if err := s.setPassword(ctx, tok.UserID, hash, "", tok.Email); err != nil {
			return err
		}
		// Whoever had the old password may hold tokens too (SC-07).
		if _, err := s.o.Store.RevokeUserGrants(ctx, tok.UserID, s.o.Now().Add(storage.MaxAccessTokenTTL)); err != nil {
			return err
		}
		return s.recordIn(ctx, c, byUser(audit.PasswordReset, tok.UserID))
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = errLinkInvalid // the account was deleted
	}
	if err != nil {
		s.linkError(c, storage.PurposeResetPassword, err)
		return
	}
	// Whoever proved they read the account's mail may sign in at once,
	// even if guesses locked the account (LG-03).
	if err := s.o.Limiter.Success(ctx, s.o.Policies.PasswordAccount, storage.EmailKey(tok.Email)); err != nil {
		s.o.Logger.WarnContext(ctx, "clear password lockout", "user_id", tok.UserID, "err", err)
	}
	// A reset proves the mailbox, not the second factor: a person who has
	// one is asked for it before the session starts.
	s.signIn(c, tok.UserID, methodPasswordReset, []string{"email"}, "", accountPath+"?done=reset")
}
