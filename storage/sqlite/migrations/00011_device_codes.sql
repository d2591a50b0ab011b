-- Device authorizations (RFC 8628, storage.DeviceCodes). device_code_hash
-- and user_code_hash are keyed hashes of the codes, never the codes
-- (DV-03). A decided or spent code keeps its row until it expires, so that
-- a second poll can be told apart from an unknown code.
-- Deleting a client removes its codes; deleting the person who approved or
-- denied one removes it too.

-- +goose Up
CREATE TABLE device_codes (
	device_code_hash TEXT    NOT NULL PRIMARY KEY CHECK (device_code_hash <> ''),
	user_code_hash   TEXT    NOT NULL UNIQUE CHECK (user_code_hash <> ''),
	client_id        TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	scopes           TEXT    NOT NULL DEFAULT '[]',
	status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
	-- NULL while pending: nobody has decided yet.
	user_id          TEXT    REFERENCES users (id) ON DELETE CASCADE,
	-- What the tokens are issued from, opaque to storage; NULL until
	-- approved.
	session          BLOB,
	-- storage.DeviceCode.Interval in microseconds.
	interval_us      INTEGER NOT NULL CHECK (interval_us >= 0),
	-- NULL before the first poll.
	last_polled_at   TEXT,
	created_at       TEXT    NOT NULL,
	expires_at       TEXT    NOT NULL
) STRICT;
-- DeleteExpiredDeviceCodes by expiry; the foreign-key checks that deleting
-- a client or a user makes.
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
CREATE INDEX device_codes_client_id ON device_codes (client_id);
CREATE INDEX device_codes_user_id ON device_codes (user_id);

-- +goose Down
DROP TABLE device_codes;
