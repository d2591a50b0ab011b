package authz

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/templates/render"
)

// This file is the one place fosite is composed: its configuration, the
// token strategies and the handler factories Foyer enables.

// SecretVerifier checks a client secret against its stored hash.
type SecretVerifier interface {
	Verify(secret, stored string) bool
}

// Options configure the provider. cmd fills them from configuration.
type Options struct {
	Issuer string
	// SigningAlgorithm is what the active key signs with (discovery).
	SigningAlgorithm string
	Store            Store
	Keys             KeySource
	Secrets          SecretVerifier
	// HMACSecret (32 bytes) keys the signatures of codes, refresh tokens
	// and opaque access tokens, which are what storage keeps.
	HMACSecret     []byte
	Pages          *render.Renderer
	AccessTokenTTL time.Duration
	IDTokenTTL     time.Duration
	// RefreshTokenTTL bounds a refresh token's life (default 30 days).
	RefreshTokenTTL time.Duration
	// Sessions reads, starts and ends browser sessions and checks CSRF
	// tokens.
	Sessions *session.Manager
	// Device configures the device authorization grant (device.go).
	Device DeviceOptions
	// Audit records refresh token reuse and sign-outs (audit.go); nil
	// records nothing.
	Audit  *audit.Recorder
	Logger *slog.Logger
	// Now is the clock for sessions, challenges and consents (default time.Now).
	Now func() time.Time
}

// fositeConfig is fosite's configuration for Foyer.
func fositeConfig(o Options) *fosite.Config {
	return &fosite.Config{
		IDTokenIssuer:        o.Issuer,
		AccessTokenIssuer:    o.Issuer,
		TokenURL:             o.Issuer + "/oauth2/token",
		AccessTokenLifespan:  o.AccessTokenTTL,
		IDTokenLifespan:      o.IDTokenTTL,
		RefreshTokenLifespan: o.RefreshTokenTTL,
		// One minute is plenty between redirect and redemption; a short life
		// bounds what a leaked code is worth (RFC 9700 §4.5).
		AuthorizeCodeLifespan:           time.Minute,
		PushedAuthorizeContextLifespan:  time.Minute,
		PushedAuthorizeRequestURIPrefix: "urn:ietf:params:oauth:request_uri:",
		GlobalSecret:                    o.HMACSecret,
		// PKCE: S256 only; public clients always need it (per-client
		// enforcement for confidential clients happens in authorize).
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes:             []string{"offline_access"},
		AllowedPromptValues:            []string{"login", "none", "consent", "select_account"},
		MinParameterEntropy:            fosite.MinParameterEntropy,
		ClientSecretsHasher:            secretHasher{o.Secrets},
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		SendDebugMessagesToClients:     false,
		FormPostHTMLTemplate:           formPostPage(o.Issuer),
		// redirect_uri must survive in the stored code request: the token
		// endpoint compares it (TK-02).
		SanitationWhiteList: []string{"redirect_uri", "nonce", "max_age", "prompt", "acr_values", "organization"},
	}
}

