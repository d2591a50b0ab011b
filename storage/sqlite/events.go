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

// The outbox of events. The mutating methods of users, organizations,
// memberships, invitations and browser sessions call insertEvent in the
// transaction of their change, so an event commits if and only if its
// change does, also inside a caller's transaction (BeginTx).

const eventColumns = `id, type, org_id, occurred_at, data, dispatched_at`

func scanEvent(row scanner) (storage.Event, error) {
	var (
		e     storage.Event
		orgID sql.NullString
		data  string
	)
	err := row.Scan(&e.ID, &e.Type, &orgID, timeColumn{&e.OccurredAt}, &data, nullTimeColumn{&e.DispatchedAt})
	e.OrgID, e.Data = orgID.String, []byte(data)
	return e, err
}

// nullString stores "" as NULL, for optional references.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insertEvent stores ev, undispatched, with q: the transaction of the
// change ev records.
func insertEvent(ctx context.Context, q querier, ev storage.Event) error {
	_, err := q.ExecContext(ctx, `INSERT INTO events (`+eventColumns+`) VALUES (?, ?, ?, ?, ?, NULL)`,
		ev.ID, ev.Type, nullString(ev.OrgID), formatTime(ev.OccurredAt), string(ev.Data))
	if err != nil {
		return fmt.Errorf("record event %s: %w", ev.Type, dbError(err, storage.ErrNotFound))
	}
	return nil
}

