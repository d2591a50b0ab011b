// Package sqlite is Foyer's embedded default storage backend: one SQLite
// file, opened with the pure-Go driver modernc.org/sqlite, so Foyer builds
// without cgo.
//
// Open opens the file and does not change its schema. Migrate applies the
// SQL files embedded from migrations/ with goose and seeds the built-in
// roles. It holds an exclusive lock on <Path>.migrate.lock meanwhile, so the
// CLI and a starting server may both migrate the same file.
//
// Every connection runs with foreign keys on, a write-ahead log and a busy
// timeout, and begins its transactions with BEGIN IMMEDIATE. An update
// closure therefore reads and writes under the write lock: concurrent
// updates wait for each other instead of losing one another or failing when
// a reader tries to become a writer.
//
// BeginTx puts a transaction in the context it returns (fosite's
// storage.Transactional); every method called with that context runs its
// statements in it, and update methods run inside a savepoint of it. Since
// the transaction holds the write lock from BEGIN to Commit or Rollback,
// a method that used another connection meanwhile would wait for its own
// transaction until the busy timeout.
//
// Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z,
// which sorts like the instants it names, and a zero time that may still be
// set (a signing key's ActivatedAt, say) is NULL; lists are JSON arrays.
package sqlite
