package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/foyerdev/foyer/storage/sqlite"
)

const callback = "http://127.0.0.1:9/callback" // never dialled: the test stops at the redirect

// oidcEnv is a running Foyer with one user and two clients.
type oidcEnv struct {
	issuer      string
	store       storage.Store
	dbEnv       []string // FOYER_* variables that point the foyer binary at store
	web         *client  // confidential, not first-party: sees the consent page
	machine     *client  // client_credentials
	email, pass string
	srv         *server // the wiring, for what tests set up through it
}

type client struct{ id, secret string }

// testKey is testEncryptionKey decoded.
func testKey() []byte {
	k, err := base64.StdEncoding.DecodeString(testEncryptionKey)
	if err != nil {
		panic(err)
	}
	return k
}

// testRegistrar registers clients with the secret hasher a server
// configured with testEncryptionKey verifies against.
func testRegistrar(store storage.Clients) *clients.Registrar {
	return clients.NewRegistrar(store, clients.NewSecretHasher(clients.DeriveKey(testKey())), nil)
}

// openTestStore opens a fresh database, and returns the FOYER_* variables
// that point the foyer binary at it.
func openTestStore(t *testing.T, backend string) (storage.Store, []string) {
	t.Helper()
	var s storage.Store
	var env []string
	var err error
	if backend == "postgres" {
		url := pgtest.Schema(t)
		s, err = postgres.Open(t.Context(), postgres.Options{URL: url})
		env = []string{"FOYER_DATABASE_URL=" + url}
	} else {
		dir := t.TempDir()
		s, err = sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "foyer.db")})
		env = []string{"FOYER_DATA_DIR=" + dir}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, env
}

func newOIDCEnv(t *testing.T, backend string) *oidcEnv {
	t.Helper()
	return newOIDCEnvWith(t, backend, "", seams{})
}

// newOIDCEnvWith is newOIDCEnv sending email to smtpURL (the dev log when
// empty) and wired with seams.
func newOIDCEnvWith(t *testing.T, backend, smtpURL string, seams seams) *oidcEnv {
	t.Helper()
	return newOIDCEnvAt(t, backend, "127.0.0.1", smtpURL, seams)
}

// newOIDCEnvAt is newOIDCEnvWith with the issuer's host name: localhost
// for passkeys, which WebAuthn refuses on an IP address. The server
// listens on 127.0.0.1 either way.
func newOIDCEnvAt(t *testing.T, backend, host, smtpURL string, seams seams) *oidcEnv {
	t.Helper()
	return newOIDCEnvConfigured(t, backend, host, smtpURL, seams, nil)
}

