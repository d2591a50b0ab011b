-- The jti of every client assertion (private_key_jwt, RFC 7523 §3), kept
-- until the assertion expires so that it cannot be replayed
-- (storage.AssertionJTIs). jti is a keyed hash of the claim, never the
-- claim itself.

-- +goose Up
CREATE TABLE assertion_jtis (
	jti        TEXT NOT NULL PRIMARY KEY CHECK (jti <> ''),
	expires_at TEXT NOT NULL
) STRICT;
-- DeleteExpiredOAuthSessions finds expired rows by expiry.
CREATE INDEX assertion_jtis_expires_at ON assertion_jtis (expires_at);

-- +goose Down
DROP TABLE assertion_jtis;
