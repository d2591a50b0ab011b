package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/storage"
)

// client adapts a storage.Client to fosite's client interfaces.
type client struct {
	storage.Client
	jwks *jose3.JSONWebKeySet
}

var (
	_ fosite.Client              = (*client)(nil)
	_ fosite.OpenIDConnectClient = (*client)(nil)
	_ fosite.ResponseModeClient  = (*client)(nil)
)

func newClient(c storage.Client) (*client, error) {
	out := &client{Client: c}
	if len(c.JWKS) > 0 {
		out.jwks = new(jose3.JSONWebKeySet)
		if err := json.Unmarshal(c.JWKS, out.jwks); err != nil {
			return nil, fmt.Errorf("client %s: jwks: %w", c.ID, err)
		}
	}
	return out, nil
}

func (c *client) GetID() string                   { return c.ID }
func (c *client) GetHashedSecret() []byte         { return []byte(c.SecretHash) }
func (c *client) GetRedirectURIs() []string       { return c.RedirectURIs }
func (c *client) GetGrantTypes() fosite.Arguments { return c.GrantTypes }
func (c *client) GetScopes() fosite.Arguments     { return c.Scopes }
func (c *client) IsPublic() bool                  { return c.Public }
func (c *client) GetAudience() fosite.Arguments   { return nil }

// GetResponseTypes: Foyer supports the authorization code flow only (no
// implicit or hybrid: RFC 9700 §2.1.2).
func (c *client) GetResponseTypes() fosite.Arguments {
	if c.hasGrant("authorization_code") {
		return fosite.Arguments{"code"}
	}
	return nil
}

func (c *client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, fosite.ResponseModeFormPost}
}

func (c *client) GetRequestURIs() []string                 { return nil }
func (c *client) GetJSONWebKeys() *jose3.JSONWebKeySet     { return c.jwks }
func (c *client) GetJSONWebKeysURI() string                { return "" }
func (c *client) GetRequestObjectSigningAlgorithm() string { return "" }

// GetTokenEndpointAuthSigningAlgorithm is the algorithm of the client's
// registered assertion key; fosite refuses assertions signed otherwise.
func (c *client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.jwks == nil || len(c.jwks.Keys) == 0 {
		return "RS256"
	}
	k := c.jwks.Keys[0]
	if k.Algorithm != "" {
		return k.Algorithm
	}
	switch k.Key.(type) {
	case *ecdsa.PublicKey:
		return "ES256"
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return "RS256"
}
func (c *client) GetTokenEndpointAuthMethod() string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Public:
		return "none"
	}
	return "client_secret_basic"
}

func (c *client) hasGrant(g string) bool {
	for _, have := range c.GrantTypes {
		if have == g {
			return true
		}
	}
	return false
}

// getClient loads a client for fosite; an unknown one is fosite.ErrNotFound,
// which fosite answers with invalid_client.
func getClient(ctx context.Context, clients storage.Clients, id string) (*client, error) {
	c, err := clients.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return newClient(c)
}
