package mfa

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Passkeys (WebAuthn), on the browser group; passkey.js drives the
// browser's API and posts JSON:
//
//	GET  /mfa/passkey.js
//	POST /mfa/passkey/register/options       a new passkey's options (recent sign-in)
//	POST /mfa/passkey/register               the new credential → stored
//	POST /mfa/passkey/login/options          passwordless: discoverable, UV required
//	POST /mfa/passkey/login                  the assertion → session (amr hwk/swk, mfa)
//	POST /mfa/passkey/second-factor/options  the pending sign-in's user's passkeys
//	POST /mfa/passkey/second-factor          the assertion → session
//	POST /account/security/passkeys/rename, /delete
//
// Each ceremony's challenge is kept server-side, bound to this browser by
// a cookie, lives 5 minutes and is spent on first use (WA-01). Options
// posts carry the form's CSRF token; finishing posts carry it in the
// X-CSRF-Token header, which a cross-site form cannot set.

//go:embed passkey.js
var passkeyJS []byte

const (
	ceremonyCookie   = "foyer_webauthn"
	ceremonyTTL      = 5 * time.Minute
	purposeRegister  = "passkey_register"
	purposeLogin     = "passkey_login"
	purposeSecond    = "passkey_second_factor"
	maxCredentialID  = 1023
	maxPasskeyName   = 64
	maxCeremonyBytes = 64 << 10
)

// webAuthn is go-webauthn configured for the issuer; nil when the issuer's
// host is an IP address, which WebAuthn does not accept as an RP ID.
type webAuthn struct{ w *webauthn.WebAuthn }

func newWebAuthn(issuer, rpID string) (*webAuthn, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	if rpID == "" {
		rpID = u.Hostname()
	}
	if net.ParseIP(rpID) != nil {
		return nil, nil
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: rpID, RPDisplayName: "Foyer", RPOrigins: []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, err
	}
	return &webAuthn{w: w}, nil
}

// passkeyUser is a person as go-webauthn sees them: the user handle is
// their ID (random, no personal data), with their passkeys.
type passkeyUser struct {
	u     storage.User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte                         { return []byte(p.u.ID) }
func (p passkeyUser) WebAuthnName() string                       { return p.u.Email }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.Name }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

func (s *Service) passkeyUser(ctx context.Context, userID string) (passkeyUser, error) {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return passkeyUser{}, err
	}
	pks, err := s.o.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return passkeyUser{}, err
	}
	p := passkeyUser{u: u}
	for _, pk := range pks {
		var c webauthn.Credential
		if err := json.Unmarshal(pk.Data, &c); err != nil {
			return p, err
		}
		p.creds = append(p.creds, c)
	}
	return p, nil
}

func (s *Service) mountPasskeys(r gin.IRouter) {
	r.GET("/mfa/passkey.js", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", passkeyJS)
	})
	r.POST("/mfa/passkey/register/options", s.registerOptions)
	r.POST("/mfa/passkey/register", s.register)
	r.POST("/mfa/passkey/login/options", s.loginOptions)
	r.POST("/mfa/passkey/login", s.login)
	r.POST("/mfa/passkey/second-factor/options", s.secondFactorOptions)
	r.POST("/mfa/passkey/second-factor", s.secondFactorPasskey)
	r.POST(securityPath+"/passkeys/rename", s.renamePasskey)
	r.POST(securityPath+"/passkeys/delete", s.deletePasskey)
}

// jsonError answers a passkey request with a sentence for the page.
func jsonError(c *gin.Context, status int, message string) {
	c.JSON(status, gin.H{"error": message})
}

// ready checks what every passkey request needs: passkeys available, and
// the CSRF token (form field for options, header for finishing).
func (s *Service) ready(c *gin.Context, header bool) bool {
	if s.wa == nil {
		jsonError(c, http.StatusNotFound, "Passkeys need Foyer to be reached by a domain name.")
		return false
	}
	ok := s.o.Sessions.CheckCSRF(c)
	if header {
		ok = s.o.Sessions.CheckCSRFValue(c, c.GetHeader("X-CSRF-Token"))
	}
	if !ok {
		jsonError(c, http.StatusForbidden, "This page expired. Reload it and try again.")
		return false
	}
	return true
}

// saveCeremony keeps session data for the browser's next finishing post.
func (s *Service) saveCeremony(c *gin.Context, purpose, userID string, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(c.Request.Context(), storage.MFAChallenge{
		ID: s.keyedHash(purpose, handle), Purpose: purpose, UserID: userID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ceremonyTTL),
	}); err != nil {
		return err
	}
	s.setCookie(c, ceremonyCookie, handle, int(ceremonyTTL/time.Second))
	return nil
}

