-- Grants ended by revocation or by reuse of a code or refresh token. JWT
-- access tokens have no row of their own, so a revoked grant is recorded
-- here, by request ID, until its last access token has expired
-- (storage.OAuthSessions.RevokeGrant).

-- +goose Up
CREATE TABLE revoked_grants (
	request_id TEXT NOT NULL PRIMARY KEY CHECK (request_id <> ''),
	expires_at TEXT NOT NULL
) STRICT;
-- DeleteExpiredOAuthSessions finds expired rows by expiry.
CREATE INDEX revoked_grants_expires_at ON revoked_grants (expires_at);

-- +goose Down
DROP TABLE revoked_grants;
