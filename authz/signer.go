package authz

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"strings"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite/token/jwt"

	"github.com/foyerdev/foyer/authz/keys"
)

// maxJWTLength is the longest token Foyer parses (jwtShaped).
const maxJWTLength = 8 << 10

// signer is fosite's jwt.Signer over the rotating key set. fosite's
// DefaultSigner signs only with RSA/ECDSA and verifies only against the one
// current key, which after a rotation would reject live tokens; this one
// signs with the active key (EdDSA included) and verifies against every
// published key by kid. go-jose v3 types stay in this file and provider.go.
type signer struct {
	keys KeySource
}

var _ jwt.Signer = (*signer)(nil)

// Generate signs claims with the active key, naming it in the kid header.
func (s *signer) Generate(_ context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	set, err := s.keys.Current()
	if err != nil {
		return "", "", err
	}
	kid, alg, key := set.Signer()
	token := jwt.NewWithClaims(jose3.SignatureAlgorithm(alg), claims)
	for k, v := range header.ToMap() {
		token.Header[k] = v
	}
	token.Header["kid"] = kid
	// *rsa.PrivateKey, *ecdsa.PrivateKey and ed25519.PrivateKey sign as they are.
	raw, err := token.SignedString(key)
	if err != nil {
		return "", "", fmt.Errorf("sign token: %w", err)
	}
	sig, err := s.GetSignature(context.Background(), raw)
	return raw, sig, err
}

// Validate checks the token's signature and claims and returns its signature.
func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode parses and verifies a token against the published key its kid
// names, for fosite (ID token hints). See verificationKey for the rules.
func (s *signer) Decode(_ context.Context, token string) (*jwt.Token, error) {
	if !jwtShaped(token) {
		return nil, &jwt.ValidationError{Errors: jwt.ValidationErrorMalformed}
	}
	set, err := s.keys.Current()
	if err != nil {
		return nil, err
	}
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return verificationKey(set, kid, string(t.Method))
	})
}

// verify checks a token's signature and returns its header and payload,
// parsing the token once: the introspection path, where fosite's Decode
// (which decodes the claims twice) was a tenth of the time.
func (s *signer) verify(token string) (jose3.Header, []byte, error) {
	if !jwtShaped(token) {
		return jose3.Header{}, nil, errors.New("not a compact JWS")
	}
	jws, err := jose3.ParseSigned(token)
	if err != nil {
		return jose3.Header{}, nil, err
	}
	if len(jws.Signatures) != 1 {
		return jose3.Header{}, nil, errors.New("not exactly one signature")
	}
	h := jws.Signatures[0].Header
	set, err := s.keys.Current()
	if err != nil {
		return jose3.Header{}, nil, err
	}
	key, err := verificationKey(set, h.KeyID, h.Algorithm)
	if err != nil {
		return jose3.Header{}, nil, err
	}
	payload, err := jws.Verify(key)
	return h, payload, err
}

// jwtShaped accepts the compact serialization only: three base64url parts.
// It caps tokens before any parsing, so megabyte JWTs and thousands of dots
// cost nothing (TJ-07, CVE-2025-27144), and it refuses the JSON
// serialization, whose unprotected header could add a typ the signer never
// signed (an ID token posing as at+jwt, TJ-06).
func jwtShaped(token string) bool {
	if len(token) > maxJWTLength || strings.Count(token, ".") != 2 {
		return false
	}
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// verificationKey is the published key kid names. The key's own algorithm
// must match the token's: an HS256 token "signed" with an RSA public key,
// or an ES256 token for an RSA kid, fails (TJ-02). alg=none never verifies
// (TJ-01): no published key has it.
func verificationKey(set *keys.Set, kid, alg string) (*jose3.JSONWebKey, error) {
	k, ok := set.PublicKey(kid)
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if alg != k.Algorithm {
		return nil, fmt.Errorf("token alg %q does not match key %s (%s)", alg, kid, k.Algorithm)
	}
	return &jose3.JSONWebKey{Key: k.Key, KeyID: k.KeyID, Algorithm: k.Algorithm, Use: k.Use}, nil
}

// GetSignature returns the token's third part.
func (s *signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] == "" {
		return "", errors.New("token is not a signed JWT")
	}
	return parts[2], nil
}

// Hash and GetSigningMethodLength serve at_hash and c_hash (OIDC Core
// §3.1.3.6): the hash of the signing algorithm, SHA-512 for Ed25519.
func (s *signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	if s.alg() == keys.EdDSA {
		h := sha512.Sum512(in)
		return h[:], nil
	}
	h := sha256.Sum256(in)
	return h[:], nil
}

func (s *signer) GetSigningMethodLength(context.Context) int {
	if s.alg() == keys.EdDSA {
		return sha512.Size
	}
	return sha256.Size
}

func (s *signer) alg() string {
	set, err := s.keys.Current()
	if err != nil {
		return ""
	}
	_, alg, _ := set.Signer()
	return alg
}
