package storage

import (
	"context"
	"encoding/json"
	"time"
)

// PrefixAuditEntry starts audit entry IDs.
const PrefixAuditEntry = "aud_"

// Who acts in an audit entry.
const (
	ActorUser      = "user"      // a person: signed in, or signing in
	ActorClient    = "client"    // an OAuth client with an admin token (client credentials)
	ActorCLI       = "cli"       // the operator's foyer command on the database
	ActorSystem    = "system"    // Foyer itself: a background job
	ActorAnonymous = "anonymous" // nobody known yet: a failed sign-in
)

// AuditEntry is one security event in the append-only audit log. Nothing
// in it is a secret: no password, code, token or key, and Details holds
// only the names and non-secret values of changed fields.
type AuditEntry struct {
	ID         string // aud_…
	OccurredAt time.Time
	Type       string // e.g. "signin.succeeded", "admin.user.updated"
	ActorType  string // Actor*
	ActorID    string // user ID, client ID; "" for anonymous, system and CLI
	UserID     string // the person concerned, if any
	OrgID      string // the organization concerned, if any
	TargetType string // what an admin change touched: "user", "client", …
	TargetID   string
	IP         string
	UserAgent  string
	Reason     string // why it failed or was refused; "" on success
	// Details is a JSON object of anything else: the method, before and
	// after of changed fields.
	Details json.RawMessage
}

// AuditQuery selects audit entries, newest first. Every set field narrows
// the result; Before pages: entries strictly older than the entry at
// (BeforeTime, BeforeID) in the order (OccurredAt, ID) descending.
type AuditQuery struct {
	From, To   time.Time // From inclusive, To exclusive; zero for open
	ActorID    string
	UserID     string
	OrgID      string
	Type       string
	BeforeTime time.Time
	BeforeID   string
	Limit      int
}

// AuditLog stores the audit log. Entries are never changed; they are
// deleted only when they leave the retention period.
type AuditLog interface {
	// AppendAuditEntry stores e; inside a transaction (BeginTx) it commits
	// or rolls back with the change it records. ErrInvalid for an empty
	// ID, Type or ActorType, or Details that are not a JSON object (nil
	// Details are stored as {}).
	AppendAuditEntry(ctx context.Context, e AuditEntry) error
	ListAuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// DeleteAuditEntriesBefore deletes the entries that occurred before
	// before, and returns how many.
	DeleteAuditEntriesBefore(ctx context.Context, before time.Time) (int64, error)
}
