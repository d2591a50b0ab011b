package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Sign-in is identifier first. Its routes, on the browser group:
//
//	GET  /login[?challenge=ID]  "Sign in": email and Continue
//	POST /login                 the second step, the same for every email
//	                            (LG-01): a password and "Sign in", or
//	                            "Email me a sign-in link"
//	POST /login/password        rate limits, then the password ─┐
//	POST /login/email-link      rate limits; a known email gets │
//	                            a link; "Check your email"      │
//	GET  /login/link?token=T    "Sign in as …", consumes nothing│
//	POST /login/link            uses the link once ─────────────┤
//	                                                            ▼
//	               a new session, then 303 to the pending authorization
//	               (Authorizations.CompleteLogin) or to /account
//
// The challenge is the authorization endpoint's opaque ID of a pending
// authorization; every step checks it, and the browser is only ever sent
// where CompleteLogin says (ML-07). Every POST needs the form's CSRF token
// (SC-03), and every credential POST answers 303 (SC-08).

const (
	// accountPath is where a sign-in without a pending authorization ends.
	accountPath = "/account"
	// wrongPassword is the one answer to a wrong email or password (LG-01).
	wrongPassword = "The email or password is not right."
)

func (s *Service) mountLogin(r gin.IRouter) {
	r.GET("/login", s.showIdentifier)
	r.POST("/login", s.submitIdentifier)
	r.POST("/login/password", s.submitPassword)
	r.POST("/login/email-link", s.requestLink)
	r.GET("/login/link", s.showLink)
	r.POST("/login/link", s.useLink)
}

// initLogin checks the options the sign-in pages need and parses them.
func (s *Service) initLogin() error {
	o := &s.o
	if o.Issuer == "" || o.Store == nil || o.Accounts == nil || o.Authorizations == nil || o.Sessions == nil ||
		o.Limiter == nil || o.Mailer == nil || o.Emails == nil || o.Templates == nil {
		return errors.New("signin: Issuer, Store, Accounts, Authorizations, Sessions, Limiter, Mailer, Emails and Templates are required")
	}
	if len(o.TokenKey) < 32 {
		return errors.New("signin: TokenKey must be at least 32 bytes")
	}
	if o.Policies == (ratelimit.Policies{}) {
		o.Policies = ratelimit.DefaultPolicies()
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	pages, err := parseLoginPages(o.Templates)
	if err != nil {
		return fmt.Errorf("signin: %w", err)
	}
	s.login = pages
	return nil
}

// flow is the pending authorization a sign-in page continues, if any.
type flow struct {
	challenge  string
	clientName string
	loginHint  string
	// invitation is the token of the invitation page that sent the person
	// to sign in, when there is no challenge: signing in returns there,
	// and only there (ML-07).
	invitation string
}

// withInvitation adds the invitation token a sign-in page carries, if it
// is well formed and there is no pending authorization.
func (f flow) withInvitation(token string) flow {
	if f.challenge == "" && validToken(token) {
		f.invitation = token
	}
	return f
}

// loadFlow looks up the challenge a request names; "" is a sign-in to
// Foyer itself. ok=false: an expired or unknown challenge, or a database
// failure, was answered.
func (s *Service) loadFlow(c *gin.Context, challenge string) (f flow, ok bool) {
	if challenge == "" {
		return f, true
	}
	name, hint, err := s.o.Authorizations.LoginChallenge(c.Request.Context(), challenge)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.errorPage(c, http.StatusBadRequest, "This sign-in has expired", "Go back to the application and start again.", nil)
		return f, false
	case err != nil:
		s.unavailable(c, err)
		return f, false
	}
	return flow{challenge: challenge, clientName: name, loginHint: hint}, true
}

func (s *Service) signupOpen() bool { return s.o.SignupMode == "open" }

// showIdentifier is the first step; the application's login_hint pre-fills
// the email (OIDC Core §3.1.2.1: a hint, never trusted).
func (s *Service) showIdentifier(c *gin.Context) {
	f, ok := s.loadFlow(c, c.Query("challenge"))
	if !ok {
		return
	}
	f = f.withInvitation(c.Query("invitation"))
	s.identifierPage(c, http.StatusOK, f, f.loginHint, "")
}

