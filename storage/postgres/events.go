package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

// insertEvent records evs in the events table with q, which must be the
// transaction of the change they describe (the transactional outbox): the
// events commit, or roll back, with it. One statement inserts them all.
// An empty OrgID is stored as NULL.
func insertEvent(ctx context.Context, q querier, evs ...storage.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]string, len(evs))
	types := make([]string, len(evs))
	orgs := make([]string, len(evs))
	times := make([]time.Time, len(evs))
	data := make([]string, len(evs))
	for i, ev := range evs {
		ids[i], types[i], orgs[i], times[i], data[i] = ev.ID, ev.Type, ev.OrgID, timestamp(ev.OccurredAt), string(ev.Data)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO events (id, type, org_id, occurred_at, data)
		SELECT id, type, NULLIF(org_id, ''), occurred_at, data::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
			AS e (id, type, org_id, occurred_at, data)`,
		ids, types, orgs, times, data)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

const eventColumns = `id, type, COALESCE(org_id, ''), occurred_at, data, dispatched_at`

func scanEvent(row pgx.Row) (storage.Event, error) {
	var (
		ev           storage.Event
		dispatchedAt *time.Time
	)
	if err := row.Scan(&ev.ID, &ev.Type, &ev.OrgID, &ev.OccurredAt, &ev.Data, &dispatchedAt); err != nil {
		return storage.Event{}, err
	}
	ev.OccurredAt, ev.DispatchedAt = ev.OccurredAt.UTC(), orZero(dispatchedAt)
	return ev, nil
}

func collectEvents(rows pgx.Rows, err error) ([]storage.Event, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Event, error) { return scanEvent(r) })
}

func (s *Store) GetEvent(ctx context.Context, id string) (storage.Event, error) {
	ev, err := scanEvent(s.q(ctx).QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	return ev, mapError(fmt.Sprintf("get event %q", id), err)
}

// ListEvents pages by (occurred_at, id); the cursor event's position is
// read first, so a cursor naming no event is ErrNotFound. limit is bounded
// like a storage.Page's.
func (s *Store) ListEvents(ctx context.Context, after string, limit int) ([]storage.Event, error) {
	op := "list events"
	limit = storage.Page{Limit: limit}.EffectiveLimit()
	if after == "" {
		evs, err := collectEvents(s.q(ctx).Query(ctx,
			`SELECT `+eventColumns+` FROM events ORDER BY occurred_at, id LIMIT $1`, limit))
		return evs, mapError(op, err)
	}
	op = fmt.Sprintf("list events after %q", after)
	var at time.Time
	if err := s.q(ctx).QueryRow(ctx, `SELECT occurred_at FROM events WHERE id = $1`, after).Scan(&at); err != nil {
		return nil, mapError(op, err)
	}
	evs, err := collectEvents(s.q(ctx).Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE (occurred_at, id) > ($1, $2) ORDER BY occurred_at, id LIMIT $3`, at, after, limit))
	return evs, mapError(op, err)
}

// DispatchEvents locks the oldest undispatched events with FOR UPDATE SKIP
// LOCKED, so that concurrent dispatchers take disjoint batches instead of
// queueing: a dispatcher that reaches a row another has just committed
// re-checks it (READ COMMITTED), finds it dispatched and leaves it. Each
// event's deliveries are inserted and the batch is marked dispatched in the
// same transaction, so an event is dispatched exactly once. route runs
// inside the transaction and, should the transaction be retried, again.
func (s *Store) DispatchEvents(ctx context.Context, now time.Time, limit int, route func(storage.Event) []storage.EventDelivery) (int, error) {
	const op = "dispatch events"
	if limit < 1 || route == nil {
		return 0, fmt.Errorf("%s: %w: limit %d must be positive and route set", op, storage.ErrInvalid, limit)
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		evs, err := collectEvents(tx.Query(ctx, `SELECT `+eventColumns+` FROM events
			WHERE dispatched_at IS NULL
			ORDER BY occurred_at, id
			LIMIT $1
			FOR UPDATE SKIP LOCKED`, limit))
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			n = 0
			return nil
		}
		var ds []storage.EventDelivery
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
			for _, d := range route(ev) {
				d.EventID = ev.ID // a delivery of ev, whatever route said
				ds = append(ds, d)
			}
		}
		if _, err := insertDeliveries(ctx, tx, ds); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET dispatched_at = $1 WHERE id = ANY($2)`,
			timestamp(now), ids); err != nil {
			return err
		}
		n = len(evs)
		return nil
	})
	if err != nil {
		return 0, mapError(op, err)
	}
	return n, nil
}

// DeleteEventsBefore deletes the events in two statements of one
// transaction; the deliveries go with their events (ON DELETE CASCADE).
// The first locks the candidate events, waiting for any replay in flight
// (its new delivery holds a key-share lock on the event) and keeping out
// later ones, whose foreign-key check then finds the event gone
// (ErrNotFound). The second deletes: under READ COMMITTED it reads a new
// snapshot, which sees the pending delivery of a replay that committed
// meanwhile. A single DELETE would decide NOT EXISTS on the snapshot it
// took before waiting, and cascade the replay away.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT count(*) FROM (
			SELECT 1 FROM events WHERE dispatched_at < $1 FOR UPDATE) AS locked`, timestamp(before)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM events e
			WHERE e.dispatched_at < $1
				AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')`,
			timestamp(before))
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, mapDeleteError("delete events", err)
	}
	return n, nil
}

