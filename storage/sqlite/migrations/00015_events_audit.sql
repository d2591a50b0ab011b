-- The transactional outbox of events (storage.Events): a backend inserts
-- the event of a change in the change's transaction; a dispatcher turns
-- each event into one delivery per sink (webhook endpoint, NATS), and
-- workers deliver them at least once. And the audit log (storage.AuditLog).
-- Times are text in the backend's sortable format.

-- +goose Up
CREATE TABLE events (
	id            TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	type          TEXT NOT NULL CHECK (type <> ''),
	-- NULL for events of no single organization (users).
	org_id        TEXT,
	occurred_at   TEXT NOT NULL,
	data          TEXT NOT NULL,
	-- NULL until a dispatcher made the event's deliveries.
	dispatched_at TEXT
) STRICT;
CREATE INDEX events_undispatched ON events (occurred_at, id) WHERE dispatched_at IS NULL;
CREATE INDEX events_occurred_at ON events (occurred_at, id);
CREATE INDEX events_dispatched_at ON events (dispatched_at) WHERE dispatched_at IS NOT NULL;

CREATE TABLE webhook_endpoints (
	id          TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	-- NULL for an endpoint that receives every organization's events.
	org_id      TEXT    REFERENCES organizations (id) ON DELETE CASCADE,
	url         TEXT    NOT NULL CHECK (url <> ''),
	description TEXT    NOT NULL,
	-- A JSON array of filters.
	event_types TEXT    NOT NULL DEFAULT '[]',
	-- Sealed by the caller (AES-GCM): signing needs the secret itself.
	secret      BLOB    NOT NULL,
	disabled    INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created_at  TEXT    NOT NULL,
	updated_at  TEXT    NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_org_id ON webhook_endpoints (org_id);

CREATE TABLE event_deliveries (
	id               TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	event_id         TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	sink             TEXT    NOT NULL CHECK (sink IN ('webhook', 'nats')),
	-- Set exactly for webhook deliveries.
	endpoint_id      TEXT    REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	next_attempt_at  TEXT    NOT NULL,
	attempts         INTEGER NOT NULL CHECK (attempts >= 0),
	last_error       TEXT    NOT NULL,
	last_status_code INTEGER NOT NULL,
	created_at       TEXT    NOT NULL,
	-- NULL while pending.
	finished_at      TEXT,
	CHECK ((sink = 'webhook') = (endpoint_id IS NOT NULL)),
	CHECK ((status = 'pending') = (finished_at IS NULL))
) STRICT;
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX event_deliveries_event_id ON event_deliveries (event_id);
CREATE INDEX event_deliveries_endpoint ON event_deliveries (endpoint_id, created_at, id);

CREATE TABLE audit_log (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	occurred_at TEXT NOT NULL,
	type        TEXT NOT NULL CHECK (type <> ''),
	actor_type  TEXT NOT NULL CHECK (actor_type <> ''),
	actor_id    TEXT NOT NULL,
	user_id     TEXT NOT NULL,
	org_id      TEXT NOT NULL,
	target_type TEXT NOT NULL,
	target_id   TEXT NOT NULL,
	ip          TEXT NOT NULL,
	user_agent  TEXT NOT NULL,
	reason      TEXT NOT NULL,
	details     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_time ON audit_log (occurred_at DESC, id DESC);
CREATE INDEX audit_log_org ON audit_log (org_id, occurred_at DESC, id DESC) WHERE org_id <> '';
CREATE INDEX audit_log_user ON audit_log (user_id, occurred_at DESC, id DESC) WHERE user_id <> '';
CREATE INDEX audit_log_actor ON audit_log (actor_id, occurred_at DESC, id DESC) WHERE actor_id <> '';

-- +goose Down
DROP TABLE audit_log;
DROP TABLE event_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
