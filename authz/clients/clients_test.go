package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/foyerdev/foyer/storage"
)

// fakeStore keeps clients in a map, as the storage.Clients contract
// describes; err, when set, is returned by every call.
type fakeStore struct {
	mu       sync.Mutex
	clients  map[string]storage.Client
	err      error
	lastPage storage.Page
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]storage.Client{}} }

func (s *fakeStore) CreateClient(_ context.Context, c storage.Client) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return storage.Client{}, s.err
	}
	if _, ok := s.clients[c.ID]; ok {
		return storage.Client{}, fmt.Errorf("create client: %w", storage.ErrAlreadyExists)
	}
	s.clients[c.ID] = c
	return c, nil
}

func (s *fakeStore) GetClient(_ context.Context, id string) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return storage.Client{}, s.err
	}
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, fmt.Errorf("get client: %w", storage.ErrNotFound)
	}
	return c, nil
}

func (s *fakeStore) ListClients(_ context.Context, p storage.Page) ([]storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastPage = p
	if s.err != nil {
		return nil, s.err
	}
	var out []storage.Client
	for _, c := range s.clients {
		if c.ID > p.After {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b storage.Client) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(len(out), p.EffectiveLimit())], nil
}

func (s *fakeStore) UpdateClient(_ context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return storage.Client{}, s.err
	}
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, fmt.Errorf("update client: %w", storage.ErrNotFound)
	}
	c, err := update(c)
	if err != nil {
		return storage.Client{}, fmt.Errorf("update client: %w", err)
	}
	s.clients[id] = c
	return c, nil
}

