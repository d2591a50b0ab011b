-- Rate-limit windows and lockouts (storage.RateLimits), kept in the database
-- so that every instance counts against the same limits (SECURITY.md LG-03,
-- LG-04). Keys are keyed hashes made by package ratelimit, never an email or
-- an IP address in clear.

-- +goose Up
CREATE TABLE rate_limits (
	key          TEXT    NOT NULL PRIMARY KEY CHECK (key <> ''),
	hits         INTEGER NOT NULL CHECK (hits > 0),
	window_start TEXT    NOT NULL,
	window_end   TEXT    NOT NULL
) STRICT;
-- DeleteExpiredRateLimits finds ended windows by their end.
CREATE INDEX rate_limits_window_end ON rate_limits (window_end);

CREATE TABLE lockouts (
	key          TEXT    NOT NULL PRIMARY KEY CHECK (key <> ''),
	failures     INTEGER NOT NULL CHECK (failures >= 0),
	-- NULL when the key was never locked.
	locked_until TEXT,
	expires_at   TEXT    NOT NULL
) STRICT;
-- DeleteExpiredRateLimits finds expired lockouts by expiry.
CREATE INDEX lockouts_expires_at ON lockouts (expires_at);

-- +goose Down
DROP TABLE lockouts;
DROP TABLE rate_limits;
