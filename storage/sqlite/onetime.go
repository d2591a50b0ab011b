package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const oneTimeTokenColumns = `hash, purpose, user_id, email, binding, challenge, created_at, expires_at, used_at`

func scanOneTimeToken(row scanner) (storage.OneTimeToken, error) {
	var t storage.OneTimeToken
	err := row.Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, &t.Binding, &t.Challenge,
		timeColumn{&t.CreatedAt}, timeColumn{&t.ExpiresAt}, nullTimeColumn{&t.UsedAt})
	return t, dbError(err, storage.ErrNotFound)
}

// CreateOneTimeToken marks the user's earlier unused tokens of t's purpose
// used (superseded) at t.CreatedAt and stores t, in one transaction, which
// BEGIN IMMEDIATE makes the only writer until it ends (see dsn). An unknown
// user fails the insert's foreign key: ErrNotFound. Hashes stay out of
// error messages.
func (s *Store) CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			UPDATE one_time_tokens SET used_at = ?
			WHERE user_id = ? AND purpose = ? AND used_at IS NULL`,
			formatTime(t.CreatedAt), t.UserID, t.Purpose); err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO one_time_tokens (`+oneTimeTokenColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Hash, t.Purpose, t.UserID, t.Email, t.Binding, t.Challenge,
			formatTime(t.CreatedAt), formatTime(t.ExpiresAt), nullTime(t.UsedAt))
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("create %s token of user %s: %w", t.Purpose, t.UserID, err)
	}
	return nil
}

func (s *Store) GetOneTimeToken(ctx context.Context, hash string) (storage.OneTimeToken, error) {
	t, err := scanOneTimeToken(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+oneTimeTokenColumns+` FROM one_time_tokens WHERE hash = ?`, hash))
	if err != nil {
		return storage.OneTimeToken{}, fmt.Errorf("get one-time token: %w", err)
	}
	return t, nil
}

// UseOneTimeToken marks the token used in one conditional UPDATE. SQLite
// runs writes one at a time, so of concurrent callers the first sets
// used_at and the others find it set and update nothing (ML-02). Nothing
// updated means the token is used, expired or unknown; a read tells which.
func (s *Store) UseOneTimeToken(ctx context.Context, hash string, now time.Time) (storage.OneTimeToken, error) {
	const op = "use one-time token"
	t, err := scanOneTimeToken(s.q(ctx).QueryRowContext(ctx, `
		UPDATE one_time_tokens SET used_at = ?2
		WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2
		RETURNING `+oneTimeTokenColumns, hash, formatTime(now)))
	if !errors.Is(err, storage.ErrNotFound) {
		if err != nil {
			return storage.OneTimeToken{}, fmt.Errorf("%s: %w", op, err)
		}
		return t, nil
	}
	t, err = s.GetOneTimeToken(ctx, hash)
	switch {
	case err != nil:
		return storage.OneTimeToken{}, fmt.Errorf("%s: %w", op, err)
	case !t.UsedAt.IsZero():
		return storage.OneTimeToken{}, fmt.Errorf("%s: %w: used already", op, storage.ErrConflict)
	}
	return storage.OneTimeToken{}, fmt.Errorf("%s: %w: expired", op, storage.ErrConflict)
}

// DeleteExpiredOneTimeTokens deletes tokens that expired strictly before
// now, used or not.
func (s *Store) DeleteExpiredOneTimeTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `DELETE FROM one_time_tokens WHERE expires_at < ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired one-time tokens: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired one-time tokens: %w", err)
	}
	return n, nil
}
