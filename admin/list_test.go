package admin

import (
	"strings"
	"testing"
)

var cursorCases = []string{"", "usr_0123456789abcdefghjkmnpqrs", "org_x", "a.b.c", "\x00"}

func TestCursorRoundTrip(t *testing.T) {
	cc := cursorCodec{key: []byte(strings.Repeat("k", 32))}
	for _, after := range cursorCases {
		got, ok := cc.decode(cc.encode(after))
		if !ok || got != after {
			t.Errorf("decode(encode(%q)) = %q, %v", after, got, ok)
		}
	}
}

// TestCursorForgeryAD05: a cursor edited, made up or MACed with another
// key is refused.
func TestCursorForgeryAD05(t *testing.T) {
	cc := cursorCodec{key: []byte(strings.Repeat("k", 32))}
	other := cursorCodec{key: []byte(strings.Repeat("o", 32))}
	good := cc.encode("usr_b")
	payload, sig, _ := strings.Cut(good, ".")
	for name, c := range map[string]string{
		"empty":             "",
		"no signature":      payload,
		"other payload":     cc.encode("usr_a")[:strings.Index(cc.encode("usr_a"), ".")] + "." + sig,
		"truncated mac":     payload + "." + sig[:len(sig)-2],
		"other key":         other.encode("usr_b"),
		"not base64":        "!!!." + sig,
		"SQL":               "' OR 1=1 --",
		"raw id":            "usr_b",
		"extra dot segment": good + ".x",
	} {
		if got, ok := cc.decode(c); ok {
			t.Errorf("%s: decode(%q) = %q, accepted", name, c, got)
		}
	}
}

func FuzzCursorDecode(f *testing.F) {
	cc := cursorCodec{key: []byte(strings.Repeat("k", 32))}
	for _, c := range cursorCases {
		f.Add(cc.encode(c))
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		after, ok := cc.decode(s)
		if ok && cc.encode(after) != s {
			t.Errorf("decode accepted %q, which is not the cursor of %q", s, after)
		}
	})
}
