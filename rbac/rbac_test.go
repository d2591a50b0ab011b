package rbac

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeFoyer publishes a JWKS of keys made in the test and mints tokens
// with them, as Foyer does.
type fakeFoyer struct {
	t       testing.TB
	srv     *httptest.Server
	fetches atomic.Int32

	mu       sync.Mutex
	keys     map[string]testKey // published
	maxAge   string             // Cache-Control of the JWKS
	failJWKS bool
}

type testKey struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newFakeFoyer(t testing.TB) *fakeFoyer {
	f := &fakeFoyer{t: t, keys: map[string]testKey{}, maxAge: "public, max-age=600"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failJWKS {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var set jose.JSONWebKeySet
		for kid, k := range f.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: kid, Algorithm: string(k.alg), Use: "sig"})
		}
		w.Header().Set("Cache-Control", f.maxAge)
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFoyer) issuer() string { return f.srv.URL }

// addKey makes and publishes a key, and returns its kid.
func (f *fakeFoyer) addKey(alg jose.SignatureAlgorithm) string {
	f.t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	kid := fmt.Sprintf("%s-%d", alg, time.Now().UnixNano())
	f.mu.Lock()
	f.keys[kid] = testKey{alg, priv}
	f.mu.Unlock()
	return kid
}

func (f *fakeFoyer) removeKey(kid string) {
	f.mu.Lock()
	delete(f.keys, kid)
	f.mu.Unlock()
}

// claims are those of a Foyer access token for a person in an organization.
func (f *fakeFoyer) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.issuer(), "aud": []string{f.issuer()}, "sub": "usr_alice", "client_id": "app",
		"scope": "openid org reports:read", "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"jti": "j1", "org_id": "org_acme", "org_slug": "acme", "org_role": "editor",
		"org_permissions": []string{"org:read", "org:update", "org:members:read"},
		"orgs":            []map[string]string{{"id": "org_acme", "slug": "acme", "role": "editor"}},
	}
}

// mint signs claims with key kid and header typ.
func (f *fakeFoyer) mint(kid, typ string, claims map[string]any) string {
	f.t.Helper()
	f.mu.Lock()
	k := f.keys[kid]
	f.mu.Unlock()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: kid}}, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// clock is a test clock that starts at the real time.
type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

