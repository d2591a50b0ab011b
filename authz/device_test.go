package authz

import (
	"strings"
	"testing"
)

// TestUserCodes (DV-01): 8 letters of the vowel-free alphabet, each letter
// about as frequent as the others; typed in any case, with or without the
// dash, with spaces.
func TestUserCodes(t *testing.T) {
	counts := map[rune]int{}
	seen := map[string]bool{}
	const n = 4000
	for range n {
		c := newUserCode()
		if len(c) != userCodeLength || strings.Trim(c, userCodeAlphabet) != "" {
			t.Fatalf("user code %q is not 8 letters of %s", c, userCodeAlphabet)
		}
		seen[c] = true
		for _, r := range c {
			counts[r]++
		}
	}
	if len(seen) < n-1 {
		t.Errorf("%d distinct codes in %d draws", len(seen), n)
	}
	want := n * userCodeLength / len(userCodeAlphabet) // 1,600
	for _, r := range userCodeAlphabet {
		if c := counts[r]; c < want*3/4 || c > want*5/4 {
			t.Errorf("letter %c drawn %d times, want about %d", r, c, want)
		}
	}

	for typed, want := range map[string]string{
		"BCDF-GHJK": "BCDFGHJK", "bcdf-ghjk": "BCDFGHJK", "bcdfghjk": "BCDFGHJK", " bcd f ghjk ": "BCDFGHJK",
		"BCDF-GHJ": "", "BCDF-GHJKL": "", "ABCD-EFGH": "", "BCDF_GHJK": "", "": "", "ＢCDF-GHJK": "",
		strings.Repeat(" ", 100) + "BCDFGHJK": "",
	} {
		got, ok := normalizeUserCode(typed)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q", typed, got, ok, want)
		}
	}
	if got := displayUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Errorf("displayUserCode = %q", got)
	}
}

// FuzzNormalizeUserCode: whatever is typed, the result is a valid code or
// nothing, and a valid code reads back as itself.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "", "----", "ǅ", "BCDFGHJKBCDFGHJK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		code, ok := normalizeUserCode(typed)
		if !ok {
			if code != "" {
				t.Fatalf("refused %q but returned %q", typed, code)
			}
			return
		}
		if len(code) != userCodeLength || strings.Trim(code, userCodeAlphabet) != "" {
			t.Fatalf("normalizeUserCode(%q) = %q, not a code", typed, code)
		}
		if again, ok := normalizeUserCode(displayUserCode(code)); !ok || again != code {
			t.Fatalf("the display form of %q reads back as %q, %v", code, again, ok)
		}
	})
}
