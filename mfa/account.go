package mfa

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The security settings, on the browser group, for a signed-in person:
//
//	GET  /account/security                   app, recovery codes, passkeys
//	POST /account/security/totp              a new secret to scan (recent sign-in)
//	POST /account/security/totp/confirm      its first code turns it on; recovery codes, once
//	POST /account/security/totp/delete       turns it off (recent sign-in)
//	POST /account/security/recovery-codes    a new set, once; the old set stops working
//	POST /account/security/passkeys/…        passkeys.go
//
// Adding or removing a factor needs a sign-in within the last 10 minutes
// (TO-04, WA-06): a stolen session alone cannot change them.

const securityPath = "/account/security"

func (s *Service) mountAccount(r gin.IRouter) {
	r.GET(securityPath, s.securityPage)
	r.POST(securityPath+"/totp", s.totpStart)
	r.POST(securityPath+"/totp/confirm", s.totpConfirm)
	r.POST(securityPath+"/totp/delete", s.totpDelete)
	r.POST(securityPath+"/recovery-codes", s.recoveryCodes)
}

func (s *Service) securityPage(c *gin.Context) {
	bs, ok := s.signedIn(c)
	if !ok {
		return
	}
	s.showSecurity(c, bs, http.StatusOK, c.Query("notice"), "")
}

// notices are the sentences a redirect back to the page may show.
var notices = map[string]string{
	"totp-on":        "Your authenticator app is set up.",
	"totp-off":       "Your authenticator app is turned off.",
	"passkey-added":  "Your passkey is added.",
	"passkey-gone":   "The passkey is deleted.",
	"passkey-rename": "The passkey is renamed.",
}

func (s *Service) showSecurity(c *gin.Context, bs *storage.BrowserSession, status int, notice, problem string) {
	ctx := c.Request.Context()
	u, err := s.o.Store.GetUser(ctx, bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	f, err := s.factorsOf(ctx, bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	pks, err := s.o.Store.ListPasskeys(ctx, bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.SecurityPage{Email: u.Email, TOTP: f.totp, RecoveryCodes: f.recovery, PasskeysAvailable: s.wa != nil,
		Notice: notices[notice], Error: problem}
	for _, p := range pks {
		v := render.Passkey{ID: base64.RawURLEncoding.EncodeToString(p.ID), Name: p.Name,
			Created: p.CreatedAt.UTC().Format("2 Jan 2006"), CloneWarning: p.CloneWarning}
		if !p.LastUsedAt.IsZero() {
			v.LastUsed = p.LastUsedAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		d.Passkeys = append(d.Passkeys, v)
	}
	showScripted(s, c, status, s.pages.security, &d, &d.Page)
}

// recentOrRefuse lets a change of factors go ahead after a recent sign-in;
// otherwise it answers the security page with what to do.
func (s *Service) recentOrRefuse(c *gin.Context, bs *storage.BrowserSession) bool {
	if s.isRecent(bs) {
		return true
	}
	s.showSecurity(c, bs, http.StatusForbidden, "",
		fmt.Sprintf("For your safety, sign out and sign in again (within %d minutes) to change how you sign in.", int(recentSignIn/time.Minute)))
	return false
}

// postSignedIn is the start of every POST: a session, the CSRF token.
func (s *Service) postSignedIn(c *gin.Context) (*storage.BrowserSession, bool) {
	bs, ok := s.signedIn(c)
	if !ok || !s.checkCSRF(c) {
		return nil, false
	}
	return bs, true
}

// totpStart shows a new secret to scan; it turns on with its first code.
func (s *Service) totpStart(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok || !s.recentOrRefuse(c, bs) {
		return
	}
	u, err := s.o.Store.GetUser(c.Request.Context(), bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	e, err := s.startTOTP(c.Request.Context(), u)
	if errors.Is(err, storage.ErrConflict) {
		s.showSecurity(c, bs, http.StatusConflict, "", "An authenticator app is already set up. Turn it off first to set up another.")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.TOTPSetupPage{Action: securityPath + "/totp/confirm", QR: templateURL(e.QR), Secret: e.Secret}
	c.Header("Cache-Control", "no-store")
	show(s, c, http.StatusOK, s.pages.totpSetup, &d, &d.Page)
}

// totpConfirm turns the new factor on with its first valid code and shows
// recovery codes, once.
func (s *Service) totpConfirm(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	retry, err := s.checkTOTP(ctx, bs.UserID, c.PostForm("code"), true)
	s.recordEnrolment(c, bs.UserID, retry, err)
	if err == nil && retry == 0 {
		s.notify(ctx, bs.UserID, render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOn})
		s.showNewRecoveryCodes(c, bs.UserID, render.RecoveryCodesPage{Next: withQuery(securityPath, "notice", "totp-on")})
		return
	}
	if err != nil && !errors.Is(err, errWrongCode) {
		s.unavailable(c, err)
		return
	}
	// Show the same secret again with the error: the person has scanned it.
	u, err := s.o.Store.GetUser(ctx, bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	e, err := s.pendingEnrolment(ctx, u)
	if errors.Is(err, errNoPendingSecret) {
		c.Redirect(http.StatusSeeOther, securityPath)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.TOTPSetupPage{Action: securityPath + "/totp/confirm", QR: templateURL(e.QR), Secret: e.Secret,
		Error: "That code is not right. Check the app and try again."}
	status := http.StatusUnauthorized
	if retry > 0 {
		status, d.Error = http.StatusTooManyRequests, fmt.Sprintf("Too many attempts. Try again in %s.", waitText(retry))
	}
	c.Header("Cache-Control", "no-store")
	show(s, c, status, s.pages.totpSetup, &d, &d.Page)
}

// totpDelete turns the app off. With no factor left, the recovery codes go
// too: they stand in for a second factor, and there is none.
func (s *Service) totpDelete(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok || !s.recentOrRefuse(c, bs) {
		return
	}
	ctx := c.Request.Context()
	err := s.o.Store.DeleteTOTPFactor(ctx, bs.UserID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.unavailable(c, err)
		return
	}
	if err == nil {
		s.recordFactor(c, audit.MFARemoved, bs.UserID, factorTOTP, nil)
	}
	if err := s.dropRecoveryCodesIfNoFactor(c, bs.UserID); err != nil {
		s.unavailable(c, err)
		return
	}
	s.notify(ctx, bs.UserID, render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOff})
	c.Redirect(http.StatusSeeOther, withQuery(securityPath, "notice", "totp-off"))
}

func (s *Service) dropRecoveryCodesIfNoFactor(c *gin.Context, userID string) error {
	f, err := s.factorsOf(c.Request.Context(), userID)
	if err != nil || f.any() || f.recovery == 0 {
		return err
	}
	if err := s.o.Store.ReplaceRecoveryCodes(c.Request.Context(), userID, nil, s.o.Now()); err != nil {
		return err
	}
	s.recordFactor(c, audit.MFARemoved, userID, factorRecoveryCodes, nil)
	return nil
}

// recoveryCodes makes a new set; the old set stops working.
func (s *Service) recoveryCodes(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok || !s.recentOrRefuse(c, bs) {
		return
	}
	f, err := s.factorsOf(c.Request.Context(), bs.UserID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !f.any() {
		s.showSecurity(c, bs, http.StatusConflict, "", "Set up an authenticator app or a passkey first.")
		return
	}
	if s.showNewRecoveryCodes(c, bs.UserID, render.RecoveryCodesPage{Next: securityPath}) {
		s.notify(c.Request.Context(), bs.UserID, render.SignInMethodsChangedEmail{Change: render.RecoveryCodesMade})
	}
}
