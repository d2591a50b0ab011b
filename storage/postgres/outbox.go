package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const outboxColumns = `id, recipient, subject, text_body, html_body, created_at, not_after,
	next_attempt_at, attempts, status, last_error, finished_at`

func scanOutboxMessage(row pgx.Row) (storage.OutboxMessage, error) {
	var m storage.OutboxMessage
	var notAfter, finishedAt *time.Time
	if err := row.Scan(&m.ID, &m.To, &m.Subject, &m.TextBody, &m.HTMLBody, &m.CreatedAt, &notAfter,
		&m.NextAttemptAt, &m.Attempts, &m.Status, &m.LastError, &finishedAt); err != nil {
		return storage.OutboxMessage{}, err
	}
	m.CreatedAt, m.NextAttemptAt = m.CreatedAt.UTC(), m.NextAttemptAt.UTC()
	m.NotAfter, m.FinishedAt = orZero(notAfter), orZero(finishedAt)
	return m, nil
}

// CreateOutboxMessage inserts m with the statement runner of ctx, so that
// inside a transaction the message commits with the token it carries.
func (s *Store) CreateOutboxMessage(ctx context.Context, m storage.OutboxMessage) error {
	op := fmt.Sprintf("create outbox message %q", m.ID)
	if m.Status != storage.OutboxPending {
		return fmt.Errorf("%s: %w: status %q, want pending", op, storage.ErrInvalid, m.Status)
	}
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO outbox_messages (`+outboxColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)`,
		m.ID, m.To, m.Subject, m.TextBody, m.HTMLBody, timestamp(m.CreatedAt), nullTimestamp(m.NotAfter),
		timestamp(m.NextAttemptAt), m.Attempts, m.Status, m.LastError)
	return mapError(op, err)
}

func (s *Store) GetOutboxMessage(ctx context.Context, id string) (storage.OutboxMessage, error) {
	m, err := scanOutboxMessage(s.q(ctx).QueryRow(ctx,
		`SELECT `+outboxColumns+` FROM outbox_messages WHERE id = $1`, id))
	return m, mapError(fmt.Sprintf("get outbox message %q", id), err)
}

// ClaimOutboxMessages leases due messages in one statement. FOR UPDATE SKIP
// LOCKED lets concurrent claimers pass over the rows another claimer is
// taking instead of waiting for them; a claimer that reads a row after
// another committed its lease re-checks the row, finds it no longer due
// and leaves it.
func (s *Store) ClaimOutboxMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]storage.OutboxMessage, error) {
	const op = "claim outbox messages"
	if limit < 1 || lease <= 0 {
		return nil, fmt.Errorf("%s: %w: limit %d and lease %s must be positive", op, storage.ErrInvalid, limit, lease)
	}
	rows, err := s.q(ctx).Query(ctx, `
		WITH due AS (
			SELECT id FROM outbox_messages
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox_messages m SET next_attempt_at = $2, attempts = m.attempts + 1
		FROM due WHERE m.id = due.id
		RETURNING m.`+outboxColumns, // m.id: due has an id too
		timestamp(now), timestamp(now.Add(lease)), limit)
	if err != nil {
		return nil, mapError(op, err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.OutboxMessage, error) {
		return scanOutboxMessage(r)
	})
	if err != nil {
		return nil, mapError(op, err)
	}
	// RETURNING has no order; send the oldest first.
	slices.SortFunc(claimed, func(a, b storage.OutboxMessage) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return claimed, nil
}

// RetryOutboxMessage reschedules a pending message in one statement that
// also reads, from its snapshot, whether the message exists, to tell
// ErrConflict from ErrNotFound.
func (s *Store) RetryOutboxMessage(ctx context.Context, id string, next time.Time, lastError string) error {
	return s.updatePending(ctx, fmt.Sprintf("retry outbox message %q", id), id,
		`next_attempt_at = $2, last_error = $3`, timestamp(next), lastError)
}

// FinishOutboxMessage ends a pending message and erases its bodies, which
// hold links that may still work.
func (s *Store) FinishOutboxMessage(ctx context.Context, id string, status storage.OutboxStatus, at time.Time, lastError string) error {
	op := fmt.Sprintf("finish outbox message %q", id)
	switch status {
	case storage.OutboxSent, storage.OutboxDropped, storage.OutboxFailed:
	default:
		return fmt.Errorf("%s: %w: status %q is not sent, dropped or failed", op, storage.ErrInvalid, status)
	}
	return s.updatePending(ctx, op, id,
		`status = $2, finished_at = $3, last_error = $4, text_body = '', html_body = ''`,
		status, timestamp(at), lastError)
}

// updatePending runs "UPDATE … SET set" on message id ($1) if it is
// pending; set's parameters start at $2.
func (s *Store) updatePending(ctx context.Context, op, id, set string, args ...any) error {
	var updated, found bool
	err := s.q(ctx).QueryRow(ctx, `
		WITH updated AS (
			UPDATE outbox_messages SET `+set+`
			WHERE id = $1 AND status = 'pending'
			RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM updated),
			EXISTS (SELECT 1 FROM outbox_messages WHERE id = $1)`,
		append([]any{id}, args...)...).Scan(&updated, &found)
	switch {
	case err == nil && !found:
		err = storage.ErrNotFound
	case err == nil && !updated:
		err = fmt.Errorf("%w: no longer pending", storage.ErrConflict)
	}
	return mapError(op, err)
}

func (s *Store) DeleteFinishedOutboxMessages(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx,
		`DELETE FROM outbox_messages WHERE finished_at < $1`, timestamp(before))
	if err != nil {
		return 0, mapDeleteError("delete finished outbox messages", err)
	}
	return tag.RowsAffected(), nil
}
