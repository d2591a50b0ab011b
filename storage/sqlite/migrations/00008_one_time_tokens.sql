-- The tokens of emailed links: magic links, email verification and password
-- reset (storage.OneTimeTokens). hash is a keyed hash of the token in the
-- link, never the token (SECURITY.md ML-01). A used or superseded token keeps
-- its row, with used_at set, until it expires, so that a second use can be
-- told apart from a link that never existed.

-- +goose Up
CREATE TABLE one_time_tokens (
	hash       TEXT NOT NULL PRIMARY KEY CHECK (hash <> ''),
	purpose    TEXT NOT NULL CHECK (purpose <> ''),
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      TEXT NOT NULL,
	-- '' when the link is not bound to a browser.
	binding    TEXT NOT NULL DEFAULT '',
	-- '' when there is no pending authorization to resume.
	challenge  TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	-- NULL until used or superseded.
	used_at    TEXT
) STRICT;
-- DeleteExpiredOneTimeTokens finds expired rows by expiry.
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);
-- CreateOneTimeToken supersedes the user's earlier tokens of a purpose;
-- deleting a user finds theirs.
CREATE INDEX one_time_tokens_user_purpose ON one_time_tokens (user_id, purpose);

-- +goose Down
DROP TABLE one_time_tokens;
