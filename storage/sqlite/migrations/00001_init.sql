-- Foyer's first schema. Times are TEXT in the fixed-width UTC form
-- 2006-01-02T15:04:05.000000Z, so they sort as the instants they name; lists
-- are JSON arrays. CHECKs refuse empty keys (storage.ErrInvalid).

-- +goose Up
CREATE TABLE users (
	id             TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	email          TEXT    NOT NULL,
	-- storage.EmailKey(email), computed in Go: SQLite's lower() is ASCII only.
	email_key      TEXT    NOT NULL UNIQUE CHECK (email_key <> ''),
	email_verified INTEGER NOT NULL DEFAULT 0,
	name           TEXT    NOT NULL DEFAULT '',
	password_hash  TEXT    NOT NULL DEFAULT '',
	admin          INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT    NOT NULL,
	updated_at     TEXT    NOT NULL
) STRICT;

CREATE TABLE organizations (
	id         TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	slug       TEXT NOT NULL UNIQUE CHECK (slug <> ''),
	name       TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

-- A role with org_id NULL is built-in: seeded by Migrate, usable in every
-- organization.
CREATE TABLE roles (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	org_id      TEXT REFERENCES organizations (id) ON DELETE CASCADE,
	name        TEXT NOT NULL CHECK (name <> ''),
	description TEXT NOT NULL DEFAULT '',
	permissions TEXT NOT NULL DEFAULT '[]',
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	UNIQUE (org_id, name)
) STRICT;
-- UNIQUE (org_id, name) ignores rows whose org_id is NULL (NULLs are
-- distinct), so built-in names need their own index. That a custom name does
-- not shadow a built-in one is checked in CreateRole's transaction.
CREATE UNIQUE INDEX roles_builtin_name ON roles (name) WHERE org_id IS NULL;

CREATE TABLE memberships (
	org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	-- NO ACTION, checked at the end of the statement: deleting an
	-- organization removes its memberships and custom roles together, while
	-- deleting a role still in use fails.
	role_id    TEXT NOT NULL REFERENCES roles (id),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (org_id, user_id)
) STRICT;
-- Indexes for ListMembershipsByUser and for the foreign-key checks that
-- deleting a user or a role makes.
CREATE INDEX memberships_user_id ON memberships (user_id, org_id);
CREATE INDEX memberships_role_id ON memberships (role_id);

CREATE TABLE clients (
	id                        TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	name                      TEXT    NOT NULL DEFAULT '',
	secret_hash               TEXT    NOT NULL DEFAULT '',
	public                    INTEGER NOT NULL DEFAULT 0,
	redirect_uris             TEXT    NOT NULL DEFAULT '[]',
	post_logout_redirect_uris TEXT    NOT NULL DEFAULT '[]',
	grant_types               TEXT    NOT NULL DEFAULT '[]',
	scopes                    TEXT    NOT NULL DEFAULT '[]',
	first_party               INTEGER NOT NULL DEFAULT 0,
	access_token_format       TEXT    NOT NULL DEFAULT '',
	created_at                TEXT    NOT NULL,
	updated_at                TEXT    NOT NULL
) STRICT;

-- +goose Down
DROP TABLE clients;
DROP TABLE memberships;
DROP TABLE roles;
DROP TABLE organizations;
DROP TABLE users;
