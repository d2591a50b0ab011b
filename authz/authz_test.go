package authz

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDiscoveryGolden pins the discovery document: relying parties configure
// themselves from it, so every change must be deliberate.
func TestDiscoveryGolden(t *testing.T) {
	got, err := discoveryDocument("https://id.example.com", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "discovery.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./authz -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("discovery document changed; run go test ./authz -update if intended:\n%s", got)
	}
}

var descriptions = []string{"", "plain", `The "redirect_uri" is \ wrong`, "tab\tand\nnewline\r", "ünïcode"}

// FuzzCleanDescription: whatever fosite puts in a hint, the description sent
// is within RFC 6749 §5.2's characters (TK-12).
func FuzzCleanDescription(f *testing.F) {
	for _, d := range descriptions {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range cleanDescription(in) {
			if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
				t.Fatalf("cleanDescription(%q) kept %q", in, r)
			}
		}
	})
}

// FuzzMaxAgeExceeded: max_age comes from the client; no value panics, a
// missing or malformed one never forces a sign-in, and a valid one compares
// against the session's age.
func FuzzMaxAgeExceeded(f *testing.F) {
	for _, s := range []string{"", "0", "60", "-1", "99999999999999999999", "1e3", " 5"} {
		f.Add(s, int64(30))
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string, ageSeconds int64) {
		age := time.Duration(ageSeconds%1e9) * time.Second
		got := maxAgeExceeded(raw, &storage.BrowserSession{AuthTime: now.Add(-age)}, now)
		secs, err := strconv.Atoi(raw)
		want := err == nil && secs >= 0 && age > time.Duration(secs)*time.Second
		if got != want {
			t.Fatalf("maxAgeExceeded(%q) with a session %v old = %v, want %v", raw, age, got, want)
		}
	})
}
