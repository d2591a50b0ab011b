-- Second factors (storage.MFA): TOTP factors, recovery codes, passkeys and
-- the short-lived state of their ceremonies; and an organization's
-- requirement that its members have one (storage.Organization.RequireMFA).
-- A TOTP secret is sealed (encrypted) by package mfa, never stored in clear
-- (TO-05); recovery codes are keyed hashes. Deleting a user removes all of
-- their second factors and pending ceremonies.

-- +goose Up
-- One TOTP factor per user.
CREATE TABLE totp_factors (
    user_id       text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    -- NULL until the first valid code confirms the enrolment (TO-04).
    confirmed_at  timestamptz,
    -- The time step of the last accepted code (TO-01).
    last_step     bigint NOT NULL DEFAULT 0
);

-- The primary key is unique (user_id, hash) and serves the foreign key.
CREATE TABLE recovery_codes (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       text NOT NULL CHECK (hash <> ''),
    created_at timestamptz NOT NULL,
    -- NULL until used.
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- A credential ID is unique across all users and at most 1023 bytes
-- (WA-06).
CREATE TABLE passkeys (
    id            bytea PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1023),
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    -- The credential as package mfa keeps it, opaque to storage.
    data          bytea NOT NULL,
    -- A sign counter went backwards (WA-05).
    clone_warning boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    -- NULL until first used to sign in.
    last_used_at  timestamptz
);
-- ListPasskeys; deleting a user.
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- id is a hash of the handle the browser holds.
CREATE TABLE mfa_challenges (
    id         text PRIMARY KEY CHECK (id <> ''),
    purpose    text NOT NULL CHECK (purpose <> ''),
    -- NULL for a passwordless passkey sign-in: the user is not yet known.
    user_id    text REFERENCES users (id) ON DELETE CASCADE,
    -- Opaque to storage.
    data       bytea,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
-- DeleteExpiredMFAChallenges by expiry; deleting a user.
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_id_idx ON mfa_challenges (user_id);

-- Members of the organization must have a second factor to sign in.
-- Existing organizations keep today's behaviour.
ALTER TABLE organizations ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE organizations DROP COLUMN require_mfa;
DROP TABLE mfa_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