const deliveryColumns = `id, event_id, sink, COALESCE(endpoint_id, ''), status, next_attempt_at, attempts,
	last_error, last_status_code, created_at, finished_at`

func scanDelivery(row pgx.Row) (storage.EventDelivery, error) {
	var (
		d          storage.EventDelivery
		finishedAt *time.Time
	)
	if err := row.Scan(&d.ID, &d.EventID, &d.Sink, &d.EndpointID, &d.Status, &d.NextAttemptAt, &d.Attempts,
		&d.LastError, &d.LastStatusCode, &d.CreatedAt, &finishedAt); err != nil {
		return storage.EventDelivery{}, err
	}
	d.NextAttemptAt, d.CreatedAt, d.FinishedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), orZero(finishedAt)
	return d, nil
}

func collectDeliveries(rows pgx.Rows, err error) ([]storage.EventDelivery, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.EventDelivery, error) { return scanDelivery(r) })
}

// insertDeliveries stores ds in one statement and returns them as stored.
// An empty EndpointID is stored as NULL.
func insertDeliveries(ctx context.Context, q querier, ds []storage.EventDelivery) ([]storage.EventDelivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	var (
		ids, events, sinks, endpoints, statuses, lastErrors = make([]string, len(ds)), make([]string, len(ds)),
			make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds)), make([]string, len(ds))
		nexts, created = make([]time.Time, len(ds)), make([]time.Time, len(ds))
		finished       = make([]*time.Time, len(ds))
		attempts, code = make([]int32, len(ds)), make([]int32, len(ds))
	)
	for i, d := range ds {
		ids[i], events[i], sinks[i], endpoints[i], statuses[i], lastErrors[i] = d.ID, d.EventID, d.Sink, d.EndpointID, d.Status, d.LastError
		nexts[i], created[i], finished[i] = timestamp(d.NextAttemptAt), timestamp(d.CreatedAt), nullTimestamp(d.FinishedAt)
		attempts[i], code[i] = int32(d.Attempts), int32(d.LastStatusCode)
	}
	return collectDeliveries(q.Query(ctx, `
		INSERT INTO event_deliveries (id, event_id, sink, endpoint_id, status, next_attempt_at, attempts,
			last_error, last_status_code, created_at, finished_at)
		SELECT id, event_id, sink, NULLIF(endpoint_id, ''), status, next_attempt_at, attempts,
			last_error, last_status_code, created_at, finished_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::int4[],
			$8::text[], $9::int4[], $10::timestamptz[], $11::timestamptz[])
			AS d (id, event_id, sink, endpoint_id, status, next_attempt_at, attempts,
				last_error, last_status_code, created_at, finished_at)
		RETURNING `+deliveryColumns,
		ids, events, sinks, endpoints, statuses, nexts, attempts, lastErrors, code, created, finished))
}

