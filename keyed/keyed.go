// Package keyed computes the at-rest form of short secrets and of values
// that must not be stored in the clear (one-time tokens, handles, codes,
// rate-limit keys): HMAC-SHA256 under a server key, so that a stolen
// database cannot be checked against guesses without that key, with a
// label that keeps the hashes of one purpose from matching another's.
package keyed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// Hash is HMAC-SHA256(key, label NUL value) in unpadded base64url.
func Hash(key []byte, label, value string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(label))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
