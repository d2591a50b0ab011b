package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/rbac"
)

// rbacClock is the verifier's clock, moved on by the test.
type rbacClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *rbacClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *rbacClock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// TestRBACAgainstFoyer: the downstream RBAC kit (package rbac) verifies the
// access tokens a real Foyer issues: the organization role decides, and
// expired tokens, another Foyer's tokens and ID tokens are refused; tokens
// keep verifying across a key rotation.
func TestRBACAgainstFoyer(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()

	// Alice is a member of Acme: org:read, but not org:members:manage.
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	if _, err := dir.CreateOrganization(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddMember(ctx, "acme", e.email, "member"); err != nil {
		t.Fatal(err)
	}
	app, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Reports", RedirectURIs: []string{callback}, FirstParty: true,
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{"openid", "org"}}
	pkce := oauth2.GenerateVerifier()
	loc := e.signIn(t, newBrowser(t), conf.AuthCodeURL("state-rbac", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("organization", "acme")), false)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("%s: %v", loc, err)
	}
	machine := clientcredentials.Config{ClientID: e.machine.id, ClientSecret: e.machine.secret, TokenURL: e.issuer + "/oauth2/token", Scopes: []string{"reports:read"}}
	machineTok, err := machine.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// RFC 9068 §2.2 and the README: an access token's aud is the issuer.
	// (fosite writes the request's granted audience over
	// AccessClaims.Audience, so authz must grant the issuer as audience.)
	for name, at := range map[string]string{"person": tok.AccessToken, "machine": machineTok.AccessToken} {
		var claims struct {
			Aud []string `json:"aud"`
		}
		_ = json.Unmarshal([]byte(decodeSegment(t, strings.Split(at, ".")[1])), &claims)
		if !slices.Equal(claims.Aud, []string{e.issuer}) {
			t.Errorf("%s access token: aud = %q, want [%q]", name, claims.Aud, e.issuer)
		}
	}

	// A downstream API, as in examples/reports-api.
	clock := &rbacClock{}
	v, err := rbac.New(rbac.Options{Issuer: e.issuer, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(rbac.FromContext(r.Context()).OrgSlug))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /reports", v.Middleware(rbac.RequirePermission("org:read")(ok)))
	mux.Handle("GET /members", v.Middleware(rbac.RequirePermission("org:members:manage")(ok)))
	mux.Handle("GET /admin", v.Middleware(rbac.RequireRole("admin")(ok)))
	mux.Handle("GET /batch", v.Middleware(rbac.RequireScope("reports:read")(ok)))
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	call := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", api.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate") + " " + read(t, resp)
	}
	for _, tc := range []struct {
		path, token string
		code        int
	}{
		{"/reports", tok.AccessToken, 200}, // allowed: member has org:read
		{"/members", tok.AccessToken, 403}, // a member cannot manage members
		{"/admin", tok.AccessToken, 403},   // wrong role
		{"/batch", machineTok.AccessToken, 200},
		{"/reports", machineTok.AccessToken, 403}, // a client's token has no organization
	} {
		code, got := call(tc.path, tc.token)
		if code != tc.code || (code == 403) != strings.Contains(got, `error="insufficient_scope"`) {
			t.Errorf("GET %s: %d %s, want %d", tc.path, code, got, tc.code)
		}
		if tc.token == tok.AccessToken && code == 200 && !strings.HasSuffix(got, "acme") {
			t.Errorf("GET %s: %s, want the org slug acme", tc.path, got)
		}
	}
	c, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if c.OrgSlug != "acme" || c.OrgRole != "member" || c.Subject != mustUserID(t, e) || c.ClientID != app.ID {
		t.Errorf("claims: %+v", c)
	}

	refused := func(name, token string, v *rbac.Verifier) {
		t.Helper()
		if _, err := v.Verify(ctx, token); !errors.Is(err, rbac.ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, want ErrInvalidToken", name, err)
		}
	}

	// An ID token is signed by the same keys but is no access token.
	refused("ID token", tok.Extra("id_token").(string), v)
	if code, got := call("/reports", tok.Extra("id_token").(string)); code != 401 || !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("GET /reports with the ID token: %d %s, want 401 invalid_token", code, got)
	}

	// Expired: the same token, checked once its exp plus the leeway passed.
	late := &rbacClock{d: time.Until(c.ExpiresAt) + 61*time.Second}
	lateV, _ := rbac.New(rbac.Options{Issuer: e.issuer, Now: late.now})
	refused("expired token", tok.AccessToken, lateV)
	if code, got := call("/reports", tok.AccessToken); code != 200 {
		t.Errorf("the API (real clock) refused the token: %d %s", code, got)
	}

	// Another Foyer's tokens: refused by kid, and by issuer even when its
	// keys are trusted.
	other := newOIDCEnv(t, "embedded")
	otherTok, err := (&clientcredentials.Config{ClientID: other.machine.id, ClientSecret: other.machine.secret,
		TokenURL: other.issuer + "/oauth2/token", Scopes: []string{"reports:read"}}).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(10 * time.Second) // past the refetch rate limit: the unknown kid is really looked up
	refused("another issuer's token", otherTok.AccessToken, v)
	mixed, _ := rbac.New(rbac.Options{Issuer: e.issuer, JWKSURL: other.issuer + "/.well-known/jwks.json"})
	refused("another issuer's token with its keys", otherTok.AccessToken, mixed)

	// Rotation: the server signs with a new key (forced, so it signs before
	// this verifier's cached JWKS has it); old and new tokens verify.
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
	set, _ := m.Current()
	newKid, _, _ := set.Signer()
	var rotated string
	waitFor(t, "the server signs with the rotated key", func() bool {
		tok, err := machine.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rotated = tok.AccessToken
		return strings.Contains(decodeSegment(t, strings.Split(rotated, ".")[0]), newKid)
	})
	clock.advance(10 * time.Second) // the last refetch was for the other issuer's kid
	for name, token := range map[string]string{"before the rotation": tok.AccessToken, "after the rotation": rotated} {
		if _, err := v.Verify(ctx, token); err != nil {
			t.Errorf("token from %s: %v", name, err)
		}
	}
	if code, got := call("/batch", rotated); code != 200 {
		t.Errorf("GET /batch with the rotated key's token: %d %s", code, got)
	}
}
