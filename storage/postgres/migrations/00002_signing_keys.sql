-- Token-signing keys (storage.SigningKey). A time that has not happened yet
-- (activated_at of a next key, say) is NULL.

-- +goose Up
-- The keys are bytea, not jsonb: jsonb would reformat the JWK, and both
-- must come back byte for byte as the caller wrote them.
CREATE TABLE signing_keys (
    id           text PRIMARY KEY CHECK (id <> ''),
    algorithm    text NOT NULL CHECK (algorithm <> ''),
    state        text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_jwk   bytea NOT NULL CHECK (length(public_jwk) > 0),
    sealed_key   bytea NOT NULL CHECK (length(sealed_key) > 0),
    created_at   timestamptz NOT NULL,
    activated_at timestamptz,
    retired_at   timestamptz,
    remove_after timestamptz
);
-- At most one next key and one active key: instances that bootstrap or
-- rotate at once cannot both add one (SECURITY.md F4). UpdateSigningKeys
-- reports a violation as storage.ErrConflict.
CREATE UNIQUE INDEX signing_keys_one_next_one_active ON signing_keys (state)
    WHERE state IN ('next', 'active');

-- UpdateSigningKeys locks this table's one row (SELECT … FOR UPDATE) before
-- it reads the keys, so updates from every process take turns. Locking rows
-- of signing_keys would not do: an empty set has none to lock, and two
-- bootstraps would each insert a key. A row, unlike an advisory lock, belongs
-- to the schema, so stores in different schemas never wait for each other.
CREATE TABLE signing_keys_lock (
    id int PRIMARY KEY CHECK (id = 1)
);
INSERT INTO signing_keys_lock (id) VALUES (1);

-- +goose Down
DROP TABLE signing_keys_lock;
DROP TABLE signing_keys;
