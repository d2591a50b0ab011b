package authz

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/storage"
)

// userSession builds the session for a signed-in person: ID token claims
// (OIDC Core §2) and access token claims (RFC 9068 §2.2), profile and email
// claims by granted scope.
func (p *Provider) userSession(ctx context.Context, ar fosite.Requester, bs *storage.BrowserSession, orgID string) (*Session, error) {
	u, err := p.store.GetUser(ctx, bs.UserID)
	if err != nil {
		return nil, err
	}
	s := newSession()
	s.UserID, s.SID, s.Subject, s.Username, s.OrgID = u.ID, bs.SID, u.ID, u.Email, orgID
	id := s.DefaultSession.Claims
	id.Subject = u.ID
	id.AuthTime = bs.AuthTime.UTC()
	id.RequestedAt = p.now().UTC()
	id.AuthenticationMethodsReferences = bs.AMR
	id.AuthenticationContextClassReference = acrOf(bs.AMR)
	id.Extra["sid"] = bs.SID
	for k, v := range profileClaims(u, ar.GetGrantedScopes()) {
		id.Extra[k] = v
	}
	at := s.AccessClaims
	at.Subject = u.ID
	at.Audience = []string{p.opts.Issuer}
	at.Extra["client_id"] = ar.GetClient().GetID()
	at.Extra["sid"] = bs.SID
	if err := p.setOrgClaims(ctx, s, ar.GetGrantedScopes()); err != nil {
		return nil, err
	}
	return s, nil
}

// profileClaims are the claims the granted scopes release (OIDC Core §5.4).
func profileClaims(u storage.User, scopes fosite.Arguments) map[string]any {
	out := map[string]any{}
	if scopes.Has("email") {
		out["email"] = u.Email
		out["email_verified"] = u.EmailVerified
	}
	if scopes.Has("profile") && u.Name != "" {
		out["name"] = u.Name
	}
	return out
}

// userinfo is the UserInfo endpoint (OIDC Core §5.3), GET and POST, with a
// Bearer access token. Bad tokens get 401 with WWW-Authenticate (RFC 6750
// §3.1); an ID token is not an access token and is refused (TJ-06).
func (p *Provider) userinfo(c *gin.Context) {
	ctx := c.Request.Context()
	token := fosite.AccessTokenFromRequest(c.Request)
	if token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="foyer"`)
		c.Status(http.StatusUnauthorized)
		return
	}
	tokenType, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
	if err == nil && tokenType != fosite.AccessToken {
		// fosite falls back to other token types; only an access token
		// may call userinfo (TJ-06).
		err = fosite.ErrRequestUnauthorized
	}
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			p.opts.Logger.ErrorContext(ctx, "userinfo", "err", err)
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.Header("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token", error_description="The access token is not valid."`)
		c.Status(http.StatusUnauthorized)
		return
	}
	sess, _ := ar.GetSession().(*Session)
	if sess == nil || sess.UserID == "" || !ar.GetGrantedScopes().Has("openid") {
		c.Header("WWW-Authenticate", `Bearer realm="foyer", error="insufficient_scope", scope="openid"`)
		c.Status(http.StatusForbidden)
		return
	}
	u, err := p.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		// The account was deleted: its tokens are worthless.
		c.Header("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token"`)
		c.Status(http.StatusUnauthorized)
		return
	}
	if err != nil {
		p.opts.Logger.ErrorContext(ctx, "userinfo", "err", err)
		c.Header("Retry-After", "5")
		c.Status(http.StatusServiceUnavailable)
		return
	}
	claims := profileClaims(u, ar.GetGrantedScopes())
	claims["sub"] = u.ID
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, claims)
}
