package rbac

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// JWKS cache policy.
const (
	// minRefresh is the least time between two fetches. A token naming an
	// unknown kid makes us refetch, and anyone can send such tokens: this
	// bounds what they cost Foyer to one request per 10 s per verifier.
	// Foyer publishes a key at least 10 s before it signs (keys.prepublish),
	// so a rotation never waits on this limit.
	minRefresh = 10 * time.Second
	// defaultMaxAge applies when the JWKS response has no max-age.
	defaultMaxAge = 5 * time.Minute
	// maxMaxAge caps max-age, so a key revoked at Foyer (foyer keys
	// revoke) is dropped here within the hour whatever a proxy says.
	maxMaxAge = time.Hour
	// maxJWKSSize bounds the response body we read.
	maxJWKSSize = 1 << 20
)

// keyCache holds Foyer's public signing keys in memory. Keys are fetched
// on first use, again when the response's max-age has passed, and when a
// token names a kid the cache does not hold (Foyer rotated its keys), never
// more often than minRefresh.
type keyCache struct {
	url    string
	client *http.Client
	now    func() time.Time

	fetch sync.Mutex // one fetch at a time; held while fetching

	mu      sync.Mutex // guards the fields below; never held while fetching
	keys    map[string]jose.JSONWebKey
	expires time.Time // when keys should be refetched (max-age)
	lastTry time.Time // last fetch attempt, successful or not
}

// get returns the key named kid, with its Algorithm set.
func (c *keyCache) get(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	if k, ok, fresh := c.lookup(kid); ok && fresh {
		return k, nil
	}
	c.fetch.Lock()
	defer c.fetch.Unlock()
	// Another request may have fetched while we waited for the lock.
	k, ok, fresh := c.lookup(kid)
	if ok && fresh {
		return k, nil
	}
	c.mu.Lock()
	now := c.now()
	may := c.lastTry.IsZero() || now.Sub(c.lastTry) >= minRefresh
	if may {
		c.lastTry = now
	}
	c.mu.Unlock()
	if may {
		// Detached from the request: one impatient client must not leave
		// every other request without keys until the next allowed fetch.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		keys, maxAge, err := c.download(fctx)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.keys, c.expires = keys, now.Add(maxAge)
			c.mu.Unlock()
			k, ok, _ = c.lookup(kid)
		}
		// On failure, stale keys stay in use: Foyer being briefly
		// unreachable must not take every downstream API down with it.
	}
	c.mu.Lock()
	loaded := c.keys != nil
	c.mu.Unlock()
	switch {
	case ok:
		return k, nil
	case !loaded:
		return jose.JSONWebKey{}, ErrKeysUnavailable
	default:
		return jose.JSONWebKey{}, invalid("unknown kid %q", kid)
	}
}

// lookup reads the cache: the key, whether it is there, and whether the
// cache is within its max-age.
func (c *keyCache) lookup(kid string) (jose.JSONWebKey, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[kid]
	return k, ok, c.now().Before(c.expires)
}

// download fetches and parses the JWKS and reads its max-age.
func (c *keyCache) download(ctx context.Context) (map[string]jose.JSONWebKey, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: %s", c.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize))
	if err != nil {
		return nil, 0, err
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// parseJWKS keeps the public signing keys of a JWKS by kid. Keys it cannot
// use (another type, another use, private parts) are skipped one by one,
// so a key type added to Foyer later does not break older verifiers.
func parseJWKS(body []byte) (map[string]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	keys := map[string]jose.JSONWebKey{}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || k.KeyID == "" || !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
			continue
		}
		alg := algorithmOf(k.Key)
		if alg == "" || (k.Algorithm != "" && k.Algorithm != alg) {
			continue
		}
		k.Algorithm = alg
		keys[k.KeyID] = k
	}
	// An empty set would refuse every token until the next fetch; keep the
	// keys we have instead.
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS holds no usable signing key")
	}
	return keys, nil
}

// algorithmOf is the one algorithm Foyer signs with for a key of this type.
func algorithmOf(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return string(jose.RS256)
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return string(jose.ES256)
		}
	case ed25519.PublicKey:
		return string(jose.EdDSA)
	}
	return ""
}

// maxAge reads Cache-Control: no-store and no-cache mean "refetch on the
// next use" (still no more often than minRefresh).
func maxAge(cc string) time.Duration {
	d := defaultMaxAge
	for _, dir := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return 0
		case "max-age":
			if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
				d = time.Duration(min(n, int(maxMaxAge/time.Second))) * time.Second
			}
		}
	}
	return d
}
