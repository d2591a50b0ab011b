package authz

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/storage"
)

// memKeys is a storage.Keys holding one key set in memory.
type memKeys struct {
	mu   sync.Mutex
	keys []storage.SigningKey
}

func (m *memKeys) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.keys), nil
}

func (m *memKeys) UpdateSigningKeys(_ context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out, err := update(slices.Clone(m.keys))
	if err != nil {
		return nil, err
	}
	m.keys = out
	return slices.Clone(out), nil
}

// oneClient is a storage.Clients that knows a single client.
type oneClient struct {
	storage.Clients
	c storage.Client
}

func (o oneClient) GetClient(_ context.Context, id string) (storage.Client, error) {
	if id != o.c.ID {
		return storage.Client{}, storage.ErrNotFound
	}
	return o.c, nil
}

// FuzzReadAccessToken feeds the JWT access-token reader (introspection and
// userinfo) arbitrary tokens: it never panics, and it accepts only payloads
// Foyer signed itself as at+jwt.
func FuzzReadAccessToken(f *testing.F) {
	ctx := context.Background()
	cipher, err := keys.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	m := keys.New(keys.Options{
		Store: &memKeys{}, Cipher: cipher, Algorithm: keys.ES256,
		RotationPeriod: 24 * time.Hour, Prepublish: time.Hour, Retention: 2 * time.Hour,
	})
	if err := m.Refresh(ctx); err != nil {
		f.Fatal(err)
	}
	const issuer, clientID = "https://id.example.com", "cli_fuzz"
	sign := &signer{keys: m}
	clock := func() time.Time { return now }
	j := &jwtAccessTokens{issuer: issuer, signer: sign, store: &fositeStore{
		clients:     newClientCache(oneClient{c: storage.Client{ID: clientID}}, time.Minute, clock),
		revocations: newRevocationList(&fakeRevocations{ids: []string{"grant-revoked"}}, clock),
		now:         clock,
	}}

	signed := map[string]bool{} // payloads Foyer signed as access tokens
	mint := func(typ string, claims jwt.MapClaims) string {
		token, _, err := sign.Generate(ctx, claims, &jwt.Headers{Extra: map[string]any{"typ": typ}})
		if err != nil {
			f.Fatal(err)
		}
		if typ == "at+jwt" {
			signed[strings.Split(token, ".")[1]] = true
		}
		return token
	}
	claims := func(grant string) jwt.MapClaims {
		return jwt.MapClaims{"iss": issuer, "sub": "usr_1", "aud": []string{issuer}, "client_id": clientID,
			grantClaim: grant, "scope": "openid email", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "j1"}
	}
	live := mint("at+jwt", claims("grant-live"))
	if _, err := j.read(ctx, live); err != nil {
		f.Fatalf("a live access token was refused: %v", err)
	}
	f.Add(live)
	f.Add(mint("at+jwt", claims("grant-revoked")))
	f.Add(mint("JWT", claims("grant-id-token")))
	expired := claims("grant-expired")
	expired["exp"] = now.Add(-time.Minute).Unix()
	f.Add(mint("at+jwt", expired))
	f.Add(`{"protected":"e30","payload":"e30","signature":""}`)
	f.Add("a.b.c")

	f.Fuzz(func(t *testing.T, token string) {
		r, err := j.read(ctx, token)
		if err != nil {
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 || !signed[parts[1]] {
			t.Fatalf("accepted a token Foyer did not sign as an access token: %q", token)
		}
		if r.GetSession().GetExpiresAt("access_token").Before(now) || r.GetClient().GetID() != clientID {
			t.Fatalf("accepted an expired token or one of another client: %q", token)
		}
	})
}