// submitIdentifier answers any well-formed email with the second step. It
// reads nothing about the account, so the answer cannot depend on whether
// one exists (LG-01). An email of a domain that an organization's single
// sign-on claims goes there instead (which tells only that the domain has
// single sign-on, never whether an account exists).
func (s *Service) submitIdentifier(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	f, ok := s.loadFlow(c, c.PostForm("challenge"))
	if !ok {
		return
	}
	f = f.withInvitation(c.PostForm("invitation"))
	email := strings.TrimSpace(c.PostForm("email"))
	if problem := emailProblem(email); problem != "" {
		s.identifierPage(c, http.StatusBadRequest, f, email, problem)
		return
	}
	if s.o.Federation != nil && f.invitation == "" {
		path, err := s.o.Federation.RouteEmail(c.Request.Context(), email, f.challenge)
		if err != nil {
			s.unavailable(c, err)
			return
		}
		if path != "" {
			c.Redirect(http.StatusSeeOther, path)
			return
		}
	}
	s.passwordPage(c, http.StatusOK, f, email, render.LoginPasswordPage{})
}

// submitPassword checks the rate limits, then the password, and signs in.
func (s *Service) submitPassword(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	f, ok := s.loadFlow(c, c.PostForm("challenge"))
	if !ok {
		return
	}
	f = f.withInvitation(c.PostForm("invitation"))
	email := strings.TrimSpace(c.PostForm("email"))
	if problem := emailProblem(email); problem != "" {
		s.identifierPage(c, http.StatusBadRequest, f, email, problem)
		return
	}
	ctx := c.Request.Context()
	d, refusal, err := s.passwordAllowed(c, email)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !d.Allowed {
		// Refusals by the IP limit are not recorded one by one: a flood
		// would write a row per request. The attempts before it are.
		if refusal == reasonLocked {
			s.recordFailure(c, methodPassword, refusal, s.accountOf(ctx, email))
		}
		// The same for every email, known or not: the account's counter is
		// keyed by the email as typed (LG-03).
		c.Header("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		s.passwordPage(c, http.StatusTooManyRequests, f, email, render.LoginPasswordPage{Error: tooManyAttempts(d.RetryAfter)})
		return
	}
	userID, err := s.o.Accounts.Authenticate(ctx, email, c.PostForm("password"))
	if errors.Is(err, storage.ErrUnavailable) {
		s.unavailable(c, err)
		return
	}
	if err != nil {
		s.recordPasswordFailure(c, email)
		s.passwordPage(c, http.StatusUnauthorized, f, email, render.LoginPasswordPage{PasswordError: wrongPassword})
		return
	}
	if err := s.o.Limiter.Success(ctx, s.o.Policies.PasswordAccount, storage.EmailKey(email)); err != nil {
		// The person is who they say; a stale failure count only slows
		// their next mistake.
		s.o.Logger.WarnContext(ctx, "clear password failures", "err", err)
	}
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !u.EmailVerified {
		s.recordFailure(c, methodPassword, reasonUnverified, u.ID)
		s.verifyFirst(c, u, f.challenge)
		return
	}
	next := ""
	if f.invitation != "" {
		next = invitationPath(f.invitation)
	}
	s.signIn(c, userID, methodPassword, []string{"pwd"}, f.challenge, next)
}

// verifyFirst answers a right password for an account whose address is not
// verified: no session, and a new verification link (within the email
// limits). Otherwise whoever signed up with someone else's address could
// use the account before its owner ever saw it (account pre-hijacking).
// Only the right password gets here, so this reveals nothing.
func (s *Service) verifyFirst(c *gin.Context, u storage.User, challenge string) {
	ctx := c.Request.Context()
	allowed, err := s.emailAllowed(ctx, c.ClientIP(), u.Email)
	if err == nil && allowed {
		err = s.inTransaction(ctx, func(ctx context.Context) error { return s.sendVerification(ctx, u, challenge) })
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.AccountCheckEmailPage{Page: render.Page{Title: "Verify your email first"}, Email: u.Email, Unverified: true}
	show(s, c, http.StatusForbidden, s.account.checkEmail, &d, &d.Page)
}

// passwordAllowed applies the per-IP limit, then counts an attempt against
// the account (LG-03, LG-04) before the password is checked: of any number
// of guesses at once, only the lockout's free attempts go ahead. A refusal
// comes with its audit reason: rate_limited (the IP) or locked (the account).
func (s *Service) passwordAllowed(c *gin.Context, email string) (d ratelimit.Decision, refusal string, err error) {
	ctx := c.Request.Context()
	d, err = s.o.Limiter.Allow(ctx, s.o.Policies.PasswordIP, ratelimit.IPKey(c.ClientIP()))
	if err != nil || !d.Allowed {
		return d, reasonRateLimited, err
	}
	d, err = s.o.Limiter.Attempt(ctx, s.o.Policies.PasswordAccount, storage.EmailKey(email))
	return d, reasonLocked, err
}

// signIn follows a first factor (method, amr): the second factor takes
// over when the person has one (SecondFactor, which records the sign-in
// once it finishes); otherwise a new session starts for userID (ending the
// browser's previous one, SC-01) and the sign-in is recorded. The browser
// goes on with 303, so that it never posts the credentials again (SC-08):
// to the pending authorization, or next (a local path), or the account
// page.
func (s *Service) signIn(c *gin.Context, userID, method string, amr []string, challenge, next string) {
	ctx := c.Request.Context()
	if s.o.SecondFactor != nil {
		handled, err := s.o.SecondFactor.BeginSignIn(c, userID, method, amr, challenge, next)
		if err != nil {
			s.unavailable(c, err)
			return
		}
		if handled {
			return
		}
	}
	if _, err := s.o.Sessions.Start(c, userID, amr); err != nil {
		s.unavailable(c, err)
		return
	}
	s.recordSignIn(c, userID, method, amr, "")
	if next == "" {
		next = accountPath
	}
	if challenge != "" {
		var err error
		next, err = s.o.Authorizations.CompleteLogin(ctx, challenge)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			s.errorPage(c, http.StatusBadRequest, "This sign-in has expired",
				"You are signed in. Go back to the application and start again.", nil)
			return
		case err != nil:
			s.unavailable(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Service) identifierPage(c *gin.Context, status int, f flow, email, emailError string) {
	d := render.LoginIdentifierPage{
		Page: render.Page{Title: "Sign in"}, Challenge: f.challenge, ClientName: f.clientName,
		Email: email, EmailError: emailError, SignupOpen: s.signupOpen(), Invitation: f.invitation,
		Passkeys: s.o.Passkeys,
	}
	if s.o.Connections != nil && f.invitation == "" {
		buttons, err := s.o.Connections.LoginButtons(c.Request.Context())
		if err != nil {
			s.unavailable(c, err)
			return
		}
		d.Connections = buttons
	}
	if d.Passkeys {
		// Its passkey button's script needs the CSP that lets it run.
		showScripted(s, c, status, s.login.identifier, &d, &d.Page)
		return
	}
	show(s, c, status, s.login.identifier, &d, &d.Page)
}

// passwordPage shows the second step for email, with d's messages.
func (s *Service) passwordPage(c *gin.Context, status int, f flow, email string, d render.LoginPasswordPage) {
	d.Page.Title = "Sign in"
	d.Challenge, d.ClientName, d.Email, d.SignupOpen = f.challenge, f.clientName, email, s.signupOpen()
	d.Invitation = f.invitation
	show(s, c, status, s.login.password, &d, &d.Page)
}

// emailProblem says in plain words what is wrong with an email as typed,
// or returns "". It checks the form only: whether an account uses the
// address is never said.
func emailProblem(email string) string {
	if email == "" {
		return "Enter your email address."
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return "Enter an email address like name@example.com."
	}
	return ""
}

// tooManyAttempts tells a locked-out person when to come back, in whole
// minutes (seconds under one), rounded up.
func tooManyAttempts(wait time.Duration) string {
	if wait < time.Minute {
		return fmt.Sprintf("Too many attempts. Try again in %s.", plural(ratelimit.CeilSeconds(wait), "second"))
	}
	mins := int((wait + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("Too many attempts. Try again in %s.", plural(mins, "minute"))
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
