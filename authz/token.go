package authz

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
)

// token is the token endpoint: authorization_code, refresh_token,
// client_credentials and the device_code grant (device.go).
func (p *Provider) token(c *gin.Context) {
	ctx := c.Request.Context()
	if c.Request.Method == http.MethodPost {
		switch gt := c.PostForm("grant_type"); gt {
		case "", "authorization_code", "refresh_token", "client_credentials", clients.GrantDeviceCode:
		default:
			p.writeAccessError(c, nil, fosite.ErrUnsupportedGrantType.WithHint("Foyer supports authorization_code, refresh_token, client_credentials and "+clients.GrantDeviceCode+"."))
			return
		}
	}
	sess := newSession()
	reqCtx, reuse := ctx, (*reuseWatch)(nil)
	if c.PostForm("grant_type") == "refresh_token" {
		reqCtx, reuse = watchReuse(ctx) // only a refresh can reuse a refresh token
	}
	ar, err := p.oauth.NewAccessRequest(reqCtx, c.Request, sess)
	if err != nil {
		p.recordReuse(c, reuse, err)
		if c.PostForm("grant_type") == "client_credentials" && errors.Is(err, fosite.ErrInvalidGrant) {
			// fosite's answer for a public client asking for a machine token.
			err = fosite.ErrUnauthorizedClient.WithHint("This client may not use the client_credentials grant.")
		}
		p.writeAccessError(c, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") && c.PostForm("scope") != "" {
		// A refresh may narrow the scope, never widen it (RFC 6749 §6);
		// fosite would silently ignore the request.
		for _, s := range strings.Fields(c.PostForm("scope")) {
			if !ar.GetGrantedScopes().Has(s) {
				p.writeAccessError(c, ar, fosite.ErrInvalidScope.WithHintf("The scope %s was not granted originally.", s))
				return
			}
		}
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// A machine acts as itself: the client is the subject.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		id := ar.GetClient().GetID()
		sess.Subject = id
		sess.AccessClaims.Subject = id
		sess.AccessClaims.Audience = []string{p.opts.Issuer}
		sess.AccessClaims.Extra["client_id"] = id
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		// Organization claims follow the current membership (MT-04), and
		// the organization parameter switches to another one. Both happen
		// here, before NewAccessResponse rotates the refresh token, so a
		// refused switch leaves the presented refresh token usable, and
		// the organization chosen is stored with the new one.
		s, _ := ar.GetSession().(*Session)
		if s != nil && s.UserID != "" {
			err := p.refreshOrganization(ctx, s, ar.GetGrantedScopes(), ar.GetRequestForm()["organization"])
			if err == nil {
				err = p.refreshRequiresOrganization(ctx, ar, s.UserID)
			}
			if err != nil {
				p.writeAccessError(c, ar, err)
				return
			}
		}
	} else if _, ok := ar.GetRequestForm()["organization"]; ok {
		// Never ignore it silently (MT-02): the organization is chosen at
		// /authorize or switched with a refresh.
		p.writeAccessError(c, ar, fosite.ErrInvalidRequest.WithHint("The organization parameter is only accepted with the refresh_token grant."))
		return
	}
	if s, ok := ar.GetSession().(*Session); ok {
		// Every access token names its grant, so revoking the grant
		// refuses it, and is new: a refreshed session still holds the
		// issue time and ID of the token before.
		s.AccessClaims.Extra[grantClaim] = ar.GetID()
		s.AccessClaims.IssuedAt, s.AccessClaims.JTI = time.Time{}, ""
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	if err != nil {
		p.writeAccessError(c, ar, err)
		return
	}
	p.oauth.WriteAccessResponse(ctx, c.Writer, ar, resp)
}

// writeAccessError maps what fosite cannot know: a code redeemed by a
// concurrent request is invalid_grant (DB-01), and an unavailable database
// is 503 with Retry-After, never invalid_grant, which would make clients
// drop valid refresh tokens (DB-05).
func (p *Provider) writeAccessError(c *gin.Context, ar fosite.AccessRequester, err error) {
	switch {
	case errors.Is(err, errCodeUsed):
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	case errors.Is(err, storage.ErrUnavailable):
		p.opts.Logger.ErrorContext(c.Request.Context(), "token endpoint: database unavailable", "err", err)
		serverUnavailable(c)
		return
	}
	rfc := clean(err)
	if rfc.CodeField >= 500 {
		p.opts.Logger.ErrorContext(c.Request.Context(), "token endpoint", "err", err, "debug", rfc.DebugField)
	}
	challengeBasic(c, rfc.CodeField)
	if ar == nil {
		ar = fosite.NewAccessRequest(nil)
	}
	p.oauth.WriteAccessError(c.Request.Context(), c.Writer, ar, rfc)
}

// introspect is RFC 7662 token introspection; the caller must authenticate
// as a client.
func (p *Provider) introspect(c *gin.Context) {
	ctx := c.Request.Context()
	ir, err := p.oauth.NewIntrospectionRequest(ctx, c.Request, newSession())
	if err != nil {
		if rfc := clean(err); rfc.ErrorField == "request_unauthorized" || rfc.ErrorField == "invalid_client" {
			// RFC 7662 §2.3 with RFC 6749 §5.2: an unauthenticated caller
			// is invalid_client, 401 (fosite would answer active:false).
			challengeBasic(c, http.StatusUnauthorized)
			c.Header("Cache-Control", "no-store")
			c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid_client", "error_description": "The caller must authenticate as a client."})
			return
		}
		p.oauth.WriteIntrospectionError(ctx, c.Writer, err)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, c.Writer, ir)
}

// revoke is RFC 7009 token revocation. A storage failure is a 5xx, never a
// 200 that would make the client believe the token is dead (DB-03).
func (p *Provider) revoke(c *gin.Context) {
	ctx := c.Request.Context()
	err := p.oauth.NewRevocationRequest(ctx, c.Request)
	if err != nil && !hasClientCredentials(c) {
		err = fosite.ErrInvalidClient.WithHint("The caller must authenticate as a client.")
	}
	if errors.Is(err, storage.ErrUnavailable) {
		serverUnavailable(c)
		return
	}
	if err != nil {
		challengeBasic(c, clean(err).CodeField)
	}
	p.oauth.WriteRevocationResponse(ctx, c.Writer, err)
}

// par is the pushed authorization request endpoint (RFC 9126).
func (p *Provider) par(c *gin.Context) {
	ctx := c.Request.Context()
	ar, err := p.oauth.NewPushedAuthorizeRequest(ctx, c.Request)
	if err != nil {
		p.oauth.WritePushedAuthorizeError(ctx, c.Writer, ar, err)
		return
	}
	resp, err := p.oauth.NewPushedAuthorizeResponse(ctx, ar, newSession())
	if err != nil {
		p.oauth.WritePushedAuthorizeError(ctx, c.Writer, ar, err)
		return
	}
	p.oauth.WritePushedAuthorizeResponse(ctx, c.Writer, ar, resp)
}

// hasClientCredentials reports whether the request carries any client
// authentication at all.
func hasClientCredentials(c *gin.Context) bool {
	return usedBasicAuth(c) || c.PostForm("client_id") != "" || c.PostForm("client_assertion") != ""
}
