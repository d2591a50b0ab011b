-- SAML single sign-on (storage.SAML, storage.ExternalIdentities): an
-- organization's SAML identity providers, for which Foyer is the service
-- provider; the email domains they claim; and the links of people to
-- accounts at other identity providers. Deleting an organization removes
-- its connections with their domains; deleting a user removes their links.
-- external_identities.connection_id has no foreign key, as upstream OIDC
-- connections will share the table: DeleteSAMLConnection removes a
-- connection's links itself.

-- +goose Up
CREATE TABLE saml_connections (
	id                  TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
	org_id              TEXT    NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	name                TEXT    NOT NULL,
	-- Where the IdP's metadata is fetched from; '' when an admin gave it.
	metadata_url        TEXT    NOT NULL DEFAULT '',
	-- The last good copy of the IdP's metadata; NULL until there is one.
	metadata            BLOB,
	-- NULL until fetched.
	metadata_fetched_at TEXT,
	-- The last refresh's failure; '' when it succeeded.
	metadata_error      TEXT    NOT NULL DEFAULT '',
	-- The SP's private key (PKCS#8, sealed by the caller) and its
	-- certificate (DER).
	sp_key              BLOB    NOT NULL CHECK (length(sp_key) > 0),
	sp_certificate      BLOB    NOT NULL CHECK (length(sp_certificate) > 0),
	allow_idp_initiated INTEGER NOT NULL DEFAULT 0,
	-- How attributes and groups map to Foyer: the caller's JSON, opaque to
	-- storage.
	mapping             BLOB,
	created_at          TEXT    NOT NULL,
	updated_at          TEXT    NOT NULL
) STRICT;
-- ListSAMLConnections; the foreign-key check that deleting an organization
-- makes.
CREATE INDEX saml_connections_org_id ON saml_connections (org_id);

-- A domain is claimed by at most one connection, and stored lowercase.
CREATE TABLE saml_domains (
	domain             TEXT NOT NULL PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
	connection_id      TEXT NOT NULL REFERENCES saml_connections (id) ON DELETE CASCADE,
	-- The value of the DNS TXT record that proves the domain.
	verification_token TEXT NOT NULL,
	-- NULL until verified.
	verified_at        TEXT,
	created_at         TEXT NOT NULL
) STRICT;
-- ListSAMLDomains; the foreign-key check that deleting a connection makes.
CREATE INDEX saml_domains_connection_id ON saml_domains (connection_id);

-- A subject at a connection is linked to one user. connection_id has no
-- foreign key (see above).
CREATE TABLE external_identities (
	connection_id TEXT NOT NULL CHECK (connection_id <> ''),
	subject       TEXT NOT NULL CHECK (subject <> ''),
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at    TEXT NOT NULL,
	-- NULL until the first sign-in through it.
	last_login_at TEXT,
	PRIMARY KEY (connection_id, subject)
) STRICT;
-- ListExternalIdentities; the foreign-key check that deleting a user makes.
CREATE INDEX external_identities_user_id ON external_identities (user_id);

-- +goose Down
DROP TABLE external_identities;
DROP TABLE saml_domains;
DROP TABLE saml_connections;
