-- Rate-limit windows and lockouts (storage.RateLimits), kept in the database
-- so that every instance counts against the same limits (SECURITY.md LG-03,
-- LG-04). Keys are keyed hashes made by package ratelimit, never an email or
-- an IP address in clear.

-- +goose Up
CREATE TABLE rate_limits (
    key          text PRIMARY KEY CHECK (key <> ''),
    hits         integer NOT NULL CHECK (hits > 0),
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL
);
-- DeleteExpiredRateLimits finds ended windows by their end.
CREATE INDEX rate_limits_window_end_idx ON rate_limits (window_end);

CREATE TABLE lockouts (
    key          text PRIMARY KEY CHECK (key <> ''),
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    -- NULL when the key was never locked.
    locked_until timestamptz,
    -- NULL only in the placeholder row UpdateLockout inserts to lock a new
    -- key, and fills in before its transaction commits.
    expires_at   timestamptz
);
-- DeleteExpiredRateLimits finds expired lockouts by expiry.
CREATE INDEX lockouts_expires_at_idx ON lockouts (expires_at);

-- +goose Down
DROP TABLE lockouts;
DROP TABLE rate_limits;
