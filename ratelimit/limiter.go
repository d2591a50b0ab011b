package ratelimit

import (
	"github.com/foyerdev/foyer/keyed"

	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// Options configures New.
type Options struct {
	Store storage.RateLimits
	// HashKey keys the HMAC that turns callers' keys, which may be emails
	// and IP addresses, into stored keys: at least 16 bytes, the same on
	// every instance. DeriveKey makes it from the encryption key.
	HashKey []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter applies Policies and Lockouts with counters kept in the store,
// shared by every instance. It is safe for concurrent use.
type Limiter struct {
	store   storage.RateLimits
	hashKey []byte
	now     func() time.Time
}

// New returns a Limiter over opts.Store.
func New(opts Options) (*Limiter, error) {
	if opts.Store == nil {
		return nil, errors.New("rate limiter: no store")
	}
	if len(opts.HashKey) < 16 {
		return nil, errors.New("rate limiter: hash key shorter than 16 bytes")
	}
	l := &Limiter{store: opts.Store, hashKey: append([]byte(nil), opts.HashKey...), now: opts.Now}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// hashKeyInfo is the HKDF info that separates the key-hashing key from
// every other key derived from the encryption key.
const hashKeyInfo = "foyer rate limit keys v1"

// DeriveKey derives the 32-byte HashKey from the operator's encryption key
// (secrets.encryption_key) with HKDF-SHA256 (RFC 5869). Changing the
// encryption key starts every count afresh.
func DeriveKey(encryptionKey []byte) []byte {
	key, err := hkdf.Key(sha256.New, encryptionKey, nil, hashKeyInfo, sha256.Size)
	if err != nil {
		// Only a keyLength above 255 hash lengths fails (crypto/hkdf docs).
		panic("ratelimit: derive key: " + err.Error())
	}
	return key
}

// Decision is the outcome of a check. The zero Decision refuses, and every
// error comes with it: a limiter that cannot reach its store fails closed.
type Decision struct {
	Allowed bool
	// RetryAfter is, when refused by a limit, how long until the key may
	// try again: for the Retry-After header (RFC 9110 §10.2.3, rounded up to
	// seconds) and for telling a locked-out person when to come back. It is
	// the same whether or not an account exists.
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter as a Retry-After header's value.
func (d Decision) RetryAfterSeconds() int { return CeilSeconds(d.RetryAfter) }

// CeilSeconds is d rounded up to whole seconds, at least 1: a wait told to
// a client or a person is never "0 seconds".
func CeilSeconds(d time.Duration) int { return max(int((d+time.Second-1)/time.Second), 1) }

// Allow counts one call of key under p and reports whether it is within
// the limit. Counting and deciding are one atomic step in the store, so of
// concurrent calls no more than p.Limit are allowed (SECURITY.md LG-04).
// On any error, an invalid policy or a store that fails, the Decision
// refuses and the error says why (wrapping storage.ErrUnavailable when the
// database is away): answer 503, never go ahead.
func (l *Limiter) Allow(ctx context.Context, p Policy, key string) (Decision, error) {
	if err := p.Validate(); err != nil {
		return Decision{}, err
	}
	now := l.now()
	st, err := l.store.HitRateLimit(ctx, l.storedKey(p.Name, key), now, p.Window, p.Limit)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", p.Name, err)
	}
	if !st.Allowed {
		return Decision{RetryAfter: max(st.WindowEnd.Sub(now), 0)}, nil
	}
	return Decision{Allowed: true}, nil
}

// errLocked aborts a lockout update that refuses, so that it writes
// nothing.
var errLocked = errors.New("locked")

// Attempt asks whether key may try its secret now under p, and counts the
// attempt as a failure before the secret is checked: call Success when it
// was right. Counting first is what makes concurrent guesses count (LG-04):
// of any number of attempts at once, no more than p.Free go ahead before
// the first delay; and a request that dies halfway counts as the failure it
// may have been. Refused attempts are not counted, so a lock ends when it
// says it will. Errors are as for Allow: the attempt is refused.
func (l *Limiter) Attempt(ctx context.Context, p Lockout, key string) (Decision, error) {
	if err := p.Validate(); err != nil {
		return Decision{}, err
	}
	now := l.now()
	var refused Decision
	_, err := l.store.UpdateLockout(ctx, l.storedKey(p.Name, key), func(rec storage.Lockout) (storage.Lockout, error) {
		if !now.Before(rec.ExpiresAt) {
			rec = storage.Lockout{Key: rec.Key} // none, or forgotten
		}
		if now.Before(rec.LockedUntil) {
			refused = Decision{RetryAfter: rec.LockedUntil.Sub(now)}
			return rec, errLocked
		}
		rec.Failures++
		rec.LockedUntil = now.Add(p.wait(rec.Failures))
		rec.ExpiresAt = rec.LockedUntil.Add(p.ForgetAfter)
		return rec, nil
	})
	switch {
	case errors.Is(err, errLocked):
		return refused, nil
	case err != nil:
		return Decision{}, fmt.Errorf("rate limit %s: %w", p.Name, err)
	}
	return Decision{Allowed: true}, nil
}

// Success forgets key's failures under p after its secret was right. An
// administrator lifting a lock (LG-03) calls it too. Call it for the key
// that proved the secret (the account), never for a shared one such as an
// IP address, which one right password would otherwise clear for many
// wrong ones.
func (l *Limiter) Success(ctx context.Context, p Lockout, key string) error {
	err := l.store.DeleteLockout(ctx, l.storedKey(p.Name, key))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("rate limit %s: %w", p.Name, err)
	}
	return nil
}

// Status reports whether key could attempt now under p, without counting
// anything: for an account page or an administrator.
func (l *Limiter) Status(ctx context.Context, p Lockout, key string) (Decision, error) {
	now := l.now()
	rec, err := l.store.GetLockout(ctx, l.storedKey(p.Name, key))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Decision{Allowed: true}, nil
	case err != nil:
		return Decision{}, fmt.Errorf("rate limit %s: %w", p.Name, err)
	case now.Before(rec.ExpiresAt) && now.Before(rec.LockedUntil):
		return Decision{RetryAfter: rec.LockedUntil.Sub(now)}, nil
	}
	return Decision{Allowed: true}, nil
}

// Sweep deletes the windows and lockouts that are over and returns how many
// it deleted. Run it now and then (hourly is plenty); nothing else removes
// them.
func (l *Limiter) Sweep(ctx context.Context) (int64, error) {
	n, err := l.store.DeleteExpiredRateLimits(ctx, l.now())
	if err != nil {
		return 0, fmt.Errorf("sweep rate limits: %w", err)
	}
	return n, nil
}

// storedKey is what the store keeps for key under the policy called name:
// the name, readable, then HMAC-SHA256(HashKey, name NUL key) in base64url.
// The key itself, often an email or an IP address, is never stored, and a
// stolen database without the hash key cannot be checked against a list of
// addresses.
func (l *Limiter) storedKey(name, key string) string {
	return name + ":" + keyed.Hash(l.hashKey, name, key)
}
