package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerdev/foyer/storage"
)

// memKeys is a hand-written storage.Keys: a slice under a mutex, with the
// contract's checks. The backends run the real contract in storagetest.
type memKeys struct {
	mu      sync.Mutex
	keys    []storage.SigningKey
	updates int   // UpdateSigningKeys calls that wrote
	listErr error // when set, reads fail (the database is away)
	retry   bool  // run each update closure twice, as a retrying backend may
}

func (m *memKeys) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listErr != nil {
		return nil, m.listErr
	}
	return slices.Clone(m.keys), nil
}

func (m *memKeys) UpdateSigningKeys(_ context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listErr != nil {
		return nil, m.listErr
	}
	out, err := update(slices.Clone(m.keys))
	if err == nil && m.retry {
		out, err = update(slices.Clone(m.keys))
	}
	if err != nil {
		return nil, err
	}
	counts := map[storage.KeyState]int{}
	for _, k := range out {
		counts[k.State]++
	}
	if counts[storage.KeyNext] > 1 || counts[storage.KeyActive] > 1 {
		return nil, storage.ErrConflict
	}
	m.keys = out
	m.updates++
	return slices.Clone(out), nil
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }
func testCipher(t *testing.T) *Cipher    { return mustCipher(t, bytes.Repeat([]byte{7}, 32)) }
func mustCipher(t *testing.T, k []byte) *Cipher {
	t.Helper()
	c, err := NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	period     = 24 * time.Hour
	prepublish = time.Hour
	retention  = 2 * time.Hour
)

func newManager(t *testing.T, store storage.Keys, c *clock) (*Manager, *[]Transition) {
	t.Helper()
	var seen []Transition
	return New(Options{
		Store: store, Cipher: testCipher(t), Algorithm: ES256,
		RotationPeriod: period, Prepublish: prepublish, Retention: retention,
		Now: c.now, OnTransition: func(tr Transition) { seen = append(seen, tr) },
	}), &seen
}

// state summarises a key set as "kid:state" in JWKS order, for comparisons.
func states(t *testing.T, m *Manager) map[string]storage.KeyState {
	t.Helper()
	s, err := m.Current()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]storage.KeyState{}
	for _, k := range s.Keys() {
		out[k.ID] = k.State
	}
	return out
}