// newOAuth2Provider composes fosite with Foyer's storage and strategies.
func newOAuth2Provider(o Options, store *fositeStore) *fosite.Fosite {
	config := fositeConfig(o)
	sign := &signer{keys: o.Keys}
	opaque := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: config}, config)
	formats := &accessTokenFormats{
		issuer:          o.Issuer,
		HMACSHAStrategy: opaque,
		jwt:             &oauth2.DefaultJWTStrategy{Signer: sign, HMACSHAStrategy: opaque, Config: config},
	}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               formats,
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: sign, Config: config},
		Signer:                     sign,
	}
	provider := compose.Compose(config, store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2PKCEFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.PushedAuthorizeHandlerFactory,
	)
	// Introspection and revocation: JWT access tokens are read from the
	// token itself, every other token by fosite from storage. fosite asks
	// every registered handler, so there is exactly one, which dispatches.
	jwts := &jwtAccessTokens{
		issuer: o.Issuer, signer: sign, store: store,
		nextIntrospector: &oauth2.CoreValidator{CoreStrategy: formats, CoreStorage: store, Config: config},
		nextRevoker: &oauth2.TokenRevocationHandler{
			TokenRevocationStorage: store, RefreshTokenStrategy: formats, AccessTokenStrategy: formats,
		},
	}
	config.TokenIntrospectionHandlers = fosite.TokenIntrospectionHandlers{jwts}
	config.RevocationHandlers = fosite.RevocationHandlers{jwts}
	config.TokenEndpointHandlers.Append(&deviceGrant{
		store: store, tokens: formats, config: config, now: o.Now,
		idTokens: &openid.IDTokenHandleHelper{IDTokenStrategy: strategy.OpenIDConnectTokenStrategy},
	})
	for i, h := range config.TokenEndpointHandlers {
		config.TokenEndpointHandlers[i] = grantGate{h}
	}
	return provider.(*fosite.Fosite)
}

// grantGate skips a token endpoint handler for grants it does not serve.
// fosite asks every handler, and each one that declines builds an error
// with a stack trace: a twelfth of the token endpoint's time under load.
// Every handler Foyer composes declines exactly when
// CanHandleTokenEndpointRequest is false (a grant_type check).
type grantGate struct{ fosite.TokenEndpointHandler }

func (g grantGate) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return g.TokenEndpointHandler.HandleTokenEndpointRequest(ctx, r)
}

func (g grantGate) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return g.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

// accessTokenFormats issues RFC 9068 JWT access tokens, or opaque ones for
// clients configured so, and tells them apart by shape when validating.
// Codes and refresh tokens are always opaque HMAC tokens.
type accessTokenFormats struct {
	*oauth2.HMACSHAStrategy
	jwt    *oauth2.DefaultJWTStrategy
	issuer string
}

// forIssuer makes fosite's JWT strategy, which writes the request's granted
// audience over the session's aud, sign aud = issuer (RFC 9068 §2.2).
type forIssuer struct {
	fosite.Requester
	aud fosite.Arguments
}

func (r forIssuer) GetGrantedAudience() fosite.Arguments { return r.aud }

var _ oauth2.CoreStrategy = (*accessTokenFormats)(nil)

func (s *accessTokenFormats) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if issuesJWT(r.GetClient()) {
		return s.jwt.GenerateAccessToken(ctx, forIssuer{r, fosite.Arguments{s.issuer}})
	}
	return s.HMACSHAStrategy.GenerateAccessToken(ctx, r)
}

// issuesJWT: access tokens are JWTs unless the client asked for opaque ones.
func issuesJWT(c fosite.Client) bool {
	cl, ok := c.(*client)
	return !ok || cl.AccessTokenFormat != "opaque"
}

func (s *accessTokenFormats) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		return s.jwt.ValidateAccessToken(ctx, r, token)
	}
	return s.HMACSHAStrategy.ValidateAccessToken(ctx, r, token)
}

func (s *accessTokenFormats) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return s.jwt.AccessTokenSignature(ctx, token)
	}
	return s.HMACSHAStrategy.AccessTokenSignature(ctx, token)
}

// isJWT: opaque tokens are "<random>.<signature>", a JWT has three parts.
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// secretHasher adapts the client-secret verifier to fosite.Hasher. Client
// secrets are long random values, so a keyed SHA-256 compared in constant
// time is as safe as bcrypt here and thousands of times faster.
type secretHasher struct{ v SecretVerifier }

func (h secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if h.v == nil || len(data) > clients.MaxSecretLen || !h.v.Verify(string(data), string(hash)) {
		return fosite.ErrNotFound // fosite answers invalid_client
	}
	return nil
}

func (h secretHasher) Hash(context.Context, []byte) ([]byte, error) {
	return nil, fosite.ErrServerError.WithHint("client secrets are hashed when clients are created")
}
