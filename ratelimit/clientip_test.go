package ratelimit_test

import (
	"testing"

	"github.com/foyerdev/foyer/ratelimit"
)

var ipKeyTests = []struct {
	name, ip, want string
}{
	{"IPv4", "203.0.113.7", "203.0.113.7"},
	{"IPv4-mapped IPv6 is the IPv4 address", "::ffff:203.0.113.7", "203.0.113.7"},
	{"IPv6 is its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	{"another address of the same /64", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
	{"the next /64", "2001:db8:1:3::1", "2001:db8:1:3::/64"},
	{"zone dropped", "fe80::1%eth0", "fe80::/64"},
	{"not an address is kept", "unknown", "unknown"},
	{"empty is kept", "", ""},
}

func TestIPKey(t *testing.T) {
	for _, tc := range ipKeyTests {
		if got := ratelimit.IPKey(tc.ip); got != tc.want {
			t.Errorf("IPKey(%q) [%s] = %q, want %q", tc.ip, tc.name, got, tc.want)
		}
	}
}

// FuzzIPKey: any input gives a key, and a key is its own key, so applying
// IPKey twice never splits one client into two counters.
func FuzzIPKey(f *testing.F) {
	for _, tc := range ipKeyTests {
		f.Add(tc.ip)
	}
	f.Fuzz(func(t *testing.T, ip string) {
		key := ratelimit.IPKey(ip)
		if again := ratelimit.IPKey(key); again != key {
			t.Errorf("IPKey(IPKey(%q)) = %q, want %q", ip, again, key)
		}
	})
}
