-- The transactional outbox of events (storage.Events): a backend inserts
-- the event of a change in the change's transaction; a dispatcher turns
-- each event into one delivery per sink (webhook endpoint, NATS), and
-- workers deliver them at least once. And the audit log (storage.AuditLog).

-- +goose Up
CREATE TABLE events (
    id            text PRIMARY KEY CHECK (id <> ''),
    type          text NOT NULL CHECK (type <> ''),
    -- NULL for events of no single organization (users).
    org_id        text,
    occurred_at   timestamptz NOT NULL,
    data          jsonb NOT NULL,
    -- NULL until a dispatcher made the event's deliveries.
    dispatched_at timestamptz
);
-- DispatchEvents finds the undispatched events, oldest first.
CREATE INDEX events_undispatched_idx ON events (occurred_at, id) WHERE dispatched_at IS NULL;
-- ListEvents pages in this order; DeleteEventsBefore by dispatch time.
CREATE INDEX events_occurred_at_idx ON events (occurred_at, id);
CREATE INDEX events_dispatched_at_idx ON events (dispatched_at) WHERE dispatched_at IS NOT NULL;

CREATE TABLE webhook_endpoints (
    id          text PRIMARY KEY CHECK (id <> ''),
    -- NULL for an endpoint that receives every organization's events.
    org_id      text REFERENCES organizations (id) ON DELETE CASCADE,
    url         text NOT NULL CHECK (url <> ''),
    description text NOT NULL,
    event_types text[] NOT NULL,
    -- Sealed by the caller (AES-GCM): signing needs the secret itself.
    secret      bytea NOT NULL,
    disabled    boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_org_id_idx ON webhook_endpoints (org_id);

CREATE TABLE event_deliveries (
    id               text PRIMARY KEY CHECK (id <> ''),
    event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    sink             text NOT NULL CHECK (sink IN ('webhook', 'nats')),
    -- Set exactly for webhook deliveries.
    endpoint_id      text REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    next_attempt_at  timestamptz NOT NULL,
    attempts         integer NOT NULL CHECK (attempts >= 0),
    last_error       text NOT NULL,
    last_status_code integer NOT NULL,
    created_at       timestamptz NOT NULL,
    -- NULL while pending.
    finished_at      timestamptz,
    CHECK ((sink = 'webhook') = (endpoint_id IS NOT NULL)),
    CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- ClaimDeliveries finds due deliveries among the pending ones only.
CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX event_deliveries_event_id_idx ON event_deliveries (event_id);
CREATE INDEX event_deliveries_endpoint_idx ON event_deliveries (endpoint_id, created_at, id);

CREATE TABLE audit_log (
    id          text PRIMARY KEY CHECK (id <> ''),
    occurred_at timestamptz NOT NULL,
    type        text NOT NULL CHECK (type <> ''),
    actor_type  text NOT NULL CHECK (actor_type <> ''),
    actor_id    text NOT NULL,
    user_id     text NOT NULL,
    org_id      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    ip          text NOT NULL,
    user_agent  text NOT NULL,
    reason      text NOT NULL,
    details     jsonb NOT NULL
);
-- Newest first, and the filters admins use most; retention by time.
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at DESC, id DESC);
CREATE INDEX audit_log_org_idx ON audit_log (org_id, occurred_at DESC, id DESC) WHERE org_id <> '';
CREATE INDEX audit_log_user_idx ON audit_log (user_id, occurred_at DESC, id DESC) WHERE user_id <> '';
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, occurred_at DESC, id DESC) WHERE actor_id <> '';

-- +goose Down
DROP TABLE audit_log;
DROP TABLE event_deliveries;
DROP TABLE webhook_endpoints;
DROP TABLE events;
