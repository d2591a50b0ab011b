-- Foyer's initial schema. IDs are opaque text chosen by the application
-- (usr_…, org_…, rol_…); times are set by the application, in UTC.

-- +goose Up
CREATE TABLE users (
    id             text PRIMARY KEY CHECK (id <> ''),
    email          text NOT NULL,
    -- storage.EmailKey(email): computed in Go, because Postgres lower() and
    -- btrim() differ from Go's strings.ToLower and TrimSpace.
    email_key      text NOT NULL UNIQUE CHECK (email_key <> ''),
    email_verified boolean NOT NULL,
    name           text NOT NULL,
    password_hash  text NOT NULL,
    admin          boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE organizations (
    id         text PRIMARY KEY CHECK (id <> ''),
    slug       text NOT NULL UNIQUE CHECK (slug <> ''),
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A role with no org_id is built in and usable in every organization. NULLS
-- NOT DISTINCT makes names unique among built-ins as well as per
-- organization; the Go code keeps custom names off built-in names.
CREATE TABLE roles (
    id          text PRIMARY KEY CHECK (id <> ''),
    org_id      text REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name <> ''),
    description text NOT NULL,
    permissions text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE NULLS NOT DISTINCT (org_id, name)
);

-- role_id is NO ACTION, not RESTRICT: deleting an organization cascades to
-- its memberships and custom roles in one statement, and NO ACTION checks
-- only at the end of it. Deleting a role still in use fails.
CREATE TABLE memberships (
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id    text NOT NULL REFERENCES roles (id),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id, org_id);
CREATE INDEX memberships_role_id_idx ON memberships (role_id);

CREATE TABLE clients (
    id                        text PRIMARY KEY CHECK (id <> ''),
    name                      text NOT NULL,
    secret_hash               text NOT NULL,
    public                    boolean NOT NULL,
    redirect_uris             text[] NOT NULL,
    post_logout_redirect_uris text[] NOT NULL,
    grant_types               text[] NOT NULL,
    scopes                    text[] NOT NULL,
    first_party               boolean NOT NULL,
    access_token_format       text NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);

-- +goose Down
DROP TABLE clients;
DROP TABLE memberships;
DROP TABLE roles;
DROP TABLE organizations;
DROP TABLE users;
