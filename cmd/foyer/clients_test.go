package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/sqlite"
)

const (
	deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
	// chosenSecret is an operator-chosen secret of 40 characters.
	chosenSecret = "correct-horse-battery-staple-0123456789x"
)

func TestClientsCLI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			dbEnv := b.env(t)
			env := append(slices.Clone(dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey)
			run := func(args ...string) result {
				t.Helper()
				return foyer(t, dir, env, append([]string{"clients"}, args...)...)
			}
			ok := func(v any, args ...string) string {
				t.Helper()
				r := run(append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer clients %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
					t.Fatalf("foyer clients %v printed no JSON: %v\n%s", args, err, r.stdout)
				}
				return r.stdout
			}
			// fails checks the exit code and that stderr is one line naming the problem.
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := run(args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer clients %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q",
						args, r.code, r.stdout, r.stderr, code, want)
				}
			}

			// create needs the key the secret hash is derived from.
			r := foyer(t, dir, dbEnv, "clients", "create", "--name", "App", "--grant-type", "client_credentials")
			if r.code != 1 || !strings.Contains(r.stderr, "secrets.encryption_key") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("clients create without an encryption key: exit %d, stderr %q; want one line naming secrets.encryption_key", r.code, r.stderr)
			}

			// A confidential web client: the secret is generated and shown once.
			var web map[string]any
			webJSON := ok(&web, "create", "--name", "Web App",
				"--redirect-uri", "https://app.example.com/callback",
				"--redirect-uri", "https://app.example.com/cb?tenant=a,b", // a comma stays in the URI
				"--post-logout-redirect-uri", "https://app.example.com/",
				"--grant-type", "authorization_code", "--grant-type", "refresh_token",
				"--scope", "openid", "--scope", "email", "--first-party")
			webID, _ := web["client_id"].(string)
			webSecret, _ := web["client_secret"].(string)
			if !strings.HasPrefix(webID, "cli_") || len(webID) != 30 {
				t.Errorf("client_id = %q, want cli_ and 26 characters", webID)
			}
			if len(webSecret) < 43 {
				t.Errorf("client_secret = %q, want at least 43 characters", webSecret)
			}
			wantWeb := map[string]any{
				"client_id": webID, "client_secret": webSecret, "name": "Web App", "public": false,
				"redirect_uris":             []any{"https://app.example.com/callback", "https://app.example.com/cb?tenant=a,b"},
				"post_logout_redirect_uris": []any{"https://app.example.com/"},
				"grant_types":               []any{"authorization_code", "refresh_token"},
				"scopes":                    []any{"openid", "email"},
				"first_party":               true, "access_token_format": "jwt",
				"token_endpoint_auth_method": "client_secret_basic", "require_pkce": false, "require_par": false,
				"application_type": "web", "require_organization": false,
				"created_at": web["created_at"], "updated_at": web["updated_at"],
			}
			if !jsonEqual(web, wantWeb) {
				t.Errorf("clients create (confidential) = %s\nwant %v", webJSON, wantWeb)
			}
			for _, leak := range []string{"secret_hash", "hmac-sha256"} {
				if strings.Contains(webJSON, leak) {
					t.Errorf("clients create prints %s: %s", leak, webJSON)
				}
			}
			// The stored hash is what the server verifies the secret against.
			stored := storedClient(t, dir, dbEnv, webID)
			hasher := clients.NewSecretHasher(clients.DeriveKey(decodeKey(t, testEncryptionKey)))
			if stored.SecretHash == webSecret || !hasher.Verify(webSecret, stored.SecretHash) {
				t.Errorf("stored secret hash %q does not verify the printed secret", stored.SecretHash)
			}

			// Chosen ID and secret, client_secret_post, opaque tokens.
			var machine map[string]any
			ok(&machine, "create", "--name", "Reports job", "--id", "reports-job", "--secret", chosenSecret,
				"--grant-type", "client_credentials", "--scope", "reports:read",
				"--auth-method", "client_secret_post", "--access-token-format", "opaque")
			if machine["client_id"] != "reports-job" || machine["client_secret"] != chosenSecret ||
				machine["token_endpoint_auth_method"] != "client_secret_post" || machine["access_token_format"] != "opaque" ||
				!jsonEqual(machine["redirect_uris"], []any{}) {
				t.Errorf("clients create (client_credentials) = %v", machine)
			}

			// A public native client: no secret, auth method none, PKCE.
			var native map[string]any
			nativeJSON := ok(&native, "create", "--name", "Desktop", "--public", "--native",
				"--redirect-uri", "http://127.0.0.1/callback", "--redirect-uri", "com.example.desktop:/callback",
				"--grant-type", "authorization_code", "--grant-type", deviceGrant, "--require-par")
			if _, shown := native["client_secret"]; shown || strings.Contains(nativeJSON, "secret") {
				t.Errorf("clients create --public shows a secret: %s", nativeJSON)
			}
			if native["public"] != true || native["token_endpoint_auth_method"] != "none" || native["require_pkce"] != true ||
				native["require_par"] != true || native["application_type"] != "native" ||
				!jsonEqual(native["scopes"], []any{"openid", "profile", "email", "offline_access"}) {
				t.Errorf("clients create --public --native = %s", nativeJSON)
			}

			// private_key_jwt: public keys from a file, no secret.
			jwksPath := filepath.Join(dir, "jwks.json")
			writeJWKS(t, jwksPath)
			var signer map[string]any
			ok(&signer, "create", "--name", "Signer", "--id", "signer", "--grant-type", "client_credentials",
				"--auth-method", "private_key_jwt", "--jwks-file", jwksPath, "--require-pkce")
			if _, shown := signer["client_secret"]; shown || signer["token_endpoint_auth_method"] != "private_key_jwt" || signer["jwks"] == nil {
				t.Errorf("clients create --auth-method private_key_jwt = %v", signer)
			}

			// Mistakes: one line naming the field and the value, exit 1.
			fails(1, "secret: must be at least 32 characters", "create", "--name", "X", "--grant-type", "client_credentials", "--secret", strings.Repeat("s", 31))
			fails(1, "secret: public clients have no secret", "create", "--name", "X", "--public", "--secret", chosenSecret,
				"--grant-type", "authorization_code", "--redirect-uri", "https://x.example.com/cb")
			for uri, want := range map[string]string{
				"http://app.example.com/cb":            `redirect_uris: "http://app.example.com/cb" uses plain http`,
				"https://app.example.com/cb#frag":      "redirect_uris: \"https://app.example.com/cb#frag\" has a fragment",
				"https://*.example.com/cb":             "wildcard",
				"/callback":                            "not an absolute URI",
				"javascript:alert(1)":                  "javascript: scheme",
				"https://app.example.com@evil.tld/cb":  "user information",
				"https://app.example.com/cb/../admin":  "segment",
				"https://bücher.example/cb":            "non-ASCII",
				"https://app.example.com/cb\nX-Evil:1": "control character",
			} {
				fails(1, want, "create", "--name", "X", "--grant-type", "authorization_code", "--redirect-uri", uri)
			}
			fails(1, "post_logout_redirect_uris:", "create", "--name", "X", "--grant-type", "authorization_code",
				"--redirect-uri", "https://x.example.com/cb", "--post-logout-redirect-uri", "data:text/html,hi")
			fails(1, "redirect_uris: authorization_code needs at least one redirect URI", "create", "--name", "X", "--grant-type", "authorization_code")
			fails(1, "grant_types: public clients cannot use client_credentials", "create", "--name", "X", "--public", "--grant-type", "client_credentials")
			fails(1, `grant_types: "password" is not`, "create", "--name", "X", "--grant-type", "password")
			fails(1, `access_token_format: "paseto" is not jwt or opaque`, "create", "--name", "X", "--grant-type", "client_credentials", "--access-token-format", "paseto")
			fails(1, `id: "reports-job" is already taken`, "create", "--name", "X", "--id", "reports-job", "--grant-type", "client_credentials")
			fails(1, "jwks: is required for private_key_jwt", "create", "--name", "X", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt")
			fails(1, "jwks-file:", "create", "--name", "X", "--grant-type", "client_credentials", "--auth-method", "private_key_jwt", "--jwks-file", filepath.Join(dir, "missing.json"))
			fails(2, "missing --name, --grant-type", "create")
			fails(2, "unknown flag", "create", "--name", "X", "--grant-type", "client_credentials", "--redirect-url", "https://x.example.com/cb")

			// list: every client, ordered by ID, never a secret.
			var all []map[string]any
			listJSON := ok(&all, "list")
			var ids []string
			for _, c := range all {
				ids = append(ids, c["client_id"].(string))
			}
			want := []string{webID, native["client_id"].(string), "reports-job", "signer"}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("clients list IDs = %v, want %v", ids, want)
			}
			if strings.Contains(listJSON, `"client_secret":`) || strings.Contains(listJSON, webSecret) || strings.Contains(listJSON, chosenSecret) {
				t.Errorf("clients list shows a secret: %s", listJSON)
			}

			// get: the creation output without the secret.
			var got map[string]any
			getJSON := ok(&got, "get", webID)
			delete(wantWeb, "client_secret")
			if !jsonEqual(got, wantWeb) || strings.Contains(getJSON, webSecret) {
				t.Errorf("clients get %s = %s\nwant %v", webID, getJSON, wantWeb)
			}
			fails(1, `id: no client "nope"`, "get", "nope")
			fails(2, "accepts 1 arg", "get")

			// delete
			// update replaces only what its flags name, by the rules of create.
			var updated map[string]any
			ok(&updated, "update", webID, "--name", "Web App 2", "--redirect-uri", "https://app.example.com/new",
				"--require-organization")
			if updated["name"] != "Web App 2" || !jsonEqual(updated["redirect_uris"], []string{"https://app.example.com/new"}) ||
				updated["require_organization"] != true || !jsonEqual(updated["grant_types"], web["grant_types"]) {
				t.Errorf("clients update = %v", updated)
			}
			if c := storedClient(t, dir, dbEnv, webID); c.Name != "Web App 2" || !c.RequireOrganization || c.SecretHash != stored.SecretHash {
				t.Errorf("stored after update: %+v", c)
			}
			ok(&updated, "update", webID, "--require-organization=false")
			if updated["require_organization"] != false || updated["name"] != "Web App 2" {
				t.Errorf("clients update --require-organization=false = %v", updated)
			}
			fails(1, "redirect_uris: ", "update", webID, "--redirect-uri", "https://app.example.com/cb#frag")
			fails(1, `id: no client "nope"`, "update", "nope", "--name", "X")
			fails(2, "nothing to change", "update", webID)
			if c := storedClient(t, dir, dbEnv, webID); !jsonEqual(c.RedirectURIs, []string{"https://app.example.com/new"}) {
				t.Errorf("a refused update changed the client: %v", c.RedirectURIs)
			}

			var deleted map[string]any
			ok(&deleted, "delete", "reports-job")
			if deleted["client_id"] != "reports-job" || deleted["deleted"] != true {
				t.Errorf("clients delete = %v", deleted)
			}
			fails(1, `id: no client "reports-job"`, "get", "reports-job")
			fails(1, `id: no client "reports-job"`, "delete", "reports-job")
			fails(1, `id: no client "nope"`, "delete", "nope")
			if ok(&all, "list"); len(all) != 3 {
				t.Errorf("clients list after delete = %d clients, want 3", len(all))
			}

			// Without --json, create prints one line that holds the secret.
			r = run("create", "--name", "Text", "--grant-type", "client_credentials")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "created client cli_") || !strings.Contains(r.stdout, "shown only now: ") ||
				strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("clients create without --json: exit %d, stdout %q", r.code, r.stdout)
			}
			// Reading needs no encryption key.
			if r := foyer(t, dir, dbEnv, "clients", "get", webID); r.code != 0 || !strings.HasPrefix(r.stdout, webID) {
				t.Errorf("clients get without an encryption key: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func decodeKey(t *testing.T, b64 string) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// storedClient reads a client from the database the binary wrote to.
func storedClient(t *testing.T, dir string, dbEnv []string, id string) storage.Client {
	t.Helper()
	var s storage.Clients
	for _, kv := range dbEnv {
		if url, ok := strings.CutPrefix(kv, "FOYER_DATABASE_URL="); ok {
			pg, err := postgres.Open(t.Context(), postgres.Options{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			s = pg
		}
	}
	if s == nil {
		lite, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(dir, "foyer-data", "foyer.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer lite.Close()
		s = lite
	}
	c, err := s.GetClient(t.Context(), id)
	if err != nil {
		t.Fatalf("GetClient(%q) error = %v", id, err)
	}
	return c
}

// writeJWKS writes a JWK Set with one fresh public key to path.
func writeJWKS(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
}
