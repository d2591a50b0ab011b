package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/foyerdev/foyer/authz/clients"
)

// TestPrivateKeyJWT: a client authenticates with a signed assertion (RFC
// 7523); each assertion works once (jti replay is refused), and one signed
// by another key is invalid_client.
func TestPrivateKeyJWT(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	app, _, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Signed", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"},
		TokenEndpointAuthMethod: "private_key_jwt", JWKS: set,
	})
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(k *ecdsa.PrivateKey, jti string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: "k1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		raw, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: app.ID, Subject: app.ID, Audience: jwt.Audience{e.issuer + "/oauth2/token"}, ID: jti,
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	token := func(a string) (int, map[string]any) {
		resp, err := http.PostForm(e.issuer+"/oauth2/token", url.Values{
			"grant_type": {"client_credentials"}, "scope": {"reports:read"}, "client_id": {app.ID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(read(t, resp)), &body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	a := assertion(priv, "jti-one-0001")
	if status, body := token(a); status != 200 || body["access_token"] == nil {
		t.Fatalf("first use of an assertion: %d %v", status, body)
	}
	if status, body := token(a); status == 200 || body["error"] == nil {
		t.Errorf("replayed assertion: %d %v, want an error", status, body)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if status, body := token(assertion(other, "jti-two-0002")); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("assertion signed by another key: %d %v, want 401 invalid_client", status, body)
	}
	if status, body := token(strings.Repeat("x", 20)); status == 200 || status >= 500 {
		t.Errorf("garbage assertion: %d %v", status, body)
	}
}
