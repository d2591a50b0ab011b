package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
)

// testEncryptionKey is 32 bytes of base64 for tests only.
const testEncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

type cliKey struct {
	KID   string `json:"kid"`
	Alg   string `json:"alg"`
	State string `json:"state"`
}

func TestKeysCLI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			env := b.env(t)
			keysCmd := func(args ...string) ([]cliKey, result) {
				t.Helper()
				r := foyer(t, dir, append(env, "FOYER_ENCRYPTION_KEY="+testEncryptionKey), append([]string{"keys"}, append(args, "--json")...)...)
				var ks []cliKey
				if r.code == 0 {
					if err := json.Unmarshal([]byte(r.stdout), &ks); err != nil {
						t.Fatalf("keys %v: %v\n%s", args, err, r.stdout)
					}
				}
				return ks, r
			}
			byState := func(ks []cliKey, state string) string {
				for _, k := range ks {
					if k.State == state {
						return k.KID
					}
				}
				return ""
			}

			if r := foyer(t, dir, env, "keys", "list"); r.code == 0 || !strings.Contains(r.stderr, "secrets.encryption_key") {
				t.Errorf("keys list without an encryption key: exit %d, stderr %q; want a line naming secrets.encryption_key", r.code, r.stderr)
			}
			if ks, r := keysCmd("list"); r.code != 0 || len(ks) != 0 {
				t.Fatalf("keys list on a fresh database = %v (exit %d, %s), want []", ks, r.code, r.stderr)
			}
			// The first rotation has nothing to rotate: it bootstraps, then
			// refuses because the next key was just published (TJ-04).
			if _, r := keysCmd("rotate"); r.code != 1 || !strings.Contains(r.stderr, "not been published long enough") {
				t.Errorf("keys rotate with a fresh next key: exit %d, stderr %q", r.code, r.stderr)
			}
			ks, r := keysCmd("rotate", "--force")
			if r.code != 0 {
				t.Fatalf("keys rotate --force: exit %d, %s", r.code, r.stderr)
			}
			active, next, retired := byState(ks, "active"), byState(ks, "next"), byState(ks, "retired")
			if len(ks) != 3 || active == "" || next == "" || retired == "" || ks[0].Alg != "RS256" {
				t.Fatalf("after a forced rotation: %+v, want active, next and retired RS256 keys", ks)
			}
			ks, r = keysCmd("revoke", active)
			if r.code != 0 || slices.ContainsFunc(ks, func(k cliKey) bool { return k.KID == active }) || byState(ks, "active") != next {
				t.Errorf("keys revoke %s = %+v (exit %d, %s); want it gone and %s active", active, ks, r.code, r.stderr, next)
			}
			if _, r := keysCmd("revoke", "nope"); r.code != 1 || !strings.Contains(r.stderr, `kid: no signing key "nope"`) {
				t.Errorf("keys revoke nope: exit %d, stderr %q", r.code, r.stderr)
			}
			if ks2, _ := keysCmd("list"); len(ks2) != len(ks) {
				t.Errorf("keys list = %+v, want the %d keys left after revoke", ks2, len(ks))
			}
		})
	}
}