func jwksKids(t *testing.T, m *Manager) []string {
	t.Helper()
	s, err := m.Current()
	if err != nil {
		t.Fatal(err)
	}
	var doc jose.JSONWebKeySet
	if err := json.Unmarshal(s.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS is not a key set: %v\n%s", err, s.JWKS())
	}
	var kids []string
	for _, k := range doc.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS key %s is not public (TJ-03)", k.KeyID)
		}
		if k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("JWKS key %s: use %q alg %q, want sig and an alg (TJ-03)", k.KeyID, k.Use, k.Algorithm)
		}
		if slices.Contains(kids, k.KeyID) {
			t.Errorf("JWKS has kid %s twice (TJ-03)", k.KeyID)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// sign signs a payload with the current active key, as token issuance will.
func sign(t *testing.T, m *Manager) string {
	t.Helper()
	s, err := m.Current()
	if err != nil {
		t.Fatal(err)
	}
	kid, alg, key := s.Signer()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"sub":"usr_x"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// verifies checks token against the current JWKS the way a relying party
// does: look the kid up, verify with an explicit algorithm list.
func verifies(t *testing.T, m *Manager, token string) bool {
	t.Helper()
	s, err := m.Current()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	key, ok := s.PublicKey(jws.Signatures[0].Header.KeyID)
	if !ok {
		return false
	}
	_, err = jws.Verify(key)
	return err == nil
}

// TestLifecycle walks a key through next → active → retired → removed
// (TJ-04, F3's state machine).
func TestLifecycle(t *testing.T) {
	store, c := &memKeys{}, newClock()
	m, seen := newManager(t, store, c)
	ctx := t.Context()

	if _, err := m.Current(); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("Current before Refresh = %v, want ErrNotLoaded", err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	first := states(t, m)
	var a, b string
	for kid, st := range first {
		switch st {
		case storage.KeyActive:
			a = kid
		case storage.KeyNext:
			b = kid
		}
	}
	if len(first) != 2 || a == "" || b == "" {
		t.Fatalf("after bootstrap: %v, want one active and one next key", first)
	}
	if kids := jwksKids(t, m); !slices.Equal(kids, []string{a, b}) {
		t.Errorf("JWKS kids = %v, want active then next %v", kids, []string{a, b})
	}
	token := sign(t, m)

	// Nothing is due: refreshing reads and writes nothing.
	writes := store.updates
	c.advance(period - time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if store.updates != writes {
		t.Errorf("Refresh with nothing due wrote %d times", store.updates-writes)
	}

	// The period is over and b has been published for long: rotate.
	c.advance(time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	now := states(t, m)
	if now[a] != storage.KeyRetired || now[b] != storage.KeyActive || len(now) != 3 {
		t.Fatalf("after the rotation period: %v, want %s retired, %s active, a new next", now, a, b)
	}
	if kid, _, _ := mustCurrent(t, m).Signer(); kid != b {
		t.Errorf("signing kid = %s, want %s", kid, b)
	}
	if !verifies(t, m, token) {
		t.Error("a token signed before the rotation no longer verifies")
	}
	for _, k := range mustCurrent(t, m).Keys() {
		if k.State == storage.KeyActive && k.ActivatedAt.Sub(k.CreatedAt) < prepublish {
			t.Errorf("key %s signs %v after publication, want at least %v (TJ-04)", k.ID, k.ActivatedAt.Sub(k.CreatedAt), prepublish)
		}
	}

	// The retired key stays published until its tokens have expired.
	c.advance(retention - time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(jwksKids(t, m), a) || !verifies(t, m, token) {
		t.Error("retired key left the JWKS before its tokens expired")
	}
	c.advance(time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(jwksKids(t, m), a) {
		t.Error("retired key still published after its retention")
	}
	want := []Transition{Created, Activated, Created, Retired, Activated, Created, Removed}
	if !slices.Equal(*seen, want) {
		t.Errorf("transitions = %v, want %v", *seen, want)
	}
}

func mustCurrent(t *testing.T, m *Manager) *Set {
	t.Helper()
	s, err := m.Current()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotateOnDemand(t *testing.T) {
	store, c := &memKeys{}, newClock()
	m, _ := newManager(t, store, c)
	ctx := t.Context()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := mustCurrent(t, m)
	if err := m.Rotate(ctx, false); !errors.Is(err, ErrTooSoon) {
		t.Fatalf("Rotate with a just-published next key = %v, want ErrTooSoon", err)
	}
	if store.updates != 1 {
		t.Errorf("refused rotation wrote something: %d updates", store.updates)
	}
	c.advance(prepublish)
	if err := m.Rotate(ctx, false); err != nil {
		t.Fatalf("Rotate after the pre-publication window: %v", err)
	}
	oldKid, _, _ := before.Signer()
	newKid, _, _ := mustCurrent(t, m).Signer()
	if newKid == oldKid || states(t, m)[oldKid] != storage.KeyRetired {
		t.Errorf("after Rotate: signer %s, old %s is %s", newKid, oldKid, states(t, m)[oldKid])
	}
	// --force rotates at once, for operators who know no verifier caches.
	if err := m.Rotate(ctx, true); err != nil {
		t.Fatalf("Rotate(force): %v", err)
	}
	if kid, _, _ := mustCurrent(t, m).Signer(); kid == newKid {
		t.Error("Rotate(force) did not change the signing key")
	}
}

func TestRevoke(t *testing.T) {
	store, c := &memKeys{}, newClock()
	m, seen := newManager(t, store, c)
	ctx := t.Context()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	token := sign(t, m)
	active, _, _ := mustCurrent(t, m).Signer()
	if err := m.Revoke(ctx, active); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(jwksKids(t, m), active) {
		t.Error("revoked key still in the JWKS")
	}
	if verifies(t, m, token) {
		t.Error("a token signed by a revoked key still verifies")
	}
	st := states(t, m)
	if len(st) != 2 {
		t.Errorf("after revoking the active key: %v, want a new active and a new next key", st)
	}
	if kid, _, _ := mustCurrent(t, m).Signer(); kid == active || st[kid] != storage.KeyActive {
		t.Errorf("signer after revoke = %s", kid)
	}
	if err := m.Revoke(ctx, "no-such-kid"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Revoke(unknown) = %v, want ErrNotFound", err)
	}
	if !slices.Contains(*seen, Revoked) {
		t.Errorf("transitions %v lack %s", *seen, Revoked)
	}
}

// TestUnavailableStoreGeneratesNothing: a database that cannot be read is
// not an empty one (F2): no key is made and the last good set stays.
func TestUnavailableStoreGeneratesNothing(t *testing.T) {
	store, c := &memKeys{}, newClock()
	m, _ := newManager(t, store, c)
	ctx := t.Context()

	store.listErr = storage.ErrUnavailable
	if err := m.Refresh(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Refresh with the database away = %v, want ErrUnavailable", err)
	}
	if _, err := m.Current(); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Current = %v, want ErrNotLoaded (serve 503, never an empty JWKS)", err)
	}
	store.listErr = nil
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	good := mustCurrent(t, m)
	store.listErr = storage.ErrUnavailable
	c.advance(period + prepublish)
	if err := m.Refresh(ctx); err == nil {
		t.Fatal("Refresh with the database away = nil")
	}
	if mustCurrent(t, m) != good || len(store.keys) != 2 {
		t.Error("a failed refresh replaced the key set")
	}
}

// TestRetriedTransaction: a backend may run the closure twice; the keys
// made outside the transaction are handed out the same way both times.
func TestRetriedTransaction(t *testing.T) {
	store, c := &memKeys{retry: true}, newClock()
	m, _ := newManager(t, store, c)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(store.keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(store.keys))
	}
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			c := testCipher(t)
			k, signer, err := generate(alg, c, newClock().now())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(k.PublicJWK), `"d"`) {
				t.Errorf("public JWK carries a private part: %s", k.PublicJWK)
			}
			var jwk jose.JSONWebKey
			if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil || jwk.KeyID != k.ID || jwk.Algorithm != alg {
				t.Fatalf("public JWK %s: %v", k.PublicJWK, err)
			}
			got, err := unseal(k, c)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
				t.Error("unsealed key differs from the generated one")
			}
			store, clk := &memKeys{}, newClock()
			m := New(Options{Store: store, Cipher: c, Algorithm: alg, RotationPeriod: period, Prepublish: prepublish, Retention: retention, Now: clk.now})
			if err := m.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !verifies(t, m, sign(t, m)) {
				t.Errorf("%s token does not verify against the JWKS", alg)
			}
		})
	}
}

func TestCipher(t *testing.T) {
	c := testCipher(t)
	secret := []byte("private key bytes")
	sealed := c.Seal(secret, "kid-1")
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the plaintext")
	}
	if got, err := c.Open(sealed, "kid-1"); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := slices.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	other := make([]byte, 32)
	rand.Read(other)
	for name, open := range map[string]func() ([]byte, error){
		"other context (moved to another row)": func() ([]byte, error) { return c.Open(sealed, "kid-2") },
		"tampered":                             func() ([]byte, error) { return c.Open(tampered, "kid-1") },
		"other encryption key":                 func() ([]byte, error) { return mustCipher(t, other).Open(sealed, "kid-1") },
		"truncated":                            func() ([]byte, error) { return c.Open(sealed[:5], "kid-1") },
		"empty":                                func() ([]byte, error) { return c.Open(nil, "kid-1") },
	} {
		if _, err := open(); !errors.Is(err, ErrUnseal) {
			t.Errorf("%s: Open = %v, want ErrUnseal", name, err)
		}
	}
	if _, err := NewCipher(make([]byte, 16)); err == nil {
		t.Error("NewCipher(16 bytes) = nil error, want refusal")
	}
}

// FuzzOpen: sealed values come back from the database; whatever is stored
// there, Open neither panics nor accepts what Seal did not make.
func FuzzOpen(f *testing.F) {
	c, err := NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Seal([]byte("pkcs8"), "kid"), "kid")
	f.Add([]byte{1}, "")
	f.Add([]byte{}, "kid")
	f.Fuzz(func(t *testing.T, sealed []byte, context string) {
		if _, err := c.Open(sealed, context); err == nil && !(len(sealed) > 0 && sealed[0] == sealVersion) {
			t.Fatalf("Open accepted %x", sealed)
		}
	})
}
