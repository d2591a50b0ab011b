package mfa

import (
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Security events of the second factor go to the audit log
// (Options.Audit; nil records nothing). An entry never holds a TOTP
// secret or code, a recovery code, or a passkey's public key: a factor is
// named by its kind, a passkey by its credential ID (which the browser is
// sent anyway) and name.

// Factors, the "factor" of mfa.* entries.
const (
	factorTOTP          = "totp"
	factorRecoveryCode  = "recovery_code"
	factorRecoveryCodes = "recovery_codes" // the set, made or dropped
	factorPasskey       = "passkey"
)

// Why a second factor or a passkey sign-in failed (AuditEntry.Reason).
const (
	reasonWrongCode         = "wrong_code"
	reasonTooManyAttempts   = "too_many_attempts"
	reasonCeremonyExpired   = "ceremony_expired"   // no ceremony of this browser, or it expired
	reasonMalformed         = "malformed_response" // the browser's answer does not parse
	reasonUnknownCredential = "unknown_credential" // no passkey has the credential ID
	reasonUserMismatch      = "user_mismatch"      // the credential belongs to another user
	reasonCloned            = "clone_detected"     // the counter went backwards (WA-05)
	reasonInvalidAssertion  = "invalid_assertion"  // signature, challenge, origin or flags
)

// record logs an event of this request with its client IP and user agent.
func (s *Service) record(c *gin.Context, e storage.AuditEntry) {
	s.o.Audit.Log(c.Request.Context(), audit.From(c.Request, c.ClientIP(), e))
}

// recordFactor records something userID did with a factor of theirs
// (mfa.used, mfa.enrolled, mfa.removed…).
func (s *Service) recordFactor(c *gin.Context, typ, userID, factor string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	details["factor"] = factor
	s.record(c, storage.AuditEntry{Type: typ, ActorType: storage.ActorUser, ActorID: userID, UserID: userID,
		Details: audit.Details(details)})
}

// recordFactorFailure records a wrong or refused second factor of the
// pending sign-in of userID (not signed in yet: anonymous), and
// account.locked when a wrong code locked the account's codes (TO-02).
func (s *Service) recordFactorFailure(c *gin.Context, userID, factor, reason string) {
	s.record(c, storage.AuditEntry{Type: audit.MFAFailed, ActorType: storage.ActorAnonymous, UserID: userID,
		Reason: reason, Details: audit.Details(map[string]string{"factor": factor})})
	if reason != reasonWrongCode || factor == factorPasskey || s.o.Audit == nil {
		return
	}
	d, err := s.o.Limiter.Status(c.Request.Context(), s.o.Policies.TOTPAccount, userID)
	if err != nil || d.Allowed {
		return
	}
	s.record(c, storage.AuditEntry{Type: audit.AccountLocked, ActorType: storage.ActorAnonymous, UserID: userID,
		Reason:  "too_many_wrong_codes",
		Details: audit.Details(map[string]any{"factor": factor, "locked_for_seconds": int((d.RetryAfter + time.Second - 1) / time.Second)})})
}

// recordSignIn records a sign-in this package finished: after a second
// factor (method is the first factor's, amr every factor's), or with a
// passkey alone.
func (s *Service) recordSignIn(c *gin.Context, userID, method, factor string, amr []string) {
	details := map[string]any{"method": method, "amr": amr}
	if factor != "" {
		details["factor"] = factor
	}
	s.record(c, storage.AuditEntry{Type: audit.SignInSucceeded, ActorType: storage.ActorUser, ActorID: userID,
		UserID: userID, Details: audit.Details(details)})
}

// methodOf names the first factor of a sign-in by its amr, for callers of
// Begin, which do not say: "ext" is an upstream identity provider.
func methodOf(amr []string) string {
	switch {
	case slices.Contains(amr, "ext"):
		return "upstream"
	case slices.Contains(amr, "pwd"):
		return "pwd"
	case len(amr) > 0:
		return amr[0]
	}
	return ""
}

// passkeyReason is the audit reason of a passkey ceremony that failed, or
// "" for an outage, which is no security event.
func passkeyReason(err error) string {
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return ""
	case errors.Is(err, storage.ErrNotFound):
		return reasonCeremonyExpired
	case errors.Is(err, errCloned):
		return reasonCloned
	}
	return reasonInvalidAssertion
}

// recordEnrolment records an authenticator app turned on by its first
// valid code. A wrong first code is no security event: the secret is new
// and only this signed-in person has seen it.
func (s *Service) recordEnrolment(c *gin.Context, userID string, retry time.Duration, err error) {
	if err == nil && retry == 0 {
		s.recordFactor(c, audit.MFAEnrolled, userID, factorTOTP, nil)
	}
}

// recordPasskey records a passkey of userID added or removed, named by its
// credential ID (base64url, as the security page names it) and its name;
// never by its public key.
func (s *Service) recordPasskey(c *gin.Context, typ, userID string, credentialID []byte, name string) {
	s.record(c, storage.AuditEntry{Type: typ, ActorType: storage.ActorUser, ActorID: userID, UserID: userID,
		TargetType: "passkey", TargetID: base64.RawURLEncoding.EncodeToString(credentialID),
		Details: audit.Details(map[string]string{"name": name})})
}

// recordPasskeyFailure records a passwordless passkey sign-in that failed;
// userID only once the credential was found to be theirs.
func (s *Service) recordPasskeyFailure(c *gin.Context, userID, reason string) {
	s.record(c, storage.AuditEntry{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous, UserID: userID,
		Reason: reason, Details: audit.Details(map[string]string{"method": factorPasskey})})
}
