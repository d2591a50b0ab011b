package password

import (
	"strings"
	"testing"
)

func TestIsCommon(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"PassWord", true},
		{"12345678", true},
		{"iloveyou", true},
		{"qwertyuiop", true},
		{"correct horse battery", false},
		{"password ", false}, // no trimming: a different password
		{"", false},
	} {
		if got := IsCommon(tc.pw); got != tc.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
}

// TestCommonList: the embedded list has its 10,000 entries, each lower
// case, at least 8 characters and without surrounding space, so that
// the comparison in IsCommon can match them.
func TestCommonList(t *testing.T) {
	if n := len(common()); n != 10_000 {
		t.Errorf("common list has %d entries, want 10000", n)
	}
	for pw := range common() {
		if pw != strings.ToLower(pw) || len([]rune(pw)) < 8 || pw != strings.TrimSpace(pw) {
			t.Errorf("common list entry %q cannot match a valid password", pw)
		}
	}
}