func (f *fakeFoyer) verifier(c *clock) *Verifier {
	f.t.Helper()
	v, err := New(Options{Issuer: f.issuer(), Now: c.now})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyValid(t *testing.T) {
	f := newFakeFoyer(t)
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			kid := f.addKey(alg)
			c, err := f.verifier(&clock{}).Verify(t.Context(), f.mint(kid, "at+jwt", f.claims()))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "usr_alice" || c.ClientID != "app" || c.OrgID != "org_acme" || c.OrgSlug != "acme" || c.OrgRole != "editor" ||
				!slices.Equal(c.Scopes, []string{"openid", "org", "reports:read"}) ||
				!slices.Equal(c.OrgPermissions, []string{"org:read", "org:update", "org:members:read"}) ||
				!slices.Equal(c.Orgs, []Org{{"org_acme", "acme", "editor"}}) ||
				time.Until(c.ExpiresAt) < 14*time.Minute || c.Raw["jti"] != "j1" {
				t.Errorf("claims: %+v", c)
			}
			if !c.HasPermission("org:read") || c.HasPermission("org:delete") || !c.HasRole("admin", "editor") || c.HasRole("admin") {
				t.Errorf("Has*: %+v", c)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFakeFoyer(t)
	rsaKid, ecKid := f.addKey(jose.RS256), f.addKey(jose.ES256)
	with := func(k string, v any) map[string]any {
		c := f.claims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := time.Now()
	good := f.mint(rsaKid, "at+jwt", f.claims())
	parts := strings.Split(good, ".")

	// HS256 keyed with the RSA public key, as in the classic algorithm
	// confusion attack.
	f.mu.Lock()
	pub, _ := json.Marshal(jose.JSONWebKey{Key: f.keys[rsaKid].priv.Public(), KeyID: rsaKid})
	f.mu.Unlock()
	hsHead := b64(`{"alg":"HS256","typ":"at+jwt","kid":"` + rsaKid + `"}`)
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(hsHead + "." + parts[1]))
	hs256 := hsHead + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	// An ES256 signature presented under the RSA key's kid.
	f.mu.Lock()
	f.keys["mixed"] = testKey{jose.ES256, f.keys[ecKid].priv}
	f.mu.Unlock()
	mixed := f.mint("mixed", "at+jwt", f.claims())
	f.removeKey("mixed")
	mp := strings.Split(mixed, ".")
	var h map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(mp[0])
	_ = json.Unmarshal(raw, &h)
	h["kid"] = rsaKid
	hb, _ := json.Marshal(h)
	algMismatch := b64(string(hb)) + "." + mp[1] + "." + mp[2]

	// The JSON serialization of a good token.
	f.mu.Lock()
	k := f.keys[rsaKid]
	f.mu.Unlock()
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: rsaKid}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	payload, _ := json.Marshal(f.claims())
	jws, _ := s.Sign(payload)

	for name, tok := range map[string]string{
		"typ JWT (an ID token)":   f.mint(rsaKid, "JWT", f.claims()),
		"no typ":                  f.mint(rsaKid, "", f.claims()),
		"other issuer":            f.mint(rsaKid, "at+jwt", with("iss", "https://evil.example")),
		"other audience":          f.mint(rsaKid, "at+jwt", with("aud", "https://api.example")),
		"no audience":             f.mint(rsaKid, "at+jwt", with("aud", nil)),
		"expired beyond leeway":   f.mint(rsaKid, "at+jwt", with("exp", now.Add(-61*time.Second).Unix())),
		"no exp":                  f.mint(rsaKid, "at+jwt", with("exp", nil)),
		"not yet valid":           f.mint(rsaKid, "at+jwt", with("nbf", now.Add(2*time.Minute).Unix())),
		"issued in the future":    f.mint(rsaKid, "at+jwt", with("iat", now.Add(2*time.Minute).Unix())),
		"claim of the wrong type": f.mint(rsaKid, "at+jwt", with("org_permissions", "org:read")),
		"alg none":                b64(`{"alg":"none","typ":"at+jwt","kid":"`+rsaKid+`"}`) + "." + parts[1] + ".",
		"HS256 with public key":   hs256,
		"alg of another key":      algMismatch,
		"JSON serialization":      jws.FullSerialize(),
		"oversize":                f.mint(rsaKid, "at+jwt", with("pad", strings.Repeat("a", maxTokenSize))),
		"tampered payload":        parts[0] + "." + b64(`{"iss":"`+f.issuer()+`","aud":"`+f.issuer()+`","exp":9999999999}`) + "." + parts[2],
		"empty":                   "",
		"two parts":               parts[0] + "." + parts[1],
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := f.verifier(&clock{}).Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify = %+v, %v; want ErrInvalidToken", c, err)
			}
		})
	}

	// Leeway: a token expired 30 s ago, or valid from 30 s on, is accepted.
	for name, c := range map[string]map[string]any{
		"expired within leeway": with("exp", now.Add(-30*time.Second).Unix()),
		"nbf within leeway":     with("nbf", now.Add(30*time.Second).Unix()),
		"aud as a string":       with("aud", f.issuer()),
		"application/at+jwt":    f.claims(),
	} {
		typ := "at+jwt"
		if name == "application/at+jwt" {
			typ = name
		}
		if _, err := f.verifier(&clock{}).Verify(t.Context(), f.mint(rsaKid, typ, c)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRotation: a token signed by a key the verifier has not seen makes it
// refetch the JWKS once; a kid still unknown after that is refused, and
// refetches happen at most every minRefresh however many such tokens come.
func TestRotation(t *testing.T) {
	f := newFakeFoyer(t)
	old := f.addKey(jose.ES256)
	c := &clock{}
	v := f.verifier(c)
	ctx := t.Context()
	if _, err := v.Verify(ctx, f.mint(old, "at+jwt", f.claims())); err != nil {
		t.Fatal(err)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("fetches after first use = %d, want 1", n)
	}

	// Foyer rotates: the new key is published, then signs.
	c.advance(minRefresh)
	rotated := f.addKey(jose.EdDSA)
	for i := range 3 {
		if _, err := v.Verify(ctx, f.mint(rotated, "at+jwt", f.claims())); err != nil {
			t.Fatalf("token of the rotated key (%d): %v", i, err)
		}
	}
	if _, err := v.Verify(ctx, f.mint(old, "at+jwt", f.claims())); err != nil {
		t.Errorf("token of the retired key after rotation: %v", err)
	}
	if n := f.fetches.Load(); n != 2 {
		t.Errorf("fetches after rotation = %d, want 2", n)
	}

	// A kid Foyer never published: one refetch, then refused.
	c.advance(minRefresh)
	stranger := newFakeFoyer(t)
	unknown := stranger.addKey(jose.ES256)
	for range 50 {
		if _, err := v.Verify(ctx, stranger.mint(unknown, "at+jwt", f.claims())); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown kid: %v, want ErrInvalidToken", err)
		}
	}
	if n := f.fetches.Load(); n != 3 {
		t.Errorf("fetches after 50 tokens with an unknown kid = %d, want 3 (one refetch)", n)
	}
	// Within minRefresh of that, even a real new key waits.
	newer := f.addKey(jose.RS256)
	if _, err := v.Verify(ctx, f.mint(newer, "at+jwt", f.claims())); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("new kid within the rate limit: %v, want refused", err)
	}
	c.advance(minRefresh)
	if _, err := v.Verify(ctx, f.mint(newer, "at+jwt", f.claims())); err != nil {
		t.Errorf("new kid after the rate limit: %v", err)
	}
	if n := f.fetches.Load(); n != 4 {
		t.Errorf("fetches = %d, want 4", n)
	}
}