// takeCeremony spends the browser's ceremony of purpose (WA-01).
func (s *Service) takeCeremony(c *gin.Context, purpose string) (storage.MFAChallenge, webauthn.SessionData, error) {
	var sd webauthn.SessionData
	handle := s.cookie(c, ceremonyCookie)
	if handle == "" || len(handle) > 64 {
		return storage.MFAChallenge{}, sd, storage.ErrNotFound
	}
	s.setCookie(c, ceremonyCookie, "", -1)
	ch, err := s.o.Store.TakeMFAChallenge(c.Request.Context(), s.keyedHash(purpose, handle), purpose, s.o.Now())
	if err != nil {
		return ch, sd, err
	}
	return ch, sd, json.Unmarshal(ch.Data, &sd)
}

// ceremonyFailed answers a finishing post that cannot go on.
func (s *Service) ceremonyFailed(c *gin.Context, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		jsonError(c, http.StatusBadRequest, "This request expired. Try again.")
	case errors.Is(err, storage.ErrUnavailable):
		c.Header("Retry-After", "5")
		jsonError(c, http.StatusServiceUnavailable, "Foyer could not complete this request. Please try again in a moment.")
	default:
		s.o.Logger.InfoContext(c.Request.Context(), "passkey ceremony refused", "err", err)
		jsonError(c, http.StatusBadRequest, "The passkey could not be verified. Try again.")
	}
}

// registerOptions starts adding a passkey: discoverable preferred, user
// verification preferred, the person's passkeys excluded (WA-06: a new
// passkey needs a recent sign-in).
func (s *Service) registerOptions(c *gin.Context) {
	if !s.ready(c, false) {
		return
	}
	bs, err := s.o.Sessions.Current(c)
	if err != nil || bs == nil {
		jsonError(c, http.StatusUnauthorized, "Sign in again to add a passkey.")
		return
	}
	if !s.isRecent(bs) {
		jsonError(c, http.StatusForbidden, "For your safety, sign out and sign in again (within 10 minutes) to add a passkey.")
		return
	}
	user, err := s.passkeyUser(c.Request.Context(), bs.UserID)
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range user.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	creation, sd, err := s.wa.w.BeginRegistration(user, webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred))
	if err == nil {
		err = s.saveCeremony(c, purposeRegister, bs.UserID, sd)
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, creation)
}

