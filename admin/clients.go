package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Clients registers OAuth clients with the rules of `foyer clients create`
// (authz/clients.Registrar, through cmd). Bad input is an error with a
// FieldMessage method; a missing client wraps storage.ErrNotFound.
type Clients interface {
	// Create returns the stored client and its plaintext secret, the only
	// time the secret exists outside its hash ("" for a client without).
	Create(ctx context.Context, in NewClient) (storage.Client, string, error)
	List(ctx context.Context, p storage.Page) ([]storage.Client, error)
	Get(ctx context.Context, id string) (storage.Client, error)
	Update(ctx context.Context, id string, ch ClientChanges) (storage.Client, error)
	Delete(ctx context.Context, id string) error
}

// NewClient is the body of POST /clients and the input of Clients.Create:
// the options of `foyer clients create`.
type NewClient struct {
	ID                      string          `json:"client_id,omitempty"`
	Name                    string          `json:"name"`
	Secret                  string          `json:"secret,omitempty"`
	Public                  bool            `json:"public,omitempty"`
	RedirectURIs            []string        `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes              []string        `json:"grant_types"`
	Scopes                  []string        `json:"scopes,omitempty"`
	FirstParty              bool            `json:"first_party,omitempty"`
	AccessTokenFormat       string          `json:"access_token_format,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	RequirePKCE             bool            `json:"require_pkce,omitempty"`
	RequirePAR              bool            `json:"require_par,omitempty"`
	ApplicationType         string          `json:"application_type,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	// RequireOrganization: sign-in refuses a person who belongs to no
	// organization.
	RequireOrganization bool `json:"require_organization,omitempty"`
}

// ClientChanges is the body of PATCH /clients/{id}: an absent (or null)
// field keeps its value; the result is validated as a new client is.
type ClientChanges struct {
	Name                   *string   `json:"name,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	Scopes                 *[]string `json:"scopes,omitempty"`
	RequireOrganization    *bool     `json:"require_organization,omitempty"`
}

// Client is an OAuth client as the API and the CLI show it: never the
// secret hash. ClientSecret is set when the client is created only. The
// names are RFC 7591's (client_id, client_secret).
type Client struct {
	ID                      string          `json:"client_id"`
	ClientSecret            string          `json:"client_secret,omitempty"`
	Name                    string          `json:"name"`
	Public                  bool            `json:"public"`
	RedirectURIs            []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	GrantTypes              []string        `json:"grant_types"`
	Scopes                  []string        `json:"scopes"`
	FirstParty              bool            `json:"first_party"`
	AccessTokenFormat       string          `json:"access_token_format"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	RequirePKCE             bool            `json:"require_pkce"`
	RequirePAR              bool            `json:"require_par"`
	ApplicationType         string          `json:"application_type"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"` // public keys only
	RequireOrganization     bool            `json:"require_organization"`
	CreatedAt               time.Time       `json:"created_at"`
	UpdatedAt               time.Time       `json:"updated_at"`
}

// ClientView is c as the API and the CLI show it.
func ClientView(c storage.Client) Client {
	v := Client{
		ID: c.ID, Name: c.Name, Public: c.Public,
		RedirectURIs: orEmpty(c.RedirectURIs), PostLogoutRedirectURIs: orEmpty(c.PostLogoutRedirectURIs),
		GrantTypes: orEmpty(c.GrantTypes), Scopes: orEmpty(c.Scopes), FirstParty: c.FirstParty,
		AccessTokenFormat: c.AccessTokenFormat, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		RequirePKCE: c.RequirePKCE, RequirePAR: c.RequirePAR, ApplicationType: c.ApplicationType,
		RequireOrganization: c.RequireOrganization, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if json.Valid(c.JWKS) {
		v.JWKS = c.JWKS
	}
	return v
}

// orEmpty encodes an absent list as [], not null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Clients are the instance's, not an organization's: every route is for
// Foyer admins and machines only.

func (a *API) listClients(c *gin.Context) {
	if !instanceOnly(c, callerOf(c)) {
		return
	}
	p, err := a.page(c)
	if err != nil {
		a.fail(c, "list clients", err)
		return
	}
	cs, err := a.clients.List(c.Request.Context(), p)
	if err != nil {
		a.fail(c, "list clients", err)
		return
	}
	out := List[Client]{Items: make([]Client, 0, len(cs))}
	for _, cl := range cs {
		out.Items = append(out.Items, ClientView(cl))
	}
	if len(cs) > 0 {
		out.NextCursor = a.next(p, len(cs), cs[len(cs)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) getClient(c *gin.Context) {
	if !instanceOnly(c, callerOf(c)) {
		return
	}
	cl, err := a.clients.Get(c.Request.Context(), c.Param("id"))
	if a.clientFailed(c, "get client", err) {
		return
	}
	c.JSON(http.StatusOK, ClientView(cl))
}

func (a *API) createClient(c *gin.Context) {
	var req NewClient
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	var cl storage.Client
	var secret string
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		if cl, secret, err = a.clients.Create(ctx, req); err != nil {
			return err
		}
		// The view has no secret, and neither has the entry.
		return a.record(ctx, a.entry(c, AuditClientCreated, TargetClient, cl.ID), nil, clientFields(cl))
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "A client with that ID exists."})
		return
	}
	if err != nil {
		a.fail(c, "create client", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: client created", "client_id", cl.ID, "by", callerOf(c).token.Subject)
	v := ClientView(cl)
	v.ClientSecret = secret
	c.Header("Location", Prefix+"/clients/"+cl.ID)
	c.Header("Cache-Control", "no-store") // the secret
	c.JSON(http.StatusCreated, v)
}

func (a *API) updateClient(c *gin.Context) {
	var req ClientChanges
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	var cl storage.Client
	err := a.inTx(c, func(ctx context.Context) error {
		before, err := a.clients.Get(ctx, c.Param("id"))
		if err != nil {
			return err
		}
		if cl, err = a.clients.Update(ctx, before.ID, req); err != nil {
			return err
		}
		return a.record(ctx, a.entry(c, AuditClientUpdated, TargetClient, cl.ID), clientFields(before), clientFields(cl))
	})
	if a.clientFailed(c, "update client", err) {
		return
	}
	c.JSON(http.StatusOK, ClientView(cl))
}

func (a *API) deleteClient(c *gin.Context) {
	if !instanceOnly(c, callerOf(c)) {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		before, err := a.clients.Get(ctx, c.Param("id"))
		if err != nil {
			return err
		}
		if err := a.clients.Delete(ctx, before.ID); err != nil {
			return err
		}
		return a.record(ctx, a.entry(c, AuditClientDeleted, TargetClient, before.ID), clientFields(before), nil)
	})
	if a.clientFailed(c, "delete client", err) {
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: client deleted", "client_id", c.Param("id"), "by", callerOf(c).token.Subject)
	c.Status(http.StatusNoContent)
}

// clientFailed answers err, if any: 404 for a client that does not exist.
func (a *API) clientFailed(c *gin.Context, op string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "client")
	default:
		a.fail(c, op, err)
	}
	return true
}
