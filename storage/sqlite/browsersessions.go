package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const browserSessionColumns = `id, sid, user_id, auth_time, amr, org_id, ip, user_agent, created_at, last_seen_at, expires_at`

func scanBrowserSession(row scanner) (storage.BrowserSession, error) {
	var b storage.BrowserSession
	err := row.Scan(&b.ID, &b.SID, &b.UserID, timeColumn{&b.AuthTime}, listColumn{&b.AMR}, &b.OrgID, &b.IP, &b.UserAgent,
		timeColumn{&b.CreatedAt}, timeColumn{&b.LastSeenAt}, timeColumn{&b.ExpiresAt})
	return b, err
}

// utcBrowserSession is b with its times as the store keeps them.
func utcBrowserSession(b storage.BrowserSession) storage.BrowserSession {
	b.AuthTime, b.CreatedAt, b.LastSeenAt, b.ExpiresAt = utc(b.AuthTime), utc(b.CreatedAt), utc(b.LastSeenAt), utc(b.ExpiresAt)
	return b
}

// CreateBrowserSession stores b and records session.created. ErrAlreadyExists
// when the ID or the SID is taken; ErrNotFound when the user does not exist.
// The ID, a hash of the cookie, stays out of error messages.
func (s *Store) CreateBrowserSession(ctx context.Context, b storage.BrowserSession) (storage.BrowserSession, error) {
	b = utcBrowserSession(b)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO browser_sessions (`+browserSessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.SID, b.UserID, formatTime(b.AuthTime), encodeList(b.AMR), b.OrgID, b.IP, b.UserAgent,
			formatTime(b.CreatedAt), formatTime(b.LastSeenAt), formatTime(b.ExpiresAt))
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		return insertEvent(ctx, tx, storage.NewSessionEvent(storage.EventSessionCreated, b, false))
	})
	if err != nil {
		return storage.BrowserSession{}, fmt.Errorf("create browser session of user %s: %w", b.UserID, err)
	}
	return b, nil
}

func (s *Store) GetBrowserSession(ctx context.Context, id string) (storage.BrowserSession, error) {
	b, err := getBrowserSession(ctx, s.q(ctx), id)
	if err != nil {
		return storage.BrowserSession{}, fmt.Errorf("get browser session: %w", err)
	}
	return b, nil
}

func getBrowserSession(ctx context.Context, q querier, id string) (storage.BrowserSession, error) {
	b, err := scanBrowserSession(q.QueryRowContext(ctx,
		`SELECT `+browserSessionColumns+` FROM browser_sessions WHERE id = ?`, id))
	return b, dbError(err, storage.ErrNotFound)
}

// UpdateBrowserSession applies update to the stored session under the write
// lock. The stored ID, SID, UserID and CreatedAt win over whatever update
// returns. It records no event: a session seen again is no change to tell.
func (s *Store) UpdateBrowserSession(ctx context.Context, id string, update func(storage.BrowserSession) (storage.BrowserSession, error)) (storage.BrowserSession, error) {
	var b storage.BrowserSession
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getBrowserSession(ctx, tx, id)
		if err != nil {
			return err
		}
		if b, err = update(old); err != nil {
			return err
		}
		b.ID, b.SID, b.UserID, b.CreatedAt = old.ID, old.SID, old.UserID, old.CreatedAt
		b = utcBrowserSession(b)
		_, err = tx.ExecContext(ctx, `
			UPDATE browser_sessions SET auth_time = ?, amr = ?, org_id = ?, ip = ?, user_agent = ?,
				last_seen_at = ?, expires_at = ?
			WHERE id = ?`,
			formatTime(b.AuthTime), encodeList(b.AMR), b.OrgID, b.IP, b.UserAgent,
			formatTime(b.LastSeenAt), formatTime(b.ExpiresAt), b.ID)
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.BrowserSession{}, fmt.Errorf("update browser session: %w", err)
	}
	return b, nil
}

// DeleteBrowserSession deletes the session (sign-out, revocation) and
// records session.ended, not expired.
func (s *Store) DeleteBrowserSession(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b, err := scanBrowserSession(tx.QueryRowContext(ctx,
			`DELETE FROM browser_sessions WHERE id = ? RETURNING `+browserSessionColumns, id))
		if err != nil {
			return dbError(err, storage.ErrConflict) // no row: ErrNotFound
		}
		return insertEvent(ctx, tx, storage.NewSessionEvent(storage.EventSessionEnded, b, false))
	})
	if err != nil {
		return fmt.Errorf("delete browser session: %w", err)
	}
	return nil
}

// ListBrowserSessions lists the user's sessions, newest first (ID breaks
// ties).
func (s *Store) ListBrowserSessions(ctx context.Context, userID string) ([]storage.BrowserSession, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `
		SELECT `+browserSessionColumns+` FROM browser_sessions
		WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list browser sessions of user %s: %w", userID, dbError(err, storage.ErrNotFound))
	}
	sessions, err := collect(rows, scanBrowserSession)
	if err != nil {
		return nil, fmt.Errorf("list browser sessions of user %s: %w", userID, err)
	}
	return sessions, nil
}

// DeleteExpiredBrowserSessions deletes the sessions that ran out, absolute
// or idle, and records session.ended, expired, for each, in one
// transaction.
func (s *Store) DeleteExpiredBrowserSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM browser_sessions WHERE expires_at < ? OR last_seen_at < ?
			RETURNING `+browserSessionColumns,
			formatTime(now), formatTime(idleSince))
		if err != nil {
			return dbError(err, storage.ErrConflict)
		}
		ended, err := collect(rows, scanBrowserSession)
		if err != nil {
			return dbError(err, storage.ErrConflict)
		}
		for _, b := range ended {
			if err := insertEvent(ctx, tx, storage.NewSessionEvent(storage.EventSessionEnded, b, true)); err != nil {
				return err
			}
		}
		n = int64(len(ended))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired browser sessions: %w", err)
	}
	return n, nil
}
