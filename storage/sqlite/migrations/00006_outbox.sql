-- The transactional outbox of outgoing email (storage.Outbox): a feature
-- inserts a message in the transaction that makes the token it carries, and
-- a worker claims and sends it afterwards, retrying while SMTP is down.

-- +goose Up
CREATE TABLE outbox_messages (
	id              TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	recipient       TEXT    NOT NULL CHECK (recipient <> ''),
	subject         TEXT    NOT NULL,
	text_body       TEXT    NOT NULL,
	html_body       TEXT    NOT NULL,
	created_at      TEXT    NOT NULL,
	-- NULL when the message never becomes worthless.
	not_after       TEXT,
	next_attempt_at TEXT    NOT NULL,
	attempts        INTEGER NOT NULL CHECK (attempts >= 0),
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'dropped', 'failed')),
	last_error      TEXT    NOT NULL DEFAULT '',
	-- NULL while pending, set when the message leaves pending.
	finished_at     TEXT,
	CHECK ((status = 'pending') = (finished_at IS NULL))
) STRICT;
-- ClaimOutboxMessages finds due messages among the pending ones only.
CREATE INDEX outbox_messages_due ON outbox_messages (next_attempt_at, id)
	WHERE status = 'pending';
-- DeleteFinishedOutboxMessages finds finished messages by when they finished.
CREATE INDEX outbox_messages_finished_at ON outbox_messages (finished_at)
	WHERE finished_at IS NOT NULL;

-- +goose Down
DROP TABLE outbox_messages;
