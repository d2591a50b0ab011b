package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const oauthSessionColumns = `kind, signature, request_id, client_id, subject, active, requested_at, expires_at, request`

func scanOAuthSession(row pgx.Row) (storage.OAuthSession, error) {
	var o storage.OAuthSession
	if err := row.Scan(&o.Kind, &o.Signature, &o.RequestID, &o.ClientID, &o.Subject, &o.Active,
		&o.RequestedAt, &o.ExpiresAt, &o.Request); err != nil {
		return storage.OAuthSession{}, err
	}
	o.RequestedAt, o.ExpiresAt = o.RequestedAt.UTC(), o.ExpiresAt.UTC()
	return o, nil
}

// CreateOAuthSession stores o. ErrAlreadyExists for a taken (Kind,
// Signature); ErrNotFound when the client does not exist.
func (s *Store) CreateOAuthSession(ctx context.Context, o storage.OAuthSession) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO oauth_sessions (`+oauthSessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.Kind, o.Signature, o.RequestID, o.ClientID, o.Subject, o.Active,
		timestamp(o.RequestedAt), timestamp(o.ExpiresAt), o.Request)
	return mapError(fmt.Sprintf("create %s session of request %q", o.Kind, o.RequestID), err)
}

// GetOAuthSession returns the session, active or not. The signature stays
// out of error messages: it identifies a live token.
func (s *Store) GetOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) (storage.OAuthSession, error) {
	o, err := scanOAuthSession(s.q(ctx).QueryRow(ctx,
		`SELECT `+oauthSessionColumns+` FROM oauth_sessions WHERE kind = $1 AND signature = $2`, kind, signature))
	return o, mapError(fmt.Sprintf("get %s session", kind), err)
}

// DeactivateOAuthSession clears active in one conditional UPDATE. Of
// concurrent callers the first takes the row lock; the others wait for it,
// re-read the row, find it inactive and change nothing (SECURITY.md DB-01).
// The same statement reads, from its snapshot, whether the row exists, to
// tell ErrConflict from ErrNotFound.
func (s *Store) DeactivateOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) error {
	var deactivated, found bool
	err := s.q(ctx).QueryRow(ctx, `
		WITH used AS (
			UPDATE oauth_sessions SET active = false
			WHERE kind = $1 AND signature = $2 AND active
			RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM used),
			EXISTS (SELECT 1 FROM oauth_sessions WHERE kind = $1 AND signature = $2)`,
		kind, signature).Scan(&deactivated, &found)
	switch {
	case err == nil && !found:
		err = storage.ErrNotFound
	case err == nil && !deactivated:
		err = fmt.Errorf("%w: already inactive", storage.ErrConflict)
	}
	return mapError(fmt.Sprintf("deactivate %s session", kind), err)
}

func (s *Store) DeleteOAuthSession(ctx context.Context, kind storage.GrantKind, signature string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete %s session", kind),
		`DELETE FROM oauth_sessions WHERE kind = $1 AND signature = $2`, kind, signature)
}

// RevokeOAuthSessions deactivates the active sessions of the given kinds
// that belong to requestID and returns how many. ErrInvalid without kinds:
// revoking nothing by mistake would leave a token family alive.
func (s *Store) RevokeOAuthSessions(ctx context.Context, requestID string, kinds ...storage.GrantKind) (int64, error) {
	op := fmt.Sprintf("revoke sessions of request %q", requestID)
	if len(kinds) == 0 {
		return 0, fmt.Errorf("%s: %w: no kinds given", op, storage.ErrInvalid)
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	tag, err := s.q(ctx).Exec(ctx, `
		UPDATE oauth_sessions SET active = false
		WHERE request_id = $1 AND active AND kind = ANY($2)`, requestID, names)
	if err != nil {
		return 0, mapError(op, err)
	}
	return tag.RowsAffected(), nil
}

// RevokeGrant deactivates the grant's token sessions and records the grant
// in one statement.
func (s *Store) RevokeGrant(ctx context.Context, requestID string, until time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `
		WITH ended AS (
			UPDATE oauth_sessions SET active = false
			WHERE request_id = $1 AND active AND kind IN ($2, $3)
		)
		INSERT INTO revoked_grants (request_id, expires_at) VALUES ($1, $4)
		ON CONFLICT (request_id) DO UPDATE
		SET expires_at = greatest(revoked_grants.expires_at, excluded.expires_at)`,
		requestID, storage.KindAccessToken, storage.KindRefreshToken, timestamp(until))
	return mapError(fmt.Sprintf("revoke grant %q", requestID), err)
}

// RevokeUserGrants ends the subject's grants in one statement.
func (s *Store) RevokeUserGrants(ctx context.Context, subject string, until time.Time) (int64, error) {
	var n int64
	err := s.q(ctx).QueryRow(ctx, `
		WITH grants AS (
			SELECT DISTINCT request_id FROM oauth_sessions WHERE subject = $1
		), ended AS (
			UPDATE oauth_sessions SET active = false
			WHERE request_id IN (SELECT request_id FROM grants) AND active AND kind IN ($2, $3)
		), recorded AS (
			INSERT INTO revoked_grants (request_id, expires_at) SELECT request_id, $4 FROM grants
			ON CONFLICT (request_id) DO UPDATE
			SET expires_at = greatest(revoked_grants.expires_at, excluded.expires_at)
			RETURNING 1
		)
		SELECT count(*) FROM recorded`,
		subject, storage.KindAccessToken, storage.KindRefreshToken, timestamp(until)).Scan(&n)
	return n, mapError(fmt.Sprintf("revoke grants of %q", subject), err)
}

func (s *Store) GrantRevoked(ctx context.Context, requestID string) (bool, error) {
	var found bool
	err := s.q(ctx).QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM revoked_grants WHERE request_id = $1)`, requestID).Scan(&found)
	return found, mapError(fmt.Sprintf("read revoked grant %q", requestID), err)
}

func (s *Store) RevokedGrants(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT request_id FROM revoked_grants WHERE expires_at >= $1`, timestamp(now))
	if err != nil {
		return nil, mapError("list revoked grants", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, mapError("list revoked grants", err)
}

// DeleteExpiredOAuthSessions deletes the sessions, revoked grants and
// assertion jtis that expired before now, in one statement, and returns how
// many rows it deleted.
func (s *Store) DeleteExpiredOAuthSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.q(ctx).QueryRow(ctx, `
		WITH sessions AS (
			DELETE FROM oauth_sessions WHERE expires_at < $1 RETURNING 1
		), jtis AS (
			DELETE FROM assertion_jtis WHERE expires_at < $1 RETURNING 1
		), grants AS (
			DELETE FROM revoked_grants WHERE expires_at < $1 RETURNING 1
		)
		SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM jtis) + (SELECT count(*) FROM grants)`, timestamp(now)).Scan(&n)
	if err != nil {
		return 0, mapDeleteError("delete expired sessions", err)
	}
	return n, nil
}
