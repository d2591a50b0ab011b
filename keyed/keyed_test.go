package keyed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

func TestHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("label\x00value"))
	if got, want := Hash(key, "label", "value"), base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("Hash() = %s, want %s", got, want)
	}
	// The separator keeps label and value apart: ("ab", "c") is not ("a", "bc").
	if Hash(key, "ab", "c") == Hash(key, "a", "bc") {
		t.Error("label and value run together")
	}
	if Hash(key, "l", "v") == Hash([]byte("another key, just as long as it."), "l", "v") {
		t.Error("the key does not change the hash")
	}
}
