package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const totpColumns = `user_id, sealed_secret, created_at, confirmed_at, last_step`

func scanTOTPFactor(row scanner) (storage.TOTPFactor, error) {
	var f storage.TOTPFactor
	err := row.Scan(&f.UserID, &f.SealedSecret, timeColumn{&f.CreatedAt}, nullTimeColumn{&f.ConfirmedAt}, &f.LastStep)
	return f, dbError(err, storage.ErrNotFound)
}

// SaveTOTPFactor inserts f, or replaces the user's factor in the same
// statement when it is unconfirmed: the upsert's WHERE leaves a confirmed
// one alone and changes no row, which is ErrConflict. An unknown user fails
// the foreign key: ErrNotFound.
func (s *Store) SaveTOTPFactor(ctx context.Context, f storage.TOTPFactor) error {
	res, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO totp_factors (`+totpColumns+`)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,
			created_at = excluded.created_at, confirmed_at = excluded.confirmed_at,
			last_step = excluded.last_step
		WHERE totp_factors.confirmed_at IS NULL`,
		f.UserID, f.SealedSecret, formatTime(f.CreatedAt), nullTime(f.ConfirmedAt), f.LastStep)
	if err != nil {
		return fmt.Errorf("save TOTP factor of user %s: %w", f.UserID, dbError(err, storage.ErrNotFound))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("save TOTP factor of user %s: %w", f.UserID, err)
	}
	if n == 0 {
		return fmt.Errorf("save TOTP factor of user %s: %w: the user has a confirmed factor", f.UserID, storage.ErrConflict)
	}
	return nil
}

func (s *Store) GetTOTPFactor(ctx context.Context, userID string) (storage.TOTPFactor, error) {
	f, err := scanTOTPFactor(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+totpColumns+` FROM totp_factors WHERE user_id = ?`, userID))
	if err != nil {
		return storage.TOTPFactor{}, fmt.Errorf("get TOTP factor of user %s: %w", userID, err)
	}
	return f, nil
}

// UseTOTPStep advances last_step in one conditional UPDATE. SQLite runs
// writes one at a time, so of concurrent callers with one step the first
// advances it and the others find last_step < step false (TO-01). Nothing
// updated means an old step or no factor; a read tells which.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) (storage.TOTPFactor, error) {
	op := "use TOTP step of user " + userID
	f, err := scanTOTPFactor(s.q(ctx).QueryRowContext(ctx, `
		UPDATE totp_factors SET last_step = ?2, confirmed_at = COALESCE(confirmed_at, ?3)
		WHERE user_id = ?1 AND last_step < ?2
		RETURNING `+totpColumns, userID, step, formatTime(now)))
	if !errors.Is(err, storage.ErrNotFound) {
		if err != nil {
			return storage.TOTPFactor{}, fmt.Errorf("%s: %w", op, err)
		}
		return f, nil
	}
	if _, err := s.GetTOTPFactor(ctx, userID); err != nil {
		return storage.TOTPFactor{}, fmt.Errorf("%s: %w", op, err)
	}
	return storage.TOTPFactor{}, fmt.Errorf("%s: %w: step used already", op, storage.ErrConflict)
}

func (s *Store) DeleteTOTPFactor(ctx context.Context, userID string) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM totp_factors WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete TOTP factor of user %s: %w", userID, err)
	}
	return nil
}

// ReplaceRecoveryCodes deletes the user's codes and inserts hashes in one
// transaction, which BEGIN IMMEDIATE makes the only writer until it ends
// (see dsn). An unknown user is ErrNotFound, even with no hashes. Hashes
// stay out of error messages.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, userID)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("user: %w", storage.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return dbError(err, storage.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO recovery_codes (user_id, hash, created_at)
			SELECT ?1, value, ?3 FROM json_each(?2)`,
			userID, encodeList(hashes), formatTime(now))
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return fmt.Errorf("replace recovery codes of user %s: %w", userID, err)
	}
	return nil
}

// UseRecoveryCode marks the code used with a conditional UPDATE, then
// counts what is left, in one transaction. Writers take turns (see dsn), so
// of concurrent callers with one code the first marks it and the others
// find it used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	var remaining int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE recovery_codes SET used_at = ?
			WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
			formatTime(now), userID, hash)
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: no such unused code", storage.ErrNotFound)
		}
		remaining, err = countRecoveryCodes(ctx, tx, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("use recovery code of user %s: %w", userID, err)
	}
	return remaining, nil
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	n, err := countRecoveryCodes(ctx, s.q(ctx), userID)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes of user %s: %w", userID, err)
	}
	return n, nil
}

func countRecoveryCodes(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&n)
	return n, dbError(err, storage.ErrNotFound)
}

const passkeyColumns = `id, user_id, name, data, clone_warning, created_at, last_used_at`

func scanPasskey(row scanner) (storage.Passkey, error) {
	var p storage.Passkey
	err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.Data, &p.CloneWarning,
		timeColumn{&p.CreatedAt}, nullTimeColumn{&p.LastUsedAt})
	return p, dbError(err, storage.ErrNotFound)
}

