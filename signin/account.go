package signin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The account side, on the browser group:
//
//	GET  /signup[?challenge=ID]  "Create an account", or why sign-up is closed
//	POST /signup                 an unverified user, its verification link
//	                             and the email, in one transaction; 303 to
//	GET  /signup/sent            "Check your email" (the same for a taken address)
//	GET  /verify-email?token=T   "Verify": consumes nothing (link scanners)
//	POST /verify-email           uses the link, marks the address verified,
//	                             signs in (amr "email"); 303 to /account or
//	                             the pending authorization
//	GET  /forgot-password        email
//	POST /forgot-password        a known address gets a reset link; 303 to
//	GET  /forgot-password/sent   "Check your email" (the same for every address)
//	GET  /reset-password?token=T the new-password form: consumes nothing
//	POST /reset-password         uses the link, sets the password, ends every
//	                             session (SC-07), mails a notice, signs in
//	GET  /account                email, name, sessions, change password
//	POST /account/password       current password or a recent sign-in; ends
//	                             the other sessions, mails a notice
//	POST /account/sessions/end   ends one of the person's own sessions (sid)
//	POST /account/sessions/end-others
//	POST /account/sign-out       ends this browser's session, which is also
//	                             its OIDC session (sid); 303 to
//	GET  /account/signed-out     "You are signed out"
//
// Every POST needs the form's CSRF token (SC-03) and answers 303 when it
// succeeds (SC-08). Emailed links are built from Options.Issuer (LG-09).

const (
	// verifyEmailTTL and resetPasswordTTL are how long the emailed links
	// work.
	verifyEmailTTL   = 24 * time.Hour
	resetPasswordTTL = 30 * time.Minute
	// recentSignIn is how long after signing in the account page changes
	// the password without asking for the current one.
	recentSignIn = 10 * time.Minute
	// signedOutPath shows "You are signed out".
	signedOutPath = "/account/signed-out"
)

func (s *Service) mountAccount(r gin.IRouter) {
	r.GET("/signup", s.showSignup)
	r.POST("/signup", s.submitSignup)
	r.GET("/signup/sent", s.signupSent)
	r.GET("/verify-email", s.showVerifyEmail)
	r.POST("/verify-email", s.verifyEmail)
	r.GET("/forgot-password", s.showForgotPassword)
	r.POST("/forgot-password", s.submitForgotPassword)
	r.GET("/forgot-password/sent", s.resetSent)
	r.GET("/reset-password", s.showResetPassword)
	r.POST("/reset-password", s.resetPassword)
	r.GET(accountPath, s.showAccount)
	r.POST(accountPath+"/password", s.changePassword)
	r.POST(accountPath+"/sessions/end", s.endSession)
	r.POST(accountPath+"/sessions/end-others", s.endOtherSessions)
	r.POST(accountPath+"/sign-out", s.signOut)
	r.GET(signedOutPath, s.signedOut)
}

// accountPages are the account pages, parsed once by New.
type accountPages struct {
	signup     *render.Template[render.SignupPage]
	checkEmail *render.Template[render.AccountCheckEmailPage]
	verify     *render.Template[render.VerifyEmailPage]
	forgot     *render.Template[render.ForgotPasswordPage]
	reset      *render.Template[render.ResetPasswordPage]
	account    *render.Template[render.AccountPage]
	signedOut  *render.Template[render.LoggedOutPage]
	invitation *render.Template[render.InvitationPage]
}

// initAccount parses the account pages, reporting every broken one.
func (s *Service) initAccount() error {
	var p accountPages
	fsys := s.o.Templates
	err := errors.Join(
		parsePage(&p.signup, fsys, "signup.html"),
		parsePage(&p.checkEmail, fsys, "account_check_email.html"),
		parsePage(&p.verify, fsys, "verify_email.html"),
		parsePage(&p.forgot, fsys, "forgot_password.html"),
		parsePage(&p.reset, fsys, "reset_password.html"),
		parsePage(&p.account, fsys, "account.html"),
		parsePage(&p.signedOut, fsys, "logged_out.html"),
		parsePage(&p.invitation, fsys, "invitation.html"),
	)
	if err != nil {
		return fmt.Errorf("signin: %w", err)
	}
	s.account = &p
	return nil
}

