package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The second sign-in step, on the browser group:
//
//	(signin: first factor passed) ──Begin──► pending sign-in, cookie
//	GET  /login/second-factor[?method=recovery]  the code form (and a passkey button)
//	POST /login/second-factor                    code or recovery code → session, 303 on
//	GET  /login/enrol                            the policy wants a factor: set up an app
//	POST /login/enrol                            its first code → recovery codes, shown once
//	POST /login/enrol/done                       → session, 303 on
//
// The pending sign-in is server-side state whose handle only this browser
// holds (a cookie), and it lives 10 minutes: the first factor cannot be
// carried to another browser, and a half-finished sign-in goes stale.

const (
	pendingCookie    = "foyer_mfa"
	purposeSignIn    = "sign_in"
	pendingTTL       = 10 * time.Minute
	secondFactorPath = "/login/second-factor"
	enrolPath        = "/login/enrol"
)

// pending is a sign-in that passed its first factor.
type pending struct {
	AMR []string `json:"amr"`
	// Method is how the first factor passed, for the audit log.
	Method    string `json:"method,omitempty"`
	Challenge string `json:"challenge,omitempty"`
	Next      string `json:"next,omitempty"`
}

func (s *Service) mountSignIn(r gin.IRouter) {
	r.GET(secondFactorPath, s.secondFactorPage)
	r.POST(secondFactorPath, s.secondFactorPage)
	r.GET(enrolPath, s.enrolPage)
	r.POST(enrolPath, s.enrolPage)
	r.POST(enrolPath+"/done", s.enrolDone)
}

// Begin takes over a sign-in whose first factor passed (amr says which):
// a person with a second factor is asked for it, and one the MFA policy
// requires to have one sets one up first. handled=false means neither:
// the caller starts the session. Otherwise Begin has answered (a redirect)
// and, once the second factor passed, starts the session itself and
// resumes the authorization challenge, or goes to next (a local path).
func (s *Service) Begin(c *gin.Context, userID string, amr []string, challenge, next string) (handled bool, err error) {
	return s.BeginSignIn(c, userID, methodOf(amr), amr, challenge, next)
}

// BeginSignIn is Begin with the sign-in method the audit entry of the
// finished sign-in names ("pwd", "magic_link", …).
func (s *Service) BeginSignIn(c *gin.Context, userID, method string, amr []string, challenge, next string) (handled bool, err error) {
	ctx := c.Request.Context()
	f, err := s.factorsOf(ctx, userID)
	if err != nil {
		return false, err
	}
	path := secondFactorPath
	if !f.any() {
		required, err := s.required(ctx, userID)
		if err != nil || !required {
			return false, err
		}
		path = enrolPath
	}
	data, err := json.Marshal(pending{AMR: amr, Method: method, Challenge: challenge, Next: next})
	if err != nil {
		return false, err
	}
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(ctx, storage.MFAChallenge{
		ID: s.keyedHash(purposeSignIn, handle), Purpose: purposeSignIn, UserID: userID, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(pendingTTL),
	}); err != nil {
		return false, err
	}
	s.setCookie(c, pendingCookie, handle, int(pendingTTL/time.Second))
	c.Redirect(http.StatusSeeOther, path)
	return true, nil
}

// factors is what second factors a person has.
type factors struct {
	totp     bool
	passkeys int
	recovery int
}

func (f factors) any() bool { return f.totp || f.passkeys > 0 }

func (s *Service) factorsOf(ctx context.Context, userID string) (factors, error) {
	var f factors
	t, err := s.o.Store.GetTOTPFactor(ctx, userID)
	switch {
	case err == nil:
		f.totp = !t.ConfirmedAt.IsZero()
	case !errors.Is(err, storage.ErrNotFound):
		return f, err
	}
	pks, err := s.o.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return f, err
	}
	f.passkeys = len(pks)
	f.recovery, err = s.o.Store.CountRecoveryCodes(ctx, userID)
	return f, err
}

// required reports whether the policy wants the person to have a second
// factor: Foyer's (mfa.required) or any of their organizations'.
func (s *Service) required(ctx context.Context, userID string) (bool, error) {
	if s.o.RequireMFA {
		return true, nil
	}
	ms, err := s.o.Store.ListMembershipsByUser(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		o, err := s.o.Store.GetOrganization(ctx, m.OrgID)
		if err != nil {
			return false, err
		}
		if o.RequireMFA {
			return true, nil
		}
	}
	return false, nil
}

// loadPending reads this browser's pending sign-in; ok=false means the
// answer (it expired, or there is none) has been written.
func (s *Service) loadPending(c *gin.Context) (storage.MFAChallenge, pending, bool) {
	var p pending
	ch, err := s.pendingChallenge(c)
	if errors.Is(err, storage.ErrNotFound) {
		s.expired(c)
		return ch, p, false
	}
	if err == nil {
		err = json.Unmarshal(ch.Data, &p)
	}
	if err != nil {
		s.unavailable(c, err)
		return ch, p, false
	}
	return ch, p, true
}

