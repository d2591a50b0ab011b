// Package storagetest is the conformance suite every storage backend runs, so
// that features can rely on the contract in package storage whichever backend
// an operator picks.
//
// A backend's test is a few lines:
//
//	func TestStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store {
//			s := openFreshMigratedStore(t) // empty, built-in roles seeded
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls open once per case, so no case sees another's records. The cases
// cover create, get, list, update and delete for every aggregate; not-found
// and duplicate errors; case-insensitive emails; UTC times truncated to
// microseconds; built-in and custom roles; memberships and what deleting a
// user or an organization removes; the signing key set, replaced as a whole,
// with at most one next and one active key; OAuth sessions, including a
// code redeemed once by concurrent requests (SECURITY.md DB-01) and token
// families revoked by request ID; browser sessions and consents, and what
// deleting a client or a user removes; client assertion jtis, used once
// even by concurrent requests and usable again once expired; rate-limit
// windows and lockouts, where of 50 concurrent attempts against a limit of
// 5 exactly 5 go ahead (SECURITY.md LG-04); the email outbox, whose
// concurrent claimers never get the same message and whose messages commit
// or roll back with the caller's transaction (SECURITY.md F6); one-time
// tokens of emailed links, where a newer link supersedes the earlier ones
// and of concurrent uses exactly one succeeds (ML-02, ML-03); transactions
// carried in a context, whose writes other connections see only after
// Commit and never after Rollback; the events every change of a user,
// organization, membership, invitation or browser session writes in its
// own transaction (none for a failed or rolled-back change), their
// dispatch and deliveries, never handed to two concurrent dispatchers or
// claimers; webhook endpoints; the audit log's filters and keyset paging;
// compare-and-swap updates under
// concurrency, including instances bootstrapping a signing key at once; and
// repeated migrations. The suite uses only the storage.Store interface,
// never a backend's internals.
package storagetest
