package clients

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func TestDeriveKey(t *testing.T) {
	enc := []byte("0123456789abcdef0123456789abcdef")
	// RFC 5869 by hand, one output block: PRK = HMAC(zero salt, IKM),
	// OKM = HMAC(PRK, info || 0x01).
	extract := hmac.New(sha256.New, make([]byte, sha256.Size))
	extract.Write(enc)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte("foyer client secret v1\x01"))
	want := expand.Sum(nil)

	got := DeriveKey(enc)
	if !bytes.Equal(got, want) {
		t.Errorf("DeriveKey(%q) = %x, want %x", enc, got, want)
	}
	if other := DeriveKey(append([]byte{1}, enc[1:]...)); bytes.Equal(other, got) {
		t.Error("DeriveKey gives the same key for different encryption keys")
	}
}

func TestHashVerify(t *testing.T) {
	h := NewSecretHasher(testKey)
	secret := newSecret()
	stored := h.Hash(secret)
	if !strings.HasPrefix(stored, "hmac-sha256$") || len(stored) != len("hmac-sha256$")+43 {
		t.Fatalf("Hash(%q) = %q, want hmac-sha256$ and 43 base64url characters", secret, stored)
	}
	if strings.Contains(stored, secret) {
		t.Fatalf("Hash(%q) = %q contains the secret", secret, stored)
	}
	if h.Hash(secret) != stored {
		t.Error("Hash is not deterministic")
	}
	if !h.Verify(secret, stored) {
		t.Errorf("Verify(%q, Hash(%[1]q)) = false, want true", secret)
	}
	if other := NewSecretHasher(bytes.Repeat([]byte{8}, 32)); other.Verify(secret, stored) {
		t.Error("Verify under another key = true, want false")
	}

	// A key the caller changes later does not change the hasher.
	key := bytes.Clone(testKey)
	h2 := NewSecretHasher(key)
	key[0] ^= 1
	if !h2.Verify(secret, stored) {
		t.Error("NewSecretHasher kept a reference to the caller's key")
	}
}

// verifyCases are stored values and secrets Verify must refuse, also the
// fuzz seeds.
var verifyCases = func() []struct{ name, secret, stored string } {
	h := NewSecretHasher(testKey)
	good := h.Hash("correct horse battery staple and more")
	mac := strings.TrimPrefix(good, hashScheme)
	flipped := []byte(mac)
	flipped[0] ^= 1
	return []struct{ name, secret, stored string }{
		{"wrong secret", "correct horse battery staple and mor", good},
		{"secret with a suffix", "correct horse battery staple and more!", good},
		{"empty secret", "", good},
		{"empty stored (public client)", "correct horse battery staple and more", ""},
		{"empty secret, empty stored", "", ""},
		{"scheme only", "x", hashScheme},
		{"other scheme", "correct horse battery staple and more", "hmac-sha512$" + mac},
		{"bcrypt hash", "x", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"uppercase scheme", "correct horse battery staple and more", "HMAC-SHA256$" + mac},
		{"no separator", "correct horse battery staple and more", "hmac-sha256" + mac},
		{"flipped MAC", "correct horse battery staple and more", hashScheme + string(flipped)},
		{"truncated MAC", "correct horse battery staple and more", good[:len(good)-1]},
		{"padded MAC", "correct horse battery staple and more", good + "="},
		{"newline in MAC", "correct horse battery staple and more", good[:20] + "\n" + good[20:]},
		{"standard base64", "x", hashScheme + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))},
		{"nonzero trailing bits", "x", hashScheme + strings.Repeat("A", 42) + "B"},
		{"raw MAC", "correct horse battery staple and more", mac},
		{"the stored hash as the secret", good, good},
	}
}()

func TestVerifyRefuses(t *testing.T) {
	h := NewSecretHasher(testKey)
	for _, tc := range verifyCases {
		if h.Verify(tc.secret, tc.stored) {
			t.Errorf("%s: Verify(%q, %q) = true, want false", tc.name, tc.secret, tc.stored)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, tc := range verifyCases {
		f.Add(tc.secret, tc.stored)
	}
	h := NewSecretHasher(testKey)
	f.Fuzz(func(t *testing.T, secret, stored string) {
		// Only the one stored form of the secret's own MAC verifies.
		if h.Verify(secret, stored) && stored != h.Hash(secret) {
			t.Fatalf("Verify(%q, %q) = true, but Hash(secret) = %q", secret, stored, h.Hash(secret))
		}
		if !h.Verify(secret, h.Hash(secret)) {
			t.Fatalf("Verify(%q, Hash(secret)) = false", secret)
		}
		// stored doubles as a second secret.
		if stored != secret && h.Verify(stored, h.Hash(secret)) {
			t.Fatalf("Verify(%q, Hash(%q)) = true for a different secret", stored, secret)
		}
	})
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := newSecret()
		if len(s) != 43 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("newSecret() = %q, want 43 base64url characters", s)
		}
		if seen[s] {
			t.Fatalf("newSecret() repeated %q", s)
		}
		seen[s] = true
	}
}

func TestNewSecretHasherShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewSecretHasher(15 bytes) did not panic")
		}
	}()
	NewSecretHasher(make([]byte, 15))
}

func BenchmarkVerify(b *testing.B) {
	h := NewSecretHasher(testKey)
	secret := newSecret()
	stored := h.Hash(secret)
	for b.Loop() {
		h.Verify(secret, stored)
	}
}
