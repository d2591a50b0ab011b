// Package rbac lets a resource server (a downstream API) trust Foyer's
// access tokens without calling Foyer on every request: it verifies the
// token's signature against Foyer's published keys (JWKS), checks the
// claims RFC 9068 asks a resource server to check, and offers net/http
// middleware that reads the organization role and permissions Foyer puts
// in the token.
//
//	v, err := rbac.New(rbac.Options{Issuer: "https://id.example.com"})
//	...
//	mux.Handle("GET /reports", v.Middleware(rbac.RequirePermission("org:read")(reports)))
//
// It imports no other Foyer package (only go-jose and the standard
// library), so a downstream service can vendor it alone.
//
// Revocation: verification is offline, so a token revoked at Foyer (sign
// out, /oauth2/revoke, a reused refresh token) stays valid here until it
// expires. Keep tokens.access_token_ttl short (the default is 15 minutes),
// and where a revocation must take effect at once, ask Foyer's
// introspection endpoint (RFC 7662) instead.
package rbac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Options configure a Verifier. Only Issuer is required.
type Options struct {
	// Issuer is Foyer's issuer URL exactly as in its tokens' iss claim
	// (the issuer setting, e.g. https://id.example.com).
	Issuer string
	// Audience must be in the token's aud claim. Default: Issuer, which is
	// the audience of every Foyer access token.
	Audience string
	// JWKSURL is where the signing keys are published. Default:
	// Issuer + "/.well-known/jwks.json".
	JWKSURL string
	// HTTPClient fetches the JWKS. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp, nbf and iat. Default: 60 s.
	Leeway time.Duration
	// Now is the clock of expiry checks and of the JWKS cache. Default:
	// time.Now.
	Now func() time.Time
}

// Defaults.
const (
	defaultLeeway = 60 * time.Second
	// maxTokenSize bounds the work an attacker can make us do per request.
	// Foyer's tokens are well under 4 KiB even with many organizations.
	maxTokenSize = 16 << 10
)

// Errors. Verify wraps them with the reason, which is for logs only: a
// client is told no more than "invalid_token".
var (
	// ErrInvalidToken: the token is malformed, forged, expired, not an
	// access token, or not for this issuer or audience.
	ErrInvalidToken = errors.New("rbac: invalid access token")
	// ErrKeysUnavailable: the JWKS could not be fetched and none is
	// cached, so no token can be checked (a server problem, not the
	// client's).
	ErrKeysUnavailable = errors.New("rbac: signing keys unavailable")
)

// Claims are the verified claims of a Foyer access token (README "Tokens").
type Claims struct {
	Issuer    string
	Subject   string // the person's user ID, or the client ID of a client_credentials token
	Audience  []string
	ClientID  string
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time

	// The organization chosen at sign-in (scope org); empty otherwise.
	OrgID          string
	OrgSlug        string
	OrgRole        string
	OrgPermissions []string
	// Every membership of the person (scope orgs).
	Orgs []Org

	// Raw is the whole payload, for claims not named above.
	Raw map[string]any
}

// Org is one entry of the orgs claim.
type Org struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Role string `json:"role"`
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// HasPermission reports whether the token's organization role grants p.
func (c *Claims) HasPermission(p string) bool { return slices.Contains(c.OrgPermissions, p) }

// HasRole reports whether the token's organization role is one of roles.
func (c *Claims) HasRole(roles ...string) bool {
	return c.OrgRole != "" && slices.Contains(roles, c.OrgRole)
}

// Verifier checks Foyer access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer, audience string
	leeway           time.Duration
	now              func() time.Time
	keys             *keyCache
}