func (s *Store) GetEvent(ctx context.Context, id string) (storage.Event, error) {
	e, err := scanEvent(s.q(ctx).QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	if err != nil {
		return storage.Event{}, fmt.Errorf("get event %s: %w", id, dbError(err, storage.ErrNotFound))
	}
	return e, nil
}

// ListEvents reads the position of after, then the events past it; limit
// is bounded like a storage.Page's.
func (s *Store) ListEvents(ctx context.Context, after string, limit int) ([]storage.Event, error) {
	q := s.q(ctx)
	from, fromID := "", ""
	if after != "" {
		err := q.QueryRowContext(ctx, `SELECT occurred_at, id FROM events WHERE id = ?`, after).Scan(&from, &fromID)
		if err != nil {
			return nil, fmt.Errorf("list events after %s: %w", after, dbError(err, storage.ErrNotFound))
		}
	}
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE (occurred_at, id) > (?, ?) ORDER BY occurred_at, id LIMIT ?`,
		from, fromID, storage.Page{Limit: limit}.EffectiveLimit())
	if err != nil {
		return nil, fmt.Errorf("list events: %w", dbError(err, storage.ErrNotFound))
	}
	events, err := collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// DispatchEvents reads, routes and marks the events in one transaction.
// BEGIN IMMEDIATE (see dsn) makes it the only writer from its first
// statement, the SELECT included, so concurrent dispatchers take turns and
// each finds the others' events already dispatched. route runs while the
// write lock is held: it must not use the store (on another context it
// would wait for the lock this transaction holds) and should be quick.
// Every delivery route returns belongs to the event it was given: its
// EventID is set to that event's.
func (s *Store) DispatchEvents(ctx context.Context, now time.Time, limit int, route func(storage.Event) []storage.EventDelivery) (int, error) {
	if limit < 1 || route == nil {
		return 0, fmt.Errorf("dispatch events: limit %d must be positive and route set: %w", limit, storage.ErrInvalid)
	}
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
			WHERE dispatched_at IS NULL ORDER BY occurred_at, id LIMIT ?`, limit)
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		events, err := collect(rows, scanEvent)
		if err != nil {
			return err
		}
		for _, ev := range events {
			for _, d := range route(ev) {
				d.EventID = ev.ID
				if err := insertDelivery(ctx, tx, d); err != nil {
					return fmt.Errorf("event %s: %w", ev.ID, err)
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE events SET dispatched_at = ? WHERE id = ?`,
				formatTime(now), ev.ID); err != nil {
				return fmt.Errorf("event %s: %w", ev.ID, dbError(err, storage.ErrConflict))
			}
		}
		n = len(events)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dispatch events: %w", err)
	}
	return n, nil
}

// DeleteEventsBefore deletes in one statement; the foreign keys (on in
// every connection, see dsn) cascade to the deliveries.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.q(ctx).ExecContext(ctx, `
		DELETE FROM events
		WHERE dispatched_at < ?
			AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')`,
		formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("delete events: %w", dbError(err, storage.ErrConflict))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	return n, nil
}

const deliveryColumns = `id, event_id, sink, endpoint_id, status, next_attempt_at, attempts, last_error,
	last_status_code, created_at, finished_at`

func scanDelivery(row scanner) (storage.EventDelivery, error) {
	var (
		d          storage.EventDelivery
		endpointID sql.NullString
	)
	err := row.Scan(&d.ID, &d.EventID, &d.Sink, &endpointID, &d.Status, timeColumn{&d.NextAttemptAt}, &d.Attempts,
		&d.LastError, &d.LastStatusCode, timeColumn{&d.CreatedAt}, nullTimeColumn{&d.FinishedAt})
	d.EndpointID = endpointID.String
	return d, err
}

// insertDelivery stores d with q. The schema's checks refuse an unknown
// sink or status, an endpoint on a NATS delivery or none on a webhook one,
// and a finish time on a pending delivery (ErrInvalid); an unknown event
// or endpoint is ErrNotFound.
func insertDelivery(ctx context.Context, q querier, d storage.EventDelivery) error {
	_, err := q.ExecContext(ctx, `INSERT INTO event_deliveries (`+deliveryColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.EventID, d.Sink, nullString(d.EndpointID), d.Status, formatTime(d.NextAttemptAt), d.Attempts,
		d.LastError, d.LastStatusCode, formatTime(d.CreatedAt), nullTime(d.FinishedAt))
	if err != nil {
		return fmt.Errorf("store delivery %s: %w", d.ID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// utcDelivery is d with its times as the store keeps them.
func utcDelivery(d storage.EventDelivery) storage.EventDelivery {
	d.NextAttemptAt, d.CreatedAt = utc(d.NextAttemptAt), utc(d.CreatedAt)
	if !d.FinishedAt.IsZero() {
		d.FinishedAt = utc(d.FinishedAt)
	}
	return d
}

// ClaimDeliveries leases due deliveries in one UPDATE … RETURNING, as
// ClaimOutboxMessages does: SQLite runs writes one at a time, so concurrent
// claimers take turns and each finds the others' deliveries leased.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]storage.EventDelivery, error) {
	if limit < 1 || lease <= 0 {
		return nil, fmt.Errorf("claim deliveries: limit %d and lease %s must be positive: %w", limit, lease, storage.ErrInvalid)
	}
	rows, err := s.q(ctx).QueryContext(ctx, `
		UPDATE event_deliveries SET next_attempt_at = ?, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM event_deliveries
			WHERE status = 'pending' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id
			LIMIT ?
		)
		RETURNING `+deliveryColumns,
		formatTime(now.Add(lease)), formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", dbError(err, storage.ErrConflict))
	}
	claimed, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", dbError(err, storage.ErrConflict))
	}
	// RETURNING has no order, and the claimed now share next_attempt_at:
	// send the oldest first.
	slices.SortFunc(claimed, func(a, b storage.EventDelivery) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return claimed, nil
}

func (s *Store) RetryDelivery(ctx context.Context, id string, next time.Time, lastError string, statusCode int) error {
	err := s.updatePendingDelivery(ctx, id, `next_attempt_at = ?, last_error = ?, last_status_code = ?`,
		formatTime(next), lastError, statusCode)
	if err != nil {
		return fmt.Errorf("retry delivery %s: %w", id, err)
	}
	return nil
}

func (s *Store) FinishDelivery(ctx context.Context, id, status string, at time.Time, lastError string, statusCode int) error {
	switch status {
	case storage.DeliveryDelivered, storage.DeliveryFailed:
	default:
		return fmt.Errorf("finish delivery %s: status %q is not delivered or failed: %w", id, status, storage.ErrInvalid)
	}
	err := s.updatePendingDelivery(ctx, id, `status = ?, finished_at = ?, last_error = ?, last_status_code = ?`,
		status, formatTime(at), lastError, statusCode)
	if err != nil {
		return fmt.Errorf("finish delivery %s: %w", id, err)
	}
	return nil
}

// updatePendingDelivery runs "UPDATE … SET set" on delivery id if it is
// pending; args are set's parameters. When it changes nothing, a second
// look in the same transaction tells ErrConflict (no longer pending) from
// ErrNotFound.
func (s *Store) updatePendingDelivery(ctx context.Context, id, set string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_deliveries SET `+set+` WHERE id = ? AND status = 'pending'`,
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
		found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM event_deliveries WHERE id = ?)`, id)
		switch {
		case err != nil:
			return err
		case found:
			return fmt.Errorf("no longer pending: %w", storage.ErrConflict)
		}
		return storage.ErrNotFound
	})
}

func (s *Store) GetDelivery(ctx context.Context, id string) (storage.EventDelivery, error) {
	d, err := getDelivery(ctx, s.q(ctx), id)
	if err != nil {
		return storage.EventDelivery{}, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return d, nil
}

func getDelivery(ctx context.Context, q querier, id string) (storage.EventDelivery, error) {
	d, err := scanDelivery(q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries WHERE id = ?`, id))
	return d, dbError(err, storage.ErrNotFound)
}

// ListDeliveries reads the position of q.After (ErrNotFound when it names
// no delivery), then the page older than it.
func (s *Store) ListDeliveries(ctx context.Context, q storage.DeliveryQuery) ([]storage.EventDelivery, error) {
	db := s.q(ctx)
	where, args := "1 = 1", []any{}
	if q.EndpointID != "" {
		where += ` AND endpoint_id = ?`
		args = append(args, q.EndpointID)
	}
	if q.Status != "" {
		where += ` AND status = ?`
		args = append(args, q.Status)
	}
	if q.After != "" {
		var createdAt, id string
		err := db.QueryRowContext(ctx, `SELECT created_at, id FROM event_deliveries WHERE id = ?`, q.After).Scan(&createdAt, &id)
		if err != nil {
			return nil, fmt.Errorf("list deliveries after %s: %w", q.After, dbError(err, storage.ErrNotFound))
		}
		where += ` AND (created_at, id) < (?, ?)`
		args = append(args, createdAt, id)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries
		WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT ?`,
		append(args, storage.Page{Limit: q.Limit}.EffectiveLimit())...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", dbError(err, storage.ErrNotFound))
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// ReplayDelivery reads the old delivery and stores the new one in one
// transaction, so the old one cannot be deleted in between. The new one is
// pending whatever d says: Status becomes pending and FinishedAt zero.
func (s *Store) ReplayDelivery(ctx context.Context, id string, d storage.EventDelivery) (storage.EventDelivery, error) {
	if d.Status != storage.DeliveryPending {
		return storage.EventDelivery{}, fmt.Errorf("replay delivery %s: status %q, want pending: %w", id, d.Status, storage.ErrInvalid)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getDelivery(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.Status == storage.DeliveryPending {
			return fmt.Errorf("still pending: %w", storage.ErrConflict)
		}
		d.EventID, d.Sink, d.EndpointID = old.EventID, old.Sink, old.EndpointID
		d.FinishedAt = time.Time{}
		d = utcDelivery(d)
		return insertDelivery(ctx, tx, d)
	})
	if err != nil {
		return storage.EventDelivery{}, fmt.Errorf("replay delivery %s: %w", id, err)
	}
	return d, nil
}

const webhookEndpointColumns = `id, org_id, url, description, event_types, secret, disabled, created_at, updated_at`

func scanWebhookEndpoint(row scanner) (storage.WebhookEndpoint, error) {
	var (
		e     storage.WebhookEndpoint
		orgID sql.NullString
	)
	err := row.Scan(&e.ID, &orgID, &e.URL, &e.Description, listColumn{&e.EventTypes}, &e.Secret, &e.Disabled,
		timeColumn{&e.CreatedAt}, timeColumn{&e.UpdatedAt})
	e.OrgID = orgID.String
	return e, err
}

// CreateWebhookEndpoint stores e. An unknown organization fails the
// foreign key: ErrNotFound.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
	e.CreatedAt, e.UpdatedAt = utc(e.CreatedAt), utc(e.UpdatedAt)
	_, err := s.q(ctx).ExecContext(ctx, `INSERT INTO webhook_endpoints (`+webhookEndpointColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, nullString(e.OrgID), e.URL, e.Description, encodeList(e.EventTypes), secretBlob(e.Secret), e.Disabled,
		formatTime(e.CreatedAt), formatTime(e.UpdatedAt))
	if err != nil {
		return storage.WebhookEndpoint{}, fmt.Errorf("create webhook endpoint %s: %w", e.ID, dbError(err, storage.ErrNotFound))
	}
	return e, nil
}

// secretBlob is b for a BLOB NOT NULL column: a nil slice would be NULL.
func secretBlob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (s *Store) GetWebhookEndpoint(ctx context.Context, id string) (storage.WebhookEndpoint, error) {
	e, err := getWebhookEndpoint(ctx, s.q(ctx), id)
	if err != nil {
		return storage.WebhookEndpoint{}, fmt.Errorf("get webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

func getWebhookEndpoint(ctx context.Context, q querier, id string) (storage.WebhookEndpoint, error) {
	e, err := scanWebhookEndpoint(q.QueryRowContext(ctx,
		`SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = ?`, id))
	return e, dbError(err, storage.ErrNotFound)
}

func (s *Store) ListWebhookEndpoints(ctx context.Context, orgID string) ([]storage.WebhookEndpoint, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints
		WHERE ?1 = '' OR org_id = ?1 ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", dbError(err, storage.ErrNotFound))
	}
	out, err := collect(rows, scanWebhookEndpoint)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// UpdateWebhookEndpoint applies update under the write lock. The stored
// ID, OrgID and CreatedAt win over whatever update returns.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, update func(storage.WebhookEndpoint) (storage.WebhookEndpoint, error)) (storage.WebhookEndpoint, error) {
	var e storage.WebhookEndpoint
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getWebhookEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		if e, err = update(old); err != nil {
			return err
		}
		e.ID, e.OrgID, e.CreatedAt, e.UpdatedAt = old.ID, old.OrgID, old.CreatedAt, utc(e.UpdatedAt)
		_, err = tx.ExecContext(ctx, `
			UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, secret = ?, disabled = ?,
				updated_at = ?
			WHERE id = ?`,
			e.URL, e.Description, encodeList(e.EventTypes), secretBlob(e.Secret), e.Disabled, formatTime(e.UpdatedAt), e.ID)
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.WebhookEndpoint{}, fmt.Errorf("update webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

// DeleteWebhookEndpoint deletes the endpoint; the foreign key cascades to
// its deliveries.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM webhook_endpoints WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	return nil
}