// TestMaxAge: the JWKS is refetched when its max-age has passed, so a key
// Foyer withdrew (foyer keys revoke) stops verifying.
func TestMaxAge(t *testing.T) {
	f := newFakeFoyer(t)
	f.maxAge = "public, max-age=30"
	kid := f.addKey(jose.ES256)
	c := &clock{}
	v := f.verifier(c)
	tok := f.mint(kid, "at+jwt", f.claims())
	for range 3 {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(20 * time.Second)
	if _, err := v.Verify(t.Context(), tok); err != nil || f.fetches.Load() != 1 {
		t.Fatalf("within max-age: %v, %d fetches (want 1)", err, f.fetches.Load())
	}
	f.addKey(jose.ES256) // the set must not be empty
	f.removeKey(kid)
	c.advance(11 * time.Second)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) || f.fetches.Load() != 2 {
		t.Errorf("after max-age, withdrawn key: %v, %d fetches (want refused, 2)", err, f.fetches.Load())
	}
}

func TestMaxAgeHeader(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"public, max-age=1790": 1790 * time.Second,
		"max-age=999999":       time.Hour,
		"no-store":             0,
		"":                     5 * time.Minute,
		"max-age=x":            5 * time.Minute,
	} {
		if got := maxAge(cc); got != want {
			t.Errorf("maxAge(%q) = %v, want %v", cc, got, want)
		}
	}
}

