-- Upstream connections (storage.UpstreamConnections): identity providers
-- Foyer signs people in with as an OAuth 2.0 / OpenID Connect client,
-- global (org_id NULL) or an organization's. Deleting an organization
-- removes its connections; their links in external_identities (which has
-- no foreign key to any connection) are removed by DeleteOrganization and
-- DeleteUpstreamConnection themselves.

-- +goose Up
CREATE TABLE upstream_connections (
	id            TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	org_id        TEXT    REFERENCES organizations (id) ON DELETE CASCADE,
	type          TEXT    NOT NULL CHECK (type IN ('oidc', 'github')),
	name          TEXT    NOT NULL,
	-- The OpenID provider's issuer; '' for GitHub.
	issuer        TEXT    NOT NULL DEFAULT '',
	client_id     TEXT    NOT NULL CHECK (client_id <> ''),
	-- Sealed by the caller.
	client_secret BLOB    NOT NULL CHECK (length(client_secret) > 0),
	-- JSON array of strings.
	scopes        TEXT    NOT NULL DEFAULT '[]',
	-- GitHub's endpoints when not github.com's; '' for the defaults.
	auth_url      TEXT    NOT NULL DEFAULT '',
	token_url     TEXT    NOT NULL DEFAULT '',
	api_url       TEXT    NOT NULL DEFAULT '',
	-- How claims map to Foyer: the caller's JSON, opaque to storage.
	mapping       BLOB,
	multi_factor  INTEGER NOT NULL DEFAULT 0,
	link_by_email INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL
) STRICT;
-- The foreign-key check that deleting an organization makes.
CREATE INDEX upstream_connections_org_id ON upstream_connections (org_id);

-- +goose Down
DROP TABLE upstream_connections;
