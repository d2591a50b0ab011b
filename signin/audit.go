package signin

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Security events of the sign-in and account pages go to the audit log
// (Options.Audit; nil records nothing). An entry never holds a password,
// a link's token or a session's cookie, and names a person only by the ID
// of an account that exists: an email typed for no account is not kept.

// Sign-in methods, the "method" of signin.succeeded and signin.failed.
const (
	methodPassword          = "pwd"
	methodMagicLink         = "magic_link"
	methodEmailVerification = "email_verification"
	methodPasswordReset     = "password_reset"
	methodInvitation        = "invitation"
)

// Why a sign-in failed (AuditEntry.Reason).
const (
	reasonRateLimited    = "rate_limited"     // too many attempts from the client's IP (not recorded)
	reasonLocked         = "locked"           // the account's lockout refused the attempt
	reasonUnknownAccount = "unknown_account"  // no account has the email typed
	reasonNoPassword     = "no_password"      // the account signs in by email only
	reasonBadPassword    = "bad_password"     // a wrong password for an account that exists
	reasonUnverified     = "email_unverified" // the right password, an unverified address
	reasonLinkInvalid    = "link_invalid"
	reasonLinkExpired    = "link_expired"
	reasonLinkUsed       = "link_used"
)

// record logs an event of this request with its client IP (gin's, which
// honours the trusted proxies) and user agent. The event already
// happened: a failure to record it is logged, never shown.
func (s *Service) record(c *gin.Context, e storage.AuditEntry) {
	s.o.Audit.Log(c.Request.Context(), audit.From(c.Request, c.ClientIP(), e))
}

// recordIn records a change made in the transaction ctx carries, which
// fails with it (AD-07).
func (s *Service) recordIn(ctx context.Context, c *gin.Context, e storage.AuditEntry) error {
	return s.o.Audit.Record(ctx, audit.From(c.Request, c.ClientIP(), e))
}

// byUser is an entry of something userID did to their own account.
func byUser(typ, userID string) storage.AuditEntry {
	return storage.AuditEntry{Type: typ, ActorType: storage.ActorUser, ActorID: userID, UserID: userID}
}

// recordSignIn records a sign-in that started a session.
func (s *Service) recordSignIn(c *gin.Context, userID, method string, amr []string, orgID string) {
	e := byUser(audit.SignInSucceeded, userID)
	e.OrgID = orgID
	e.Details = audit.Details(map[string]any{"method": method, "amr": amr})
	s.record(c, e)
}

// recordFailure records a refused sign-in; userID is set only for an
// account that exists.
func (s *Service) recordFailure(c *gin.Context, method, reason, userID string) {
	s.record(c, storage.AuditEntry{
		Type: audit.SignInFailed, ActorType: storage.ActorAnonymous, UserID: userID, Reason: reason,
		Details: audit.Details(map[string]string{"method": method}),
	})
}

// recordPasswordFailure records a wrong password for email: the reason and
// the account, if one has that email, and account.locked when this
// failure locked it (every failure after the lockout's free ones does, for
// longer each time: LG-03).
func (s *Service) recordPasswordFailure(c *gin.Context, email string) {
	if s.o.Audit == nil {
		return // no extra reads for nothing
	}
	ctx := c.Request.Context()
	u, err := s.o.Store.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.recordFailure(c, methodPassword, reasonUnknownAccount, "")
		return
	case err != nil:
		s.o.Logger.WarnContext(ctx, "audit: look up the account of a failed sign-in", "err", err)
		s.recordFailure(c, methodPassword, reasonBadPassword, "")
		return
	case u.PasswordHash == "":
		s.recordFailure(c, methodPassword, reasonNoPassword, u.ID)
		return
	}
	s.recordFailure(c, methodPassword, reasonBadPassword, u.ID)
	d, err := s.o.Limiter.Status(ctx, s.o.Policies.PasswordAccount, storage.EmailKey(email))
	if err != nil || d.Allowed {
		return
	}
	e := storage.AuditEntry{Type: audit.AccountLocked, ActorType: storage.ActorAnonymous, UserID: u.ID,
		Reason:  "too_many_failed_passwords",
		Details: audit.Details(map[string]any{"factor": "password", "locked_for_seconds": d.RetryAfterSeconds()})}
	s.record(c, e)
}

// accountOf returns the ID of the account with email, or "" when there is
// none (or the lookup failed: the entry then names nobody).
func (s *Service) accountOf(ctx context.Context, email string) string {
	if s.o.Audit == nil {
		return ""
	}
	u, err := s.o.Store.GetUserByEmail(ctx, email)
	if err != nil {
		return ""
	}
	return u.ID
}

// linkReason is the audit reason of a link that does not sign in, or ""
// for an outage.
func linkReason(err error) string {
	switch {
	case errors.Is(err, errLinkInvalid):
		return reasonLinkInvalid
	case errors.Is(err, errLinkExpired):
		return reasonLinkExpired
	case errors.Is(err, errLinkUsed):
		return reasonLinkUsed
	}
	return ""
}
