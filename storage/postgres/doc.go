// Package postgres implements storage.Store on PostgreSQL (15 or later)
// through pgx v5 and its connection pool.
//
// It owns the schema (versioned SQL in migrations/, applied by goose under
// an advisory lock so several processes can start at once), the built-in
// roles it seeds, and the translation of driver errors into the storage
// sentinels:
//
//   - no row: storage.ErrNotFound
//   - unique violation: storage.ErrAlreadyExists
//   - foreign-key violation: storage.ErrNotFound when a write names a
//     missing record, storage.ErrConflict when a delete would orphan others
//   - check or not-null violation: storage.ErrInvalid
//   - the database cannot be reached or went away: storage.ErrUnavailable,
//     never ErrNotFound, so callers answer 503 and fail closed (SECURITY.md
//     DB-04, DB-05)
//
// Update methods run their closure inside a transaction that holds the row
// with SELECT … FOR UPDATE; UpdateSigningKeys, which may find no key row to
// hold, locks the one row of signing_keys_lock instead, so that instances
// bootstrapping or rotating at once take turns (SECURITY.md F4). The
// transaction is retried on serialization failure, deadlock, or an error
// pgconn says happened before anything was sent (DB-06), so a closure may run
// more than once and must only compute.
//
// BeginTx puts a transaction in the context it returns (fosite's
// storage.Transactional); every method called with that context runs in it.
// Update methods then run once, inside a savepoint, without retries: the
// caller owns the transaction and retries it whole if it must.
// DeactivateOAuthSession is a single conditional UPDATE, so of concurrent
// redemptions of one code exactly one succeeds (SECURITY.md DB-01), inside a
// transaction or not; UseAssertionJTI is likewise a single INSERT … ON
// CONFLICT, so of concurrent uses of one client assertion exactly one is
// accepted, and so is HitRateLimit, so of concurrent hits on one key no more
// than the limit are allowed (LG-04). UpdateLockout locks a new key's row by
// inserting a placeholder first, so concurrent first failures queue too.
// ClaimOutboxMessages leases due email with FOR UPDATE SKIP LOCKED, so
// workers of several instances pass over each other's messages instead of
// sending them twice or waiting.
//
// Open waits for the database with exponential backoff (Options.ConnectRetry)
// and logs one warning, not one line per attempt (SECURITY.md F2). Once open,
// the pool reconnects by itself after an outage (F1).
package postgres
