package mfa

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestTOTPStep (TO-03): the code of the current step and one either side
// are accepted with their step, nothing further, and not malformed codes.
func TestTOTPStep(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Date(2026, 11, 23, 12, 0, 10, 0, time.UTC)
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	current := now.Unix() / totpPeriod
	for _, d := range []int64{-1, 0, 1} {
		at := time.Unix((current+d)*totpPeriod, 0)
		if st, ok := totpStep(secret, code(at), now); !ok || st != current+d {
			t.Errorf("code of step %+d: step %d, %v; want %d", d, st, ok, current+d)
		}
	}
	for _, d := range []int64{-3, -2, 2, 3} {
		c := code(time.Unix((current+d)*totpPeriod, 0))
		if st, ok := totpStep(secret, c, now); ok && !(c == code(now) || c == code(now.Add(-totpPeriod*time.Second)) || c == code(now.Add(totpPeriod*time.Second))) {
			t.Errorf("code of step %+d accepted as %d", d, st)
		}
	}
	c := code(now)
	if _, ok := totpStep(secret, c[:3]+" "+c[3:], now); !ok {
		t.Error("a code typed with a space is refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", "12345x", strings.Repeat("1", 100)} {
		if _, ok := totpStep(secret, bad, now); ok {
			t.Errorf("malformed code %q accepted", bad)
		}
	}
}

// TestRecoveryCodes (TO-06): ten distinct codes of 120 bits, read back as
// typed in any case and grouping.
func TestRecoveryCodes(t *testing.T) {
	codes := newRecoveryCodes()
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		n, ok := normalizeRecoveryCode(c)
		if !ok || len(c) != 27 || seen[n] {
			t.Errorf("code %q: normalized %q, %v, seen %v", c, n, ok, seen[n])
		}
		seen[n] = true
		if again, ok := normalizeRecoveryCode(strings.ToUpper(strings.ReplaceAll(c, "-", " "))); !ok || again != n {
			t.Errorf("code %q typed in capitals with spaces reads %q, %v", c, again, ok)
		}
	}
	for _, bad := range []string{"", "abc", strings.Repeat("a", 23), strings.Repeat("a", 25), strings.Repeat("1", 24), strings.Repeat("é", 24)} {
		if _, ok := normalizeRecoveryCode(bad); ok {
			t.Errorf("%q accepted as a recovery code", bad)
		}
	}
}

// FuzzNormalizeRecoveryCode: whatever is typed reads as a 24-letter code
// of the base32 alphabet, or as nothing.
func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range append(newRecoveryCodes(), "", "----", "ǅ") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		n, ok := normalizeRecoveryCode(typed)
		if !ok {
			return
		}
		if len(n) != 24 || strings.Trim(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("normalizeRecoveryCode(%q) = %q", typed, n)
		}
	})
}
