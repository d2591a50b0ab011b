package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/storage"
)

// Prefix is where cmd mounts the API.
const Prefix = "/admin/v1"

// maxBodyBytes bounds a request body: every resource here is a few
// hundred bytes, so 64 KiB is generous and a flood is cut short.
const maxBodyBytes = 64 << 10

// Store is the slice of storage the API reads and writes.
type Store interface {
	storage.Users
	storage.Organizations
	storage.Roles
	storage.Memberships
	storage.BrowserSessions
	storage.Invitations
	storage.SAML
	storage.Events
	storage.AuditLog
	storage.Transactions
	RevokeUserGrants(ctx context.Context, subject string, until time.Time) (int64, error)
}

// Tokens verifies bearer tokens; authz.Provider does, through cmd.
type Tokens interface {
	// VerifyAccessToken returns who holds a live Foyer access token;
	// ErrInvalidToken when the token is not one, any other error for an
	// outage.
	VerifyAccessToken(ctx context.Context, token string) (AccessToken, error)
}

// ErrInvalidToken is what Tokens returns for a token it does not accept.
var ErrInvalidToken = errors.New("invalid access token")

// AccessToken is the bearer of a verified token.
type AccessToken struct {
	Subject  string
	ClientID string
	UserID   string // empty for a machine (client credentials)
	OrgID    string // the organization chosen at sign-in, if any
	Scopes   []string
}

// Directory creates users and organizations with the rules (validation,
// password policy) of the identity package, which admin may not import.
// Bad input is an error with a FieldMessage method.
type Directory interface {
	// PrepareUser checks u and hashes its password, storing nothing;
	// StoreUser stores the result (in the caller's transaction, with the
	// audit entry, which so waits on no hashing).
	PrepareUser(u NewUser) (storage.User, error)
	StoreUser(ctx context.Context, u storage.User) (storage.User, error)
	CreateOrganization(ctx context.Context, o NewOrganization) (storage.Organization, error)
	// CheckBranding checks an organization's logo URL and brand colour,
	// either of which may be empty, as CreateOrganization does.
	CheckBranding(logoURL, brandColor string) error
}

// NewOrganization is the input of Directory.CreateOrganization.
type NewOrganization struct {
	Slug       string
	Name       string
	LogoURL    string // optional
	BrandColor string // optional; stored lowercase
	RequireMFA bool
}

// NewUser is the input of Directory.CreateUser.
type NewUser struct {
	Email         string
	Name          string
	Password      string // optional
	EmailVerified bool
	Admin         bool
}

// Options configure the API. cmd fills them.
type Options struct {
	Store     Store
	Tokens    Tokens
	Directory Directory
	Clients   Clients
	Keys      Keys
	// SAML creates and changes SAML connections (saml.go).
	SAML SAML
	// Upstream, when set, creates, lists and deletes upstream connections
	// (upstream.go); unset, their routes answer 404.
	Upstream Upstream
	// LookupTXT reads the TXT records that verify a SAML connection's
	// domains (default net.DefaultResolver.LookupTXT).
	LookupTXT LookupTXT
	// CursorKey (32 bytes, purpose-bound) MACs list cursors so a forged
	// one is refused (AD-05).
	CursorKey []byte
	// Invitations sends invitation emails (invitations.go).
	Invitations InvitationOptions
	// Audit records every change in the change's transaction (AD-07);
	// nil records nothing.
	Audit *audit.Recorder
	// WebhookSealer seals the signing secrets of webhook endpoints; the
	// events worker opens them with the same key (webhooks.go).
	WebhookSealer events.Sealer
	// AllowPrivateWebhookURLs admits plain http and internal addresses
	// as webhook URLs: development only.
	AllowPrivateWebhookURLs bool
	Logger                  *slog.Logger
	Now                     func() time.Time // default time.Now
}

// API serves /admin/v1.
type API struct {
	store   Store
	tokens  Tokens
	dir     Directory
	clients Clients
	keys    Keys
	saml    SAML
	// upstream is nil when upstream sign-in is not wired.
	upstream Upstream
	// lookupTXT reads DNS TXT records (domain verification).
	lookupTXT LookupTXT
	cursors   cursorCodec
	log       *slog.Logger
	now       func() time.Time
	openapi   []byte

	inviter *Inviter
	// audit records administrative changes; nil records nothing.
	audit *audit.Recorder
	// sealer seals webhook secrets.
	sealer               events.Sealer
	allowPrivateWebhooks bool
}

// New builds the API.
func New(o Options) (*API, error) {
	if o.Store == nil || o.Tokens == nil || o.Directory == nil || o.Clients == nil || o.Keys == nil || o.SAML == nil || len(o.CursorKey) < 32 {
		return nil, errors.New("admin: Store, Tokens, Directory, Clients, Keys, SAML and a 32-byte CursorKey are required")
	}
	if o.WebhookSealer == nil {
		return nil, errors.New("admin: WebhookSealer is required")
	}
	if o.LookupTXT == nil {
		o.LookupTXT = net.DefaultResolver.LookupTXT
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &API{store: o.Store, tokens: o.Tokens, dir: o.Directory, clients: o.Clients, keys: o.Keys, saml: o.SAML, upstream: o.Upstream, lookupTXT: o.LookupTXT, cursors: cursorCodec{key: o.CursorKey},
		log: o.Logger, now: o.Now}
	inviter, err := NewInviter(o.Store, o.Invitations, o.Now)
	if err != nil {
		return nil, err
	}
	a.inviter = inviter
	a.audit, a.sealer, a.allowPrivateWebhooks = o.Audit, o.WebhookSealer, o.AllowPrivateWebhookURLs
	doc, err := openAPIDocument(routes())
	if err != nil {
		return nil, err
	}
	a.openapi = doc
	return a, nil
}

// Mount adds the API under Prefix on r, the API (non-browser) group.
func (a *API) Mount(r gin.IRouter) {
	g := r.Group(Prefix, limitBody)
	g.GET("/openapi.json", a.serveOpenAPI)
	authed := g.Group("", a.authenticate)
	for _, rt := range routes() {
		authed.Handle(rt.Method, rt.Path, a.handler(rt))
	}
}

// handler adapts a route's function to gin.
func (a *API) handler(rt route) gin.HandlerFunc {
	return func(c *gin.Context) { rt.Handle(a, c) }
}

func (a *API) serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", a.openapi)
}

// limitBody caps what a handler can read (io.ReadAll of a 1 GB body must
// not cost 1 GB).
func limitBody(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
}

func isUnavailable(err error) bool { return errors.Is(err, storage.ErrUnavailable) }
