package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/foyerdev/foyer/storage"
)

const (
	// upstreamTimeout bounds every call to an upstream: discovery, token,
	// userinfo, JWKS, GitHub's API.
	upstreamTimeout = 10 * time.Second
	// maxUpstreamBody bounds every answer of an upstream.
	maxUpstreamBody = 1 << 20
	// providerTTL is how long a discovery document is kept.
	providerTTL = time.Hour
)

// errTooLarge: an upstream's answer is larger than maxUpstreamBody.
var errTooLarge = errors.New("upstream answer larger than 1 MiB")

// httpClient calls conn's upstream with timeouts and a size cap, following
// no redirects. An organization's connection, which an organization admin
// configures, cannot reach loopback, private or link-local addresses
// unless AllowPrivateNetworks (SSRF, as the SAML metadata fetch).
func (s *Service) httpClient(conn storage.UpstreamConnection) *http.Client {
	private := conn.OrgID == "" || s.o.AllowPrivateNetworks
	dialer := &net.Dialer{Timeout: upstreamTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		ip := net.ParseIP(host)
		if err != nil || ip == nil {
			return fmt.Errorf("cannot check address %q", address)
		}
		if !private && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
			ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast()) {
			return fmt.Errorf("refusing to call the internal address %s", ip)
		}
		return nil
	}}
	return &http.Client{
		Timeout: upstreamTimeout,
		Transport: limitedTransport{&http.Transport{
			DialContext: dialer.DialContext, TLSHandshakeTimeout: upstreamTimeout,
			ResponseHeaderTimeout: upstreamTimeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// limitedTransport caps every response body at maxUpstreamBody: reading
// past it is an error, never a truncated document.
type limitedTransport struct{ base http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxUpstreamBody}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// cachedProvider is a connection's discovery result.
type cachedProvider struct {
	issuer string
	p      *oidc.Provider
	at     time.Time
}

// oidcProvider discovers conn's OpenID provider, or returns the copy of
// the last hour. Discovery checks that the document names the issuer it
// was fetched for (OIDC Discovery §4.3). Its key set is go-oidc's: keys
// cached, fetched again for an unknown kid.
func (s *Service) oidcProvider(ctx context.Context, conn storage.UpstreamConnection) (*oidc.Provider, error) {
	s.mu.Lock()
	cp, ok := s.providers[conn.ID]
	s.mu.Unlock()
	if ok && cp.issuer == conn.Issuer && s.o.Now().Sub(cp.at) < providerTTL {
		return cp.p, nil
	}
	// The key set keeps the client of this context for its later fetches.
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), s.httpClient(conn)), upstreamTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, conn.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", conn.Issuer, err)
	}
	s.mu.Lock()
	s.providers[conn.ID] = cachedProvider{issuer: conn.Issuer, p: p, at: s.o.Now()}
	s.mu.Unlock()
	return p, nil
}
