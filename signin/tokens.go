package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

// Emailed links (magic links here; verification and reset too) carry a
// token of 256 random bits. The store keeps only its keyed hash, HMAC-SHA256
// under Options.TokenKey of the purpose and the token (ML-01), so a copy of
// the database opens no link, and a token of one purpose never matches a
// record of another.

// tokenLength is the length of newToken's output: 32 bytes in unpadded
// base64url.
const tokenLength = 43

// newToken returns a fresh random token, safe in a URL.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validToken reports whether s could be a token newToken made, so that
// anything else (junk, a megabyte query string) never reaches the store.
func validToken(s string) bool {
	if len(s) != tokenLength {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// tokenHash is the at-rest form of a token of purpose p.
func (s *Service) tokenHash(p storage.TokenPurpose, token string) string {
	return s.keyedHash(string(p), token)
}

// keyedHash is HMAC-SHA256(TokenKey, label NUL value) in base64url.
func (s *Service) keyedHash(label, value string) string {
	mac := hmac.New(sha256.New, s.o.TokenKey)
	mac.Write([]byte(label))
	mac.Write([]byte{0})
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// SweepTokens deletes the emailed links' tokens that have expired, used or
// not, and returns how many. Run it now and then; nothing else removes them.
func (s *Service) SweepTokens(ctx context.Context) (int64, error) {
	n, err := s.o.Store.DeleteExpiredOneTimeTokens(ctx, s.o.Now())
	if err != nil {
		return 0, fmt.Errorf("sweep one-time tokens: %w", err)
	}
	return n, nil
}
