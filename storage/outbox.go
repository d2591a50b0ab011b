package storage

import (
	"context"
	"time"
)

// OutboxStatus is where an outgoing email is: pending until a worker sends
// it, then sent, dropped (it expired before it could be sent) or failed (it
// could not be sent for too long).
type OutboxStatus string

// Outbox message states. Only pending messages are claimed.
const (
	OutboxPending OutboxStatus = "pending"
	OutboxSent    OutboxStatus = "sent"
	OutboxDropped OutboxStatus = "dropped"
	OutboxFailed  OutboxStatus = "failed"
)

// OutboxMessage is one email waiting in, or done with, the transactional
// outbox: a feature stores it in the transaction that makes the token the
// email carries, so both commit or neither does (SECURITY.md F6), and a
// worker sends it afterwards. The bodies hold live links, so a backend
// erases them when the message is finished.
type OutboxMessage struct {
	ID       string
	To       string // one address, as the person typed it
	Subject  string
	TextBody string
	HTMLBody string // may be empty: text only
	// CreatedAt is when the message was enqueued; a worker gives up on a
	// message that stayed unsent for too long after it.
	CreatedAt time.Time
	// NotAfter, when set, is when the message becomes worthless (a magic
	// link that has expired): a worker drops it rather than send it late.
	NotAfter time.Time
	// NextAttemptAt is when a worker may next claim the message: the
	// backoff after a failure, or the lease of the worker sending it.
	NextAttemptAt time.Time
	Attempts      int // how often a worker claimed it
	Status        OutboxStatus
	LastError     string
	FinishedAt    time.Time // when it left pending; zero while pending
}

// Outbox stores outgoing email. Claiming is what keeps two workers (two
// Foyer instances on one database) from sending one message twice: a claim
// leases the message by moving NextAttemptAt forward, and a worker that
// crashes mid-send loses the lease when it runs out, so the message is sent
// again (at least once; twice only when a send outlasts its lease).
type Outbox interface {
	// CreateOutboxMessage stores m, whose Status must be pending; inside a
	// transaction (BeginTx) it commits or rolls back with it. Times are set
	// by the caller. ErrAlreadyExists for a taken ID; ErrInvalid for an
	// empty ID or To, a status other than pending, or negative Attempts.
	CreateOutboxMessage(ctx context.Context, m OutboxMessage) error
	// GetOutboxMessage returns one message, pending or finished.
	GetOutboxMessage(ctx context.Context, id string) (OutboxMessage, error)
	// ClaimOutboxMessages atomically takes up to limit pending messages
	// whose NextAttemptAt is not after now, oldest NextAttemptAt first:
	// it sets their NextAttemptAt to now+lease, adds one to Attempts, and
	// returns them so changed. Of concurrent claimers none gets a message
	// another got, until that lease runs out.
	ClaimOutboxMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMessage, error)
	// RetryOutboxMessage keeps a pending message pending for another
	// attempt at next and records why the last one failed. ErrNotFound when
	// there is no message id; ErrConflict when it is no longer pending.
	RetryOutboxMessage(ctx context.Context, id string, next time.Time, lastError string) error
	// FinishOutboxMessage moves a pending message to status (sent, dropped
	// or failed) at at, records lastError and erases the bodies.
	// ErrNotFound when there is no message id; ErrConflict when it is no
	// longer pending; ErrInvalid for any other status.
	FinishOutboxMessage(ctx context.Context, id string, status OutboxStatus, at time.Time, lastError string) error
	// DeleteFinishedOutboxMessages deletes the messages that finished
	// (sent, dropped or failed) before before, and returns how many.
	// Pending messages are never deleted.
	DeleteFinishedOutboxMessages(ctx context.Context, before time.Time) (int64, error)
}
