-- Token-signing keys (storage.SigningKey). A time that has not happened yet
-- (ActivatedAt of a next key, say) is NULL. The keys are BLOBs, kept byte
-- for byte as the caller wrote them.

-- +goose Up
CREATE TABLE signing_keys (
	id           TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	algorithm    TEXT NOT NULL CHECK (algorithm <> ''),
	state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
	public_jwk   BLOB NOT NULL CHECK (length(public_jwk) > 0),
	sealed_key   BLOB NOT NULL CHECK (length(sealed_key) > 0),
	created_at   TEXT NOT NULL,
	activated_at TEXT,
	retired_at   TEXT,
	remove_after TEXT
) STRICT;
-- At most one next key and one active key: instances that bootstrap or
-- rotate at once cannot both add one (SECURITY.md F4). UpdateSigningKeys
-- reports a violation as storage.ErrConflict.
CREATE UNIQUE INDEX signing_keys_one_next_one_active ON signing_keys (state)
	WHERE state IN ('next', 'active');

-- +goose Down
DROP TABLE signing_keys;
