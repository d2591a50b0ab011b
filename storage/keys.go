package storage

import (
	"context"
	"time"
)

// KeyState is where a signing key is in its rotation: next (published in the
// JWKS, signing nothing yet) → active (signs new tokens) → retired (published
// until the last token it signed has expired) → removed (deleted).
type KeyState string

// Signing key states. At most one key is next and at most one is active.
const (
	KeyNext    KeyState = "next"
	KeyActive  KeyState = "active"
	KeyRetired KeyState = "retired"
)

// SigningKey is one token-signing key pair. The private part is sealed
// (encrypted) by authz/keys before it reaches storage; storage never sees it
// in the clear.
type SigningKey struct {
	ID          string // the JWK "kid"
	Algorithm   string // JWS "alg": RS256, ES256 or EdDSA
	State       KeyState
	PublicJWK   []byte    // the public key as a JSON Web Key
	SealedKey   []byte    // the private key, encrypted
	CreatedAt   time.Time // published in the JWKS from this moment
	ActivatedAt time.Time // zero until the key becomes active
	RetiredAt   time.Time // zero until the key is retired
	// RemoveAfter is when a retired key may be deleted: the expiry of the
	// last token it can have signed. Zero for next and active keys.
	RemoveAfter time.Time
}

// Keys stores the signing key set. Every change goes through
// UpdateSigningKeys, which serializes all instances sharing the database.
type Keys interface {
	// ListSigningKeys returns every key, ordered by CreatedAt then ID.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys reads the whole key set under a lock that excludes
	// every other UpdateSigningKeys on the same database schema, passes a
	// copy to update (ordered as ListSigningKeys orders it; update may edit
	// it in place), and stores what update returns, in any order, in the
	// same transaction: IDs absent from the result are deleted, new IDs
	// inserted, the others updated (CreatedAt keeps its stored value). It
	// returns the stored set. An error from update aborts and is returned
	// wrapped; the backend may retry, so update computes and has no side
	// effects. ErrConflict when the result has two next or two active keys;
	// ErrInvalid for an empty ID, algorithm or key, a duplicate ID or an
	// unknown state. Zero times are stored as zero.
	UpdateSigningKeys(ctx context.Context, update func([]SigningKey) ([]SigningKey, error)) ([]SigningKey, error)
}
