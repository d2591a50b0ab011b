package storage

import (
	"context"
	"time"
)

// RateLimitState is a key's counter in its current fixed window, as
// HitRateLimit left it.
type RateLimitState struct {
	Key string
	// Hits counts the hits of this window, the latest included. It stops at
	// limit+1: hits beyond that are refused and not counted further.
	Hits        int
	WindowStart time.Time
	WindowEnd   time.Time // the window is over, and the row may go, from then on
	// Allowed reports whether the latest hit was within the limit. The zero
	// value refuses.
	Allowed bool
}

// Lockout is a key's run of consecutive failures (a password or code
// guessed wrong), kept to slow down and then stop guessing (SECURITY.md
// LG-03). What the counts mean is the caller's policy; the store only keeps
// them and serializes their updates.
type Lockout struct {
	Key         string
	Failures    int       // consecutive failures since the last success
	LockedUntil time.Time // no attempt before this; zero when never locked
	// ExpiresAt is when the record may be forgotten: after any lock it
	// sets, since deleting it early would lift the lock.
	ExpiresAt time.Time
}

// RateLimits keeps rate-limit counters and lockouts in the database, so
// that every instance of Foyer counts against the same limits.
//
// Keys are opaque to the store and chosen by the caller; they may not be
// empty. Package ratelimit stores keyed hashes only, never an email or an
// IP address in clear. Call these methods outside a transaction: a caller's
// rollback would forget the hits and failures counted in it.
type RateLimits interface {
	// HitRateLimit counts one hit for key in a fixed window of length window
	// and reports whether it is within limit. In one atomic statement it
	// starts a new window at now when there is none or the stored one ended
	// at or before now, and otherwise adds the hit to the stored window. Of
	// n concurrent hits on one key against limit, exactly min(n, limit) are
	// allowed (SECURITY.md LG-04). ErrInvalid for an empty key, a limit
	// below 1 or a window that is not positive.
	HitRateLimit(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (RateLimitState, error)

	// GetLockout returns the key's lockout, expired or not; ErrNotFound
	// when there is none.
	GetLockout(ctx context.Context, key string) (Lockout, error)
	// UpdateLockout reads the key's lockout in a transaction, applies
	// update and stores the result. update gets Lockout{Key: key} when
	// there is none, and an expired one as stored: it judges expiry.
	// Concurrent updates of one key take turns, so none is lost and each
	// sees the one before it. An error from update aborts the transaction,
	// stores nothing and is returned wrapped. ErrInvalid when the result has
	// no ExpiresAt or negative Failures. A backend may run update more than
	// once (on a serialization failure), so update only computes.
	UpdateLockout(ctx context.Context, key string, update func(Lockout) (Lockout, error)) (Lockout, error)
	// DeleteLockout forgets the key's lockout (after a success, or when an
	// administrator lifts a lock); ErrNotFound when there is none.
	DeleteLockout(ctx context.Context, key string) error

	// DeleteExpiredRateLimits deletes the windows that ended, and the
	// lockouts that expired, before now, and returns how many rows it
	// deleted.
	DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int64, error)
}
