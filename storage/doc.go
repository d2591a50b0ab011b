// Package storage is Foyer's storage contract: the records every feature
// keeps, the sentinel errors backends return, prefixed opaque IDs, and the
// Store interface built from one small interface per aggregate.
//
// Backends live in sub-packages (storage/sqlite, the embedded default, and
// storage/postgres) and all run the same conformance suite in
// storage/storagetest. This package imports only the standard library so that
// every other package may depend on it.
//
// Conventions every backend follows:
//   - Errors are one of the sentinels below, wrapped with context, so callers
//     write errors.Is(err, storage.ErrNotFound).
//   - Times are stored with microsecond precision and returned in UTC; the
//     caller sets them (features own the clock), the backend truncates.
//   - Update methods take a closure (compare-and-swap): the backend reads the
//     current record inside a transaction, calls the closure, and writes the
//     result, so concurrent updates are never lost. ID, CreatedAt and other
//     keys keep their stored values. A backend may retry the transaction (on
//     a serialization failure), so closures compute and have no side effects.
//   - The caller makes IDs (NewID) for every record it creates.
//   - Emails keep the case the person typed and are unique by EmailKey.
package storage
