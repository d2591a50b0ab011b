package signin

import (
	"strings"
	"testing"
	"time"
)

func TestTooManyAttempts(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want string
	}{
		{0, "Too many attempts. Try again in 1 second."},
		{300 * time.Millisecond, "Too many attempts. Try again in 1 second."},
		{1500 * time.Millisecond, "Too many attempts. Try again in 2 seconds."},
		{59 * time.Second, "Too many attempts. Try again in 59 seconds."},
		{time.Minute, "Too many attempts. Try again in 1 minute."},
		{64 * time.Second, "Too many attempts. Try again in 2 minutes."},
		{15 * time.Minute, "Too many attempts. Try again in 15 minutes."},
	} {
		if got := tooManyAttempts(tc.wait); got != tc.want {
			t.Errorf("tooManyAttempts(%v) = %q, want %q", tc.wait, got, tc.want)
		}
	}
}

func TestEmailProblem(t *testing.T) {
	for email, ok := range map[string]bool{
		"ada@example.com":                  true,
		"Ada.Lovelace+foyer@example.org":   true,
		"":                                 false,
		"ada":                              false,
		"ada@":                             false,
		"Ada <ada@example.com>":            false,
		"ada@example.com, bob@example.com": false,
		strings.Repeat("a", 250) + "@example.com": false,
	} {
		if got := emailProblem(email); (got == "") != ok {
			t.Errorf("emailProblem(%.30q) = %q, want ok=%t", email, got, ok)
		}
	}
}

// FuzzValidToken: whatever arrives in a link, validToken never panics and
// accepts only what newToken could have made.
func FuzzValidToken(f *testing.F) {
	for _, s := range []string{newToken(), "", "x", strings.Repeat("A", 43), strings.Repeat("A", 44), "../../etc/passwd", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validToken(s) && (len(s) != tokenLength || strings.ContainsAny(s, "+/=\x00")) {
			t.Errorf("validToken(%q) = true", s)
		}
	})
}
