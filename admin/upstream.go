package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Upstream creates, lists and deletes upstream connections with the rules
// of idp/upstream (checked, the client secret sealed), through cmd: admin
// may not import it. Bad input is an error with a FieldMessage method; a
// missing connection wraps storage.ErrNotFound; ErrConfiguredConnection
// refuses deleting one of the configuration file.
type Upstream interface {
	Create(ctx context.Context, in NewUpstreamConnection) (UpstreamConnection, error)
	// List lists every connection, configured ones first.
	List(ctx context.Context) ([]UpstreamConnection, error)
	Get(ctx context.Context, id string) (UpstreamConnection, error)
	Delete(ctx context.Context, id string) error
}

// ErrConfiguredConnection: the connection is in the configuration file.
var ErrConfiguredConnection = errors.New("the connection is in the configuration file")

// UpstreamMapping names the claims an OpenID provider uses for the
// address, its verified flag and the name, when not the standard ones.
type UpstreamMapping struct {
	EmailClaim         string `json:"email_claim,omitempty"`
	EmailVerifiedClaim string `json:"email_verified_claim,omitempty"`
	NameClaim          string `json:"name_claim,omitempty"`
}

// NewUpstreamConnection is the body of POST …/upstream-connections and the
// input of Upstream.Create. client_secret is write-only: no answer ever
// carries it.
type NewUpstreamConnection struct {
	OrgID        string          `json:"-"` // from the path; "" for a global connection
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Issuer       string          `json:"issuer,omitempty"`
	ClientID     string          `json:"client_id"`
	ClientSecret string          `json:"client_secret"`
	Scopes       []string        `json:"scopes,omitempty"`
	AuthURL      string          `json:"auth_url,omitempty"`
	TokenURL     string          `json:"token_url,omitempty"`
	APIURL       string          `json:"api_url,omitempty"`
	Mapping      UpstreamMapping `json:"mapping,omitempty"`
	MultiFactor  bool            `json:"multi_factor,omitempty"`
	LinkByEmail  bool            `json:"link_by_email,omitempty"`
}

// UpstreamConnection is a connection as the API and the CLI show it:
// never its client secret. callback_url is the redirect URI to register
// at the provider.
type UpstreamConnection struct {
	ID          string          `json:"id"`
	OrgID       string          `json:"org_id,omitempty"`
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Issuer      string          `json:"issuer,omitempty"`
	ClientID    string          `json:"client_id"`
	Scopes      []string        `json:"scopes"`
	AuthURL     string          `json:"auth_url,omitempty"`
	TokenURL    string          `json:"token_url,omitempty"`
	APIURL      string          `json:"api_url,omitempty"`
	Mapping     UpstreamMapping `json:"mapping"`
	MultiFactor bool            `json:"multi_factor"`
	LinkByEmail bool            `json:"link_by_email"`
	// Configured: from the configuration file (not deletable here).
	Configured  bool      `json:"configured"`
	CallbackURL string    `json:"callback_url"`
	CreatedAt   time.Time `json:"created_at"`
}

func (a *API) upstreamEnabled(c *gin.Context) bool {
	if a.upstream == nil {
		notFound(c, "upstream connection")
		return false
	}
	return true
}

// listUpstreamConnections lists every connection a Foyer admin may see;
// an organization admin sees their organizations' only.
func (a *API) listUpstreamConnections(c *gin.Context) {
	if !a.upstreamEnabled(c) {
		return
	}
	a.writeUpstreamList(c, func(u UpstreamConnection) bool {
		k := callerOf(c)
		return k.instance || (u.OrgID != "" && k.seesOrg(u.OrgID))
	})
}

func (a *API) writeUpstreamList(c *gin.Context, keep func(UpstreamConnection) bool) {
	all, err := a.upstream.List(c.Request.Context())
	if err != nil {
		a.fail(c, "list upstream connections", err)
		return
	}
	out := List[UpstreamConnection]{Items: []UpstreamConnection{}}
	for _, u := range all {
		if keep(u) {
			out.Items = append(out.Items, u)
		}
	}
	total := len(out.Items)
	out.Total = &total
	c.JSON(http.StatusOK, out)
}

// createUpstreamConnection makes a global connection (Foyer admins).
func (a *API) createUpstreamConnection(c *gin.Context) {
	var req NewUpstreamConnection
	if !a.upstreamEnabled(c) || !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	req.OrgID = ""
	a.writeCreatedUpstream(c, req)
}

func (a *API) writeCreatedUpstream(c *gin.Context, req NewUpstreamConnection) {
	var conn UpstreamConnection
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		if conn, err = a.upstream.Create(ctx, req); err != nil {
			return err
		}
		return a.record(ctx, a.upstreamEntry(c, AuditUpstreamConnectionCreated, conn), nil, upstreamFields(conn))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization") // deleted meanwhile
		return
	}
	if err != nil {
		a.fail(c, "create upstream connection", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: upstream connection created", "connection", conn.ID, "org_id", conn.OrgID,
		"by", callerOf(c).token.Subject)
	c.Header("Location", Prefix+"/upstream-connections/"+conn.ID)
	c.JSON(http.StatusCreated, conn)
}

func (a *API) listOrgUpstreamConnections(c *gin.Context) {
	if !a.upstreamEnabled(c) {
		return
	}
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	a.writeUpstreamList(c, func(u UpstreamConnection) bool { return u.OrgID == o.ID })
}

func (a *API) createOrgUpstreamConnection(c *gin.Context) {
	if !a.upstreamEnabled(c) {
		return
	}
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req NewUpstreamConnection
	if !ok || !decode(c, &req) {
		return
	}
	req.OrgID = o.ID
	a.writeCreatedUpstream(c, req)
}

// visibleUpstream reads the connection of the path if the caller may see
// it: a global one for Foyer admins only, an organization's for its
// admins too; anything else is 404, as a missing one (AD-02).
func (a *API) visibleUpstream(c *gin.Context) (UpstreamConnection, bool) {
	if !a.upstreamEnabled(c) {
		return UpstreamConnection{}, false
	}
	k := callerOf(c)
	conn, err := a.upstream.Get(c.Request.Context(), c.Param("connection_id"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !k.instance && (conn.OrgID == "" || !k.seesOrg(conn.OrgID))) {
		notFound(c, "upstream connection")
		return conn, false
	}
	if err != nil {
		a.fail(c, "get upstream connection", err)
		return conn, false
	}
	return conn, true
}

func (a *API) getUpstreamConnection(c *gin.Context) {
	if conn, ok := a.visibleUpstream(c); ok {
		c.JSON(http.StatusOK, conn)
	}
}

func (a *API) deleteUpstreamConnection(c *gin.Context) {
	conn, ok := a.visibleUpstream(c)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		if err := a.upstream.Delete(ctx, conn.ID); err != nil {
			return err
		}
		return a.record(ctx, a.upstreamEntry(c, AuditUpstreamConnectionDeleted, conn), upstreamFields(conn), nil)
	})
	switch {
	case errors.Is(err, ErrConfiguredConnection):
		abort(c, http.StatusConflict, "This connection is in Foyer's configuration file; remove it there.")
		return
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "upstream connection")
		return
	case err != nil:
		a.fail(c, "delete upstream connection", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: upstream connection deleted", "connection", conn.ID, "by", callerOf(c).token.Subject)
	c.Status(http.StatusNoContent)
}
