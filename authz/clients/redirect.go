package clients

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxURILen bounds a registered URI; browsers and proxies handle ~2000.
const maxURILen = 2000

// neverRedirect are schemes that run code or read local data in a browser
// (AZ-06, AD-04). They are refused by name for a clear message; the
// other rules would refuse them too.
var neverRedirect = map[string]bool{
	"javascript": true, "data": true, "file": true, "vbscript": true,
	"blob": true, "about": true, "filesystem": true, "view-source": true,
}

// ValidateRedirectURI checks a redirect URI, or a post-logout redirect URI,
// at registration. It returns nil or an error in plain words that quotes
// the URI. native selects RFC 8252's rules for native apps.
//
// The authorization endpoint will compare a request's redirect_uri to the
// registered ones by exact string match (AZ-01…AZ-05), so what is accepted
// here is stored unchanged, and anything that could be read two ways is
// refused rather than normalized:
//
//   - absolute, hierarchical (scheme:/… or scheme://…), at most 2000
//     characters of printable ASCII allowed in URIs (RFC 3986 §2);
//   - no fragment (RFC 6749 §3.1.2), no wildcard, no user information
//     (app.example.com@evil.tld, AZ-02), no backslash;
//   - scheme and host in lowercase, as clients send them (AZ-03);
//   - no "." or ".." path segments, also percent-encoded, also with ";…"
//     path parameters, and no percent-encoded "/" or "\" (AZ-03);
//   - hosts are DNS names of ASCII letters, digits and hyphens, or IP
//     addresses in canonical form. Unicode (IDN) hosts are refused, not
//     converted: register the xn-- (punycode) form the browser sends, so
//     the stored string is the one matched and no look-alike Unicode
//     reaches a consent page. Numeric hosts that browsers would read as
//     IPv4 (127.1, 0x7f.1) are refused;
//   - javascript:, data:, file: and similar schemes are refused (AZ-06).
//
// Web clients (native false) use https, or plain http on loopback:
// 127.0.0.1, [::1] and localhost. localhost is accepted for web clients so
// a developer's local app works; browsers resolve it to loopback only.
//
// Native clients (RFC 8252 §7) use https (claimed URLs), http on the
// loopback IP literals 127.0.0.1 or [::1] (not localhost, §8.3; the
// authorization endpoint ignores the port, §7.3), or a private-use scheme
// in reverse-domain form with a dot, like com.example.app:/callback (§7.1).
func ValidateRedirectURI(uri string, native bool) error {
	if uri == "" {
		return errors.New("an empty string is not a redirect URI")
	}
	if len(uri) > maxURILen {
		return fmt.Errorf("%q… is longer than %d characters", uri[:40], maxURILen)
	}
	if err := checkCharacters(uri); err != nil {
		return err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("%q is not a valid URI", uri)
	}
	switch {
	case u.Scheme == "":
		return fmt.Errorf("%q is not an absolute URI; write it in full, like https://app.example.com/callback", uri)
	case !strings.HasPrefix(uri, u.Scheme+":"): // url.Parse lowercases the scheme
		return fmt.Errorf("%q: write the scheme in lowercase", uri)
	case neverRedirect[u.Scheme]:
		return fmt.Errorf("%q: the %s: scheme is never allowed as a redirect", uri, u.Scheme)
	case u.Opaque != "":
		return fmt.Errorf("%q: the part after %q must start with a slash", uri, u.Scheme+":")
	case u.User != nil:
		return fmt.Errorf("%q has user information (…@) before the host, which is not allowed", uri)
	case u.Host != strings.ToLower(u.Host):
		return fmt.Errorf("%q: write the host in lowercase", uri)
	case hasDotSegment(u.EscapedPath()):
		return fmt.Errorf("%q: the path has a \".\" or \"..\" segment or an encoded slash", uri)
	}

	switch u.Scheme {
	case "https":
		return checkHost(uri, u)
	case "http":
		if err := checkHost(uri, u); err != nil {
			return err
		}
		switch host := u.Hostname(); {
		case host == "127.0.0.1" || host == "::1":
			return nil
		case host == "localhost" && !native:
			return nil
		case host == "localhost":
			return fmt.Errorf("%q: native clients use the loopback address 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)", uri)
		case native:
			return fmt.Errorf("%q uses plain http; use https (http is allowed only on loopback: 127.0.0.1 or [::1])", uri)
		default:
			return fmt.Errorf("%q uses plain http; use https (http is allowed only on loopback: 127.0.0.1, [::1] or localhost)", uri)
		}
	}
	if !native {
		return fmt.Errorf("%q: web clients use https (or http on loopback); the %s: scheme is for native clients", uri, u.Scheme)
	}
	if !privateUseScheme(u.Scheme) {
		return fmt.Errorf("%q: a native client's own scheme must be a reversed domain name with a dot, like com.example.app:/callback (RFC 8252 §7.1)", uri)
	}
	if u.Host != "" {
		return checkHost(uri, u)
	}
	return nil
}

