package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const totpColumns = `user_id, sealed_secret, created_at, confirmed_at, last_step`

func scanTOTPFactor(row pgx.Row) (storage.TOTPFactor, error) {
	var (
		f           storage.TOTPFactor
		confirmedAt *time.Time
	)
	if err := row.Scan(&f.UserID, &f.SealedSecret, &f.CreatedAt, &confirmedAt, &f.LastStep); err != nil {
		return storage.TOTPFactor{}, err
	}
	f.CreatedAt, f.ConfirmedAt = f.CreatedAt.UTC(), orZero(confirmedAt)
	return f, nil
}

// SaveTOTPFactor inserts f, or replaces the user's factor in the same
// statement when it is unconfirmed: the upsert's WHERE leaves a confirmed
// one alone and returns no row, which is ErrConflict. An unknown user fails
// the foreign key: ErrNotFound.
func (s *Store) SaveTOTPFactor(ctx context.Context, f storage.TOTPFactor) error {
	op := fmt.Sprintf("save TOTP factor of user %q", f.UserID)
	tag, err := s.q(ctx).Exec(ctx, `
		INSERT INTO totp_factors (`+totpColumns+`)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
			created_at = excluded.created_at, confirmed_at = excluded.confirmed_at,
			last_step = excluded.last_step
		WHERE totp_factors.confirmed_at IS NULL`,
		f.UserID, f.SealedSecret, timestamp(f.CreatedAt), nullTimestamp(f.ConfirmedAt), f.LastStep)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("%w: the user has a confirmed factor", storage.ErrConflict)
	}
	return mapError(op, err)
}

func (s *Store) GetTOTPFactor(ctx context.Context, userID string) (storage.TOTPFactor, error) {
	f, err := scanTOTPFactor(s.q(ctx).QueryRow(ctx,
		`SELECT `+totpColumns+` FROM totp_factors WHERE user_id = $1`, userID))
	return f, mapError(fmt.Sprintf("get TOTP factor of user %q", userID), err)
}

// UseTOTPStep advances last_step in one conditional UPDATE: the row lock
// makes concurrent callers take turns, and under READ COMMITTED a later one
// re-checks last_step < step against the committed row and updates nothing
// (TO-01). Nothing updated means an old step or no factor; a read tells
// which.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) (storage.TOTPFactor, error) {
	op := fmt.Sprintf("use TOTP step of user %q", userID)
	f, err := scanTOTPFactor(s.q(ctx).QueryRow(ctx, `
		UPDATE totp_factors SET last_step = $2, confirmed_at = coalesce(confirmed_at, $3)
		WHERE user_id = $1 AND last_step < $2
		RETURNING `+totpColumns, userID, step, timestamp(now)))
	if !errors.Is(err, pgx.ErrNoRows) {
		return f, mapError(op, err)
	}
	if _, err := s.GetTOTPFactor(ctx, userID); err != nil {
		return storage.TOTPFactor{}, fmt.Errorf("%s: %w", op, err)
	}
	return storage.TOTPFactor{}, fmt.Errorf("%s: %w: step used already", op, storage.ErrConflict)
}

func (s *Store) DeleteTOTPFactor(ctx context.Context, userID string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete TOTP factor of user %q", userID),
		`DELETE FROM totp_factors WHERE user_id = $1`, userID)
}

// ReplaceRecoveryCodes locks the user's row first, so that two
// replacements at once run one after the other (else each would delete
// only the old codes and both new sets would remain), and so that an
// unknown user is ErrNotFound even with no hashes. Hashes stay out of error
// messages.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		// NO KEY UPDATE: see CreateOneTimeToken.
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE`, userID).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO recovery_codes (user_id, hash, created_at)
			SELECT $1, h, $3 FROM unnest($2::text[]) AS h`,
			userID, nonNil(hashes), timestamp(now))
		return err
	})
	return mapError(fmt.Sprintf("replace recovery codes of user %q", userID), err)
}

