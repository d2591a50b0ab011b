package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
)

// Provider is the OAuth 2.0 / OpenID Connect provider.
type Provider struct {
	opts    Options
	store   Store
	oauth   *fosite.Fosite
	clients *clientCache
	// revocations mirrors revoked grants; FollowRevocations keeps it fresh.
	revocations *revocationList
	discovery   []byte
}

// New builds the provider.
func New(o Options) (*Provider, error) {
	switch {
	case o.Issuer == "" || o.SigningAlgorithm == "" || o.Store == nil || o.Keys == nil || o.Pages == nil || o.Sessions == nil:
		return nil, errors.New("authz: Issuer, SigningAlgorithm, Store, Keys, Pages and Sessions are required")
	case len(o.HMACSecret) < 32:
		return nil, errors.New("authz: HMACSecret must be at least 32 bytes")
	}
	if err := o.Device.defaults(); err != nil {
		return nil, err
	}
	if o.RefreshTokenTTL == 0 {
		o.RefreshTokenTTL = 30 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Provider{opts: o, store: o.Store}
	p.clients = newClientCache(o.Store, clientCacheTTL, o.Now)
	p.revocations = newRevocationList(o.Store, o.Now)
	p.oauth = newOAuth2Provider(o, &fositeStore{
		store: o.Store, clients: p.clients, revocations: p.revocations, accessTTL: o.AccessTokenTTL, now: o.Now,
	})
	doc, err := discoveryDocument(o.Issuer, o.SigningAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	p.discovery = doc
	return p, nil
}

// Mount adds the provider's routes. browser routes set cookies and render
// pages; api routes authenticate clients or bearer tokens and need no
// cookies (the token endpoint takes cross-site POSTs by design).
func (p *Provider) Mount(browser, api gin.IRouter) {
	api.GET("/.well-known/openid-configuration", p.serveDiscovery)
	api.GET("/.well-known/oauth-authorization-server", p.serveDiscovery)
	// Every method reaches the token endpoint, so a GET gets the RFC's
	// invalid_request rather than a generic 405.
	api.Any("/oauth2/token", p.token)
	api.POST("/oauth2/introspect", p.introspect)
	api.POST("/oauth2/revoke", p.revoke)
	api.POST("/oauth2/par", p.par)
	api.POST("/oauth2/device_authorization", p.deviceAuthorization)
	api.GET("/userinfo", p.userinfo)
	api.POST("/userinfo", p.userinfo)

	browser.GET("/oauth2/authorize", p.authorize)
	browser.POST("/oauth2/authorize", p.authorize)
	browser.GET("/oauth2/authorize/continue", p.resume)
	browser.GET("/consent", p.consentPage)
	browser.POST("/consent", p.consentPage)
	browser.GET("/oauth2/logout", p.logout)
	browser.POST("/oauth2/logout", p.logout)
	browser.GET("/select-organization", p.selectOrgPage)
	browser.POST("/select-organization", p.selectOrgPage)
	browser.GET("/select-account", p.selectAccountPage)
	browser.POST("/select-account", p.selectAccountPage)
	browser.GET("/device", p.devicePage)
	browser.POST("/device", p.devicePage)
	browser.GET("/device/confirm", p.deviceConfirmPage)
	browser.POST("/device/confirm", p.deviceConfirmPage)
}

func (p *Provider) serveDiscovery(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("Access-Control-Allow-Origin", "*")
	c.Data(http.StatusOK, "application/json", p.discovery)
}

// Sweep deletes expired codes, tokens, challenges, device codes and
// revoked-grant records and returns how many; serve runs it now and then,
// beside the other sweeps.
func (p *Provider) Sweep(ctx context.Context) (int64, error) {
	n, err := p.store.DeleteExpiredOAuthSessions(ctx, p.now())
	if err != nil {
		return n, err
	}
	m, err := p.store.DeleteExpiredDeviceCodes(ctx, p.now())
	return n + m, err
}
