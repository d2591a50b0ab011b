-- What the OAuth 2.0 and OpenID Connect core keeps: more about each client,
-- fosite's stored requests (storage.OAuthSession), signed-in browsers and
-- granted consents. Deleting a client removes its tokens and consents;
-- deleting a user removes their browser sessions and consents.

-- +goose Up
-- Clients that exist already become web applications that require neither
-- PKCE beyond the default nor PAR; '' says their token endpoint
-- authentication method was never recorded.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN require_pkce INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';
-- A JWK Set document, byte for byte; NULL when the client has none.
ALTER TABLE clients ADD COLUMN jwks BLOB;

-- One row per authorization code, token, PKCE or OpenID Connect session and
-- pushed request, keyed by a hash of the token (signature), never the token.
CREATE TABLE oauth_sessions (
	kind         TEXT    NOT NULL CHECK (kind <> ''),
	signature    TEXT    NOT NULL CHECK (signature <> ''),
	request_id   TEXT    NOT NULL CHECK (request_id <> ''),
	client_id    TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	subject      TEXT    NOT NULL DEFAULT '',
	active       INTEGER NOT NULL,
	requested_at TEXT    NOT NULL,
	expires_at   TEXT    NOT NULL,
	request      BLOB    NOT NULL CHECK (length(request) > 0),
	PRIMARY KEY (kind, signature)
) STRICT;
-- RevokeOAuthSessions finds a token family by request ID;
-- DeleteExpiredOAuthSessions by expiry; deleting a client by client ID.
CREATE INDEX oauth_sessions_request_id ON oauth_sessions (request_id);
CREATE INDEX oauth_sessions_expires_at ON oauth_sessions (expires_at);
CREATE INDEX oauth_sessions_client_id ON oauth_sessions (client_id);

-- id is a hash of the cookie value; sid is the public session ID.
CREATE TABLE browser_sessions (
	id           TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	sid          TEXT NOT NULL UNIQUE CHECK (sid <> ''),
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	auth_time    TEXT NOT NULL,
	amr          TEXT NOT NULL DEFAULT '[]',
	org_id       TEXT NOT NULL DEFAULT '',
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	expires_at   TEXT NOT NULL
) STRICT;
-- ListBrowserSessions, newest first, and deleting a user.
CREATE INDEX browser_sessions_user_id ON browser_sessions (user_id, created_at DESC, id);

CREATE TABLE consents (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scopes     TEXT NOT NULL DEFAULT '[]',
	granted_at TEXT NOT NULL,
	PRIMARY KEY (user_id, client_id)
) STRICT;
-- Deleting a client; the primary key serves the user side.
CREATE INDEX consents_client_id ON consents (client_id);

-- +goose Down
DROP TABLE consents;
DROP TABLE browser_sessions;
DROP TABLE oauth_sessions;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients DROP COLUMN application_type;
ALTER TABLE clients DROP COLUMN require_par;
ALTER TABLE clients DROP COLUMN require_pkce;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_method;
