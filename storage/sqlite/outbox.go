package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const outboxColumns = `id, recipient, subject, text_body, html_body, created_at, not_after,
	next_attempt_at, attempts, status, last_error, finished_at`

func scanOutboxMessage(row scanner) (storage.OutboxMessage, error) {
	var m storage.OutboxMessage
	err := row.Scan(&m.ID, &m.To, &m.Subject, &m.TextBody, &m.HTMLBody, timeColumn{&m.CreatedAt},
		nullTimeColumn{&m.NotAfter}, timeColumn{&m.NextAttemptAt}, &m.Attempts, &m.Status, &m.LastError,
		nullTimeColumn{&m.FinishedAt})
	return m, err
}

// CreateOutboxMessage inserts m with the statement runner of ctx, so that
// inside a transaction the message commits with the token it carries.
func (s *Store) CreateOutboxMessage(ctx context.Context, m storage.OutboxMessage) error {
	if m.Status != storage.OutboxPending {
		return fmt.Errorf("create outbox message %s: status %q, want pending: %w", m.ID, m.Status, storage.ErrInvalid)
	}
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO outbox_messages (`+outboxColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		m.ID, m.To, m.Subject, m.TextBody, m.HTMLBody, formatTime(m.CreatedAt), nullTime(m.NotAfter),
		formatTime(m.NextAttemptAt), m.Attempts, m.Status, m.LastError)
	if err != nil {
		return fmt.Errorf("create outbox message %s: %w", m.ID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

func (s *Store) GetOutboxMessage(ctx context.Context, id string) (storage.OutboxMessage, error) {
	m, err := scanOutboxMessage(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+outboxColumns+` FROM outbox_messages WHERE id = ?`, id))
	if err != nil {
		return storage.OutboxMessage{}, fmt.Errorf("get outbox message %s: %w", id, dbError(err, storage.ErrNotFound))
	}
	return m, nil
}

// ClaimOutboxMessages leases due messages in one UPDATE … RETURNING. SQLite
// runs writes one at a time, so concurrent claimers take turns and each
// finds the others' messages already leased. Stored times sort as text, so
// the comparison and the index work on them.
func (s *Store) ClaimOutboxMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]storage.OutboxMessage, error) {
	if limit < 1 || lease <= 0 {
		return nil, fmt.Errorf("claim outbox messages: limit %d and lease %s must be positive: %w", limit, lease, storage.ErrInvalid)
	}
	rows, err := s.q(ctx).QueryContext(ctx, `
		UPDATE outbox_messages SET next_attempt_at = ?, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM outbox_messages
			WHERE status = 'pending' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id
			LIMIT ?
		)
		RETURNING `+outboxColumns,
		formatTime(now.Add(lease)), formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox messages: %w", dbError(err, storage.ErrConflict))
	}
	claimed, err := collect(rows, scanOutboxMessage)
	if err != nil {
		return nil, fmt.Errorf("claim outbox messages: %w", dbError(err, storage.ErrConflict))
	}
	// RETURNING has no order; send the oldest first.
	slices.SortFunc(claimed, func(a, b storage.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return claimed, nil
}

func (s *Store) RetryOutboxMessage(ctx context.Context, id string, next time.Time, lastError string) error {
	err := s.updatePending(ctx, id, `next_attempt_at = ?, last_error = ?`, formatTime(next), lastError)
	if err != nil {
		return fmt.Errorf("retry outbox message %s: %w", id, err)
	}
	return nil
}

// FinishOutboxMessage ends a pending message and erases its bodies, which
// hold links that may still work.
func (s *Store) FinishOutboxMessage(ctx context.Context, id string, status storage.OutboxStatus, at time.Time, lastError string) error {
	switch status {
	case storage.OutboxSent, storage.OutboxDropped, storage.OutboxFailed:
	default:
		return fmt.Errorf("finish outbox message %s: status %q is not sent, dropped or failed: %w", id, status, storage.ErrInvalid)
	}
	err := s.updatePending(ctx, id, `status = ?, finished_at = ?, last_error = ?, text_body = '', html_body = ''`,
		status, formatTime(at), lastError)
	if err != nil {
		return fmt.Errorf("finish outbox message %s: %w", id, err)
	}
	return nil
}

// updatePending runs "UPDATE … SET set" on message id if it is pending;
// args are set's parameters. When it changes nothing, a second look tells
// ErrConflict (no longer pending) from ErrNotFound; both run in one
// transaction, so nothing changes in between.
func (s *Store) updatePending(ctx context.Context, id, set string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox_messages SET `+set+` WHERE id = ? AND status = 'pending'`,
			append(args, id)...)
		if err != nil {
			return dbError(err, storage.ErrConflict)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			return nil
		}
		found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM outbox_messages WHERE id = ?)`, id)
		switch {
		case err != nil:
			return err
		case found:
			return fmt.Errorf("no longer pending: %w", storage.ErrConflict)
		}
		return storage.ErrNotFound
	})
}

func (s *Store) DeleteFinishedOutboxMessages(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `DELETE FROM outbox_messages WHERE finished_at < ?`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("delete finished outbox messages: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete finished outbox messages: %w", err)
	}
	return n, nil
}