// register checks the new credential (origin, RP ID, challenge, flags:
// go-webauthn, WA-02/03) and stores it; a credential ID registered before,
// to anyone, is refused (WA-06).
func (s *Service) register(c *gin.Context) {
	if !s.ready(c, true) {
		return
	}
	ctx := c.Request.Context()
	bs, err := s.o.Sessions.Current(c)
	if err != nil || bs == nil {
		jsonError(c, http.StatusUnauthorized, "Sign in again to add a passkey.")
		return
	}
	ch, sd, err := s.takeCeremony(c, purposeRegister)
	if err == nil && ch.UserID != bs.UserID {
		err = storage.ErrNotFound // another person's ceremony (WA-01)
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBody(http.MaxBytesReader(c.Writer, c.Request.Body, maxCeremonyBytes))
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	user, err := s.passkeyUser(ctx, bs.UserID)
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	cred, err := s.wa.w.CreateCredential(user, sd, parsed)
	if err == nil && len(cred.ID) > maxCredentialID {
		err = errors.New("credential ID longer than 1023 bytes")
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	data, err := json.Marshal(cred)
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	now := s.o.Now()
	name := "Passkey added " + now.UTC().Format("2 Jan 2006")
	err = s.o.Store.CreatePasskey(ctx, storage.Passkey{ID: cred.ID, UserID: bs.UserID, Name: name, Data: data, CreatedAt: now})
	if errors.Is(err, storage.ErrAlreadyExists) {
		jsonError(c, http.StatusConflict, "This passkey is already registered.")
		return
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	s.recordPasskey(c, audit.PasskeyAdded, bs.UserID, cred.ID, name)
	s.notify(ctx, bs.UserID, render.SignInMethodsChangedEmail{Change: render.PasskeyAdded, PasskeyName: name})
	c.JSON(http.StatusOK, gin.H{"redirect": withQuery(securityPath, "notice", "passkey-added")})
}

// loginOptions starts a passwordless sign-in: any discoverable passkey of
// this site, with user verification required, since the passkey is then
// the only factor (WA-03).
func (s *Service) loginOptions(c *gin.Context) {
	if !s.ready(c, false) {
		return
	}
	// Anyone may ask, and each asking stores a challenge.
	d, err := s.o.Limiter.Allow(c.Request.Context(), s.o.Policies.PasskeyOptionsIP, ratelimit.IPKey(c.ClientIP()))
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	if !d.Allowed {
		c.Header("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		jsonError(c, http.StatusTooManyRequests, "Too many sign-in attempts from your network. Try again later.")
		return
	}
	assertion, sd, err := s.wa.w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err == nil {
		err = s.saveCeremony(c, purposeLogin, "", sd)
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, assertion)
}

// login finishes a passwordless sign-in. The credential is looked up by
// its ID and must belong to the user its user handle names (WA-04).
func (s *Service) login(c *gin.Context) {
	if !s.ready(c, true) {
		return
	}
	ctx := c.Request.Context()
	_, sd, err := s.takeCeremony(c, purposeLogin)
	if err != nil {
		if reason := passkeyReason(err); reason != "" {
			s.recordPasskeyFailure(c, "", reason)
		}
		s.ceremonyFailed(c, err)
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(http.MaxBytesReader(c.Writer, c.Request.Body, maxCeremonyBytes))
	if err != nil {
		s.recordPasskeyFailure(c, "", reasonMalformed)
		s.ceremonyFailed(c, err)
		return
	}
	// owner is the person the credential belongs to, once it is found
	// and the user handle names them (a handle alone is the browser's
	// claim, and names nobody in the audit log); refused says why the
	// lookup refused it.
	var owner, refused string
	_, cred, err := s.wa.w.ValidatePasskeyLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
		pk, err := s.o.Store.GetPasskey(ctx, rawID)
		if errors.Is(err, storage.ErrNotFound) {
			refused = reasonUnknownCredential
		}
		if err != nil {
			return nil, err
		}
		if pk.UserID != string(userHandle) {
			refused = reasonUserMismatch
			return nil, errors.New("the credential belongs to another user")
		}
		owner = pk.UserID
		return s.passkeyUser(ctx, pk.UserID)
	}, sd, parsed)
	if err == nil {
		err = s.recordUse(ctx, cred)
	}
	if err != nil {
		reason := refused
		if reason == "" {
			reason = passkeyReason(err)
		}
		if reason != "" {
			s.recordPasskeyFailure(c, owner, reason)
		}
		s.ceremonyFailed(c, err)
		return
	}
	amr := passkeyAMR(cred)
	if _, err := s.o.Sessions.Start(c, owner, amr); err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	s.recordSignIn(c, owner, factorPasskey, "", amr)
	next, err := s.resume(ctx, c.Query("challenge"), "")
	if errors.Is(err, storage.ErrNotFound) {
		next = "/account"
	} else if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"redirect": next})
}

// passkeyAMR says how a passkey signed in (RFC 8176): hwk for a key bound
// to its device, swk for a synced one, and mfa, as a passkey with user
// verification is something the person has and is or knows.
func passkeyAMR(cred *webauthn.Credential) []string {
	if cred.Flags.BackupEligible {
		return []string{"swk", "mfa"}
	}
	return []string{"hwk", "mfa"}
}

// errCloned refuses a passkey whose counter went backwards (WA-05).
var errCloned = errors.New("passkey counter went backwards: possible clone")

// recordUse stores the credential's new counter and last use; a clone
// warning is recorded and the sign-in refused (WA-05).
func (s *Service) recordUse(ctx context.Context, cred *webauthn.Credential) error {
	data, err := json.Marshal(cred)
	if err != nil {
		return err
	}
	_, err = s.o.Store.UpdatePasskey(ctx, cred.ID, func(p storage.Passkey) (storage.Passkey, error) {
		p.Data, p.LastUsedAt = data, s.o.Now()
		p.CloneWarning = p.CloneWarning || cred.Authenticator.CloneWarning
		return p, nil
	})
	if err == nil && cred.Authenticator.CloneWarning {
		return errCloned
	}
	return err
}

// secondFactorOptions starts a passkey as the second factor of the
// browser's pending sign-in: that person's passkeys only.
func (s *Service) secondFactorOptions(c *gin.Context) {
	if !s.ready(c, false) {
		return
	}
	ch, ok := s.pendingForJSON(c)
	if !ok {
		return
	}
	user, err := s.passkeyUser(c.Request.Context(), ch.UserID)
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	assertion, sd, err := s.wa.w.BeginLogin(user)
	if err == nil {
		err = s.saveCeremony(c, purposeSecond, ch.UserID, sd)
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	c.JSON(http.StatusOK, assertion)
}

// secondFactorPasskey finishes the pending sign-in with a passkey.
func (s *Service) secondFactorPasskey(c *gin.Context) {
	if !s.ready(c, true) {
		return
	}
	ctx := c.Request.Context()
	pch, ok := s.pendingForJSON(c)
	if !ok {
		return
	}
	ch, sd, err := s.takeCeremony(c, purposeSecond)
	if err == nil && ch.UserID != pch.UserID {
		err = storage.ErrNotFound
	}
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(http.MaxBytesReader(c.Writer, c.Request.Body, maxCeremonyBytes))
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	user, err := s.passkeyUser(ctx, pch.UserID)
	if err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	cred, err := s.wa.w.ValidateLogin(user, sd, parsed)
	if err == nil {
		err = s.recordUse(ctx, cred)
	}
	if err != nil {
		if reason := passkeyReason(err); reason != "" {
			s.recordFactorFailure(c, pch.UserID, factorPasskey, reason)
		}
		s.ceremonyFailed(c, err)
		return
	}
	s.recordFactor(c, audit.MFAUsed, pch.UserID, factorPasskey, nil)
	var p pending
	if err := json.Unmarshal(pch.Data, &p); err != nil {
		s.ceremonyFailed(c, err)
		return
	}
	next, err := s.complete(c, pch, p, factorPasskey, passkeyAMR(cred)[0])
	switch {
	case errors.Is(err, errSignInExpired):
		jsonError(c, http.StatusBadRequest, "This sign-in has expired. Sign in again.")
	case errors.Is(err, errAuthorizationExpired):
		c.JSON(http.StatusOK, gin.H{"redirect": "/account"})
	case err != nil:
		s.ceremonyFailed(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"redirect": next})
	}
}

// pendingForJSON is loadPending for the passkey's JSON requests.
func (s *Service) pendingForJSON(c *gin.Context) (storage.MFAChallenge, bool) {
	ch, err := s.pendingChallenge(c)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			jsonError(c, http.StatusBadRequest, "This sign-in has expired. Sign in again.")
		} else {
			s.ceremonyFailed(c, err)
		}
		return ch, false
	}
	return ch, true
}

