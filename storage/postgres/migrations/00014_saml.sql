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
    id                  text PRIMARY KEY CHECK (id <> ''),
    org_id              text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                text NOT NULL,
    -- Where the IdP's metadata is fetched from; '' when an admin gave it.
    metadata_url        text NOT NULL DEFAULT '',
    -- The last good copy of the IdP's metadata; NULL until there is one.
    metadata            bytea,
    -- NULL until fetched.
    metadata_fetched_at timestamptz,
    -- The last refresh's failure; '' when it succeeded.
    metadata_error      text NOT NULL DEFAULT '',
    -- The SP's private key (PKCS#8, sealed by the caller) and its
    -- certificate (DER).
    sp_key              bytea NOT NULL CHECK (octet_length(sp_key) > 0),
    sp_certificate      bytea NOT NULL CHECK (octet_length(sp_certificate) > 0),
    allow_idp_initiated boolean NOT NULL DEFAULT false,
    -- How attributes and groups map to Foyer: the caller's JSON, opaque to
    -- storage.
    mapping             bytea,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
-- ListSAMLConnections; deleting an organization.
CREATE INDEX saml_connections_org_id_idx ON saml_connections (org_id);

-- A domain is claimed by at most one connection, and stored lowercase.
CREATE TABLE saml_domains (
    domain             text PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
    connection_id      text NOT NULL REFERENCES saml_connections (id) ON DELETE CASCADE,
    -- The value of the DNS TXT record that proves the domain.
    verification_token text NOT NULL,
    -- NULL until verified.
    verified_at        timestamptz,
    created_at         timestamptz NOT NULL
);
-- ListSAMLDomains; deleting a connection.
CREATE INDEX saml_domains_connection_id_idx ON saml_domains (connection_id);

-- A subject at a connection is linked to one user. connection_id has no
-- foreign key (see above).
CREATE TABLE external_identities (
    connection_id text NOT NULL CHECK (connection_id <> ''),
    subject       text NOT NULL CHECK (subject <> ''),
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    -- NULL until the first sign-in through it.
    last_login_at timestamptz,
    PRIMARY KEY (connection_id, subject)
);
-- ListExternalIdentities; deleting a user.
CREATE INDEX external_identities_user_id_idx ON external_identities (user_id);

-- +goose Down
DROP TABLE external_identities;
DROP TABLE saml_domains;
DROP TABLE saml_connections;
