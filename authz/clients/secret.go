package clients

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// MinSecretLen is the shortest client secret an operator may choose: 32
// characters. Generated secrets are 43 (256 random bits, AD-04, TK-13).
const MinSecretLen = 32

// MaxSecretLen bounds a client secret, and so what the token endpoint hashes
// for any request: longer presented secrets fail without being hashed.
const MaxSecretLen = 512

// hashScheme prefixes every stored hash, so another scheme or key can be
// introduced later and told apart from this one.
const hashScheme = "hmac-sha256$"

// hashEncoding is strict so that every MAC has exactly one stored form.
var hashEncoding = base64.RawURLEncoding.Strict()

// secretKeyInfo is the HKDF info that separates the secret-hashing key from
// every other key derived from the encryption key.
const secretKeyInfo = "foyer client secret v1"

// DeriveKey derives the 32-byte secret-hashing key from the operator's
// encryption key (secrets.encryption_key) with HKDF-SHA256 (RFC 5869), so
// one configured key serves both purposes without being used twice. Changing
// the encryption key invalidates every stored client secret.
func DeriveKey(encryptionKey []byte) []byte {
	key, err := hkdf.Key(sha256.New, encryptionKey, nil, secretKeyInfo, sha256.Size)
	if err != nil {
		// Only a keyLength above 255 hash lengths fails (crypto/hkdf docs).
		panic("clients: derive key: " + err.Error())
	}
	return key
}

// SecretHasher hashes and verifies client secrets with HMAC-SHA256 under a
// server key. Secrets are ≥ 128 random bits, so a fast keyed hash resists
// offline guessing as well as a slow one would, and a stolen database
// without the key reveals nothing (DB-07, RFC 6819 §5.1.4.1.3).
type SecretHasher struct {
	key []byte
}

// NewSecretHasher returns a hasher keyed with key (from DeriveKey). It
// panics on a key shorter than 16 bytes: that is a programming error.
func NewSecretHasher(key []byte) *SecretHasher {
	if len(key) < 16 {
		panic("clients: secret hashing key shorter than 16 bytes")
	}
	return &SecretHasher{key: append([]byte(nil), key...)}
}

// Hash returns the stored form of secret: "hmac-sha256$" and the MAC in
// unpadded base64url.
func (h *SecretHasher) Hash(secret string) string {
	return hashScheme + hashEncoding.EncodeToString(h.mac(secret))
}

// Verify reports whether secret matches stored, a value from Hash. The
// comparison takes the same time wherever the MACs differ (TK-06). A
// malformed stored value, including the empty hash of a public client,
// matches nothing.
func (h *SecretHasher) Verify(secret, stored string) bool {
	want, ok := parseHash(stored)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare(h.mac(secret), want) == 1
}

func (h *SecretHasher) mac(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// parseHash returns the MAC in a stored hash, or false when stored is not
// exactly the form Hash writes.
func parseHash(stored string) ([]byte, bool) {
	encoded, ok := strings.CutPrefix(stored, hashScheme)
	// The length check also keeps out the \r and \n that base64 decoders skip.
	if !ok || len(encoded) != hashEncoding.EncodedLen(sha256.Size) {
		return nil, false
	}
	mac, err := hashEncoding.DecodeString(encoded)
	if err != nil || len(mac) != sha256.Size {
		return nil, false
	}
	return mac, true
}

// newSecret returns 32 random bytes in unpadded base64url: 43 characters.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}
