package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealVersion prefixes every sealed value, so a later change of scheme or
// of encryption key can tell old values apart.
const sealVersion = 1

// ErrUnseal reports a sealed value that does not open: a wrong encryption
// key, corruption, or a value moved from another row.
var ErrUnseal = errors.New("sealed value does not open with this encryption key")

// Cipher seals secrets for storage with AES-256-GCM under the operator's
// encryption key, which lives in configuration, never in the database
// (DB-07).
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext bound to context (the row it belongs in, such as
// a kid), so a sealed value copied into another row does not open there.
func (c *Cipher) Seal(plaintext []byte, context string) []byte {
	nonce := make([]byte, c.aead.NonceSize())
	rand.Read(nonce) // never returns an error (crypto/rand docs)
	out := append([]byte{sealVersion}, nonce...)
	return c.aead.Seal(out, nonce, plaintext, []byte(context))
}

// Open decrypts a value made by Seal with the same context.
func (c *Cipher) Open(sealed []byte, context string) ([]byte, error) {
	n := c.aead.NonceSize()
	if len(sealed) < 1+n+c.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	plain, err := c.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
