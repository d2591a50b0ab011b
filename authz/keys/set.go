package keys

import (
	"bytes"
	"cmp"
	"crypto"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerdev/foyer/storage"
)

// Set is an immutable snapshot of the published keys: the one that signs,
// the public keys verifiers may meet, and the JWKS document.
type Set struct {
	signing storage.SigningKey
	signer  crypto.Signer
	public  map[string]jose.JSONWebKey
	jwks    []byte
	keys    []storage.SigningKey
}

// Signer returns the active key: its kid, algorithm and private key.
func (s *Set) Signer() (kid, alg string, key crypto.Signer) {
	return s.signing.ID, s.signing.Algorithm, s.signer
}

// PublicKey returns the published key with kid (next, active or retired).
func (s *Set) PublicKey(kid string) (jose.JSONWebKey, bool) {
	k, ok := s.public[kid]
	return k, ok
}

// JWKS is the JSON Web Key Set document (RFC 7517 §5): public keys only.
func (s *Set) JWKS() []byte { return s.jwks }

// Keys lists the stored keys this Set was built from, in JWKS order.
func (s *Set) Keys() []storage.SigningKey { return s.keys }

// newSet builds a Set from stored keys. It reuses the unsealed signer of
// prev when the active key is unchanged, so a refresh costs no decryption.
func newSet(stored []storage.SigningKey, c *Cipher, prev *Set) (*Set, error) {
	s := &Set{public: map[string]jose.JSONWebKey{}, keys: ordered(stored)}
	var jwks bytes.Buffer
	jwks.WriteString(`{"keys":[`)
	for _, k := range s.keys {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return nil, fmt.Errorf("key %s: public JWK: %w", k.ID, err)
		}
		// A private or symmetric key must never reach the JWKS (TJ-03).
		if !jwk.IsPublic() || jwk.KeyID != k.ID || !jwk.Valid() {
			return nil, fmt.Errorf("key %s: stored JWK is not a valid public key with this kid", k.ID)
		}
		s.public[k.ID] = jwk
		if len(s.public) > 1 {
			jwks.WriteByte(',')
		}
		jwks.Write(k.PublicJWK)
		if k.State == storage.KeyActive {
			s.signing = k
		}
	}
	jwks.WriteString(`]}`)
	s.jwks = jwks.Bytes()
	if s.signing.ID == "" {
		return nil, fmt.Errorf("no active signing key")
	}
	if prev != nil && prev.signing.ID == s.signing.ID {
		s.signer = prev.signer
		return s, nil
	}
	signer, err := unseal(s.signing, c)
	if err != nil {
		return nil, err
	}
	s.signer = signer
	return s, nil
}

// ordered lists the active key first, then next, then retired keys newest
// first: verifiers that scan the JWKS find the likely key early.
func ordered(keys []storage.SigningKey) []storage.SigningKey {
	rank := map[storage.KeyState]int{storage.KeyActive: 0, storage.KeyNext: 1, storage.KeyRetired: 2}
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b storage.SigningKey) int {
		if c := cmp.Compare(rank[a.State], rank[b.State]); c != 0 {
			return c
		}
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// published reports whether k has been in the JWKS for at least d at now.
func published(k storage.SigningKey, now time.Time, d time.Duration) bool {
	return !now.Before(k.CreatedAt.Add(d))
}