// checkCharacters refuses what a URI may not contain (RFC 3986 §2), with a
// message for the usual mistakes.
func checkCharacters(uri string) error {
	for i := 0; i < len(uri); i++ {
		switch c := uri[i]; {
		case c >= 0x80:
			return fmt.Errorf("%q contains non-ASCII characters; write an international host name in its xn-- (punycode) form and percent-encode the path", uri)
		case c <= ' ' || c == 0x7f:
			return fmt.Errorf("%q contains a space or a control character", uri)
		case c == '\\':
			return fmt.Errorf("%q contains a backslash", uri)
		case c == '*':
			return fmt.Errorf("%q contains a wildcard (*); register every redirect URI in full", uri)
		case c == '#':
			return fmt.Errorf("%q has a fragment (#…); redirect URIs must not have one (RFC 6749 §3.1.2)", uri)
		case !uriChar(c):
			return fmt.Errorf("%q contains %q, which is not allowed in a URI", uri, string(c))
		}
	}
	return nil
}

// uriChar reports whether c is an unreserved or reserved character or '%'
// (RFC 3986 §2).
func uriChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// hasDotSegment reports whether an escaped path has a "." or ".." segment,
// written plainly, percent-encoded (even twice: %252E), or followed by
// ";…" path parameters (..;/), or a percent-encoded "/" or "\". Servers
// disagree on such paths, which is how path-confusion attacks slip past
// exact matching (AZ-03).
func hasDotSegment(escapedPath string) bool {
	for seg := range strings.SplitSeq(escapedPath, "/") {
		s := seg
		for range 3 {
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
		if strings.ContainsAny(s, `/\`) {
			return true
		}
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// checkHost checks the authority of an http(s) or private-use URI: a host
// is present, is a lowercase DNS name or a canonical IP address, and any
// port is a number from 1 to 65535.
func checkHost(uri string, u *url.URL) error {
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q has no host", uri)
	}
	if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%q has an empty port", uri)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return fmt.Errorf("%q: the port must be a number from 1 to 65535", uri)
		}
	}
	if strings.HasPrefix(u.Host, "[") {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return fmt.Errorf("%q: %q is not an IPv6 address", uri, host)
		}
		if addr.String() != host {
			return fmt.Errorf("%q: write the IPv6 address as [%s]", uri, addr)
		}
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
		return nil
	}
	if !dnsName(host) {
		return fmt.Errorf("%q: %q is not a host name or an IP address", uri, host)
	}
	return nil
}

// dnsName reports whether host is a DNS name of lowercase ASCII letters,
// digits and inner hyphens (RFC 1123), whose last label does not start
// with a digit: browsers read such hosts (127.1, 0x7f.1) as IPv4 addresses
// (WHATWG URL "ends in a number").
func dnsName(host string) bool {
	if len(host) > 253 {
		return false
	}
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return !('0' <= last[0] && last[0] <= '9')
}

// privateUseScheme reports whether scheme is in reverse-domain form: at
// least two dot-separated parts, each starting with a letter (RFC 8252 §7.1).
// url.Parse has already checked the scheme's characters and lowered them.
func privateUseScheme(scheme string) bool {
	parts := strings.Split(scheme, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || p[0] < 'a' || p[0] > 'z' {
			return false
		}
	}
	return true
}
