package authz

import (
	"context"
	"errors"

	"github.com/ory/fosite"
)

// ErrInvalidToken: the bearer token is not a live Foyer access token
// (forged, expired, an ID or refresh token, of a revoked grant or a deleted
// client). Other errors from VerifyAccessToken are outages.
var ErrInvalidToken = errors.New("invalid access token")

// AccessToken is what a resource served by Foyer itself (the admin API)
// needs to know about the bearer of a verified access token.
type AccessToken struct {
	Subject  string // the user ID, or the client ID for a machine token
	ClientID string
	UserID   string // empty for a machine token (client credentials)
	OrgID    string // the organization chosen at sign-in, if any
	Scopes   []string
}

// VerifyAccessToken checks an access token as introspection does — for a
// JWT: signature, typ at+jwt, issuer, expiry and revocation of its grant
// (jwtAccessTokens.read); an opaque one is looked up in storage — so that
// Foyer's own APIs trust exactly the tokens introspection calls active.
func (p *Provider) VerifyAccessToken(ctx context.Context, token string) (AccessToken, error) {
	use, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField < 500 {
			return AccessToken{}, ErrInvalidToken
		}
		return AccessToken{}, err
	}
	// fosite falls back to other token types: a refresh token is no
	// bearer credential (TJ-06).
	sess, _ := ar.GetSession().(*Session)
	if use != fosite.AccessToken || sess == nil {
		return AccessToken{}, ErrInvalidToken
	}
	return AccessToken{
		Subject:  sess.GetSubject(),
		ClientID: ar.GetClient().GetID(),
		UserID:   sess.UserID,
		OrgID:    sess.OrgID,
		Scopes:   ar.GetGrantedScopes(),
	}, nil
}