// UseRecoveryCode marks the code used with a conditional UPDATE, which
// concurrent callers take turns at as in UseTOTPStep, then counts what is
// left, in one transaction.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	var remaining int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE recovery_codes SET used_at = $3
			WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`,
			userID, hash, timestamp(now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: no such unused code", storage.ErrNotFound)
		}
		return tx.QueryRow(ctx,
			`SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&remaining)
	})
	if err != nil {
		return 0, mapError(fmt.Sprintf("use recovery code of user %q", userID), err)
	}
	return remaining, nil
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.q(ctx).QueryRow(ctx,
		`SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, userID).Scan(&n)
	return n, mapError(fmt.Sprintf("count recovery codes of user %q", userID), err)
}

const passkeyColumns = `id, user_id, name, data, clone_warning, created_at, last_used_at`

func scanPasskey(row pgx.Row) (storage.Passkey, error) {
	var (
		p        storage.Passkey
		lastUsed *time.Time
	)
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.Data, &p.CloneWarning, &p.CreatedAt, &lastUsed); err != nil {
		return storage.Passkey{}, err
	}
	p.CreatedAt, p.LastUsedAt = p.CreatedAt.UTC(), orZero(lastUsed)
	return p, nil
}

// CreatePasskey stores p. A taken ID is ErrAlreadyExists, whoever holds it
// (WA-06); an ID longer than 1023 bytes fails its CHECK: ErrInvalid; an
// unknown user fails the foreign key: ErrNotFound.
func (s *Store) CreatePasskey(ctx context.Context, p storage.Passkey) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		p.ID, p.UserID, p.Name, p.Data, p.CloneWarning, timestamp(p.CreatedAt), nullTimestamp(p.LastUsedAt))
	return mapError(fmt.Sprintf("create passkey of user %q", p.UserID), err)
}

func (s *Store) GetPasskey(ctx context.Context, id []byte) (storage.Passkey, error) {
	p, err := scanPasskey(s.q(ctx).QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1`, id))
	return p, mapError("get passkey", err)
}

// ListPasskeys orders by creation, then ID for passkeys created at once.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	rows, _ := s.q(ctx).Query(ctx,
		`SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Passkey, error) { return scanPasskey(r) })
	return keys, mapError(fmt.Sprintf("list passkeys of user %q", userID), err)
}

// UpdatePasskey locks the row (FOR UPDATE), applies update and writes the
// columns that may change, so that concurrent sign-ins with one passkey
// each see the other's sign counter. update may run more than once (see
// inTx).
func (s *Store) UpdatePasskey(ctx context.Context, id []byte, update func(storage.Passkey) (storage.Passkey, error)) (storage.Passkey, error) {
	var out storage.Passkey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanPasskey(tx.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		p, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanPasskey(tx.QueryRow(ctx, `
			UPDATE passkeys SET name = $2, data = $3, clone_warning = $4, last_used_at = $5
			WHERE id = $1
			RETURNING `+passkeyColumns,
			id, p.Name, p.Data, p.CloneWarning, nullTimestamp(p.LastUsedAt)))
		return err
	})
	return out, mapError("update passkey", err)
}

// DeletePasskey deletes the passkey only if it is the user's: another
// user's is ErrNotFound and stays.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete passkey of user %q", userID),
		`DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
}

// A challenge of no known user has a NULL user_id; MFAChallenge.UserID is
// empty for it.
const mfaChallengeColumns = `id, purpose, coalesce(user_id, ''), data, created_at, expires_at`

func scanMFAChallenge(row pgx.Row) (storage.MFAChallenge, error) {
	var c storage.MFAChallenge
	if err := row.Scan(&c.ID, &c.Purpose, &c.UserID, &c.Data, &c.CreatedAt, &c.ExpiresAt); err != nil {
		return storage.MFAChallenge{}, err
	}
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return c, nil
}

// CreateMFAChallenge stores c. ErrAlreadyExists for a taken ID; an unknown
// user fails the foreign key: ErrNotFound. IDs stay out of error messages.
func (s *Store) CreateMFAChallenge(ctx context.Context, c storage.MFAChallenge) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO mfa_challenges (id, purpose, user_id, data, created_at, expires_at)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6)`,
		c.ID, c.Purpose, c.UserID, c.Data, timestamp(c.CreatedAt), timestamp(c.ExpiresAt))
	return mapError(fmt.Sprintf("create %s challenge", c.Purpose), err)
}

// GetMFAChallenge finds the challenge only if it is of purpose and expires
// after now.
func (s *Store) GetMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (storage.MFAChallenge, error) {
	c, err := scanMFAChallenge(s.q(ctx).QueryRow(ctx, `
		SELECT `+mfaChallengeColumns+` FROM mfa_challenges
		WHERE id = $1 AND purpose = $2 AND expires_at > $3`, id, purpose, timestamp(now)))
	return c, mapError(fmt.Sprintf("get %s challenge", purpose), err)
}

// TakeMFAChallenge deletes and returns the challenge in one statement: of
// concurrent callers the first deletes the row, and the others, waiting on
// its lock, find it gone and delete nothing (WA-01).
func (s *Store) TakeMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (storage.MFAChallenge, error) {
	c, err := scanMFAChallenge(s.q(ctx).QueryRow(ctx, `
		DELETE FROM mfa_challenges
		WHERE id = $1 AND purpose = $2 AND expires_at > $3
		RETURNING `+mfaChallengeColumns, id, purpose, timestamp(now)))
	return c, mapDeleteError(fmt.Sprintf("take %s challenge", purpose), err)
}

// DeleteExpiredMFAChallenges deletes challenges that expired strictly
// before now.
func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM mfa_challenges WHERE expires_at < $1`, timestamp(now))
	if err != nil {
		return 0, mapDeleteError("delete expired MFA challenges", err)
	}
	return tag.RowsAffected(), nil
}