// ClaimDeliveries leases due deliveries in one statement, as
// ClaimOutboxMessages does: FOR UPDATE SKIP LOCKED lets concurrent claimers
// pass over the rows another claimer is taking; one that reads a row after
// another committed its lease re-checks it, finds it no longer due and
// leaves it. The subquery is a CTE, which Postgres never inlines when it
// locks rows, so it runs exactly once.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]storage.EventDelivery, error) {
	const op = "claim deliveries"
	if limit < 1 || lease <= 0 {
		return nil, fmt.Errorf("%s: %w: limit %d and lease %s must be positive", op, storage.ErrInvalid, limit, lease)
	}
	type claimed struct {
		d   storage.EventDelivery
		due time.Time
	}
	rows, err := s.q(ctx).Query(ctx, `
		WITH due AS (
			SELECT id AS due_id, next_attempt_at AS due_at FROM event_deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id
			LIMIT $3
			FOR UPDATE SKIP LOCKED
		)
		UPDATE event_deliveries SET next_attempt_at = $2, attempts = attempts + 1
		FROM due WHERE id = due_id
		RETURNING `+deliveryColumns+`, due_at`,
		timestamp(now), timestamp(now.Add(lease)), limit)
	if err != nil {
		return nil, mapError(op, err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var (
			c          claimed
			finishedAt *time.Time
		)
		err := r.Scan(&c.d.ID, &c.d.EventID, &c.d.Sink, &c.d.EndpointID, &c.d.Status, &c.d.NextAttemptAt,
			&c.d.Attempts, &c.d.LastError, &c.d.LastStatusCode, &c.d.CreatedAt, &finishedAt, &c.due)
		c.d.NextAttemptAt, c.d.CreatedAt, c.d.FinishedAt = c.d.NextAttemptAt.UTC(), c.d.CreatedAt.UTC(), orZero(finishedAt)
		return c, err
	})
	if err != nil {
		return nil, mapError(op, err)
	}
	// RETURNING has no order; hand them out in the order they were due.
	slices.SortFunc(cs, func(a, b claimed) int { return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.d.ID, b.d.ID)) })
	out := make([]storage.EventDelivery, len(cs))
	for i, c := range cs {
		out[i] = c.d
	}
	return out, nil
}

func (s *Store) RetryDelivery(ctx context.Context, id string, next time.Time, lastError string, statusCode int) error {
	return s.updatePendingDelivery(ctx, fmt.Sprintf("retry delivery %q", id), id,
		`next_attempt_at = $2, last_error = $3, last_status_code = $4`, timestamp(next), lastError, statusCode)
}

func (s *Store) FinishDelivery(ctx context.Context, id, status string, at time.Time, lastError string, statusCode int) error {
	op := fmt.Sprintf("finish delivery %q", id)
	if status != storage.DeliveryDelivered && status != storage.DeliveryFailed {
		return fmt.Errorf("%s: %w: status %q is not delivered or failed", op, storage.ErrInvalid, status)
	}
	return s.updatePendingDelivery(ctx, op, id,
		`status = $2, finished_at = $3, last_error = $4, last_status_code = $5`,
		status, timestamp(at), lastError, statusCode)
}

// updatePendingDelivery runs "UPDATE … SET set" on delivery id ($1) if it
// is pending, in one statement that also reads whether the delivery exists
// to tell ErrConflict from ErrNotFound; set's parameters start at $2.
func (s *Store) updatePendingDelivery(ctx context.Context, op, id, set string, args ...any) error {
	var updated, found bool
	err := s.q(ctx).QueryRow(ctx, `
		WITH updated AS (
			UPDATE event_deliveries SET `+set+`
			WHERE id = $1 AND status = 'pending'
			RETURNING 1
		)
		SELECT EXISTS (SELECT 1 FROM updated),
			EXISTS (SELECT 1 FROM event_deliveries WHERE id = $1)`,
		append([]any{id}, args...)...).Scan(&updated, &found)
	switch {
	case err == nil && !found:
		err = storage.ErrNotFound
	case err == nil && !updated:
		err = fmt.Errorf("%w: no longer pending", storage.ErrConflict)
	}
	return mapError(op, err)
}

