-- The transactional outbox of outgoing email (storage.Outbox): a feature
-- inserts a message in the transaction that makes the token it carries, and
-- a worker claims and sends it afterwards, retrying while SMTP is down.

-- +goose Up
CREATE TABLE outbox_messages (
    id              text PRIMARY KEY CHECK (id <> ''),
    recipient       text NOT NULL CHECK (recipient <> ''),
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    created_at      timestamptz NOT NULL,
    -- NULL when the message never becomes worthless.
    not_after       timestamptz,
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL CHECK (attempts >= 0),
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'dropped', 'failed')),
    last_error      text NOT NULL,
    -- NULL while pending, set when the message leaves pending.
    finished_at     timestamptz,
    CHECK ((status = 'pending') = (finished_at IS NULL))
);
-- ClaimOutboxMessages finds due messages among the pending ones only.
CREATE INDEX outbox_messages_due_idx ON outbox_messages (next_attempt_at, id)
    WHERE status = 'pending';
-- DeleteFinishedOutboxMessages finds finished messages by when they finished.
CREATE INDEX outbox_messages_finished_at_idx ON outbox_messages (finished_at)
    WHERE finished_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox_messages;
