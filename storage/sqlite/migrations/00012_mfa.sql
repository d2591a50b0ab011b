-- Second factors (storage.MFA): TOTP factors, recovery codes, passkeys and
-- the short-lived state of their ceremonies; and an organization's
-- requirement that its members have one (storage.Organization.RequireMFA).
-- A TOTP secret is sealed (encrypted) by package mfa, never stored in clear
-- (TO-05); recovery codes are keyed hashes. Deleting a user removes all of
-- their second factors and pending ceremonies.

-- +goose Up
-- One TOTP factor per user.
CREATE TABLE totp_factors (
	user_id       TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	sealed_secret BLOB    NOT NULL,
	created_at    TEXT    NOT NULL,
	-- NULL until the first valid code confirms the enrolment (TO-04).
	confirmed_at  TEXT,
	-- The time step of the last accepted code (TO-01).
	last_step     INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The primary key is unique (user_id, hash) and serves the foreign key.
CREATE TABLE recovery_codes (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       TEXT NOT NULL CHECK (hash <> ''),
	created_at TEXT NOT NULL,
	-- NULL until used.
	used_at    TEXT,
	PRIMARY KEY (user_id, hash)
) STRICT;

-- A credential ID is unique across all users and at most 1023 bytes
-- (WA-06).
CREATE TABLE passkeys (
	id            BLOB    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1023),
	user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name          TEXT    NOT NULL,
	-- The credential as package mfa keeps it, opaque to storage.
	data          BLOB    NOT NULL,
	-- A sign counter went backwards (WA-05).
	clone_warning INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT    NOT NULL,
	-- NULL until first used to sign in.
	last_used_at  TEXT
) STRICT;
-- ListPasskeys; the foreign-key check that deleting a user makes.
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- id is a hash of the handle the browser holds.
CREATE TABLE mfa_challenges (
	id         TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	purpose    TEXT NOT NULL CHECK (purpose <> ''),
	-- NULL for a passwordless passkey sign-in: the user is not yet known.
	user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
	-- Opaque to storage.
	data       BLOB,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;
-- DeleteExpiredMFAChallenges by expiry; the foreign-key check that deleting
-- a user makes.
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_id ON mfa_challenges (user_id);

-- Members of the organization must have a second factor to sign in.
-- Existing organizations keep today's behaviour.
ALTER TABLE organizations ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE organizations DROP COLUMN require_mfa;
DROP TABLE mfa_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
