package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

// HitRateLimit counts a hit in one statement: an INSERT that, when the key
// has a window already, restarts it if it ended by now and otherwise adds
// the hit, up to limit+1. ON CONFLICT DO UPDATE locks the row, so
// concurrent hits on one key take turns and each sees the one before
// (SECURITY.md LG-04); a second inserter of a new key waits for the first
// and then updates its row. Keys stay out of error messages: they stand for
// emails and IP addresses.
func (s *Store) HitRateLimit(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (storage.RateLimitState, error) {
	if limit < 1 || window <= 0 {
		return storage.RateLimitState{}, fmt.Errorf("hit rate limit: %w: limit %d, window %s", storage.ErrInvalid, limit, window)
	}
	st := storage.RateLimitState{Key: key}
	err := s.q(ctx).QueryRow(ctx, `
		INSERT INTO rate_limits AS r (key, hits, window_start, window_end) VALUES ($1, 1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET
			hits = CASE WHEN r.window_end <= $2 THEN 1 ELSE least(r.hits + 1, $4::integer + 1) END,
			window_start = CASE WHEN r.window_end <= $2 THEN $2 ELSE r.window_start END,
			window_end = CASE WHEN r.window_end <= $2 THEN $3 ELSE r.window_end END
		RETURNING hits, window_start, window_end`,
		key, timestamp(now), timestamp(now.Add(window)), limit,
	).Scan(&st.Hits, &st.WindowStart, &st.WindowEnd)
	if err != nil {
		return storage.RateLimitState{}, mapError("hit rate limit", err)
	}
	st.WindowStart, st.WindowEnd = st.WindowStart.UTC(), st.WindowEnd.UTC()
	st.Allowed = st.Hits <= limit
	return st, nil
}

const lockoutColumns = `key, failures, locked_until, expires_at`

func scanLockout(row pgx.Row) (storage.Lockout, error) {
	var (
		l                      storage.Lockout
		lockedUntil, expiresAt *time.Time
	)
	err := row.Scan(&l.Key, &l.Failures, &lockedUntil, &expiresAt)
	l.LockedUntil, l.ExpiresAt = orZero(lockedUntil), orZero(expiresAt)
	return l, err
}

func (s *Store) GetLockout(ctx context.Context, key string) (storage.Lockout, error) {
	l, err := scanLockout(s.q(ctx).QueryRow(ctx, `SELECT `+lockoutColumns+` FROM lockouts WHERE key = $1`, key))
	return l, mapError("get lockout", err)
}

// UpdateLockout locks the key's row for the transaction, inserting a
// placeholder (no expiry) when there is none, so that concurrent first
// failures of a key queue on one row lock rather than race to insert. The
// update that follows fills the placeholder in, or a rollback removes it.
func (s *Store) UpdateLockout(ctx context.Context, key string, update func(storage.Lockout) (storage.Lockout, error)) (storage.Lockout, error) {
	var out storage.Lockout
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// DO UPDATE rather than DO NOTHING: it locks an existing row and
		// returns it, which DO NOTHING does not.
		old, err := scanLockout(tx.QueryRow(ctx, `
			INSERT INTO lockouts (key) VALUES ($1)
			ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key
			RETURNING `+lockoutColumns, key))
		if err != nil {
			return err
		}
		if old.ExpiresAt.IsZero() { // the placeholder
			old = storage.Lockout{Key: key}
		}
		l, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		if l.ExpiresAt.IsZero() {
			return fmt.Errorf("%w: no expiry", storage.ErrInvalid)
		}
		out, err = scanLockout(tx.QueryRow(ctx, `
			UPDATE lockouts SET failures = $2, locked_until = $3, expires_at = $4
			WHERE key = $1
			RETURNING `+lockoutColumns,
			key, l.Failures, nullTimestamp(l.LockedUntil), timestamp(l.ExpiresAt)))
		return err
	})
	return out, mapError("update lockout", err)
}

func (s *Store) DeleteLockout(ctx context.Context, key string) error {
	return deleteOne(ctx, s.q(ctx), "delete lockout", `DELETE FROM lockouts WHERE key = $1`, key)
}

// DeleteExpiredRateLimits deletes ended windows and expired lockouts in one
// statement. Placeholder lockouts (no expiry yet) exist only inside an
// UpdateLockout transaction and are never deleted here.
func (s *Store) DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.q(ctx).QueryRow(ctx, `
		WITH windows AS (
			DELETE FROM rate_limits WHERE window_end < $1 RETURNING 1
		), lockouts AS (
			DELETE FROM lockouts WHERE expires_at < $1 RETURNING 1
		)
		SELECT (SELECT count(*) FROM windows) + (SELECT count(*) FROM lockouts)`, timestamp(now)).Scan(&n)
	if err != nil {
		return 0, mapDeleteError("delete expired rate limits", err)
	}
	return n, nil
}