// pendingChallenge reads the pending sign-in whose handle this browser's
// cookie holds; storage.ErrNotFound when there is none or it expired.
func (s *Service) pendingChallenge(c *gin.Context) (storage.MFAChallenge, error) {
	handle := s.cookie(c, pendingCookie)
	if handle == "" || len(handle) > 64 {
		return storage.MFAChallenge{}, storage.ErrNotFound
	}
	return s.o.Store.GetMFAChallenge(c.Request.Context(), s.keyedHash(purposeSignIn, handle), purposeSignIn, s.o.Now())
}

func (s *Service) expired(c *gin.Context) {
	s.errorPage(c, http.StatusBadRequest, "This sign-in has expired", "Sign in again to continue.", "/login", "Sign in")
}

// errSignInExpired: the pending sign-in is gone (expired, or finished by
// a concurrent request); errAuthorizationExpired: the person is signed in,
// but the authorization they came from expired.
var (
	errSignInExpired        = errors.New("pending sign-in expired")
	errAuthorizationExpired = errors.New("authorization expired")
)

// complete ends a pending sign-in whose second factor (factor, amr)
// passed: the pending state is spent (once: of two concurrent completions
// one gets the session), the session starts with every factor used, the
// sign-in is recorded, and it returns where the browser goes on.
func (s *Service) complete(c *gin.Context, ch storage.MFAChallenge, p pending, factor string, amr ...string) (next string, err error) {
	ctx := c.Request.Context()
	if _, err := s.o.Store.TakeMFAChallenge(ctx, ch.ID, purposeSignIn, s.o.Now()); errors.Is(err, storage.ErrNotFound) {
		return "", errSignInExpired
	} else if err != nil {
		return "", err
	}
	s.setCookie(c, pendingCookie, "", -1)
	all := slices.Clone(p.AMR)
	for _, m := range append(amr, "mfa") {
		if !slices.Contains(all, m) {
			all = append(all, m)
		}
	}
	if _, err := s.o.Sessions.Start(c, ch.UserID, all); err != nil {
		return "", err
	}
	method := p.Method
	if method == "" {
		method = methodOf(p.AMR) // a sign-in begun before methods were kept
	}
	s.recordSignIn(c, ch.UserID, method, factor, all)
	next, err = s.resume(ctx, p.Challenge, p.Next)
	if errors.Is(err, storage.ErrNotFound) {
		return "", errAuthorizationExpired
	}
	return next, err
}

