// Package keys owns Foyer's token-signing keys: generating them, sealing the
// private parts for storage, rotating them safely across instances, and the
// in-memory Set that signs tokens and renders the JWKS.
//
// # States
//
// A key moves one way through
//
//		next ──► active ──► retired ──► removed
//
//	  - next: published in the JWKS, signs nothing. It becomes active only
//	    after it has been published for Prepublish, longer than any verifier
//	    caches the JWKS, so no verifier ever meets an unknown kid (TJ-04).
//	  - active: the one key that signs. Exactly one; every instance reads the
//	    same row, so all agree.
//	  - retired: signs nothing, stays published until RemoveAfter, the expiry
//	    of the last token it can have signed.
//	  - removed: deleted. Revoke jumps a compromised key here at once.
//
// # Several instances
//
// Every change is one storage.Keys.UpdateSigningKeys transaction, which
// serializes all instances on the database; the schema allows at most one
// next and one active key (F4). New key pairs are generated before the
// transaction, as dex does, and discarded when another instance got there
// first, so no lock is held while RSA keys are made. Each instance re-reads
// the set every Refresh, which is how a rotation or revocation made by
// `foyer keys` from another process reaches a running server.
//
// Nothing here generates a key because reading failed: an error from storage
// stops the step, and the last good Set stays in use (F2).
package keys