// TestKeysUnavailable: with Foyer down and nothing cached, tokens cannot be
// checked (503, try again); once keys are cached, an outage keeps them.
func TestKeysUnavailable(t *testing.T) {
	f := newFakeFoyer(t)
	kid := f.addKey(jose.RS256)
	tok := f.mint(kid, "at+jwt", f.claims())
	f.mu.Lock()
	f.failJWKS = true
	f.mu.Unlock()
	c := &clock{}
	v := f.verifier(c)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("Verify with the JWKS down = %v, want ErrKeysUnavailable", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	v.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("middleware with the JWKS down: %d, want 503", rec.Code)
	}
	f.mu.Lock()
	f.failJWKS = false
	f.mu.Unlock()
	c.advance(minRefresh)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.failJWKS = true
	f.mu.Unlock()
	c.advance(11 * time.Minute) // past max-age, before the token's exp
	if _, err := v.Verify(t.Context(), tok); err != nil || f.fetches.Load() != 3 {
		t.Errorf("cached key during an outage: %v (%d fetches, want 3)", err, f.fetches.Load())
	}
}

func TestMiddleware(t *testing.T) {
	f := newFakeFoyer(t)
	kid := f.addKey(jose.ES256)
	v := f.verifier(&clock{})
	tok := f.mint(kid, "at+jwt", f.claims())
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello ", FromContext(r.Context()).Subject)
	})
	for _, tc := range []struct {
		name      string
		auth      []string
		guard     func(http.Handler) http.Handler
		code      int
		challenge string
	}{
		{"no token", nil, nil, 401, `Bearer`},
		{"basic auth", []string{"Basic YWxpY2U6cHc="}, nil, 401, `Bearer`},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, nil, 401, `Bearer`},
		{"garbage", []string{"Bearer abc"}, nil, 401, `Bearer error="invalid_token"`},
		{"ID token", []string{"Bearer " + f.mint(kid, "JWT", f.claims())}, nil, 401, `Bearer error="invalid_token"`},
		{"valid", []string{"Bearer " + tok}, nil, 200, ""},
		{"scheme in lower case", []string{"bearer " + tok}, nil, 200, ""},
		{"permission held", []string{"Bearer " + tok}, RequirePermission("org:read"), 200, ""},
		{"permission lacking", []string{"Bearer " + tok}, RequirePermission("org:delete"), 403, `Bearer error="insufficient_scope"`},
		{"role held", []string{"Bearer " + tok}, RequireRole("admin", "editor"), 200, ""},
		{"role lacking", []string{"Bearer " + tok}, RequireRole("admin"), 403, `Bearer error="insufficient_scope"`},
		{"scope held", []string{"Bearer " + tok}, RequireScope("reports:read"), 200, ""},
		{"scope lacking", []string{"Bearer " + tok}, RequireScope("reports:write"), 403, `Bearer error="insufficient_scope", scope="reports:write"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h http.Handler = ok
			if tc.guard != nil {
				h = tc.guard(h)
			}
			req := httptest.NewRequest("GET", "/reports", nil)
			for _, a := range tc.auth {
				req.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			v.Middleware(h).ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tc.code || rec.Header().Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%d %q, want %d %q; body %s", rec.Code, rec.Header().Get("WWW-Authenticate"), tc.code, tc.challenge, body)
			}
			if tc.code == 200 && string(body) != "hello usr_alice" {
				t.Errorf("body %q", body)
			}
			if tc.code != 200 && (rec.Header().Get("Content-Type") != "application/problem+json" || strings.Contains(string(body), "typ")) {
				t.Errorf("error body %q (%s): a short problem, no reasons", body, rec.Header().Get("Content-Type"))
			}
		})
	}
	// A guard without the middleware in front refuses.
	rec := httptest.NewRecorder()
	RequireScope("openid")(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 401 {
		t.Errorf("guard alone: %d, want 401", rec.Code)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without an issuer succeeded")
	}
	if _, err := New(Options{Issuer: "id.example.com"}); err == nil {
		t.Error("New with a relative issuer succeeded")
	}
	v, err := New(Options{Issuer: "https://id.example.com/"})
	if err != nil {
		t.Fatal(err)
	}
	if v.audience != "https://id.example.com/" || v.keys.url != "https://id.example.com/.well-known/jwks.json" || v.leeway != time.Minute {
		t.Errorf("defaults: %+v %+v", v, v.keys)
	}
}
