package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// HitRateLimit counts a hit in one statement: an INSERT that, when the key
// has a window already, restarts it if it ended by now and otherwise adds
// the hit, up to limit+1. SQLite runs writes one at a time, so concurrent
// hits on one key each see the one before (SECURITY.md LG-04). Keys stay
// out of error messages: they stand for emails and IP addresses.
func (s *Store) HitRateLimit(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (storage.RateLimitState, error) {
	if limit < 1 || window <= 0 {
		return storage.RateLimitState{}, fmt.Errorf("hit rate limit: %w: limit %d, window %s", storage.ErrInvalid, limit, window)
	}
	st := storage.RateLimitState{Key: key}
	err := s.q(ctx).QueryRowContext(ctx, `
		INSERT INTO rate_limits (key, hits, window_start, window_end) VALUES (?1, 1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET
			hits = CASE WHEN rate_limits.window_end <= ?2 THEN 1 ELSE min(rate_limits.hits + 1, ?4 + 1) END,
			window_start = CASE WHEN rate_limits.window_end <= ?2 THEN ?2 ELSE rate_limits.window_start END,
			window_end = CASE WHEN rate_limits.window_end <= ?2 THEN ?3 ELSE rate_limits.window_end END
		RETURNING hits, window_start, window_end`,
		key, formatTime(now), formatTime(now.Add(window)), limit,
	).Scan(&st.Hits, timeColumn{&st.WindowStart}, timeColumn{&st.WindowEnd})
	if err != nil {
		return storage.RateLimitState{}, fmt.Errorf("hit rate limit: %w", dbError(err, storage.ErrNotFound))
	}
	st.Allowed = st.Hits <= limit
	return st, nil
}

const lockoutColumns = `key, failures, locked_until, expires_at`

func scanLockout(row scanner) (storage.Lockout, error) {
	var l storage.Lockout
	err := row.Scan(&l.Key, &l.Failures, nullTimeColumn{&l.LockedUntil}, timeColumn{&l.ExpiresAt})
	return l, dbError(err, storage.ErrNotFound)
}

func (s *Store) GetLockout(ctx context.Context, key string) (storage.Lockout, error) {
	l, err := scanLockout(s.q(ctx).QueryRowContext(ctx, `SELECT `+lockoutColumns+` FROM lockouts WHERE key = ?`, key))
	if err != nil {
		return storage.Lockout{}, fmt.Errorf("get lockout: %w", err)
	}
	return l, nil
}

// UpdateLockout reads, updates and writes the lockout in one transaction,
// which BEGIN IMMEDIATE makes the only writer until it ends (see dsn).
func (s *Store) UpdateLockout(ctx context.Context, key string, update func(storage.Lockout) (storage.Lockout, error)) (storage.Lockout, error) {
	var l storage.Lockout
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanLockout(tx.QueryRowContext(ctx, `SELECT `+lockoutColumns+` FROM lockouts WHERE key = ?`, key))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			old = storage.Lockout{Key: key}
		case err != nil:
			return err
		}
		if l, err = update(old); err != nil {
			return err
		}
		if l.ExpiresAt.IsZero() {
			return fmt.Errorf("%w: no expiry", storage.ErrInvalid)
		}
		l.Key, l.ExpiresAt = key, utc(l.ExpiresAt)
		if !l.LockedUntil.IsZero() {
			l.LockedUntil = utc(l.LockedUntil)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO lockouts (`+lockoutColumns+`) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
				locked_until = excluded.locked_until, expires_at = excluded.expires_at`,
			key, l.Failures, nullTime(l.LockedUntil), formatTime(l.ExpiresAt))
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.Lockout{}, fmt.Errorf("update lockout: %w", err)
	}
	return l, nil
}

func (s *Store) DeleteLockout(ctx context.Context, key string) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM lockouts WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete lockout: %w", err)
	}
	return nil
}

// DeleteExpiredRateLimits deletes ended windows and expired lockouts in one
// transaction. Stored times sort as text, so the indexes serve the
// comparisons.
func (s *Store) DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, query := range []string{
			`DELETE FROM rate_limits WHERE window_end < ?`,
			`DELETE FROM lockouts WHERE expires_at < ?`,
		} {
			res, err := tx.ExecContext(ctx, query, formatTime(now))
			if err != nil {
				return dbError(err, storage.ErrConflict)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired rate limits: %w", err)
	}
	return total, nil
}