// newOIDCEnvConfigured is newOIDCEnvAt with configure, when set, changing
// the configuration before the server is built.
func newOIDCEnvConfigured(t *testing.T, backend, host, smtpURL string, seams seams, configure func(*config.Config)) *oidcEnv {
	t.Helper()
	ctx := t.Context()
	store, dbEnv := openTestStore(t, backend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Issuer = "http://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	cfg.Secrets.EncryptionKey = testEncryptionKey
	cfg.SMTP.URL = smtpURL
	if configure != nil {
		configure(&cfg)
	}

	env := &oidcEnv{issuer: cfg.Issuer, store: store, dbEnv: dbEnv, email: "alice@example.com", pass: "correct horse battery"}
	if _, err := idp.NewDirectory(idp.Options{Store: store}).CreateUser(ctx, idp.NewUser{
		Email: env.email, Password: env.pass, Name: "Alice", EmailVerified: true,
	}); err != nil {
		t.Fatal(err)
	}
	reg := testRegistrar(store)
	web, secret, err := reg.Create(ctx, clients.NewClient{
		Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.web = &client{web.ID, secret}
	m, secret, err := reg.Create(ctx, clients.NewClient{
		Name: "Machine", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.machine = &client{m.ID, secret}

	s, err := newServerWith(cfg, discard(), store, seams)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.keys.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	env.srv = s
	serveCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(serveCtx, ln, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return env
}

// browser is a person's browser: it keeps cookies and stops at the
// relying party's callback.
func newBrowser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" { // the relying party's addresses
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var (
	hiddenField = regexp.MustCompile(`name="(csrf_token|challenge)"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="(csrf_token|challenge)"`)
)

// formFields reads the hidden csrf_token and challenge of a page.
func formFields(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		if m[1] != "" {
			v.Set(m[1], m[2])
		} else {
			v.Set(m[4], m[3])
		}
	}
	if v.Get("csrf_token") == "" || v.Get("challenge") == "" {
		t.Fatalf("page lacks csrf_token or challenge:\n%s", page)
	}
	return v
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn drives the authorization code flow through the sign-in and consent
// pages as a person would, and returns the callback URL Foyer redirected to.
func (e *oidcEnv) signIn(t *testing.T, b *http.Client, authURL string, consent bool) *url.URL {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Request.URL.Path == "/login" {
		resp = signInWithPassword(t, b, e.issuer, read(t, resp), e.email, e.pass)
	}
	if resp.Request.URL.Path == "/consent" {
		page := read(t, resp)
		if !consent {
			t.Fatalf("unexpected consent page:\n%s", page)
		}
		if !strings.Contains(page, "Web App") || !strings.Contains(page, "See your email address") {
			t.Errorf("consent page does not say who asks for what:\n%s", page)
		}
		form := formFields(t, page)
		form.Set("decision", "allow")
		resp, err = b.PostForm(e.issuer+"/consent", form)
		if err != nil {
			t.Fatal(err)
		}
	}
	defer resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), callback) {
		t.Fatalf("flow ended at %s (%d), want a redirect to the callback: %s", resp.Request.URL, resp.StatusCode, read(t, resp))
	}
	return loc
}

// TestOIDCCodeFlow drives the whole code flow with go-oidc and x/oauth2 as
// the relying party, on both backends.
func TestOIDCCodeFlow(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			ctx := t.Context()
			provider, err := oidc.NewProvider(ctx, e.issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			conf := oauth2.Config{
				ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
				RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
			}
			verifier := oauth2.GenerateVerifier()
			authURL := conf.AuthCodeURL("state-123", oidc.Nonce("nonce-456"), oauth2.S256ChallengeOption(verifier))
			b := newBrowser(t)
			loc := e.signIn(t, b, authURL, true)
			if loc.Query().Get("state") != "state-123" {
				t.Errorf("state = %q, want state-123", loc.Query().Get("state"))
			}
			code := loc.Query().Get("code")

			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			rawID, _ := tok.Extra("id_token").(string)
			idToken, err := provider.Verifier(&oidc.Config{ClientID: e.web.id}).Verify(ctx, rawID)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			var claims struct {
				Email    string   `json:"email"`
				Verified bool     `json:"email_verified"`
				Name     string   `json:"name"`
				AMR      []string `json:"amr"`
				SID      string   `json:"sid"`
				AuthTime int64    `json:"auth_time"`
			}
			if err := idToken.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idToken.Nonce != "nonce-456" || claims.Email != e.email || !claims.Verified || claims.Name != "Alice" ||
				len(claims.AMR) != 1 || claims.AMR[0] != "pwd" || claims.SID == "" || claims.AuthTime == 0 {
				t.Errorf("ID token nonce %q claims %+v", idToken.Nonce, claims)
			}
			if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}

			info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Email != e.email || info.Subject != idToken.Subject {
				t.Errorf("userinfo = %+v, %v", info, err)
			}

			// Refresh rotates; the old refresh token is then reuse, which
			// revokes the whole family (RFC 9700 §4.14).
			fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
				t.Error("refresh did not rotate the tokens")
			}
			// The refreshed access token is a new token of the same grant:
			// its own jti and issue time.
			before, after := introspect(t, e.issuer, tok.AccessToken, e.machine), introspect(t, e.issuer, fresh.AccessToken, e.machine)
			if before["jti"] == after["jti"] || before["grant_id"] != after["grant_id"] || before["grant_id"] == nil ||
				after["iat"].(float64) < before["iat"].(float64) || after["active"] != true {
				t.Errorf("introspection before refresh %v, after %v: want a new jti and iat, the same grant", before, after)
			}
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
				t.Errorf("reusing a rotated refresh token = %v, want invalid_grant", err)
			}
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err == nil {
				t.Error("after reuse, the family's newest refresh token still works")
			}
			// The family's JWT access tokens, which have no row of their
			// own, end with it (TK-09).
			for name, at := range map[string]string{"first": tok.AccessToken, "refreshed": fresh.AccessToken} {
				if got := introspect(t, e.issuer, at, e.machine); got["active"] != false {
					t.Errorf("after refresh token reuse, the %s access token introspects as %v", name, got)
				}
				if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: at})); err == nil {
					t.Errorf("after refresh token reuse, the %s access token still works at userinfo", name)
				}
			}

			// A second sign-in in the same browser skips the password and the
			// consent already given.
			loc = e.signIn(t, b, conf.AuthCodeURL("state-second", oauth2.S256ChallengeOption(verifier)), false)
			code = loc.Query().Get("code")
			second, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange after the second sign-in: %v", err)
			}
			// TK-01: a code works once; the second time is invalid_grant, and
			// the tokens the first redemption issued stop working.
			if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
				t.Errorf("second exchange of a code = %v, want invalid_grant", err)
			}
			if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(second)); err == nil {
				t.Error("the access token from a replayed code still works at userinfo")
			}
		})
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// TestClientCredentials: a machine client gets an RFC 9068 JWT access token
// that verifies against the JWKS; introspection and revocation work on it.
func TestClientCredentials(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	cc := clientcredentials.Config{ClientID: e.machine.id, ClientSecret: e.machine.secret,
		TokenURL: e.issuer + "/oauth2/token", Scopes: []string{"reports:read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	keySet := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")
	payload, err := keySet.VerifySignature(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	var at map[string]any
	json.Unmarshal(payload, &at)
	if at["sub"] != e.machine.id || at["client_id"] != e.machine.id || at["scope"] != "reports:read" || at["iss"] != e.issuer {
		t.Errorf("access token claims = %v", at)
	}
	// RFC 9068 §2.2: aud names the resource; Foyer's tokens are for itself
	// (fosite would write the request's empty granted audience over it).
	if aud, _ := at["aud"].([]any); len(aud) != 1 || aud[0] != e.issuer {
		t.Errorf("access token aud = %v, want [%s]", at["aud"], e.issuer)
	}
	if h := strings.Split(tok.AccessToken, ".")[0]; !strings.Contains(decodeSegment(t, h), `"typ":"at+jwt"`) {
		t.Errorf("access token header %s lacks typ at+jwt", decodeSegment(t, h))
	}

	if got := introspect(t, e.issuer, tok.AccessToken, e.machine); got["active"] != true {
		t.Errorf("introspection of a live token = %v", got)
	}
	req, _ := http.NewRequest("POST", e.issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.machine.id, e.machine.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke = %v, %v", resp, err)
	}
	resp.Body.Close()
	if got := introspect(t, e.issuer, tok.AccessToken, e.machine); got["active"] != false {
		t.Errorf("introspection after revocation = %v, want inactive", got)
	}

	// A wrong secret is invalid_client with 401.
	bad := cc
	bad.ClientSecret = strings.Repeat("x", 43)
	if _, err := bad.Token(ctx); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong secret = %v, want invalid_client", err)
	}
	// An overlong secret fails without being hashed.
	bad.ClientSecret = e.machine.secret + strings.Repeat("x", 600)
	if _, err := bad.Token(ctx); !isOAuthError(err, "invalid_client") {
		t.Errorf("overlong secret = %v, want invalid_client", err)
	}
}

func decodeSegment(t *testing.T, seg string) string {
	t.Helper()
	b, err := base64URL.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var base64URL = base64.RawURLEncoding
