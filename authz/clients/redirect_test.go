package clients

import (
	"net/url"
	"strings"
	"testing"
)

// redirectCases are the registration-time vectors of AZ-01…AZ-06 and AD-04
// (shared/SECURITY.md), also the fuzz seeds. want is "" for an accepted URI,
// else a fragment of the error.
var redirectCases = []struct {
	name   string
	uri    string
	native bool
	want   string
}{
	// Accepted.
	{"https with path", "https://app.example.com/callback", false, ""},
	{"https with port and query", "https://app.example.com:8443/cb?tenant=acme&x=1", false, ""},
	{"https without path", "https://app.example.com", false, ""},
	{"https IPv4 host", "https://192.0.2.10/cb", false, ""},
	{"https IPv6 host", "https://[2001:db8::1]:8443/cb", false, ""},
	{"punycode host", "https://xn--bcher-kva.example/cb", false, ""},
	{"percent-encoded path", "https://app.example.com/a%20b/cb", false, ""},
	{"http on 127.0.0.1", "http://127.0.0.1:3000/cb", false, ""},
	{"http on [::1]", "http://[::1]:3000/cb", false, ""},
	{"http on localhost for a web client", "http://localhost:3000/cb", false, ""},
	{"native loopback IPv4", "http://127.0.0.1/cb", true, ""},
	{"native loopback IPv6 with port", "http://[::1]:51004/oauth2redirect", true, ""},
	{"native claimed https", "https://app.example.com/native-cb", true, ""},
	{"native private-use scheme", "com.example.app:/oauth2redirect/example-provider", true, ""},
	{"native private-use scheme with authority", "com.example.app://callback", true, ""},
	{"dots inside a segment", "https://app.example.com/v1.2/cb..x", false, ""},

	// Not absolute or not a URI (AZ-01, AZ-06).
	{"empty", "", false, "empty"},
	{"relative path", "/callback", false, "not an absolute URI"},
	{"scheme-relative", "//app.example.com/cb", false, "not an absolute URI"},
	{"host only", "app.example.com/cb", false, "not an absolute URI"},
	{"no host", "https:///cb", false, "has no host"},
	{"path only after https", "https:/cb", false, "has no host"},
	{"opaque https", "https:app.example.com", false, "must start with a slash"},
	{"too long", "https://app.example.com/" + strings.Repeat("a", 2000), false, "longer than 2000"},
	{"bad percent-encoding", "https://app.example.com/%zz", false, "not a valid URI"},

	// Fragments and wildcards (AD-04, OIDCCRedirectUriRegFrag).
	{"fragment", "https://app.example.com/cb#frag", false, "fragment"},
	{"empty fragment", "https://app.example.com/cb#", false, "fragment"},
	{"wildcard host", "https://*.example.com/cb", false, "wildcard"},
	{"wildcard path", "https://app.example.com/*", false, "wildcard"},
	{"wildcard port", "http://127.0.0.1:*/cb", false, "wildcard"},

	// Look-alike hosts (AZ-02).
	{"userinfo", "https://app.example.com@evil.tld/cb", false, "user information"},
	{"userinfo with password", "https://user:pass@app.example.com/cb", false, "user information"},
	{"backslash before @", `https://app.example.com\@evil.tld/cb`, false, "backslash"},
	{"two @", "https://a@app.example.com@evil.tld/cb", false, "user information"},
	{"percent-encoded host", "https://app.ex%61mple.com/cb", false, "not a valid URI"},
	{"IPv6 zone", "https://[fe80::1%25eth0]/cb", false, "not an IPv6 address"},
	{"non-canonical IPv6", "https://[2001:DB8::1]/cb", false, "lowercase"},
	{"expanded IPv6", "https://[2001:db8:0:0:0:0:0:1]/cb", false, "write the IPv6 address as [2001:db8::1]"},
	{"numeric host read as IPv4", "https://127.1/cb", false, "not a host name"},
	{"hex host read as IPv4", "https://0x7f.1/cb", false, "not a host name"},
	{"IPv4 with leading zeros", "https://127.000.000.001/cb", false, "not a host name"},
	{"underscore in host", "https://app_1.example.com/cb", false, "not a host name"},
	{"trailing dot", "https://app.example.com./cb", false, "not a host name"},
	{"leading hyphen label", "https://-app.example.com/cb", false, "not a host name"},
	{"empty port", "https://app.example.com:/cb", false, "empty port"},
	{"port zero", "https://app.example.com:0/cb", false, "port"},
	{"port too large", "https://app.example.com:65536/cb", false, "port"},
	{"port with leading zero", "https://app.example.com:0443/cb", false, "port"},

	// IDN and Unicode: refused, the xn-- form is accepted above.
	{"unicode host", "https://bücher.example/cb", false, "non-ASCII"},
	{"cyrillic look-alike host", "https://аpp.example.com/cb", false, "non-ASCII"},
	{"unicode path", "https://app.example.com/café", false, "non-ASCII"},
	{"fullwidth dot", "https://app.example．com/cb", false, "non-ASCII"},

	// Path tricks and case (AZ-03).
	{"dot-dot segment", "https://app.example.com/cb/../evil", false, "segment"},
	{"dot segment", "https://app.example.com/./cb", false, "segment"},
	{"trailing dot-dot", "https://app.example.com/cb/..", false, "segment"},
	{"encoded dot-dot", "https://app.example.com/cb/%2E%2E/evil", false, "segment"},
	{"lowercase encoded dot-dot", "https://app.example.com/cb/%2e%2e/evil", false, "segment"},
	{"double-encoded dot-dot", "https://app.example.com/cb/%252E%252E/evil", false, "segment"},
	{"mixed encoded dot-dot", "https://app.example.com/cb/.%2E/evil", false, "segment"},
	{"dot-dot with path parameter", "https://app.example.com/cb/..;/evil", false, "segment"},
	{"encoded slash", "https://app.example.com/cb%2F..%2Fevil", false, "encoded slash"},
	{"encoded backslash", "https://app.example.com/cb%5Cevil", false, "encoded slash"},
	{"uppercase scheme", "HTTPS://app.example.com/cb", false, "scheme in lowercase"},
	{"mixed-case scheme", "Https://app.example.com/cb", false, "scheme in lowercase"},
	{"uppercase host", "https://APP.example.com/cb", false, "host in lowercase"},
	{"uppercase localhost", "http://LOCALHOST:3000/cb", false, "host in lowercase"},

	// Characters a URI may not hold.
	{"space", "https://app.example.com/a b", false, "space"},
	{"leading space", " https://app.example.com/cb", false, "space"},
	{"trailing newline", "https://app.example.com/cb\n", false, "control character"},
	{"CRLF in query", "https://app.example.com/cb?x=1\r\nSet-Cookie:a", false, "control character"},
	{"NUL", "https://app.example.com/cb\x00", false, "control character"},
	{"DEL", "https://app.example.com/cb\x7f", false, "control character"},
	{"quote", `https://app.example.com/cb"onload=x`, false, "not allowed in a URI"},
	{"angle bracket", "https://app.example.com/<script>", false, "not allowed in a URI"},
	{"caret", "https://app.example.com/a^b", false, "not allowed in a URI"},

	// Plain http off loopback (AD-04, AZ-05).
	{"http non-loopback", "http://app.example.com/cb", false, "plain http"},
	{"http other 127 address", "http://127.0.0.2/cb", false, "plain http"},
	{"http shortened loopback", "http://127.1/cb", false, "not a host name"},
	{"http IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/cb", false, "plain http"},
	{"http expanded IPv6 loopback", "http://[0:0:0:0:0:0:0:1]/cb", false, "write the IPv6 address as [::1]"},
	{"http localhost subdomain", "http://app.localhost/cb", false, "plain http"},
	{"http localhost look-alike", "http://localhost.evil.tld/cb", false, "plain http"},
	{"http 0.0.0.0", "http://0.0.0.0:3000/cb", false, "plain http"},
	{"native http non-loopback", "http://app.example.com/cb", true, "plain http"},
	{"native http localhost", "http://localhost:3000/cb", true, "not localhost"},

	// Dangerous and foreign schemes (AZ-06).
	{"javascript", "javascript:alert(1)", false, "javascript: scheme"},
	{"javascript with slashes", "javascript://app.example.com/%0Aalert(1)", false, "javascript: scheme"},
	{"uppercase javascript", "JavaScript:alert(1)", false, "scheme in lowercase"},
	{"data", "data:text/html,<script>alert(1)</script>", false, "not allowed in a URI"},
	{"data base64", "data:text/html;base64,PHNjcmlwdD4=", false, "data: scheme"},
	{"file", "file:///etc/passwd", false, "file: scheme"},
	{"native file", "file:///etc/passwd", true, "file: scheme"},
	{"vbscript", "vbscript:msgbox(1)", false, "vbscript: scheme"},
	{"blob", "blob:https://app.example.com/uuid", false, "blob: scheme"},
	{"ftp", "ftp://app.example.com/cb", false, "for native clients"},
	{"private-use scheme for a web client", "com.example.app:/cb", false, "for native clients"},
	{"native scheme without a dot", "myapp:/cb", true, "reversed domain"},
	{"native scheme with an empty part", "com..app:/cb", true, "reversed domain"},
	{"native scheme part starting with a digit", "com.1app:/cb", true, "reversed domain"},
	{"native opaque private-use", "com.example.app:cb", true, "must start with a slash"},
	{"native private-use with userinfo", "com.example.app://user@host/cb", true, "user information"},
	{"native private-use dot-dot", "com.example.app:/cb/../x", true, "segment"},
	{"native private-use fragment", "com.example.app:/cb#x", true, "fragment"},
	{"mailto", "mailto:a@example.com", false, "must start with a slash"},
}

