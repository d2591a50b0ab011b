package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const auditColumns = `id, occurred_at, type, actor_type, actor_id, user_id, org_id, target_type, target_id,
	ip, user_agent, reason, details`

func scanAuditEntry(row scanner) (storage.AuditEntry, error) {
	var (
		e       storage.AuditEntry
		details string
	)
	err := row.Scan(&e.ID, timeColumn{&e.OccurredAt}, &e.Type, &e.ActorType, &e.ActorID, &e.UserID, &e.OrgID,
		&e.TargetType, &e.TargetID, &e.IP, &e.UserAgent, &e.Reason, &details)
	e.Details = []byte(details)
	return e, err
}

// AppendAuditEntry inserts e with the statement runner of ctx, so that
// inside a transaction the entry commits with the change it records.
// Empty Details are stored as {}.
func (s *Store) AppendAuditEntry(ctx context.Context, e storage.AuditEntry) error {
	switch {
	case e.ID == "":
		return fmt.Errorf("append audit entry: empty ID: %w", storage.ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("append audit entry %s: empty type: %w", e.ID, storage.ErrInvalid)
	case e.ActorType == "":
		return fmt.Errorf("append audit entry %s: empty actor type: %w", e.ID, storage.ErrInvalid)
	}
	details := string(e.Details)
	if len(e.Details) == 0 {
		details = "{}"
	}
	var object map[string]json.RawMessage
	if json.Unmarshal([]byte(details), &object) != nil || object == nil {
		return fmt.Errorf("append audit entry %s: details are not a JSON object: %w", e.ID, storage.ErrInvalid)
	}
	_, err := s.q(ctx).ExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, formatTime(e.OccurredAt), e.Type, e.ActorType, e.ActorID, e.UserID, e.OrgID, e.TargetType, e.TargetID,
		e.IP, e.UserAgent, e.Reason, details)
	if err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.ID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// ListAuditEntries lists newest first. Paging compares the row value
// (occurred_at, id), which SQLite orders like the ORDER BY; stored times
// sort as text.
func (s *Store) ListAuditEntries(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEntry, error) {
	where, args := "1 = 1", []any{}
	if !q.From.IsZero() {
		where += ` AND occurred_at >= ?`
		args = append(args, formatTime(q.From))
	}
	if !q.To.IsZero() {
		where += ` AND occurred_at < ?`
		args = append(args, formatTime(q.To))
	}
	for _, f := range []struct{ column, value string }{
		{"actor_id", q.ActorID}, {"user_id", q.UserID}, {"org_id", q.OrgID}, {"type", q.Type},
	} {
		if f.value != "" {
			where += ` AND ` + f.column + ` = ?` // a fixed column name, never input
			args = append(args, f.value)
		}
	}
	if q.BeforeID != "" {
		where += ` AND (occurred_at, id) < (?, ?)`
		args = append(args, formatTime(q.BeforeTime), q.BeforeID)
	}
	rows, err := s.q(ctx).QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE `+where+` ORDER BY occurred_at DESC, id DESC LIMIT ?`,
		append(args, storage.Page{Limit: q.Limit}.EffectiveLimit())...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", dbError(err, storage.ErrNotFound))
	}
	out, err := collect(rows, scanAuditEntry)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

func (s *Store) DeleteAuditEntriesBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `DELETE FROM audit_log WHERE occurred_at < ?`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("delete audit entries: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete audit entries: %w", err)
	}
	return n, nil
}
