package signin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Sign-up creates an unverified account and emails a verification link;
// the person is signed in only once they open it and press Verify (see
// README "Sign-up"). An address that already has an account gets the same
// answer and no email (LG-07): sending it a verification link would let
// whoever signed up first, with a password of their choosing, wait for the
// owner to verify it (account pre-hijacking).

// signupClosed says why nobody can sign up, or "" when anyone can. It is
// checked by the page and by the POST alike (LG-08).
func (s *Service) signupClosed() string {
	switch s.o.SignupMode {
	case "open":
		return ""
	case "invite_only":
		return "New accounts here are created by invitation only. Ask your administrator for an invitation."
	}
	return "This server does not accept new accounts. Ask your administrator if you need one."
}

func (s *Service) showSignup(c *gin.Context) {
	d := render.SignupPage{Page: render.Page{Title: "Create an account"}, Closed: s.signupClosed()}
	status := http.StatusOK
	if d.Closed != "" {
		status = http.StatusForbidden
	} else {
		d.Challenge = s.pendingChallenge(c.Request.Context(), c.Query("challenge"))
	}
	show(s, c, status, s.account.signup, &d, &d.Page)
}

// submitSignup creates the account. Refused input shows the form again
// with the problems next to their fields; anything else, whether the
// address is new, taken or over its email limit, ends at the same "Check
// your email" page.
func (s *Service) submitSignup(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	d := render.SignupPage{Page: render.Page{Title: "Create an account"}, Closed: s.signupClosed()}
	if d.Closed != "" {
		show(s, c, http.StatusForbidden, s.account.signup, &d, &d.Page)
		return
	}
	ctx := c.Request.Context()
	d.Email, d.Name = strings.TrimSpace(c.PostForm("email")), c.PostForm("name")
	d.Challenge = s.pendingChallenge(ctx, c.PostForm("challenge"))
	if problem := emailProblem(d.Email); problem != "" {
		d.EmailError = problem
		show(s, c, http.StatusBadRequest, s.account.signup, &d, &d.Page)
		return
	}
	// Hashing comes before the address is looked at, so a taken address
	// costs the same time as a new one.
	u, err := s.o.Accounts.PrepareSignUp(d.Email, d.Name, c.PostForm("password"))
	if field, msg, ok := fieldProblem(err); ok {
		switch field {
		case "email":
			d.EmailError = msg
		case "name":
			d.NameError = msg
		default:
			d.PasswordError = msg
		}
		show(s, c, http.StatusBadRequest, s.account.signup, &d, &d.Page)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	allowed, err := s.emailAllowed(ctx, c.ClientIP(), d.Email)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if allowed {
		err := s.createAccount(ctx, u, d.Challenge)
		if errors.Is(err, storage.ErrAlreadyExists) {
			s.o.Logger.InfoContext(ctx, "sign-up for an address that has an account; nothing sent")
		} else if err != nil {
			s.unavailable(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, "/signup/sent?email="+url.QueryEscape(d.Email))
}

// createAccount stores u, its verification link and the email carrying
// it in one transaction. ErrAlreadyExists when the address is taken.
func (s *Service) createAccount(ctx context.Context, u storage.User, challenge string) error {
	return s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.o.Store.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.sendVerification(ctx, u, challenge)
	})
}

// sendVerification stores a verification link for u and queues the email
// carrying it; ctx must carry the caller's transaction, so both or neither
// are kept (F6).
func (s *Service) sendVerification(ctx context.Context, u storage.User, challenge string) error {
	token, now := newToken(), s.o.Now()
	msg, err := s.o.Emails.Verify(render.VerifyEmail{
		Email: u.Email, Link: s.link("/verify-email", token), ValidFor: verifyEmailTTL,
	})
	if err != nil {
		return err
	}
	return s.issueLink(ctx, storage.OneTimeToken{
		Purpose: storage.PurposeVerifyEmail, UserID: u.ID, Email: u.Email, Challenge: challenge,
		CreatedAt: now, ExpiresAt: now.Add(verifyEmailTTL),
	}, token, msg)
}

// signupSent is the page after every accepted sign-up form.
func (s *Service) signupSent(c *gin.Context) {
	d := render.AccountCheckEmailPage{Page: render.Page{Title: "Check your email"}, Email: c.Query("email")}
	show(s, c, http.StatusOK, s.account.checkEmail, &d, &d.Page)
}

// pendingChallenge returns id when it names a pending authorization, so
// that verifying the address continues it, and "" otherwise: the
// challenge is only ever handed back to the authorization endpoint, never
// used as a URL (ML-07).
func (s *Service) pendingChallenge(ctx context.Context, id string) string {
	if id == "" || len(id) > 200 {
		return ""
	}
	if _, _, err := s.o.Authorizations.LoginChallenge(ctx, id); err != nil {
		return ""
	}
	return id
}