func (s *fakeStore) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("delete client: %w", storage.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newTestRegistrar() (*Registrar, *fakeStore) {
	s := newFakeStore()
	return NewRegistrar(s, NewSecretHasher(testKey), func() time.Time { return testNow }), s
}

// webApp is a valid confidential web client; cases change one thing.
func webApp() NewClient {
	return NewClient{
		Name:         "Web App",
		RedirectURIs: []string{"https://app.example.com/callback"},
		GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
	}
}

func with(c NewClient, change func(*NewClient)) NewClient {
	change(&c)
	return c
}

func TestCreateConfidentialDefaults(t *testing.T) {
	r, s := newTestRegistrar()
	c, secret, err := r.Create(t.Context(), webApp())
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	id, ok := strings.CutPrefix(c.ID, "cli_")
	if !ok || len(id) != 26 {
		t.Errorf("Create() ID = %q, want cli_ and 26 characters", c.ID)
	}
	if len(secret) != 43 {
		t.Errorf("Create() secret = %q, want 43 characters", secret)
	}
	if !NewSecretHasher(testKey).Verify(secret, c.SecretHash) || strings.Contains(c.SecretHash, secret) {
		t.Errorf("Create() SecretHash = %q, want the hash of the returned secret", c.SecretHash)
	}
	want := storage.Client{
		ID:                      c.ID,
		Name:                    "Web App",
		SecretHash:              c.SecretHash,
		RedirectURIs:            []string{"https://app.example.com/callback"},
		GrantTypes:              []string{GrantAuthorizationCode, GrantRefreshToken},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		AccessTokenFormat:       "jwt",
		TokenEndpointAuthMethod: "client_secret_basic",
		ApplicationType:         "web",
		CreatedAt:               testNow,
		UpdatedAt:               testNow,
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("Create() mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, s.clients[c.ID]); d != "" {
		t.Errorf("stored client mismatch (-want +got):\n%s", d)
	}

	_, secret2, err := r.Create(t.Context(), webApp())
	if err != nil || secret2 == secret {
		t.Errorf("second Create() = secret %q, %v; want a new secret", secret2, err)
	}
}

func TestCreatePublic(t *testing.T) {
	r, _ := newTestRegistrar()
	in := NewClient{
		ID:                     "spa",
		Name:                   "  Single-page App ",
		Public:                 true,
		RedirectURIs:           []string{"https://spa.example.com/cb", "http://localhost:5173/cb", "https://spa.example.com/cb"},
		PostLogoutRedirectURIs: []string{"https://spa.example.com/"},
		GrantTypes:             []string{GrantAuthorizationCode, GrantRefreshToken, GrantAuthorizationCode},
		Scopes:                 []string{"openid", "org", "openid"},
		FirstParty:             true,
		AccessTokenFormat:      "opaque",
		RequirePAR:             true,
	}
	c, secret, err := r.Create(t.Context(), in)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	want := storage.Client{
		ID:                      "spa",
		Name:                    "Single-page App",
		Public:                  true,
		RedirectURIs:            []string{"https://spa.example.com/cb", "http://localhost:5173/cb"},
		PostLogoutRedirectURIs:  []string{"https://spa.example.com/"},
		GrantTypes:              []string{GrantAuthorizationCode, GrantRefreshToken},
		Scopes:                  []string{"openid", "org"},
		FirstParty:              true,
		AccessTokenFormat:       "opaque",
		TokenEndpointAuthMethod: "none",
		RequirePKCE:             true, // always for public clients
		RequirePAR:              true,
		ApplicationType:         "web",
		CreatedAt:               testNow,
		UpdatedAt:               testNow,
	}
	if secret != "" {
		t.Errorf("Create(public) secret = %q, want none", secret)
	}
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("Create(public) mismatch (-want +got):\n%s", d)
	}
}

func TestCreateNative(t *testing.T) {
	r, _ := newTestRegistrar()
	c, _, err := r.Create(t.Context(), NewClient{
		Name: "CLI", Public: true, ApplicationType: ApplicationNative,
		RedirectURIs: []string{"http://127.0.0.1/cb", "com.example.cli:/cb"},
		GrantTypes:   []string{GrantAuthorizationCode, GrantDeviceCode, GrantRefreshToken},
	})
	if err != nil {
		t.Fatalf("Create(native) error = %v", err)
	}
	if c.ApplicationType != "native" || c.TokenEndpointAuthMethod != "none" {
		t.Errorf("Create(native) = %+v", c)
	}
}

func TestCreateChosenSecret(t *testing.T) {
	r, _ := newTestRegistrar()
	chosen := strings.Repeat("s3cr3t-", 5) // 35 characters
	c, secret, err := r.Create(t.Context(), with(webApp(), func(n *NewClient) {
		n.Secret = chosen
		n.TokenEndpointAuthMethod = AuthClientSecretPost
		n.RequirePKCE = true
	}))
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if secret != chosen || !NewSecretHasher(testKey).Verify(chosen, c.SecretHash) {
		t.Errorf("Create() = secret %q, hash %q; want the chosen secret and its hash", secret, c.SecretHash)
	}
	if c.TokenEndpointAuthMethod != AuthClientSecretPost || !c.RequirePKCE {
		t.Errorf("Create() = %+v", c)
	}
}

func TestCreateClientCredentials(t *testing.T) {
	r, _ := newTestRegistrar()
	c, secret, err := r.Create(t.Context(), NewClient{Name: "Billing job", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"billing:read"}})
	if err != nil || secret == "" || len(c.RedirectURIs) != 0 {
		t.Fatalf("Create(client_credentials) = %+v, %q, %v", c, secret, err)
	}
}

