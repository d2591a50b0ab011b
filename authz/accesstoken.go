package authz

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// grantClaim names, in a JWT access token, the grant it was issued under
// (fosite's request ID, shared by a code's tokens and every refresh of
// them). Revoking a grant refuses all its tokens at once.
const grantClaim = "grant_id"

// errInactive is any reason a JWT access token is not (or no longer)
// valid; the endpoints answer it as an inactive token, never with why.
var errInactive = fosite.ErrInactiveToken

// jwtAccessTokens introspects and revokes JWT access tokens, which have no
// row in storage: the signature, the typ header and the claims say all but
// whether the grant was revoked since, which the revocation list answers.
// Every other token goes to fosite's handlers (the next fields).
type jwtAccessTokens struct {
	issuer string
	signer *signer
	store  *fositeStore

	nextIntrospector fosite.TokenIntrospector
	nextRevoker      fosite.RevocationHandler
}

var (
	_ fosite.TokenIntrospector = (*jwtAccessTokens)(nil)
	_ fosite.RevocationHandler = (*jwtAccessTokens)(nil)
)

// IntrospectToken serves RFC 7662 and userinfo.
func (j *jwtAccessTokens) IntrospectToken(ctx context.Context, token string, use fosite.TokenUse, ar fosite.AccessRequester, scopes []string) (fosite.TokenUse, error) {
	if !isJWT(token) {
		return j.nextIntrospector.IntrospectToken(ctx, token, use, ar, scopes)
	}
	r, err := j.read(ctx, token)
	if err != nil {
		return "", err
	}
	for _, s := range scopes {
		if s != "" && !r.GetGrantedScopes().Has(s) {
			return "", fosite.ErrInvalidScope.WithHintf("The scope %s was not granted.", s)
		}
	}
	ar.Merge(r)
	return fosite.AccessToken, nil
}

// RevokeToken ends the grant of a JWT access token (RFC 7009 §2: the server
// may revoke the grant too, and Foyer does, as for refresh tokens). An
// invalid or expired token needs no revoking: 200, as the RFC says.
func (j *jwtAccessTokens) RevokeToken(ctx context.Context, token string, hint fosite.TokenType, c fosite.Client) error {
	if !isJWT(token) {
		return j.nextRevoker.RevokeToken(ctx, token, hint, c)
	}
	r, err := j.read(ctx, token)
	switch {
	case errors.Is(err, errInactive):
		return nil
	case err != nil:
		return err
	case r.GetClient().GetID() != c.GetID():
		return fosite.ErrUnauthorizedClient.WithHint("The token was issued to another client.")
	}
	return j.store.revokeGrant(ctx, r.GetID())
}

// read verifies a JWT access token and rebuilds the request it was issued
// for. errInactive for a token that is forged, expired, an ID token, of a
// revoked grant or of a deleted client; other errors are storage failures.
func (j *jwtAccessTokens) read(ctx context.Context, token string) (*fosite.Request, error) {
	header, payload, err := j.signer.verify(token)
	if err != nil {
		return nil, errInactive
	}
	// An ID token is signed by the same keys; only at+jwt is an access
	// token (RFC 9068 §4, TJ-06).
	if typ, _ := header.ExtraHeaders[jose3.HeaderType].(string); typ != "at+jwt" {
		return nil, errInactive
	}
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, errInactive
	}
	var claims jwt.JWTClaims
	claims.FromMap(raw)
	claims.Audience = audience(raw["aud"])
	grant, _ := claims.Extra[grantClaim].(string)
	clientID, _ := claims.Extra["client_id"].(string)
	if claims.Issuer != j.issuer || !j.store.now().Before(claims.ExpiresAt) || grant == "" || clientID == "" {
		return nil, errInactive
	}
	revoked, err := j.store.revocations.revoked(ctx, grant)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errInactive
	}
	c, err := j.store.clients.get(ctx, clientID)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, errInactive
	}
	if err != nil {
		return nil, err
	}

	sess := newSession()
	sess.AccessClaims = &claims
	sess.Subject = claims.Subject
	// A machine token's subject is its client (RFC 9068 §2.2); any other
	// subject is a person.
	if claims.Subject != clientID {
		sess.UserID = claims.Subject
	}
	sess.SID, _ = claims.Extra["sid"].(string)
	sess.OrgID, _ = claims.Extra["org_id"].(string)
	sess.SetExpiresAt(fosite.AccessToken, claims.ExpiresAt)
	return &fosite.Request{
		ID: grant, RequestedAt: claims.IssuedAt, Client: c,
		RequestedScope: claims.Scope, GrantedScope: claims.Scope,
		RequestedAudience: claims.Audience, GrantedAudience: claims.Audience,
		Form: url.Values{}, Session: sess,
	}, nil
}

// audience reads aud, a string or a list (RFC 7519 §4.1.3).
func audience(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, s := range a {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
