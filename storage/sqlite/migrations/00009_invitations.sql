-- Invitations to organizations (storage.Invitations). token_hash is a keyed
-- hash of the token in the emailed link, never the token (SECURITY.md
-- ML-01). An accepted or revoked invitation keeps its row, so that a second
-- use of a link can be told apart from a link that never existed.

-- +goose Up
CREATE TABLE invitations (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	email       TEXT NOT NULL,
	-- storage.EmailKey(email), computed in Go.
	email_key   TEXT NOT NULL CHECK (email_key <> ''),
	role        TEXT NOT NULL CHECK (role <> ''),
	token_hash  TEXT NOT NULL UNIQUE CHECK (token_hash <> ''),
	invited_by  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	-- NULL until accepted, or revoked (by an admin or a newer invitation).
	accepted_at TEXT,
	revoked_at  TEXT
) STRICT;
-- At most one open invitation per organization and address.
CREATE UNIQUE INDEX invitations_open ON invitations (org_id, email_key)
	WHERE accepted_at IS NULL AND revoked_at IS NULL;
-- ListInvitations reads an organization's invitations.
CREATE INDEX invitations_org ON invitations (org_id, created_at);

-- +goose Down
DROP TABLE invitations;
