package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const browserSessionColumns = `id, sid, user_id, auth_time, amr, org_id, ip, user_agent, created_at, last_seen_at, expires_at`

func scanBrowserSession(row pgx.Row) (storage.BrowserSession, error) {
	var b storage.BrowserSession
	if err := row.Scan(&b.ID, &b.SID, &b.UserID, &b.AuthTime, &b.AMR, &b.OrgID, &b.IP, &b.UserAgent,
		&b.CreatedAt, &b.LastSeenAt, &b.ExpiresAt); err != nil {
		return storage.BrowserSession{}, err
	}
	b.AuthTime, b.CreatedAt, b.LastSeenAt, b.ExpiresAt = b.AuthTime.UTC(), b.CreatedAt.UTC(), b.LastSeenAt.UTC(), b.ExpiresAt.UTC()
	return b, nil
}

// CreateBrowserSession stores b. ErrAlreadyExists when the ID or the SID is
// taken; ErrNotFound when the user does not exist. The ID, a hash of the
// cookie, stays out of error messages. The session.created event commits
// with the session.
func (s *Store) CreateBrowserSession(ctx context.Context, b storage.BrowserSession) (storage.BrowserSession, error) {
	op := fmt.Sprintf("create browser session of user %q", b.UserID)
	var out storage.BrowserSession
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanBrowserSession(tx.QueryRow(ctx, `
			INSERT INTO browser_sessions (`+browserSessionColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING `+browserSessionColumns,
			b.ID, b.SID, b.UserID, timestamp(b.AuthTime), nonNil(b.AMR), b.OrgID, b.IP, b.UserAgent,
			timestamp(b.CreatedAt), timestamp(b.LastSeenAt), timestamp(b.ExpiresAt)))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewSessionEvent(storage.EventSessionCreated, out, false))
	})
	if err != nil {
		return storage.BrowserSession{}, mapError(op, err)
	}
	return out, nil
}

func (s *Store) GetBrowserSession(ctx context.Context, id string) (storage.BrowserSession, error) {
	b, err := scanBrowserSession(s.q(ctx).QueryRow(ctx,
		`SELECT `+browserSessionColumns+` FROM browser_sessions WHERE id = $1`, id))
	return b, mapError("get browser session", err)
}

// UpdateBrowserSession locks the session's row, applies update and writes
// the result; ID, SID, UserID and CreatedAt keep their stored values. update
// may run more than once. It records no event: a session's activity is not
// a change receivers follow.
func (s *Store) UpdateBrowserSession(ctx context.Context, id string, update func(storage.BrowserSession) (storage.BrowserSession, error)) (storage.BrowserSession, error) {
	var out storage.BrowserSession
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanBrowserSession(tx.QueryRow(ctx,
			`SELECT `+browserSessionColumns+` FROM browser_sessions WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		b, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanBrowserSession(tx.QueryRow(ctx, `
			UPDATE browser_sessions SET auth_time = $2, amr = $3, org_id = $4, ip = $5, user_agent = $6,
				last_seen_at = $7, expires_at = $8
			WHERE id = $1
			RETURNING `+browserSessionColumns,
			id, timestamp(b.AuthTime), nonNil(b.AMR), b.OrgID, b.IP, b.UserAgent,
			timestamp(b.LastSeenAt), timestamp(b.ExpiresAt)))
		return err
	})
	return out, mapError("update browser session", err)
}

// DeleteBrowserSession ends the session (sign-out, revocation) and records
// session.ended, not expired, with it. Sessions deleted with their user
// (ON DELETE CASCADE) record no session.ended: user.deleted implies it.
func (s *Store) DeleteBrowserSession(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b, err := scanBrowserSession(tx.QueryRow(ctx,
			`DELETE FROM browser_sessions WHERE id = $1 RETURNING `+browserSessionColumns, id))
		if err != nil {
			return err // pgx.ErrNoRows: ErrNotFound
		}
		return insertEvent(ctx, tx, storage.NewSessionEvent(storage.EventSessionEnded, b, false))
	})
	return mapDeleteError("delete browser session", err)
}

// ListBrowserSessions lists the user's sessions, newest first (ID breaks
// ties).
func (s *Store) ListBrowserSessions(ctx context.Context, userID string) ([]storage.BrowserSession, error) {
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+browserSessionColumns+` FROM browser_sessions
		WHERE user_id = $1 ORDER BY created_at DESC, id`, userID)
	sessions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.BrowserSession, error) { return scanBrowserSession(r) })
	return sessions, mapError(fmt.Sprintf("list browser sessions of user %q", userID), err)
}

// DeleteExpiredBrowserSessions deletes the expired and idle sessions and
// records a session.ended event, expired, for each, in one transaction:
// the events are inserted in one statement.
func (s *Store) DeleteExpiredBrowserSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM browser_sessions WHERE expires_at < $1 OR last_seen_at < $2
			RETURNING `+browserSessionColumns, timestamp(now), timestamp(idleSince))
		if err != nil {
			return err
		}
		ended, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.BrowserSession, error) { return scanBrowserSession(r) })
		if err != nil {
			return err
		}
		evs := make([]storage.Event, len(ended))
		for i, b := range ended {
			evs[i] = storage.NewSessionEvent(storage.EventSessionEnded, b, true)
		}
		n = int64(len(ended))
		return insertEvent(ctx, tx, evs...)
	})
	if err != nil {
		return 0, mapDeleteError("delete expired browser sessions", err)
	}
	return n, nil
}