func parsePage[T any](dst **render.Template[T], fsys fs.FS, file string) error {
	t, err := render.ParsePage[T](fsys, file)
	*dst = t
	return err
}

// Notices the account page shows after a redirect, by the "done" query
// parameter: fixed texts, so a link cannot make the page say anything else.
var accountNotices = map[string]string{
	"password": "Your password was changed, and your other sessions were signed out.",
	"reset":    "Your new password is saved, and every other session was signed out.",
	"ended":    "The session was ended.",
	"others":   "Your other sessions were signed out.",
	"linked":   "Your account is linked: you can sign in with it from now on.",
	"unlinked": "The connected account was removed.",
}

// showAccount is the account page of the signed-in person.
func (s *Service) showAccount(c *gin.Context) {
	bs, u, ok := s.signedIn(c)
	if !ok {
		return
	}
	d, err := s.accountPage(c, bs, u)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d.Notice = accountNotices[c.Query("done")]
	show(s, c, http.StatusOK, s.account.account, &d, &d.Page)
}

// accountPage fills the account page for u, signed in as bs.
func (s *Service) accountPage(c *gin.Context, bs *storage.BrowserSession, u storage.User) (render.AccountPage, error) {
	list, err := s.o.Store.ListBrowserSessions(c.Request.Context(), u.ID)
	if err != nil {
		return render.AccountPage{}, err
	}
	now := s.o.Now()
	d := render.AccountPage{
		Page: render.Page{Title: "Your account"}, Email: u.Email, Name: u.Name,
		HasPassword: u.PasswordHash != "", RecentSignIn: now.Sub(bs.AuthTime) < recentSignIn,
	}
	if s.o.Connections != nil {
		if d.Links, d.PendingLink, err = s.o.Connections.AccountLinks(c, u.ID); err != nil {
			return render.AccountPage{}, err
		}
	}
	// This device first, then the most recently used.
	slices.SortStableFunc(list, func(a, b storage.BrowserSession) int { return b.LastSeenAt.Compare(a.LastSeenAt) })
	for _, other := range list {
		if other.ID != bs.ID && !now.Before(other.ExpiresAt) {
			continue // over; the record goes when it is swept
		}
		row := render.AccountSession{
			SID: other.SID, Device: describeDevice(other.UserAgent), IP: other.IP,
			LastSeen: lastSeen(now, other.LastSeenAt), Current: other.ID == bs.ID,
		}
		if row.Current {
			d.Sessions = slices.Insert(d.Sessions, 0, row)
		} else {
			d.Sessions = append(d.Sessions, row)
		}
	}
	return d, nil
}

// accountPageError shows the account page again with a change-password
// form error set by mark.
func (s *Service) accountPageError(c *gin.Context, status int, bs *storage.BrowserSession, u storage.User, mark func(*render.AccountPage)) {
	d, err := s.accountPage(c, bs, u)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	mark(&d)
	show(s, c, status, s.account.account, &d, &d.Page)
}

// signedIn returns the browser's session and its user. Without one it
// sends the browser to sign in and returns false, as it does after
// answering a storage failure.
func (s *Service) signedIn(c *gin.Context) (*storage.BrowserSession, storage.User, bool) {
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return nil, storage.User{}, false
	}
	if bs == nil {
		c.Redirect(http.StatusSeeOther, "/login")
		return nil, storage.User{}, false
	}
	u, err := s.o.Store.GetUser(c.Request.Context(), bs.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		// The account was deleted: its session means nothing any more.
		if err := s.o.Sessions.End(c); err != nil {
			s.unavailable(c, err)
			return nil, storage.User{}, false
		}
		c.Redirect(http.StatusSeeOther, "/login")
		return nil, storage.User{}, false
	}
	if err != nil {
		s.unavailable(c, err)
		return nil, storage.User{}, false
	}
	return bs, u, true
}

