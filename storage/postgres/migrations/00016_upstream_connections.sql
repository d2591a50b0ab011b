-- Upstream connections (storage.UpstreamConnections): identity providers
-- Foyer signs people in with as an OAuth 2.0 / OpenID Connect client,
-- global (org_id NULL) or an organization's. Deleting an organization
-- removes its connections; their links in external_identities (which has
-- no foreign key to any connection) are removed by DeleteOrganization and
-- DeleteUpstreamConnection themselves.

-- +goose Up
CREATE TABLE upstream_connections (
    id            text PRIMARY KEY CHECK (id <> ''),
    org_id        text REFERENCES organizations (id) ON DELETE CASCADE,
    type          text NOT NULL CHECK (type IN ('oidc', 'github')),
    name          text NOT NULL,
    -- The OpenID provider's issuer; '' for GitHub.
    issuer        text NOT NULL DEFAULT '',
    client_id     text NOT NULL CHECK (client_id <> ''),
    -- Sealed by the caller.
    client_secret bytea NOT NULL CHECK (octet_length(client_secret) > 0),
    scopes        text[] NOT NULL,
    -- GitHub's endpoints when not github.com's; '' for the defaults.
    auth_url      text NOT NULL DEFAULT '',
    token_url     text NOT NULL DEFAULT '',
    api_url       text NOT NULL DEFAULT '',
    -- How claims map to Foyer: the caller's JSON, opaque to storage.
    mapping       bytea,
    multi_factor  boolean NOT NULL DEFAULT false,
    link_by_email boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- The foreign-key check that deleting an organization makes.
CREATE INDEX upstream_connections_org_id ON upstream_connections (org_id);

-- +goose Down
DROP TABLE upstream_connections;