// publicJWKS returns a JWK Set document of fresh public keys.
func publicJWKS(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreatePrivateKeyJWT(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	doc := publicJWKS(t,
		jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
		jose.JSONWebKey{Key: ed, KeyID: "ed-1", Algorithm: "EdDSA"},
		jose.JSONWebKey{Key: &rs.PublicKey, KeyID: "rsa-1"},
	)
	r, _ := newTestRegistrar()
	c, secret, err := r.Create(t.Context(), with(webApp(), func(n *NewClient) {
		n.TokenEndpointAuthMethod = AuthPrivateKeyJWT
		n.JWKS = doc
	}))
	if err != nil {
		t.Fatalf("Create(private_key_jwt) error = %v", err)
	}
	if secret != "" || c.SecretHash != "" {
		t.Errorf("Create(private_key_jwt) = secret %q, hash %q; want neither", secret, c.SecretHash)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil || len(set.Keys) != 3 || len(set.Key("rsa-1")) != 1 {
		t.Errorf("stored JWKS = %s (%v), want the three keys", c.JWKS, err)
	}
}

func TestCreateInvalid(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecP224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "k1"}
	b64 := base64.RawURLEncoding.EncodeToString
	jwt := func(doc []byte) func(*NewClient) {
		return func(n *NewClient) { n.TokenEndpointAuthMethod = AuthPrivateKeyJWT; n.JWKS = doc }
	}
	tests := []struct {
		name   string
		change func(*NewClient)
		field  string
		want   string
	}{
		{"no name", func(n *NewClient) { n.Name = "" }, "name", "is required"},
		{"blank name", func(n *NewClient) { n.Name = "   " }, "name", "is required"},
		{"name with a newline", func(n *NewClient) { n.Name = "App\nInjected" }, "name", "control characters"},
		{"long name", func(n *NewClient) { n.Name = strings.Repeat("n", 201) }, "name", "at most 200"},
		{"id with a slash", func(n *NewClient) { n.ID = "a/b" }, "id", `"a/b" may contain only`},
		{"id with a colon", func(n *NewClient) { n.ID = "a:b" }, "id", "may contain only"},
		{"id with a space", func(n *NewClient) { n.ID = "my app" }, "id", "may contain only"},
		{"long id", func(n *NewClient) { n.ID = strings.Repeat("i", 129) }, "id", "longer than 128"},

		{"secret of 31 characters", func(n *NewClient) { n.Secret = strings.Repeat("x", 31) }, "secret", "at least 32 characters"},
		{"long secret", func(n *NewClient) { n.Secret = strings.Repeat("x", 513) }, "secret", "at most 512"},
		{"secret with a newline", func(n *NewClient) { n.Secret = strings.Repeat("x", 40) + "\n" }, "secret", "printable ASCII"},
		{"secret for a public client", func(n *NewClient) { n.Public = true; n.Secret = strings.Repeat("x", 40) }, "secret", "public clients have no secret"},
		{"secret for private_key_jwt", func(n *NewClient) {
			jwt(publicJWKS(t, ecKey))(n)
			n.Secret = strings.Repeat("x", 40)
		}, "secret", "no secret"},

		{"unknown auth method", func(n *NewClient) { n.TokenEndpointAuthMethod = "tls_client_auth" }, "token_endpoint_auth_method", `"tls_client_auth" is not`},
		{"none for a confidential client", func(n *NewClient) { n.TokenEndpointAuthMethod = AuthNone }, "token_endpoint_auth_method", "only for public clients"},
		{"basic for a public client", func(n *NewClient) { n.Public = true; n.TokenEndpointAuthMethod = AuthClientSecretBasic }, "token_endpoint_auth_method", "public clients use none"},
		{"private_key_jwt for a public client", func(n *NewClient) { n.Public = true; n.TokenEndpointAuthMethod = AuthPrivateKeyJWT }, "token_endpoint_auth_method", "public clients use none"},

		{"jwks without private_key_jwt", func(n *NewClient) { n.JWKS = publicJWKS(t, ecKey) }, "jwks", "only used with private_key_jwt"},
		{"private_key_jwt without jwks", jwt(nil), "jwks", "is required for private_key_jwt"},
		{"jwks not JSON", jwt([]byte("not json")), "jwks", "is not a JWK Set"},
		{"jwks a bare key", jwt([]byte(`{"kty":"EC"}`)), "jwks", "has no keys"},
		{"jwks with no keys", jwt([]byte(`{"keys":[]}`)), "jwks", "has no keys"},
		{"jwks with a private key", jwt(publicJWKS(t, jose.JSONWebKey{Key: ec, KeyID: "k1"})), "jwks", "key 1 holds private"},
		{"jwks with a private member in capitals", jwt([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","D":"AA"}]}`)), "jwks", "key 1 holds private"},
		{"jwks with a symmetric key", jwt([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)), "jwks", "private or symmetric"},
		{"jwks with an unknown key type", jwt([]byte(`{"keys":[{"kty":"XYZ","x":"AA"}]}`)), "jwks", "is not a valid JWK Set"},
		{"jwks with a broken EC key", jwt([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`)), "jwks", "is not a valid JWK Set"},
		{"jwks with a small RSA key", jwt(publicJWKS(t, jose.JSONWebKey{Key: &small.PublicKey})), "jwks", "RSA key of 1024 bits"},
		{"jwks with a P-224 key", jwt([]byte(fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-224","x":%q,"y":%q}]}`,
			b64(ecP224.X.FillBytes(make([]byte, 28))), b64(ecP224.Y.FillBytes(make([]byte, 28)))))), "jwks", "is not a valid JWK Set"},
		{"jwks with a duplicate kid", jwt(publicJWKS(t, ecKey, ecKey)), "jwks", `kid "k1" is used twice`},
		{"jwks with an encryption key", jwt(publicJWKS(t, jose.JSONWebKey{Key: &ec.PublicKey, Use: "enc"})), "jwks", `use is "enc"`},
		{"jwks with a mismatched alg", jwt(publicJWKS(t, jose.JSONWebKey{Key: &ec.PublicKey, Algorithm: "RS256"})), "jwks", `alg "RS256" does not fit a EC key`},
		{"jwks with alg HS256", jwt(publicJWKS(t, jose.JSONWebKey{Key: &ec.PublicKey, Algorithm: "HS256"})), "jwks", "does not fit"},
		{"huge jwks", jwt([]byte(`{"keys":[` + strings.Repeat(" ", 70<<10) + `]}`)), "jwks", "larger than 64 KiB"},

		{"no grant types", func(n *NewClient) { n.GrantTypes = nil }, "grant_types", "at least one is required"},
		{"unknown grant type", func(n *NewClient) { n.GrantTypes = []string{"password"} }, "grant_types", `"password" is not`},
		{"implicit", func(n *NewClient) { n.GrantTypes = []string{"implicit"} }, "grant_types", `"implicit" is not`},
		{"grant type in other case", func(n *NewClient) { n.GrantTypes = []string{"Authorization_Code"} }, "grant_types", "is not"},
		{"public client_credentials", func(n *NewClient) {
			n.Public = true
			n.GrantTypes = []string{GrantClientCredentials}
		}, "grant_types", "public clients cannot use client_credentials"},
		{"authorization_code without redirect URIs", func(n *NewClient) { n.RedirectURIs = nil }, "redirect_uris", "needs at least one redirect URI"},
		{"refresh_token alone", func(n *NewClient) { n.GrantTypes = []string{GrantRefreshToken} }, "grant_types", "refresh_token needs"},
		{"refresh_token with client_credentials", func(n *NewClient) {
			n.GrantTypes = []string{GrantClientCredentials, GrantRefreshToken}
		}, "grant_types", "refresh_token needs"},

		{"http redirect URI", func(n *NewClient) { n.RedirectURIs = []string{"http://app.example.com/cb"} }, "redirect_uris", `"http://app.example.com/cb" uses plain http`},
		{"fragment in a later redirect URI", func(n *NewClient) {
			n.RedirectURIs = append(n.RedirectURIs, "https://app.example.com/cb#x")
		}, "redirect_uris", "fragment"},
		{"relative redirect URI", func(n *NewClient) { n.RedirectURIs = []string{"/cb"} }, "redirect_uris", "not an absolute URI"},
		{"private-use scheme on a web client", func(n *NewClient) { n.RedirectURIs = []string{"com.example.app:/cb"} }, "redirect_uris", "for native clients"},
		{"localhost on a native client", func(n *NewClient) {
			n.ApplicationType = ApplicationNative
			n.RedirectURIs = []string{"http://localhost:8080/cb"}
		}, "redirect_uris", "not localhost"},
		{"too many redirect URIs", func(n *NewClient) {
			n.RedirectURIs = nil
			for i := range 101 {
				n.RedirectURIs = append(n.RedirectURIs, fmt.Sprintf("https://app.example.com/%d", i))
			}
		}, "redirect_uris", "more than 100"},
		{"javascript post-logout URI", func(n *NewClient) { n.PostLogoutRedirectURIs = []string{"javascript:alert(1)"} }, "post_logout_redirect_uris", "javascript: scheme"},
		{"wildcard post-logout URI", func(n *NewClient) { n.PostLogoutRedirectURIs = []string{"https://*.example.com/"} }, "post_logout_redirect_uris", "wildcard"},

		{"scope with a space", func(n *NewClient) { n.Scopes = []string{"openid email"} }, "scopes", `"openid email" may contain only`},
		{"empty scope", func(n *NewClient) { n.Scopes = []string{"openid", ""} }, "scopes", "empty string"},
		{"scope with a quote", func(n *NewClient) { n.Scopes = []string{`a"b`} }, "scopes", "may contain only"},
		{"scope with a backslash", func(n *NewClient) { n.Scopes = []string{`a\b`} }, "scopes", "may contain only"},
		{"unicode scope", func(n *NewClient) { n.Scopes = []string{"café"} }, "scopes", "may contain only"},
		{"long scope", func(n *NewClient) { n.Scopes = []string{strings.Repeat("s", 129)} }, "scopes", "longer than 128"},

		{"unknown token format", func(n *NewClient) { n.AccessTokenFormat = "paseto" }, "access_token_format", `"paseto" is not jwt or opaque`},
		{"unknown application type", func(n *NewClient) { n.ApplicationType = "spa" }, "application_type", `"spa" is not web or native`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, s := newTestRegistrar()
			c, secret, err := r.Create(t.Context(), with(webApp(), tc.change))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Message, tc.want) {
				t.Fatalf("Create() = %v, want a FieldError on %s containing %q", err, tc.field, tc.want)
			}
			if c.ID != "" || secret != "" || len(s.clients) != 0 {
				t.Errorf("Create() failed but returned %+v, %q and stored %d clients", c, secret, len(s.clients))
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("Create() error %q spans lines", err)
			}
		})
	}
}

func TestCreateDuplicateID(t *testing.T) {
	r, _ := newTestRegistrar()
	in := with(webApp(), func(n *NewClient) { n.ID = "web" })
	if _, _, err := r.Create(t.Context(), in); err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	_, secret, err := r.Create(t.Context(), in)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Error() != `id: "web" is already taken` || !errors.Is(err, storage.ErrAlreadyExists) || secret != "" {
		t.Errorf("Create(same ID) = %q, %v; want a FieldError on id wrapping ErrAlreadyExists", secret, err)
	}
}

func TestCreateStoreFails(t *testing.T) {
	r, s := newTestRegistrar()
	s.err = fmt.Errorf("insert: %w", storage.ErrUnavailable)
	_, _, err := r.Create(t.Context(), webApp())
	var fe *FieldError
	if !errors.Is(err, storage.ErrUnavailable) || errors.As(err, &fe) {
		t.Errorf("Create() with the database down = %v, want ErrUnavailable and no FieldError", err)
	}
}

func TestCreateWithoutHasher(t *testing.T) {
	r := NewRegistrar(newFakeStore(), nil, nil)
	if _, _, err := r.Create(t.Context(), webApp()); err == nil {
		t.Error("Create() without a hasher succeeded")
	}
}

func TestGetListDelete(t *testing.T) {
	r, s := newTestRegistrar()
	a, _, _ := r.Create(t.Context(), with(webApp(), func(n *NewClient) { n.ID = "a" }))
	b, _, _ := r.Create(t.Context(), with(webApp(), func(n *NewClient) { n.ID = "b" }))

	got, err := r.Get(t.Context(), "a")
	if err != nil || got.ID != "a" {
		t.Errorf("Get(a) = %+v, %v", got, err)
	}
	list, err := r.List(t.Context(), storage.Page{After: "a", Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != b.ID || s.lastPage != (storage.Page{After: "a", Limit: 10}) {
		t.Errorf("List(after a) = %+v, %v (page %+v)", list, err, s.lastPage)
	}
	if err := r.Delete(t.Context(), a.ID); err != nil {
		t.Errorf("Delete(a) error = %v", err)
	}

	for name, call := range map[string]func() error{
		"Get":    func() error { _, err := r.Get(t.Context(), "a"); return err },
		"Delete": func() error { return r.Delete(t.Context(), "a") },
	} {
		err := call()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Error() != `id: no client "a"` || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s(deleted) = %v, want FieldError %q wrapping ErrNotFound", name, err, `id: no client "a"`)
		}
	}

	s.err = storage.ErrUnavailable
	if _, err := r.List(t.Context(), storage.Page{}); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("List() with the database down = %v", err)
	}
	if _, err := r.Get(t.Context(), "b"); !errors.Is(err, storage.ErrUnavailable) || errors.As(err, new(*FieldError)) {
		t.Errorf("Get() with the database down = %v, want ErrUnavailable and no FieldError", err)
	}
	if err := r.Delete(t.Context(), "b"); !errors.Is(err, storage.ErrUnavailable) || errors.As(err, new(*FieldError)) {
		t.Errorf("Delete() with the database down = %v, want ErrUnavailable and no FieldError", err)
	}
}

func TestUpdate(t *testing.T) {
	r, s := newTestRegistrar()
	c, _, err := r.Create(t.Context(), webApp())
	if err != nil {
		t.Fatal(err)
	}
	hash := s.clients[c.ID].SecretHash
	name, uris, scopes := "  Renamed ", []string{"https://app.example.com/new", "https://app.example.com/new"}, []string{}
	got, err := r.Update(t.Context(), c.ID, Changes{Name: &name, RedirectURIs: &uris, Scopes: &scopes})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Renamed" || !slices.Equal(got.RedirectURIs, []string{"https://app.example.com/new"}) ||
		!slices.Equal(got.Scopes, DefaultScopes()) || got.SecretHash != hash || !got.UpdatedAt.Equal(testNow) {
		t.Errorf("updated %+v", got)
	}

	for _, tc := range []struct {
		ch    Changes
		field string
	}{
		{Changes{RedirectURIs: &[]string{"http://app.example.com/cb"}}, "redirect_uris"},
		{Changes{RedirectURIs: &[]string{}}, "redirect_uris"}, // authorization_code needs one
		{Changes{PostLogoutRedirectURIs: &[]string{"https://x.example/#f"}}, "post_logout_redirect_uris"},
		{Changes{GrantTypes: &[]string{GrantRefreshToken}}, "grant_types"},
		{Changes{Scopes: &[]string{"a b"}}, "scopes"},
		{Changes{Name: new(string)}, "name"},
	} {
		_, err := r.Update(t.Context(), c.ID, tc.ch)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Update(%+v) = %v, want a FieldError on %s", tc.ch, err, tc.field)
		}
	}
	if after := s.clients[c.ID]; after.Name != "Renamed" {
		t.Errorf("a refused update changed the client: %+v", after)
	}
	if _, err := r.Update(t.Context(), "nope", Changes{Name: &name}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Update(nope) = %v, want ErrNotFound", err)
	}
}