// changePassword changes (or sets) the signed-in person's password. It
// wants the current password, or a sign-in within recentSignIn, so that
// someone at an unlocked computer cannot take the account over. The other
// sessions end (SC-07) and the person gets a notice by email.
func (s *Service) changePassword(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	bs, u, ok := s.signedIn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if s.o.Now().Sub(bs.AuthTime) >= recentSignIn {
		// The current password is a credential like any other: the
		// sign-in lockout of the account applies (LG-03).
		key := storage.EmailKey(u.Email)
		d, err := s.o.Limiter.Attempt(ctx, s.o.Policies.PasswordAccount, key)
		if err != nil {
			s.unavailable(c, err)
			return
		}
		if !d.Allowed {
			c.Header("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
			s.accountPageError(c, http.StatusTooManyRequests, bs, u, func(p *render.AccountPage) {
				p.PasswordFormError = tooManyAttempts(d.RetryAfter)
			})
			return
		}
		right, err := s.o.Accounts.CheckPassword(ctx, u.ID, c.PostForm("current_password"))
		if err != nil {
			s.unavailable(c, err)
			return
		}
		if !right {
			s.accountPageError(c, http.StatusBadRequest, bs, u, func(p *render.AccountPage) {
				p.CurrentPasswordError = "That is not your current password."
			})
			return
		}
		if err := s.o.Limiter.Success(ctx, s.o.Policies.PasswordAccount, key); err != nil {
			s.o.Logger.WarnContext(ctx, "clear password lockout", "user_id", u.ID, "err", err)
		}
	}
	hash, err := s.o.Accounts.HashPassword(c.PostForm("new_password"))
	if _, msg, ok := fieldProblem(err); ok {
		s.accountPageError(c, http.StatusBadRequest, bs, u, func(p *render.AccountPage) { p.NewPasswordError = msg })
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		if err := s.setPassword(ctx, u.ID, hash, bs.ID, ""); err != nil {
			return err
		}
		return s.recordIn(ctx, c, byUser(audit.PasswordChanged, u.ID))
	})
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, accountPath+"?done=password")
}

// setPassword stores hash as userID's password, ends every session of the
// user but keep (SC-07), and queues the "password changed" email; call it
// in a transaction (inTransaction), so that all of it happens or none. A
// non-empty verifiedEmail also marks the account's address verified when
// it is still that one: a reset link proved the person reads it.
func (s *Service) setPassword(ctx context.Context, userID, hash, keep, verifiedEmail string) error {
	now := s.o.Now()
	var proved bool
	u, err := s.o.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		u.PasswordHash, u.UpdatedAt = hash, now
		proved = false
		if verifiedEmail != "" && storage.EmailKey(u.Email) == storage.EmailKey(verifiedEmail) {
			proved, u.EmailVerified = !u.EmailVerified, true
		}
		return u, nil
	})
	if err != nil {
		return err
	}
	if proved {
		if err := s.addressProved(ctx, userID); err != nil {
			return err
		}
	}
	if _, err := s.endSessions(ctx, userID, keep); err != nil {
		return err
	}
	msg, err := s.o.Emails.PasswordChanged(render.PasswordChangedEmail{
		Email: u.Email, ChangedAt: now, ResetLink: s.link("/forgot-password", ""),
	})
	if err != nil {
		return err
	}
	return s.o.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML})
}

// endSessions ends every browser session of userID except keep (a
// session ID, or "" for none), and returns the public sids of those it
// ended.
func (s *Service) endSessions(ctx context.Context, userID, keep string) ([]string, error) {
	list, err := s.o.Store.ListBrowserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	var ended []string
	for _, bs := range list {
		if bs.ID == keep {
			continue
		}
		if err := s.o.Store.DeleteBrowserSession(ctx, bs.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return ended, err
		}
		ended = append(ended, bs.SID)
	}
	return ended, nil
}

