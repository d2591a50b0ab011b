package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerdev/foyer/storage"
)

// Signing algorithms (JWS "alg" values). RS256 is OpenID Connect's
// mandatory algorithm and the default.
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// rsaBits is the RSA modulus size: 2048 bits is what RFC 7518 §3.3 requires
// at least and what every relying party library accepts.
const rsaBits = 2048

// generate makes a key pair for alg and returns it as a storage record in
// state next, with its private part sealed, plus the signer itself.
func generate(alg string, c *Cipher, now time.Time) (storage.SigningKey, crypto.Signer, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return storage.SigningKey{}, nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	// The kid comes from the key's RFC 7638 thumbprint: unique per key, and
	// meaningless to anyone who reads it. Hex, not base64url: an operator
	// types it after `foyer keys revoke`, where a leading "-" (one kid in 64)
	// would read as a flag.
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("thumbprint: %w", err)
	}
	jwk.KeyID = hex.EncodeToString(thumb[:16])
	public, err := json.Marshal(jwk)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("marshal public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("marshal private key: %w", err)
	}
	return storage.SigningKey{
		ID:        jwk.KeyID,
		Algorithm: alg,
		State:     storage.KeyNext,
		PublicJWK: public,
		SealedKey: c.Seal(der, sealContext(jwk.KeyID)),
		CreatedAt: now,
	}, priv, nil
}

// sealContext binds a sealed private key to its kid.
func sealContext(kid string) string { return "foyer signing key " + kid }

// unseal recovers the signer of a stored key.
func unseal(k storage.SigningKey, c *Cipher) (crypto.Signer, error) {
	der, err := c.Open(k.SealedKey, sealContext(k.ID))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: parse private key: %w", k.ID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s: private key of type %T cannot sign", k.ID, parsed)
	}
	return signer, nil
}
