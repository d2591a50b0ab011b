// Package outbound makes the HTTP clients Foyer uses to call URLs that
// administrators give it: IdP metadata, upstream providers, webhook
// endpoints. Such a URL must be no way into Foyer's own network (SSRF), so
// the client refuses, at connect time (after DNS, so a name that resolves
// to an internal address is caught too), loopback, private, link-local,
// multicast and unspecified addresses unless told otherwise (development
// and tests). It follows no redirects: a redirect is another URL nobody
// checked.
package outbound

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Client returns an HTTP client whose whole request, body included, is
// bounded by timeout, and which connects only to public addresses unless
// allowPrivate.
func Client(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		return CheckAddress(address, allowPrivate)
	}}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSHandshakeTimeout: timeout,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckAddress says why a connection to address (host:port with an IP
// host, as a dialer's Control sees it) is refused, or nil.
func CheckAddress(address string, allowPrivate bool) error {
	host, _, err := net.SplitHostPort(address)
	ip := net.ParseIP(host)
	if err != nil || ip == nil {
		return fmt.Errorf("cannot check address %q", address)
	}
	if !allowPrivate && Internal(ip) {
		return fmt.Errorf("refusing to connect to the internal address %s", ip)
	}
	return nil
}

// Internal reports whether ip belongs to a network Foyer must not reach
// on an administrator's say-so.
func Internal(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()
}