// CreatePasskey stores p. A taken ID is ErrAlreadyExists, whoever holds it
// (WA-06); an ID longer than 1023 bytes fails its CHECK: ErrInvalid; an
// unknown user fails the foreign key: ErrNotFound.
func (s *Store) CreatePasskey(ctx context.Context, p storage.Passkey) error {
	_, err := s.q(ctx).ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.Name, p.Data, p.CloneWarning, formatTime(p.CreatedAt), nullTime(p.LastUsedAt))
	if err != nil {
		return fmt.Errorf("create passkey of user %s: %w", p.UserID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

func (s *Store) GetPasskey(ctx context.Context, id []byte) (storage.Passkey, error) {
	p, err := getPasskey(ctx, s.q(ctx), id)
	if err != nil {
		return storage.Passkey{}, fmt.Errorf("get passkey: %w", err)
	}
	return p, nil
}

func getPasskey(ctx context.Context, q querier, id []byte) (storage.Passkey, error) {
	return scanPasskey(q.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = ?`, id))
}

// ListPasskeys orders by creation, then ID for passkeys created at once.
func (s *Store) ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list passkeys of user %s: %w", userID, dbError(err, storage.ErrNotFound))
	}
	keys, err := collect(rows, scanPasskey)
	if err != nil {
		return nil, fmt.Errorf("list passkeys of user %s: %w", userID, err)
	}
	return keys, nil
}

// UpdatePasskey applies update to the stored passkey under the write lock
// (BEGIN IMMEDIATE, see dsn), so concurrent callers run one after the
// other, each reading what the one before wrote. Only the columns that may
// change are written.
func (s *Store) UpdatePasskey(ctx context.Context, id []byte, update func(storage.Passkey) (storage.Passkey, error)) (storage.Passkey, error) {
	var out storage.Passkey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getPasskey(ctx, tx, id)
		if err != nil {
			return err
		}
		p, err := update(old)
		if err != nil {
			return err
		}
		out, err = scanPasskey(tx.QueryRowContext(ctx, `
			UPDATE passkeys SET name = ?, data = ?, clone_warning = ?, last_used_at = ?
			WHERE id = ?
			RETURNING `+passkeyColumns,
			p.Name, p.Data, p.CloneWarning, nullTime(p.LastUsedAt), id))
		return err
	})
	if err != nil {
		return storage.Passkey{}, fmt.Errorf("update passkey: %w", err)
	}
	return out, nil
}

// DeletePasskey deletes the passkey only if it is the user's: another
// user's is ErrNotFound and stays.
func (s *Store) DeletePasskey(ctx context.Context, userID string, id []byte) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID); err != nil {
		return fmt.Errorf("delete passkey of user %s: %w", userID, err)
	}
	return nil
}

// A challenge of no known user has a NULL user_id; MFAChallenge.UserID is
// empty for it.
const mfaChallengeColumns = `id, purpose, COALESCE(user_id, ''), data, created_at, expires_at`

func scanMFAChallenge(row scanner) (storage.MFAChallenge, error) {
	var c storage.MFAChallenge
	err := row.Scan(&c.ID, &c.Purpose, &c.UserID, &c.Data, timeColumn{&c.CreatedAt}, timeColumn{&c.ExpiresAt})
	return c, dbError(err, storage.ErrNotFound)
}

// CreateMFAChallenge stores c. ErrAlreadyExists for a taken ID; an unknown
// user fails the foreign key: ErrNotFound. IDs stay out of error messages.
func (s *Store) CreateMFAChallenge(ctx context.Context, c storage.MFAChallenge) error {
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO mfa_challenges (id, purpose, user_id, data, created_at, expires_at)
		VALUES (?, ?, NULLIF(?, ''), ?, ?, ?)`,
		c.ID, c.Purpose, c.UserID, c.Data, formatTime(c.CreatedAt), formatTime(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create %s challenge: %w", c.Purpose, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// GetMFAChallenge finds the challenge only if it is of purpose and expires
// after now.
func (s *Store) GetMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (storage.MFAChallenge, error) {
	c, err := scanMFAChallenge(s.q(ctx).QueryRowContext(ctx, `
		SELECT `+mfaChallengeColumns+` FROM mfa_challenges
		WHERE id = ? AND purpose = ? AND expires_at > ?`, id, purpose, formatTime(now)))
	if err != nil {
		return storage.MFAChallenge{}, fmt.Errorf("get %s challenge: %w", purpose, err)
	}
	return c, nil
}

// TakeMFAChallenge deletes and returns the challenge in one statement.
// SQLite runs writes one at a time, so of concurrent callers the first
// deletes the row and the others find none (WA-01).
func (s *Store) TakeMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (storage.MFAChallenge, error) {
	c, err := scanMFAChallenge(s.q(ctx).QueryRowContext(ctx, `
		DELETE FROM mfa_challenges
		WHERE id = ? AND purpose = ? AND expires_at > ?
		RETURNING `+mfaChallengeColumns, id, purpose, formatTime(now)))
	if err != nil {
		return storage.MFAChallenge{}, fmt.Errorf("take %s challenge: %w", purpose, err)
	}
	return c, nil
}

// DeleteExpiredMFAChallenges deletes challenges that expired strictly
// before now.
func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `DELETE FROM mfa_challenges WHERE expires_at < ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired MFA challenges: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired MFA challenges: %w", err)
	}
	return n, nil
}