// endSession ends one of the signed-in person's sessions, named by its
// public sid. A sid that is not one of theirs is not found: nobody ends,
// or learns about, someone else's session.
func (s *Service) endSession(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	bs, u, ok := s.signedIn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	list, err := s.o.Store.ListBrowserSessions(ctx, u.ID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	sid := c.PostForm("sid")
	i := slices.IndexFunc(list, func(other storage.BrowserSession) bool { return sid != "" && other.SID == sid })
	if i < 0 {
		s.errorPage(c, http.StatusNotFound, "Session not found",
			"This session has already ended. Go back to your account to see your sessions.", nil)
		return
	}
	if list[i].ID == bs.ID {
		s.signOut(c)
		return
	}
	if err := s.o.Store.DeleteBrowserSession(ctx, list[i].ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.unavailable(c, err)
		return
	}
	// The sid is the session's public name (in ID tokens); its ID, the
	// hash of the cookie, stays out of the log.
	e := byUser(audit.SessionRevoked, u.ID)
	e.TargetType, e.TargetID = "session", list[i].SID
	s.record(c, e)
	c.Redirect(http.StatusSeeOther, accountPath+"?done=ended")
}

// endOtherSessions ends every session of the person but this browser's.
func (s *Service) endOtherSessions(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	bs, u, ok := s.signedIn(c)
	if !ok {
		return
	}
	ended, err := s.endSessions(c.Request.Context(), u.ID, bs.ID)
	for _, sid := range ended {
		e := byUser(audit.SessionRevoked, u.ID)
		e.TargetType, e.TargetID = "session", sid
		e.Details = audit.Details(map[string]bool{"others": true})
		s.record(c, e)
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, accountPath+"?done=others")
}

// signOut ends this browser's session. The OIDC session is the same
// record (its sid is in the ID tokens), so it ends too. Signing out a
// browser that is not signed in is no error.
func (s *Service) signOut(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if err := s.o.Sessions.End(c); err != nil {
		s.unavailable(c, err)
		return
	}
	if bs != nil {
		e := byUser(audit.SignOut, bs.UserID)
		e.TargetType, e.TargetID = "session", bs.SID
		s.record(c, e)
	}
	c.Redirect(http.StatusSeeOther, signedOutPath)
}

func (s *Service) signedOut(c *gin.Context) {
	d := render.LoggedOutPage{Page: render.Page{Title: "Signed out"}}
	show(s, c, http.StatusOK, s.account.signedOut, &d, &d.Page)
}

// inTransaction runs fn with a context that carries one transaction, and
// commits it when fn succeeds: the user, token, password and outbox writes
// of one request are kept together or not at all. The mailer joins the
// transaction through the context.
func (s *Service) inTransaction(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := s.o.Store.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		if rbErr := s.o.Store.Rollback(context.WithoutCancel(tx)); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return s.o.Store.Commit(tx)
}

// link is the absolute URL of path on this server with token, built from
// the configured issuer and never from the request's Host or
// X-Forwarded-Host, which a client chooses (LG-09).
func (s *Service) link(path, token string) string {
	u := strings.TrimSuffix(s.o.Issuer, "/") + path
	if token != "" {
		u += "?token=" + token
	}
	return u
}

// fieldMessager is an Accounts error about one input field (idp.FieldError).
type fieldMessager interface {
	FieldMessage() (field, message string)
}

// fieldProblem returns the input field err is about and its message as a
// sentence for the page ("Password must be at least 8 characters."), or
// ok false when err is not about a field.
func fieldProblem(err error) (field, message string, ok bool) {
	var fe fieldMessager
	if !errors.As(err, &fe) {
		return "", "", false
	}
	field, message = fe.FieldMessage()
	if field != "" && message != "" && message[0] >= 'a' && message[0] <= 'z' {
		// A fragment that follows the field's name, as the CLI prints it.
		message = strings.ToUpper(field[:1]) + field[1:] + " " + message + "."
	}
	return field, message, true
}
