// Package audit records security events in the append-only audit log
// (storage.AuditLog): who signed in and how, what failed and why, what
// administrators changed. Features record through a Recorder; an entry
// recorded with a context that carries a transaction commits or rolls back
// with the change it describes (AD-07). Entries never hold secrets.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// Event types of the audit log. Administrative changes are
// "admin.<resource>.<created|updated|deleted|…>", written by the admin API
// and the CLI.
const (
	SignInSucceeded      = "signin.succeeded" // Details: method (pwd, magic_link, passkey, saml, upstream…), amr
	SignInFailed         = "signin.failed"    // Reason: why; Details: method
	SignOut              = "signout"
	AccountLocked        = "account.locked"
	PasswordChanged      = "password.changed"
	PasswordReset        = "password.reset"
	MFAEnrolled          = "mfa.enrolled" // Details: factor (totp, recovery_codes)
	MFARemoved           = "mfa.removed"  // Details: factor
	MFAUsed              = "mfa.used"     // Details: factor
	MFAFailed            = "mfa.failed"   // Details: factor; Reason
	RecoveryCodeUsed     = "mfa.recovery_code_used"
	PasskeyAdded         = "passkey.added" // TargetID: the credential's name or ID
	PasskeyRemoved       = "passkey.removed"
	SessionRevoked       = "session.revoked"
	SAMLAssertionRefused = "saml.assertion_refused" // Reason: which check; OrgID, TargetID: the connection
	RefreshTokenReused   = "token.refresh_reuse"    // the token family was revoked
	KeyRotated           = "key.rotated"
	IdentityLinked       = "identity.linked"   // an upstream account linked to a person's; TargetID: the connection
	IdentityUnlinked     = "identity.unlinked" // and removed from it
)

// Recorder appends entries. The zero Recorder, and a nil one, record
// nothing: a feature built without an audit log still works.
type Recorder struct {
	store storage.AuditLog
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Recorder writing to store, stamping entries with now.
func New(store storage.AuditLog, now func() time.Time, log *slog.Logger) *Recorder {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recorder{store: store, now: now, log: log}
}

// Record appends e, with a new ID and the current time unless set, in the
// transaction ctx carries if any. Callers that record a change they are
// making return its error, so the change fails with it.
func (r *Recorder) Record(ctx context.Context, e storage.AuditEntry) error {
	if r == nil || r.store == nil {
		return nil
	}
	if e.ID == "" {
		e.ID = storage.NewID(storage.PrefixAuditEntry)
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = r.now().UTC()
	}
	if e.ActorType == "" {
		e.ActorType = storage.ActorAnonymous
		if e.ActorID != "" {
			e.ActorType = storage.ActorUser
		}
	}
	return r.store.AppendAuditEntry(ctx, e)
}

// Log records an event that already happened (a sign-in, a refusal): a
// failure to record is logged, not returned, since it must not undo or
// block what it describes.
func (r *Recorder) Log(ctx context.Context, e storage.AuditEntry) {
	if err := r.Record(ctx, e); err != nil {
		r.log.WarnContext(ctx, "audit: record", "type", e.Type, "err", err)
	}
}

// From fills the entry's IP and user agent from the request. IP is what
// the caller resolved (gin's ClientIP, which honours the trusted proxies).
func From(r *http.Request, ip string, e storage.AuditEntry) storage.AuditEntry {
	e.IP = ip
	e.UserAgent = r.UserAgent()
	if len(e.UserAgent) > 512 {
		e.UserAgent = e.UserAgent[:512]
	}
	return e
}

// Details marshals v (a map or struct of non-secret values) for
// AuditEntry.Details.
func Details(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// Change is the before and after of the fields an update changed; fields
// that did not change are left out, and so is every secret, which the
// caller never passes in.
type Change struct {
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
}

// Diff compares two field maps (the same keys, non-secret values) and
// keeps the fields that differ.
func Diff(before, after map[string]any) Change {
	c := Change{Before: map[string]any{}, After: map[string]any{}}
	for k, a := range after {
		b := before[k]
		if !jsonEqual(a, b) {
			c.Before[k], c.After[k] = b, a
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			c.Before[k] = b
		}
	}
	return c
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