// renamePasskey and deletePasskey change the person's own passkeys; an ID
// of another person's is "not found" (deleting needs a recent sign-in).
func (s *Service) renamePasskey(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok {
		return
	}
	id, err := base64.RawURLEncoding.DecodeString(c.PostForm("id"))
	name := c.PostForm("name")
	if err != nil || name == "" || len([]rune(name)) > maxPasskeyName {
		s.showSecurity(c, bs, http.StatusBadRequest, "", "A passkey's name must be 1 to 64 characters.")
		return
	}
	_, err = s.o.Store.UpdatePasskey(c.Request.Context(), id, func(p storage.Passkey) (storage.Passkey, error) {
		if p.UserID != bs.UserID {
			return p, storage.ErrNotFound
		}
		p.Name = name
		return p, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		s.showSecurity(c, bs, http.StatusNotFound, "", "That passkey was not found.")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, withQuery(securityPath, "notice", "passkey-rename"))
}

func (s *Service) deletePasskey(c *gin.Context) {
	bs, ok := s.postSignedIn(c)
	if !ok || !s.recentOrRefuse(c, bs) {
		return
	}
	ctx := c.Request.Context()
	id, err := base64.RawURLEncoding.DecodeString(c.PostForm("id"))
	var name string // for the notice; the store checks whose passkey it is
	if err == nil {
		if pk, getErr := s.o.Store.GetPasskey(ctx, id); getErr == nil && pk.UserID == bs.UserID {
			name = pk.Name
		}
		err = s.o.Store.DeletePasskey(ctx, bs.UserID, id)
	}
	if errors.Is(err, storage.ErrNotFound) || err != nil && !errors.Is(err, storage.ErrUnavailable) {
		s.showSecurity(c, bs, http.StatusNotFound, "", "That passkey was not found.")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	s.recordPasskey(c, audit.PasskeyRemoved, bs.UserID, id, name)
	if err := s.dropRecoveryCodesIfNoFactor(c, bs.UserID); err != nil {
		s.unavailable(c, err)
		return
	}
	s.notify(ctx, bs.UserID, render.SignInMethodsChangedEmail{Change: render.PasskeyDeleted, PasskeyName: name})
	c.Redirect(http.StatusSeeOther, withQuery(securityPath, "notice", "passkey-gone"))
}