func (s *Store) GetDelivery(ctx context.Context, id string) (storage.EventDelivery, error) {
	d, err := scanDelivery(s.q(ctx).QueryRow(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries WHERE id = $1`, id))
	return d, mapError(fmt.Sprintf("get delivery %q", id), err)
}

// ListDeliveries lists newest first by (created_at, id) descending; IDs
// are random, so the cursor is the After delivery's position in that
// order, read first: ErrNotFound when After names no delivery. The WHERE
// clause is built from fixed fragments; every value is a parameter.
func (s *Store) ListDeliveries(ctx context.Context, q storage.DeliveryQuery) ([]storage.EventDelivery, error) {
	const op = "list deliveries"
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.EndpointID != "" {
		where = append(where, "endpoint_id = "+arg(q.EndpointID))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(q.Status))
	}
	if q.After != "" {
		var at time.Time
		err := s.q(ctx).QueryRow(ctx, `SELECT created_at FROM event_deliveries WHERE id = $1`, q.After).Scan(&at)
		if err != nil {
			return nil, mapError(fmt.Sprintf("%s after %q", op, q.After), err)
		}
		where = append(where, "(created_at, id) < ("+arg(at)+", "+arg(q.After)+")")
	}
	sql := `SELECT ` + deliveryColumns + ` FROM event_deliveries`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(storage.Page{Limit: q.Limit}.EffectiveLimit())
	ds, err := collectDeliveries(s.q(ctx).Query(ctx, sql, args...))
	return ds, mapError(op, err)
}

// ReplayDelivery locks the old delivery, so a replay cannot race the
// worker finishing it, and inserts the new one in the same transaction.
// d must be pending (Status "" is taken as pending).
func (s *Store) ReplayDelivery(ctx context.Context, id string, d storage.EventDelivery) (storage.EventDelivery, error) {
	op := fmt.Sprintf("replay delivery %q", id)
	if d.Status == "" {
		d.Status = storage.DeliveryPending
	}
	if d.Status != storage.DeliveryPending {
		return storage.EventDelivery{}, fmt.Errorf("%s: %w: status %q, want pending", op, storage.ErrInvalid, d.Status)
	}
	var out storage.EventDelivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT event_id, sink, COALESCE(endpoint_id, ''), status
			FROM event_deliveries WHERE id = $1 FOR UPDATE`, id).Scan(&d.EventID, &d.Sink, &d.EndpointID, &status)
		if err != nil {
			return err
		}
		if status == storage.DeliveryPending {
			return fmt.Errorf("%w: delivery still pending", storage.ErrConflict)
		}
		ds, err := insertDeliveries(ctx, tx, []storage.EventDelivery{d})
		if err != nil {
			return err
		}
		out = ds[0]
		return nil
	})
	return out, mapError(op, err)
}

const endpointColumns = `id, COALESCE(org_id, ''), url, description, event_types, secret, disabled, created_at, updated_at`

func scanEndpoint(row pgx.Row) (storage.WebhookEndpoint, error) {
	var e storage.WebhookEndpoint
	if err := row.Scan(&e.ID, &e.OrgID, &e.URL, &e.Description, &e.EventTypes, &e.Secret, &e.Disabled,
		&e.CreatedAt, &e.UpdatedAt); err != nil {
		return storage.WebhookEndpoint{}, err
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, nil
}

// CreateWebhookEndpoint stores e; the foreign key makes an unknown
// organization ErrNotFound. OrgID "" is stored as NULL, nil EventTypes as
// an empty array.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.q(ctx).QueryRow(ctx, `
		INSERT INTO webhook_endpoints (id, org_id, url, description, event_types, secret, disabled, created_at, updated_at)
		VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9)
		RETURNING `+endpointColumns,
		e.ID, e.OrgID, e.URL, e.Description, nonNil(e.EventTypes), e.Secret, e.Disabled,
		timestamp(e.CreatedAt), timestamp(e.UpdatedAt)))
	return e, mapError("create webhook endpoint", err)
}

func (s *Store) GetWebhookEndpoint(ctx context.Context, id string) (storage.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.q(ctx).QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
	return e, mapError(fmt.Sprintf("get webhook endpoint %q", id), err)
}

// ListWebhookEndpoints lists every endpoint, global ones included, when
// orgID is "", else the organization's only (an unknown organization has
// none).
func (s *Store) ListWebhookEndpoints(ctx context.Context, orgID string) ([]storage.WebhookEndpoint, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE $1 = '' OR org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, mapError("list webhook endpoints", err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.WebhookEndpoint, error) { return scanEndpoint(r) })
	return es, mapError("list webhook endpoints", err)
}

// UpdateWebhookEndpoint locks the row, applies update and writes the URL,
// description, event types, secret, Disabled and UpdatedAt it returns.
// update may run more than once. The row lock is FOR NO KEY UPDATE, the
// lock the UPDATE itself takes: it does not block the dispatchers, whose
// deliveries take a key-share lock on their endpoint.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, update func(storage.WebhookEndpoint) (storage.WebhookEndpoint, error)) (storage.WebhookEndpoint, error) {
	var out storage.WebhookEndpoint
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		e, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanEndpoint(tx.QueryRow(ctx, `
			UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5,
				disabled = $6, updated_at = $7
			WHERE id = $1
			RETURNING `+endpointColumns,
			id, e.URL, e.Description, nonNil(e.EventTypes), e.Secret, e.Disabled, timestamp(e.UpdatedAt)))
		return err
	})
	return out, mapError(fmt.Sprintf("update webhook endpoint %q", id), err)
}

// DeleteWebhookEndpoint removes the endpoint; its deliveries cascade.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete webhook endpoint %q", id),
		`DELETE FROM webhook_endpoints WHERE id = $1`, id)
}
