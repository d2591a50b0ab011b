package ratelimit

import "net/netip"

// IPKey turns a client IP address into the key of a per-IP limit: an IPv4
// address as is (also when written as ::ffff:a.b.c.d), an IPv6 address as
// its /64, since one subscriber usually holds a whole /64 and could
// otherwise step through it to dodge the limit. Anything else is returned
// unchanged, so that it still counts, as one key.
//
// Pass gin's c.ClientIP(), and nothing else (SECURITY.md LG-05). It
// believes X-Forwarded-For and X-Real-IP only from the proxies listed in
// http.trusted_proxies (FOYER_HTTP_TRUSTED_PROXIES), which cmd/foyer/serve.go
// hands to gin's SetTrustedProxies; unset, no proxy is trusted and
// ClientIP is the TCP peer (Foyer listens on TCP; gin would trust a Unix
// socket's peer), so a client cannot pick its own address by sending those
// headers. Never read the headers yourself. Behind a load
// balancer the operator must list it there, or every client shares the
// balancer's address and therefore one per-IP limit.
func IPKey(clientIP string) string {
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	prefix, _ := addr.Prefix(64) // cannot fail for an IPv6 address
	return prefix.String()
}