// TestKeysBootstrapOnce: instances starting together on one database make
// exactly one active and one next key between them (F4).
func TestKeysBootstrapOnce(t *testing.T) {
	url := pgtest.Schema(t)
	cfg := testConfig(t)
	cfg.Secrets.EncryptionKey = testEncryptionKey
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			store, err := postgres.Open(t.Context(), postgres.Options{URL: url})
			if err != nil {
				errs <- err
				return
			}
			defer store.Close()
			if _, err := store.Migrate(t.Context()); err != nil {
				errs <- err
				return
			}
			key, err := cfg.Secrets.Key()
			if err != nil {
				errs <- err
				return
			}
			m, err := newKeyManager(cfg, key, store, discard(), nil)
			if err == nil {
				err = m.Refresh(t.Context())
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	store, err := postgres.Open(t.Context(), postgres.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ks, err := store.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[storage.KeyState]int{}
	for _, k := range ks {
		counts[k.State]++
	}
	if len(ks) != 2 || counts[storage.KeyActive] != 1 || counts[storage.KeyNext] != 1 {
		t.Errorf("after 5 concurrent bootstraps: %d keys %v, want one active and one next", len(ks), counts)
	}
}

// TestKeysAcrossInstances runs two servers on one Postgres; `foyer keys
// rotate` from a separate process reaches both JWKS documents and both
// switch to the same signing key.
func TestKeysAcrossInstances(t *testing.T) {
	url := pgtest.Schema(t)
	cfg := testConfig(t)
	cfg.Secrets.EncryptionKey = testEncryptionKey
	cfg.Database.URL = url
	var bases []string
	var servers []*server
	var shared storage.Store
	for range 2 {
		store, err := postgres.Open(t.Context(), postgres.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := store.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		shared = store
		s, err := newServer(cfg, discard(), store)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.keys.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		base, _ := startServer(t, s)
		bases, servers = append(bases, base), append(servers, s)
	}
	signer := func(s *server) string {
		set, err := s.keys.Current()
		if err != nil {
			t.Fatal(err)
		}
		kid, _, _ := set.Signer()
		return kid
	}
	before := signer(servers[0])
	if got := signer(servers[1]); got != before {
		t.Fatalf("instances sign with %s and %s, want one key", before, got)
	}
	m, secret, err := testRegistrar(shared).Create(t.Context(), clients.NewClient{
		Name: "Machine", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tokenFrom := func(base string) string {
		t.Helper()
		tok, err := (&clientcredentials.Config{ClientID: m.ID, ClientSecret: secret, TokenURL: base + "/oauth2/token"}).Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	// Every token, from either instance, before or after the rotation,
	// verifies against either instance's JWKS.
	crossVerify := func(when string, tokens ...string) {
		t.Helper()
		for _, base := range bases {
			jwks := oidc.NewRemoteKeySet(t.Context(), base+"/.well-known/jwks.json")
			for i, tok := range tokens {
				if _, err := jwks.VerifySignature(t.Context(), tok); err != nil {
					t.Errorf("%s: token %d does not verify against %s: %v", when, i, base, err)
				}
			}
		}
	}
	oldToken := tokenFrom(bases[0])
	crossVerify("before the rotation", oldToken, tokenFrom(bases[1]))
	for _, base := range bases {
		resp, err := http.Get(base + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || !strings.HasPrefix(cc, "public, max-age=") {
			t.Errorf("GET jwks = %d, Cache-Control %q", resp.StatusCode, cc)
		}
	}

	r := foyer(t, t.TempDir(), []string{"FOYER_DATABASE_URL=" + url, "FOYER_ENCRYPTION_KEY=" + testEncryptionKey}, "keys", "rotate", "--force", "--json")
	if r.code != 0 {
		t.Fatalf("keys rotate: exit %d, %s", r.code, r.stderr)
	}
	var ks []cliKey
	if err := json.Unmarshal([]byte(r.stdout), &ks); err != nil {
		t.Fatal(err)
	}
	var newActive, newNext string
	for _, k := range ks {
		switch k.State {
		case "active":
			newActive = k.KID
		case "next":
			newNext = k.KID
		}
	}
	for i, base := range bases {
		waitFor(t, "instance picks up the rotation", func() bool {
			kids := jwksKids(t, base)
			return signer(servers[i]) == newActive && slices.Contains(kids, before) && slices.Contains(kids, newNext)
		})
	}
	crossVerify("after the rotation", oldToken, tokenFrom(bases[0]), tokenFrom(bases[1]))

	// A grant revoked on one instance is refused by the other once it
	// reloads its revocation list (every second), and at once by the first.
	live := tokenFrom(bases[1])
	req, _ := http.NewRequest(http.MethodPost, bases[0]+"/oauth2/revoke", strings.NewReader("token="+oldToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m.ID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke on instance 0 = %d", resp.StatusCode)
	}
	machine := &client{m.ID, secret}
	if got := introspect(t, bases[0], oldToken, machine); got["active"] != false {
		t.Errorf("instance 0 right after revoking: %v, want inactive", got)
	}
	revokedAt := time.Now()
	waitFor(t, "instance 1 refuses the revoked token", func() bool {
		return introspect(t, bases[1], oldToken, machine)["active"] == false
	})
	t.Logf("instance 1 refused the token revoked on instance 0 after %s", time.Since(revokedAt).Round(time.Millisecond))
	if got := introspect(t, bases[1], live, machine); got["active"] != true {
		t.Errorf("another grant's token on instance 1: %v, want active", got)
	}
}

func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}
