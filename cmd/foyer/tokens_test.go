package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
)

func introspect(t *testing.T, issuer, token string, c *client) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(read(t, resp)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpaqueAccessTokens: a client registered for opaque access tokens gets
// a token that is not a JWT and that only introspection can read.
func TestOpaqueAccessTokens(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	c, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Opaque", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}, AccessTokenFormat: "opaque",
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := (&clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: e.issuer + "/oauth2/token", Scopes: []string{"reports:read"}}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Fatalf("opaque client got a JWT: %s", tok.AccessToken)
	}
	if got := introspect(t, e.issuer, tok.AccessToken, &client{c.ID, secret}); got["active"] != true || got["client_id"] != c.ID {
		t.Errorf("introspection of an opaque token = %v", got)
	}
}

// TestRotationKeepsTokensValid: a token signed before a rotation still
// verifies against the JWKS and introspects as active after it; after a
// revocation of its key it no longer verifies (TJ-04, F3).
func TestRotationKeepsTokensValid(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	cc := clientcredentials.Config{ClientID: e.machine.id, ClientSecret: e.machine.secret, TokenURL: e.issuer + "/oauth2/token", Scopes: []string{"reports:read"}}
	before, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Secrets.EncryptionKey = testEncryptionKey
	key, _ := cfg.Secrets.Key()
	m, err := newKeyManager(cfg, key, e.store, discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Rotate(ctx, true); err != nil {
		t.Fatal(err)
	}
	// The server re-reads keys every few seconds; wait until it signs with
	// the new key.
	set, _ := m.Current()
	newKid, _, _ := set.Signer()
	var after string
	waitFor(t, "the server signs with the rotated key", func() bool {
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		after = tok.AccessToken
		return strings.Contains(decodeSegment(t, strings.Split(after, ".")[0]), newKid)
	})
	jwks := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")
	for name, tok := range map[string]string{"before": before.AccessToken, "after": after} {
		if _, err := jwks.VerifySignature(ctx, tok); err != nil {
			t.Errorf("token from %s the rotation does not verify: %v", name, err)
		}
		if got := introspect(t, e.issuer, tok, e.machine); got["active"] != true {
			t.Errorf("token from %s the rotation introspects as %v", name, got)
		}
	}

	// Revoking the retired key withdraws it at once: its tokens stop verifying.
	var retired string
	for _, k := range set.Keys() {
		if k.State == storage.KeyRetired {
			retired = k.ID
		}
	}
	if err := m.Revoke(ctx, retired); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked key leaves the JWKS", func() bool {
		return !slices.Contains(jwksKids(t, e.issuer), retired)
	})
	if got := introspect(t, e.issuer, before.AccessToken, e.machine); got["active"] != false {
		t.Errorf("token signed by a revoked key introspects as %v", got)
	}
}
