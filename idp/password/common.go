package password

import (
	_ "embed"
	"strings"
	"sync"
)

// commonList is the 10,000 most common passwords of 8 or more characters,
// lower-cased; common.txt says where it comes from and under which
// licence.
//
//go:embed common.txt
var commonList string

// common is commonList as a set, built on first use (about 1 MB).
var common = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10_000)
	for line := range strings.SplitSeq(commonList, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
})

// IsCommon reports whether pw, ignoring case, is one of the most common
// passwords: the first ones an attacker tries (NIST SP 800-63B §5.1.1.2
// asks to refuse them). Case is ignored so that "Password1" does not pass
// where "password1" does not.
func IsCommon(pw string) bool {
	_, ok := common()[strings.ToLower(pw)]
	return ok
}
