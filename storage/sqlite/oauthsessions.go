package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const oauthSessionColumns = `kind, signature, request_id, client_id, subject, active, requested_at, expires_at, request`

func scanOAuthSession(row scanner) (storage.OAuthSession, error) {
	var o storage.OAuthSession
	err := row.Scan(&o.Kind, &o.Signature, &o.RequestID, &o.ClientID, &o.Subject, &o.Active,
		timeColumn{&o.RequestedAt}, timeColumn{&o.ExpiresAt}, &o.Request)
	return o, err
}

// CreateOAuthSession stores o. ErrAlreadyExists for a taken (Kind,
// Signature); ErrNotFound when the client does not exist.
func (s *Store) CreateOAuthSession(ctx context.Context, o storage.OAuthSession) error {
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO oauth_sessions (`+oauthSessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.Kind, o.Signature, o.RequestID, o.ClientID, o.Subject, o.Active,
		formatTime(o.RequestedAt), formatTime(o.ExpiresAt), o.Request)
	if err != nil {
		return fmt.Errorf("create %s session of request %s: %w", o.Kind, o.RequestID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// GetOAuthSession returns the session, active or not. The signature stays
// out of error messages: it identifies a live token.
func (s *Store) GetOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) (storage.OAuthSession, error) {
	o, err := scanOAuthSession(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+oauthSessionColumns+` FROM oauth_sessions WHERE kind = ? AND signature = ?`, kind, signature))
	if err != nil {
		return storage.OAuthSession{}, fmt.Errorf("get %s session: %w", kind, dbError(err, storage.ErrNotFound))
	}
	return o, nil
}

// DeactivateOAuthSession clears active in one conditional UPDATE. SQLite runs
// writes one at a time, so of concurrent callers exactly one finds the row
// active (SECURITY.md DB-01); the others change nothing and learn from a
// second look whether the row was used (ErrConflict) or is missing.
func (s *Store) DeactivateOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) error {
	q := s.q(ctx)
	res, err := q.ExecContext(ctx,
		`UPDATE oauth_sessions SET active = 0 WHERE kind = ? AND signature = ? AND active`, kind, signature)
	if err != nil {
		return fmt.Errorf("deactivate %s session: %w", kind, dbError(err, storage.ErrNotFound))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("deactivate %s session: %w", kind, err)
	}
	if n == 1 {
		return nil
	}
	found, err := exists(ctx, q, `SELECT EXISTS (SELECT 1 FROM oauth_sessions WHERE kind = ? AND signature = ?)`, kind, signature)
	switch {
	case err != nil:
		return fmt.Errorf("deactivate %s session: %w", kind, err)
	case found:
		return fmt.Errorf("deactivate %s session: already inactive: %w", kind, storage.ErrConflict)
	}
	return fmt.Errorf("deactivate %s session: %w", kind, storage.ErrNotFound)
}

func (s *Store) DeleteOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) error {
	err := deleteOne(ctx, s.q(ctx), `DELETE FROM oauth_sessions WHERE kind = ? AND signature = ?`, kind, signature)
	if err != nil {
		return fmt.Errorf("delete %s session: %w", kind, err)
	}
	return nil
}

// RevokeOAuthSessions deactivates the active sessions of the given kinds
// that belong to requestID and returns how many. ErrInvalid without kinds:
// revoking nothing by mistake would leave a token family alive.
func (s *Store) RevokeOAuthSessions(ctx context.Context, requestID string, kinds ...storage.GrantKind) (int64, error) {
	if len(kinds) == 0 {
		return 0, fmt.Errorf("revoke sessions of request %s: no kinds given: %w", requestID, storage.ErrInvalid)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	res, err := s.q(ctx).ExecContext(ctx, `
		UPDATE oauth_sessions SET active = 0
		WHERE request_id = ? AND active AND kind IN (SELECT value FROM json_each(?))`,
		requestID, encodeList(names))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of request %s: %w", requestID, dbError(err, storage.ErrNotFound))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of request %s: %w", requestID, err)
	}
	return n, nil
}

// RevokeGrant deactivates the grant's token sessions and records the grant
// in one transaction.
func (s *Store) RevokeGrant(ctx context.Context, requestID string, until time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			UPDATE oauth_sessions SET active = 0
			WHERE request_id = ? AND active AND kind IN (?, ?)`,
			requestID, storage.KindAccessToken, storage.KindRefreshToken); err != nil {
			return dbError(err, storage.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO revoked_grants (request_id, expires_at) VALUES (?, ?)
			ON CONFLICT (request_id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
			requestID, formatTime(until))
		return dbError(err, storage.ErrInvalid)
	})
	if err != nil {
		return fmt.Errorf("revoke grant %s: %w", requestID, err)
	}
	return nil
}

// RevokeUserGrants ends the subject's grants in one transaction.
func (s *Store) RevokeUserGrants(ctx context.Context, subject string, until time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			UPDATE oauth_sessions SET active = 0
			WHERE request_id IN (SELECT request_id FROM oauth_sessions WHERE subject = ?)
			AND active AND kind IN (?, ?)`,
			subject, storage.KindAccessToken, storage.KindRefreshToken); err != nil {
			return dbError(err, storage.ErrConflict)
		}
		res, err := tx.ExecContext(ctx, `
			INSERT INTO revoked_grants (request_id, expires_at)
			SELECT DISTINCT request_id, ? FROM oauth_sessions WHERE subject = ? AND true
			ON CONFLICT (request_id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
			formatTime(until), subject)
		if err != nil {
			return dbError(err, storage.ErrInvalid)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("revoke grants of %s: %w", subject, err)
	}
	return n, nil
}

func (s *Store) GrantRevoked(ctx context.Context, requestID string) (bool, error) {
	found, err := exists(ctx, s.q(ctx), `SELECT EXISTS (SELECT 1 FROM revoked_grants WHERE request_id = ?)`, requestID)
	if err != nil {
		return false, fmt.Errorf("read revoked grant %s: %w", requestID, err)
	}
	return found, nil
}

func (s *Store) RevokedGrants(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `SELECT request_id FROM revoked_grants WHERE expires_at >= ?`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("list revoked grants: %w", dbError(err, storage.ErrNotFound))
	}
	ids, err := collect(rows, func(r scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("list revoked grants: %w", err)
	}
	return ids, nil
}

// DeleteExpiredOAuthSessions deletes the sessions, revoked grants and
// assertion jtis that expired before now, in one transaction, and returns
// how many rows it deleted. Stored times sort as text, so the indexes on
// expires_at serve the comparisons.
func (s *Store) DeleteExpiredOAuthSessions(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, query := range []string{
			`DELETE FROM oauth_sessions WHERE expires_at < ?`,
			`DELETE FROM assertion_jtis WHERE expires_at < ?`,
			`DELETE FROM revoked_grants WHERE expires_at < ?`,
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
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return total, nil
}
