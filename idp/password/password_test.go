package password

import (
	"errors"
	"strings"
	"testing"
)

// fast keeps tests quick; the cost parameters do not change the logic.
var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h := Hash("correct horse", fast)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Hash = %q, want an argon2id PHC string with the params", h)
	}
	if h == Hash("correct horse", fast) {
		t.Error("two hashes of one password are equal: salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"", false},
	} {
		got, err := Verify(tc.password, h)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v, nil", tc.password, got, err, tc.want)
		}
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	for _, tc := range malformed {
		if ok, err := Verify("x", tc); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(x, %q) = %v, %v; want false, ErrMalformed", tc, ok, err)
		}
	}
}

var malformed = []string{
	"",
	"plain",
	"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // memory bomb
	"$argon2id$v=19$m=64,t=999,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	"$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA$extra",
}

func TestNeedsRehash(t *testing.T) {
	h := Hash("pw", fast)
	if NeedsRehash(h, fast) {
		t.Error("NeedsRehash(same params) = true, want false")
	}
	if !NeedsRehash(h, Params{Memory: 128, Time: 1, Threads: 1}) {
		t.Error("NeedsRehash(other params) = false, want true")
	}
	if !NeedsRehash("garbage", fast) {
		t.Error("NeedsRehash(garbage) = false, want true")
	}
}

// FuzzVerify: a stored hash is untrusted input (a restored backup, a planted
// row); Verify must never panic or accept a password for a malformed hash.
func FuzzVerify(f *testing.F) {
	f.Add(Hash("pw", fast))
	for _, m := range malformed {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		ok, err := Verify("pw", encoded)
		if err != nil && ok {
			t.Fatalf("Verify(%q) = true with error %v", encoded, err)
		}
	})
}
