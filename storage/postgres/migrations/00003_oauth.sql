-- What the OAuth 2.0 and OpenID Connect core keeps: more about each client,
-- fosite's stored requests (storage.OAuthSession), signed-in browsers and
-- granted consents. Deleting a client removes its tokens and consents;
-- deleting a user removes their browser sessions and consents.

-- +goose Up
-- Clients that exist already become web applications that require neither
-- PKCE beyond the default nor PAR; '' says their token endpoint
-- authentication method was never recorded.
ALTER TABLE clients
    ADD COLUMN token_endpoint_auth_method text NOT NULL DEFAULT '',
    ADD COLUMN require_pkce boolean NOT NULL DEFAULT false,
    ADD COLUMN require_par boolean NOT NULL DEFAULT false,
    ADD COLUMN application_type text NOT NULL DEFAULT 'web',
    -- A JWK Set document, byte for byte (not jsonb, which would reformat
    -- it); NULL when the client has none.
    ADD COLUMN jwks bytea;

-- One row per authorization code, token, PKCE or OpenID Connect session and
-- pushed request, keyed by a hash of the token (signature), never the token.
CREATE TABLE oauth_sessions (
    kind         text NOT NULL CHECK (kind <> ''),
    signature    text NOT NULL CHECK (signature <> ''),
    request_id   text NOT NULL CHECK (request_id <> ''),
    client_id    text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    subject      text NOT NULL,
    active       boolean NOT NULL,
    requested_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    request      bytea NOT NULL CHECK (length(request) > 0),
    PRIMARY KEY (kind, signature)
);
-- RevokeOAuthSessions finds a token family by request ID;
-- DeleteExpiredOAuthSessions by expiry; deleting a client by client ID.
CREATE INDEX oauth_sessions_request_id_idx ON oauth_sessions (request_id);
CREATE INDEX oauth_sessions_expires_at_idx ON oauth_sessions (expires_at);
CREATE INDEX oauth_sessions_client_id_idx ON oauth_sessions (client_id);

-- id is a hash of the cookie value; sid is the public session ID.
CREATE TABLE browser_sessions (
    id           text PRIMARY KEY CHECK (id <> ''),
    sid          text NOT NULL UNIQUE CHECK (sid <> ''),
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    timestamptz NOT NULL,
    amr          text[] NOT NULL,
    org_id       text NOT NULL,
    ip           text NOT NULL,
    user_agent   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
-- ListBrowserSessions, newest first, and deleting a user.
CREATE INDEX browser_sessions_user_id_idx ON browser_sessions (user_id, created_at DESC, id);

CREATE TABLE consents (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
-- Deleting a client; the primary key serves the user side.
CREATE INDEX consents_client_id_idx ON consents (client_id);

-- +goose Down
DROP TABLE consents;
DROP TABLE browser_sessions;
DROP TABLE oauth_sessions;
ALTER TABLE clients
    DROP COLUMN jwks,
    DROP COLUMN application_type,
    DROP COLUMN require_par,
    DROP COLUMN require_pkce,
    DROP COLUMN token_endpoint_auth_method;