// New returns a Verifier. It fetches nothing yet: the JWKS is fetched on
// first use, so a downstream API can start while Foyer is down.
func New(o Options) (*Verifier, error) {
	if err := checkURL(o.Issuer); err != nil {
		return nil, fmt.Errorf("rbac: Issuer: %w", err)
	}
	if o.Audience == "" {
		o.Audience = o.Issuer
	}
	if o.JWKSURL == "" {
		o.JWKSURL = strings.TrimSuffix(o.Issuer, "/") + "/.well-known/jwks.json"
	}
	if err := checkURL(o.JWKSURL); err != nil {
		return nil, fmt.Errorf("rbac: JWKSURL: %w", err)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Leeway == 0 {
		o.Leeway = defaultLeeway
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verifier{
		issuer: o.Issuer, audience: o.Audience, leeway: o.Leeway, now: o.Now,
		keys: &keyCache{url: o.JWKSURL, client: o.HTTPClient, now: o.Now},
	}, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}

// The algorithms Foyer signs with (keys.algorithm). HS256 and none are
// absent on purpose: go-jose refuses any other alg before we look at keys.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// Verify checks an access token and returns its claims. Errors wrap
// ErrInvalidToken or ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > maxTokenSize {
		return nil, invalid("token longer than %d bytes", maxTokenSize)
	}
	// Compact serialization only: three base64url parts. The JSON
	// serialization can carry unprotected headers (and several
	// signatures), which an access token never needs.
	if strings.Count(token, ".") != 2 || strings.ContainsFunc(token, notBase64URL) {
		return nil, invalid("not a compact JWS")
	}
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		return nil, invalid("%v", err)
	}
	h := jws.Signatures[0].Protected
	// RFC 9068 §4: the typ header tells an access token from an ID token,
	// which is signed by the same keys but is meant for the client.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		return nil, invalid("typ %q is not at+jwt", typ)
	}
	if h.KeyID == "" {
		return nil, invalid("no kid")
	}
	key, err := v.keys.get(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	// The key decides the algorithm, not the token (no algorithm
	// confusion: an RSA key never checks anything but RS256).
	if h.Algorithm != key.Algorithm {
		return nil, invalid("alg %s, but key %s is %s", h.Algorithm, h.KeyID, key.Algorithm)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	c, err := v.claims(payload)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func notBase64URL(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// payload is the JSON of a Foyer access token. Dates are pointers to tell
// a missing claim from zero.
type payload struct {
	Iss            string          `json:"iss"`
	Sub            string          `json:"sub"`
	Aud            json.RawMessage `json:"aud"`
	Exp            *float64        `json:"exp"`
	Nbf            *float64        `json:"nbf"`
	Iat            *float64        `json:"iat"`
	ClientID       string          `json:"client_id"`
	Scope          string          `json:"scope"`
	OrgID          string          `json:"org_id"`
	OrgSlug        string          `json:"org_slug"`
	OrgRole        string          `json:"org_role"`
	OrgPermissions []string        `json:"org_permissions"`
	Orgs           []Org           `json:"orgs"`
}

func (v *Verifier) claims(b []byte) (*Claims, error) {
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, invalid("claims: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, invalid("claims: %v", err)
	}
	aud, err := audience(p.Aud)
	if err != nil {
		return nil, err
	}
	now := v.now()
	switch {
	case p.Iss != v.issuer:
		return nil, invalid("iss %q", p.Iss)
	case !slices.Contains(aud, v.audience):
		return nil, invalid("aud %q lacks %q", aud, v.audience)
	case p.Exp == nil:
		return nil, invalid("no exp")
	case now.After(date(*p.Exp).Add(v.leeway)):
		return nil, invalid("expired at %s", date(*p.Exp))
	case p.Nbf != nil && now.Add(v.leeway).Before(date(*p.Nbf)):
		return nil, invalid("not valid before %s", date(*p.Nbf))
	case p.Iat != nil && now.Add(v.leeway).Before(date(*p.Iat)):
		return nil, invalid("issued in the future, at %s", date(*p.Iat))
	}
	c := &Claims{
		Issuer: p.Iss, Subject: p.Sub, Audience: aud, ClientID: p.ClientID,
		Scopes: strings.Fields(p.Scope), ExpiresAt: date(*p.Exp),
		OrgID: p.OrgID, OrgSlug: p.OrgSlug, OrgRole: p.OrgRole,
		OrgPermissions: p.OrgPermissions, Orgs: p.Orgs, Raw: raw,
	}
	if p.Iat != nil {
		c.IssuedAt = date(*p.Iat)
	}
	return c, nil
}

// audience reads aud: a string or a list of strings (RFC 7519 §4.1.3).
func audience(b json.RawMessage) ([]string, error) {
	if len(b) == 0 {
		return nil, invalid("no aud")
	}
	var one string
	if json.Unmarshal(b, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, invalid("aud: %v", err)
	}
	return list, nil
}

// date converts a NumericDate (seconds, possibly fractional), clamped to
// ±35,000 years so that absurd values cannot overflow into the past.
func date(f float64) time.Time {
	sec, frac := math.Modf(max(min(f, 1<<40), -(1 << 40)))
	return time.Unix(int64(sec), int64(frac*1e9))
}