// finish is complete for the HTML forms: a redirect on, or a page saying
// why not.
func (s *Service) finish(c *gin.Context, ch storage.MFAChallenge, p pending, factor string, amr ...string) {
	next, err := s.complete(c, ch, p, factor, amr...)
	if err != nil {
		s.finishFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

// finishFailed answers a completion that failed with a page saying why.
func (s *Service) finishFailed(c *gin.Context, err error) {
	switch {
	case errors.Is(err, errSignInExpired):
		s.expired(c)
	case errors.Is(err, errAuthorizationExpired):
		s.errorPage(c, http.StatusBadRequest, "This sign-in has expired",
			"You are signed in. Go back to the application and start again.", "", "")
	default:
		s.unavailable(c, err)
	}
}

// secondFactorPage asks for a code from the app, a recovery code, or a
// passkey (passkeys.go), and checks the codes. Wrong codes count against
// the account's lockout and this sign-in's own limit (TO-02).
func (s *Service) secondFactorPage(c *gin.Context) {
	ctx := c.Request.Context()
	ch, p, ok := s.loadPending(c)
	if !ok {
		return
	}
	f, err := s.factorsOf(ctx, ch.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.SecondFactorPage{Method: c.Query("method"), HasTOTP: f.totp, HasPasskey: f.passkeys > 0 && s.wa != nil, HasRecovery: f.recovery > 0}
	status := http.StatusOK
	if c.Request.Method == http.MethodPost {
		if !s.checkCSRF(c) {
			return
		}
		d.Method = c.PostForm("method")
		left, retry, err := s.checkSecondFactor(c, ch, d.Method)
		factor := factorTOTP
		if d.Method == "recovery" {
			factor = factorRecoveryCode
		}
		switch {
		case err == nil && retry == 0:
			s.recordFactor(c, audit.MFAUsed, ch.UserID, factor, nil)
			if factor == factorRecoveryCode {
				s.recordFactor(c, audit.RecoveryCodeUsed, ch.UserID, factor, map[string]any{"remaining": left})
			}
		case retry > 0:
			s.recordFactorFailure(c, ch.UserID, factor, reasonTooManyAttempts)
		case errors.Is(err, errWrongCode):
			s.recordFactorFailure(c, ch.UserID, factor, reasonWrongCode)
		}
		switch {
		case err == nil && retry == 0 && d.Method == "recovery":
			// A recovery code is a one-time password too (RFC 8176 "otp").
			// The person is told how many are left before going on.
			next, err := s.complete(c, ch, p, factor, "otp")
			if err != nil {
				s.finishFailed(c, err)
				return
			}
			s.errorPage(c, http.StatusOK, "Recovery code used",
				fmt.Sprintf("You have %d unused recovery codes left. Make new ones on your security page when you run low.", left),
				next, "Continue")
			return
		case err == nil && retry == 0:
			s.finish(c, ch, p, factor, "otp")
			return
		case retry > 0:
			status, d.Error = http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %s.", waitText(retry))
			c.Header("Retry-After", fmt.Sprint(int(retry.Round(time.Second)/time.Second)))
		case errors.Is(err, errWrongCode):
			status, d.Error = http.StatusUnauthorized, "That code is not right. Check it and try again."
		default:
			s.unavailable(c, err)
			return
		}
	}
	if d.Method != "recovery" || !d.HasRecovery {
		d.Method = "totp"
	}
	showScripted(s, c, status, s.pages.secondFactor, &d, &d.Page)
}

// checkSecondFactor checks the posted code by method, within the pending
// sign-in's own limit (TOTPLogin) and the account's lockout.
func (s *Service) checkSecondFactor(c *gin.Context, ch storage.MFAChallenge, method string) (recoveryLeft int, retry time.Duration, err error) {
	ctx := c.Request.Context()
	d, err := s.o.Limiter.Allow(ctx, s.o.Policies.TOTPLogin, ch.ID)
	if err != nil {
		return 0, 0, err
	}
	if !d.Allowed {
		return 0, max(d.RetryAfter, time.Second), nil
	}
	if method == "recovery" {
		return s.useRecoveryCode(ctx, ch.UserID, c.PostForm("code"))
	}
	retry, err = s.checkTOTP(ctx, ch.UserID, c.PostForm("code"), false)
	return 0, retry, err
}

// waitText says a wait in words: "30 seconds", "1 minute", "15 minutes".
func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// enrolPage sets up an authenticator app for a person the policy requires
// to have a second factor, in the middle of signing in.
func (s *Service) enrolPage(c *gin.Context) {
	ctx := c.Request.Context()
	ch, _, ok := s.loadPending(c)
	if !ok {
		return
	}
	u, err := s.o.Store.GetUser(ctx, ch.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.TOTPSetupPage{Action: enrolPath, Required: true}
	status := http.StatusOK
	if c.Request.Method == http.MethodPost {
		if !s.checkCSRF(c) {
			return
		}
		retry, err := s.checkTOTP(ctx, ch.UserID, c.PostForm("code"), true)
		s.recordEnrolment(c, ch.UserID, retry, err)
		switch {
		case err == nil && retry == 0:
			s.notify(ctx, ch.UserID, render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOn})
			s.showNewRecoveryCodes(c, ch.UserID, render.RecoveryCodesPage{Action: enrolPath + "/done"})
			return
		case retry > 0:
			status, d.Error = http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %s.", waitText(retry))
		case errors.Is(err, errWrongCode):
			status, d.Error = http.StatusUnauthorized, "That code is not right. Check the app and try again."
		default:
			s.unavailable(c, err)
			return
		}
	}
	// A wrong code shows the same secret again: the person has scanned it.
	var e totpEnrolment
	if c.Request.Method == http.MethodPost {
		e, err = s.pendingEnrolment(ctx, u)
	} else {
		e, err = s.startTOTP(ctx, u)
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d.QR, d.Secret = templateURL(e.QR), e.Secret
	c.Header("Cache-Control", "no-store")
	show(s, c, status, s.pages.totpSetup, &d, &d.Page)
}

// enrolDone finishes a sign-in whose factor was just set up and used.
func (s *Service) enrolDone(c *gin.Context) {
	ch, p, ok := s.loadPending(c)
	if !ok || !s.checkCSRF(c) {
		return
	}
	f, err := s.factorsOf(c.Request.Context(), ch.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !f.any() {
		c.Redirect(http.StatusSeeOther, enrolPath)
		return
	}
	s.finish(c, ch, p, factorTOTP, "otp")
}

// showNewRecoveryCodes makes the user a new set of recovery codes and
// shows them, once; made reports whether the new set replaced the old.
func (s *Service) showNewRecoveryCodes(c *gin.Context, userID string, d render.RecoveryCodesPage) (made bool) {
	codes, err := s.replaceRecoveryCodes(c.Request.Context(), userID)
	if err != nil {
		s.unavailable(c, err)
		return false
	}
	s.recordFactor(c, audit.MFAEnrolled, userID, factorRecoveryCodes, map[string]any{"count": len(codes)})
	d.Codes = codes
	c.Header("Cache-Control", "no-store")
	show(s, c, http.StatusOK, s.pages.recoveryCodes, &d, &d.Page)
	return true
}
