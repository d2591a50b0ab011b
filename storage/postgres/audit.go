package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const auditColumns = `id, occurred_at, type, actor_type, actor_id, user_id, org_id, target_type, target_id,
	ip, user_agent, reason, details`

func scanAuditEntry(row pgx.Row) (storage.AuditEntry, error) {
	var e storage.AuditEntry
	if err := row.Scan(&e.ID, &e.OccurredAt, &e.Type, &e.ActorType, &e.ActorID, &e.UserID, &e.OrgID,
		&e.TargetType, &e.TargetID, &e.IP, &e.UserAgent, &e.Reason, &e.Details); err != nil {
		return storage.AuditEntry{}, err
	}
	e.OccurredAt = e.OccurredAt.UTC()
	return e, nil
}

// AppendAuditEntry inserts e with the statement runner of ctx, so that
// inside a transaction the entry commits with the change it records. Empty
// Details are stored as {}; Details that are not a JSON object are
// ErrInvalid.
func (s *Store) AppendAuditEntry(ctx context.Context, e storage.AuditEntry) error {
	op := fmt.Sprintf("append audit entry %q", e.ID)
	switch {
	case e.ID == "", e.Type == "", e.ActorType == "":
		return fmt.Errorf("%s: %w: ID, Type and ActorType are required", op, storage.ErrInvalid)
	case len(e.Details) == 0:
		e.Details = json.RawMessage(`{}`)
	case !isJSONObject(e.Details):
		return fmt.Errorf("%s: %w: details are not a JSON object", op, storage.ErrInvalid)
	}
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO audit_log (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb)`,
		e.ID, timestamp(e.OccurredAt), e.Type, e.ActorType, e.ActorID, e.UserID, e.OrgID,
		e.TargetType, e.TargetID, e.IP, e.UserAgent, e.Reason, string(e.Details))
	return mapError(op, err)
}

func isJSONObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// ListAuditEntries lists newest first by (occurred_at, id) descending,
// paging strictly below (BeforeTime, BeforeID) when BeforeID is set. The
// WHERE clause is built from fixed fragments; every value is a parameter.
func (s *Store) ListAuditEntries(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !q.From.IsZero() {
		where = append(where, "occurred_at >= "+arg(timestamp(q.From)))
	}
	if !q.To.IsZero() {
		where = append(where, "occurred_at < "+arg(timestamp(q.To)))
	}
	for _, f := range []struct{ column, value string }{
		{"actor_id", q.ActorID}, {"user_id", q.UserID}, {"org_id", q.OrgID}, {"type", q.Type},
	} {
		if f.value != "" {
			where = append(where, f.column+" = "+arg(f.value))
		}
	}
	if q.BeforeID != "" {
		where = append(where, "(occurred_at, id) < ("+arg(timestamp(q.BeforeTime))+", "+arg(q.BeforeID)+")")
	}
	sql := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY occurred_at DESC, id DESC LIMIT ` + arg(storage.Page{Limit: q.Limit}.EffectiveLimit())
	rows, err := s.q(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, mapError("list audit entries", err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEntry, error) { return scanAuditEntry(r) })
	return es, mapError("list audit entries", err)
}

func (s *Store) DeleteAuditEntriesBefore(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.q(ctx).Exec(ctx, `DELETE FROM audit_log WHERE occurred_at < $1`, timestamp(before))
	if err != nil {
		return 0, mapDeleteError("delete audit entries", err)
	}
	return tag.RowsAffected(), nil
}
