package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const oneTimeTokenColumns = `hash, purpose, user_id, email, binding, challenge, created_at, expires_at, used_at`

func scanOneTimeToken(row pgx.Row) (storage.OneTimeToken, error) {
	var (
		t      storage.OneTimeToken
		usedAt *time.Time
	)
	if err := row.Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, &t.Binding, &t.Challenge,
		&t.CreatedAt, &t.ExpiresAt, &usedAt); err != nil {
		return storage.OneTimeToken{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), orZero(usedAt)
	return t, nil
}

// CreateOneTimeToken stores t after marking the user's earlier unused
// tokens of t's purpose used (superseded) at t.CreatedAt, in one
// transaction. It locks the user's row first, so that two links requested
// at once cannot both stay valid, and so that an unknown user is
// ErrNotFound before anything is written. Hashes stay out of error
// messages.
func (s *Store) CreateOneTimeToken(ctx context.Context, t storage.OneTimeToken) error {
	op := fmt.Sprintf("create %s token of user %q", t.Purpose, t.UserID)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		// NO KEY UPDATE: it queues concurrent creators for one user but,
		// unlike FOR UPDATE, lets other transactions insert rows that
		// refer to the user meanwhile.
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, t.UserID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE one_time_tokens SET used_at = $3
			WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`,
			t.UserID, t.Purpose, timestamp(t.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO one_time_tokens (`+oneTimeTokenColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.Hash, t.Purpose, t.UserID, t.Email, t.Binding, t.Challenge,
			timestamp(t.CreatedAt), timestamp(t.ExpiresAt), nullTimestamp(t.UsedAt))
		return err
	})
	return mapError(op, err)
}

func (s *Store) GetOneTimeToken(ctx context.Context, hash string) (storage.OneTimeToken, error) {
	t, err := scanOneTimeToken(s.q(ctx).QueryRow(ctx,
		`SELECT `+oneTimeTokenColumns+` FROM one_time_tokens WHERE hash = $1`, hash))
	return t, mapError("get one-time token", err)
}

// UseOneTimeToken marks the token used in one conditional UPDATE: the row
// lock makes concurrent callers take turns, and under READ COMMITTED each
// later one re-checks used_at IS NULL against the committed row, finds it
// set and updates nothing (ML-02). Nothing updated means the token is used,
// expired or unknown; a read tells which.
func (s *Store) UseOneTimeToken(ctx context.Context, hash string, now time.Time) (storage.OneTimeToken, error) {
	const op = "use one-time token"
	t, err := scanOneTimeToken(s.q(ctx).QueryRow(ctx, `
		UPDATE one_time_tokens SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING `+oneTimeTokenColumns, hash, timestamp(now)))
	if !errors.Is(err, pgx.ErrNoRows) {
		return t, mapError(op, err)
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
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM one_time_tokens WHERE expires_at < $1`, timestamp(now))
	if err != nil {
		return 0, mapDeleteError("delete expired one-time tokens", err)
	}
	return tag.RowsAffected(), nil
}
