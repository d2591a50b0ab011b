package authz

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what fosite keeps with every code and token: the ID token
// claims (openid.DefaultSession), the access token claims, and who signed
// in. It is stored as JSON in storage.OAuthSession.Request.
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	AccessClaims           *jwt.JWTClaims `json:"access_claims"`
	AccessHeader           *jwt.Headers   `json:"access_header"`
	UserID                 string         `json:"user_id,omitempty"`
	OrgID                  string         `json:"org_id,omitempty"`
	SID                    string         `json:"sid,omitempty"`
}

// newSession returns an empty session ready for fosite to fill.
func newSession() *Session {
	return &Session{
		DefaultSession: &openid.DefaultSession{
			Claims:  &jwt.IDTokenClaims{Extra: map[string]any{}},
			Headers: &jwt.Headers{Extra: map[string]any{}},
		},
		AccessClaims: &jwt.JWTClaims{Extra: map[string]any{}},
		// RFC 9068 §2.1: JWT access tokens say what they are, so one can
		// never pass for an ID token (TJ-06).
		AccessHeader: &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}},
	}
}

// GetJWTClaims and GetJWTHeader make Session an oauth2.JWTSessionContainer.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer { return s.AccessClaims }
func (s *Session) GetJWTHeader() *jwt.Headers           { return s.AccessHeader }

// GetExtraClaims makes introspection (RFC 7662) answer with the access
// token's claims (org claims, sid, grant, and jti for a JWT), whether the
// token is a JWT or opaque; fosite adds the registered ones itself.
func (s *Session) GetExtraClaims() map[string]any {
	out := maps.Clone(s.AccessClaims.Extra)
	if out == nil {
		out = map[string]any{}
	}
	if s.AccessClaims.JTI != "" {
		out["jti"] = s.AccessClaims.JTI
	}
	return out
}

// Clone deep-copies the session (fosite clones before it mutates) through
// its JSON form, the same form it is stored in.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("authz: session does not marshal: %v", err)) // only plain data inside
	}
	c := newSession()
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("authz: session does not unmarshal: %v", err))
	}
	return c
}

// SetExpiresAt and GetExpiresAt are promoted from DefaultSession; they are
// listed here to make the expiry bookkeeping visible.
var _ interface {
	SetExpiresAt(fosite.TokenType, time.Time)
	GetExpiresAt(fosite.TokenType) time.Time
} = (*Session)(nil)