func TestValidateRedirectURI(t *testing.T) {
	for _, tc := range redirectCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRedirectURI(tc.uri, tc.native)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("ValidateRedirectURI(%q, %v) = %v, want nil", tc.uri, tc.native, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("ValidateRedirectURI(%q, %v) = %v, want an error containing %q", tc.uri, tc.native, err, tc.want)
			}
			if err != nil && strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("ValidateRedirectURI(%q) error %q spans lines", tc.uri, err)
			}
		})
	}
}

func FuzzValidateRedirectURI(f *testing.F) {
	for _, tc := range redirectCases {
		f.Add(tc.uri, tc.native)
	}
	f.Fuzz(func(t *testing.T, uri string, native bool) {
		err := ValidateRedirectURI(uri, native)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("ValidateRedirectURI(%q) error %q spans lines", uri, err)
			}
			return
		}
		// Whatever is accepted keeps every promise of the doc comment.
		if strings.ContainsAny(uri, "#*\\ ") || len(uri) > maxURILen {
			t.Fatalf("ValidateRedirectURI(%q, %v) accepted a fragment, wildcard, backslash, space or long URI", uri, native)
		}
		for i := 0; i < len(uri); i++ {
			if uri[i] < 0x21 || uri[i] > 0x7e {
				t.Fatalf("ValidateRedirectURI(%q, %v) accepted byte %#x", uri, native, uri[i])
			}
		}
		u, perr := url.Parse(uri)
		if perr != nil {
			t.Fatalf("ValidateRedirectURI(%q, %v) accepted what url.Parse refuses: %v", uri, native, perr)
		}
		if u.Scheme == "" || u.Opaque != "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("ValidateRedirectURI(%q, %v) accepted %#v", uri, native, u)
		}
		if hasDotSegment(u.EscapedPath()) {
			t.Fatalf("ValidateRedirectURI(%q, %v) accepted a dot segment", uri, native)
		}
		if neverRedirect[u.Scheme] {
			t.Fatalf("ValidateRedirectURI(%q, %v) accepted scheme %s", uri, native, u.Scheme)
		}
		host := u.Hostname()
		switch {
		case u.Scheme == "https":
			if host == "" {
				t.Fatalf("ValidateRedirectURI(%q, %v) accepted https without a host", uri, native)
			}
		case u.Scheme == "http":
			if host != "127.0.0.1" && host != "::1" && (native || host != "localhost") {
				t.Fatalf("ValidateRedirectURI(%q, %v) accepted http to %q", uri, native, host)
			}
		case !native:
			t.Fatalf("ValidateRedirectURI(%q, false) accepted scheme %q for a web client", uri, u.Scheme)
		case !strings.Contains(u.Scheme, "."):
			t.Fatalf("ValidateRedirectURI(%q, true) accepted a private-use scheme without a dot", uri)
		}
		// What a web client may register, a native one may too, but for
		// http://localhost (RFC 8252 §8.3).
		if !native && host != "localhost" {
			if err := ValidateRedirectURI(uri, true); err != nil {
				t.Fatalf("ValidateRedirectURI(%q, true) = %v, but a web client may register it", uri, err)
			}
		}
	})
}
