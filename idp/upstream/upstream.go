package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Store is the slice of storage upstream sign-in uses.
type Store interface {
	storage.UpstreamConnections
	storage.ExternalIdentities
	storage.Users
	storage.Organizations
	storage.Memberships
	storage.MFA  // sign-in state (MFAChallenge) and passkeys (another way to sign in)
	storage.SAML // the domains an organization proved (MT-06, MT-07)
	storage.Transactions
}

// Sealer encrypts upstream client secrets at rest.
type Sealer interface {
	Seal(plaintext []byte, context string) []byte
	Open(sealed []byte, context string) ([]byte, error)
}

// Authorizations resumes a pending authorization once the person signed
// in (authz.Provider).
type Authorizations interface {
	CompleteLogin(ctx context.Context, id string) (next string, err error)
}

// SecondFactor takes over a sign-in whose first factor passed, when the
// person has a second factor or must set one up (mfa.Service).
type SecondFactor interface {
	// Begin returns handled=false when no second factor is needed: the
	// caller starts the session. Otherwise it has answered (a redirect).
	Begin(c *gin.Context, userID string, amr []string, challenge, next string) (handled bool, err error)
}

// Options configure upstream sign-in.
type Options struct {
	// Issuer is Foyer's public base URL: callback URLs start with it.
	Issuer         string
	Store          Store
	Sealer         Sealer
	Sessions       *session.Manager
	Authorizations Authorizations
	// SecondFactor, when set, is asked after every upstream sign-in
	// through a connection not marked multi-factor.
	SecondFactor SecondFactor
	// Templates holds the page templates (templates.FS).
	Templates fs.FS
	// HandleKey (32 bytes) keys the hashes of state handles.
	HandleKey []byte
	// SignupOpen lets a first sign-in through a global connection create
	// an account.
	SignupOpen bool
	// Static are the connections of the configuration file, kept in
	// memory (their secrets sealed by New); stored ones are added through
	// CreateConnection.
	Static []NewConnection
	// AllowPrivateNetworks lets organizations' connections reach loopback
	// and private addresses (development and tests). Global connections,
	// which only Foyer's operators configure, always may.
	AllowPrivateNetworks bool
	// Limiter, when set, applies StartPolicy per client IP to sign-in
	// starts (ratelimit.Policies.SSOStartIP).
	Limiter     *ratelimit.Limiter
	StartPolicy ratelimit.Policy
	// Audit records sign-ins, refusals and links (nil: nothing).
	Audit  *audit.Recorder
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is upstream sign-in through every connection.
type Service struct {
	o         Options
	static    map[string]storage.UpstreamConnection
	order     []string // static IDs in configuration order
	errorPage *render.Template[render.ErrorPage]
	linkPage  *render.Template[render.UpstreamLinkPage]

	mu        sync.Mutex
	providers map[string]cachedProvider // discovery results by connection ID
}

// New checks the options, the configured connections and the pages.
func New(o Options) (*Service, error) {
	switch {
	case o.Issuer == "" || o.Store == nil || o.Sealer == nil || o.Sessions == nil || o.Authorizations == nil || o.Templates == nil:
		return nil, errors.New("upstream: Issuer, Store, Sealer, Sessions, Authorizations and Templates are required")
	case len(o.HandleKey) < 32:
		return nil, errors.New("upstream: HandleKey must be at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Issuer = strings.TrimSuffix(o.Issuer, "/")
	s := &Service{o: o, static: map[string]storage.UpstreamConnection{}, providers: map[string]cachedProvider{}}
	for i, in := range o.Static {
		c, err := s.prepare(in)
		if err != nil {
			return nil, fmt.Errorf("upstream: connection %d (%s): %w", i, in.ID, err)
		}
		if _, dup := s.static[c.ID]; dup {
			return nil, fmt.Errorf("upstream: connection %s is configured twice", c.ID)
		}
		s.static[c.ID] = c
		s.order = append(s.order, c.ID)
	}
	var err error
	if s.errorPage, err = render.ParsePage[render.ErrorPage](o.Templates, "error.html"); err != nil {
		return nil, err
	}
	if s.linkPage, err = render.ParsePage[render.UpstreamLinkPage](o.Templates, "upstream_link.html"); err != nil {
		return nil, err
	}
	return s, nil
}

// Mapping is how an OpenID provider's claims become Foyer's; empty names
// mean the standard claims. The verified flag is read from the same
// claims as the address (the ID token's, or else userinfo's).
type Mapping struct {
	EmailClaim         string `json:"email_claim,omitempty"`
	EmailVerifiedClaim string `json:"email_verified_claim,omitempty"`
	NameClaim          string `json:"name_claim,omitempty"`
}

// NewConnection is a connection as an admin or the configuration file
// gives it.
type NewConnection struct {
	// ID is chosen by the configuration file (ups_…); empty means a new
	// random one.
	ID string
	// OrgID is the organization's ID; OrgSlug, for a configured
	// connection, names it instead (looked up at each sign-in). Both
	// empty: a global connection.
	OrgID, OrgSlug string
	Type           string // storage.UpstreamOIDC or storage.UpstreamGitHub
	Name           string
	// Issuer is the OpenID provider's issuer or its discovery URL
	// (…/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// AuthURL, TokenURL and APIURL replace github.com's endpoints.
	AuthURL, TokenURL, APIURL string
	Mapping                   Mapping
	MultiFactor               bool
	LinkByEmail               bool
}

// FieldError is bad input about one field, safe to show.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldMessage makes FieldError readable by the admin API and the CLI.
func (e *FieldError) FieldMessage() (field, message string) { return e.Field, e.Message }

// discoverySuffix ends a discovery URL; the issuer is what comes before.
const discoverySuffix = "/.well-known/openid-configuration"

// Check reports the first problem of in (a *FieldError), as
// CreateConnection and New would.
func Check(in NewConnection) error {
	_, err := normalize(in)
	return err
}

// normalize checks in and fills in the defaults.
func normalize(in NewConnection) (NewConnection, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Issuer = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(in.Issuer), discoverySuffix), "/")
	switch {
	case in.ID != "" && !validID(in.ID):
		return in, &FieldError{"id", "must be ups_ followed by 1 to 60 lowercase letters, digits or _"}
	case in.Type != storage.UpstreamOIDC && in.Type != storage.UpstreamGitHub:
		return in, &FieldError{"type", `must be "oidc" or "github"`}
	case in.Name == "" || len(in.Name) > 100:
		return in, &FieldError{"name", "must be 1 to 100 characters"}
	case in.ClientID == "" || len(in.ClientID) > 256:
		return in, &FieldError{"client_id", "must be 1 to 256 characters"}
	case in.ClientSecret == "" || len(in.ClientSecret) > 1024:
		return in, &FieldError{"client_secret", "must be 1 to 1024 characters"}
	}
	if in.Type == storage.UpstreamOIDC {
		if in.AuthURL != "" || in.TokenURL != "" || in.APIURL != "" {
			return in, &FieldError{"auth_url", "is for GitHub connections; an OpenID provider's endpoints come from discovery"}
		}
		if err := checkURL("issuer", in.Issuer, true); err != nil {
			return in, err
		}
		if len(in.Scopes) == 0 {
			in.Scopes = []string{"openid", "email", "profile"}
		}
		if !slices.Contains(in.Scopes, "openid") {
			return in, &FieldError{"scopes", `must include "openid"`}
		}
	} else {
		if in.Issuer != "" {
			return in, &FieldError{"issuer", "is for OpenID connections"}
		}
		for _, f := range []struct{ name, v string }{{"auth_url", in.AuthURL}, {"token_url", in.TokenURL}, {"api_url", in.APIURL}} {
			if err := checkURL(f.name, f.v, false); err != nil {
				return in, err
			}
		}
		if in.Mapping != (Mapping{}) {
			return in, &FieldError{"mapping", "is for OpenID connections"}
		}
		if len(in.Scopes) == 0 {
			in.Scopes = []string{"read:user", "user:email"}
		}
	}
	if len(in.Scopes) > 20 {
		return in, &FieldError{"scopes", "are at most 20"}
	}
	for _, sc := range in.Scopes {
		if sc == "" || len(sc) > 100 || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }) {
			return in, &FieldError{"scopes", fmt.Sprintf("%q is not a scope", sc)}
		}
	}
	for _, cl := range []string{in.Mapping.EmailClaim, in.Mapping.EmailVerifiedClaim, in.Mapping.NameClaim} {
		if len(cl) > 100 {
			return in, &FieldError{"mapping", "claim names are at most 100 characters"}
		}
	}
	return in, nil
}

func validID(id string) bool {
	rest, ok := strings.CutPrefix(id, storage.PrefixUpstreamConnection)
	return ok && rest != "" && len(rest) <= 60 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// checkURL wants an absolute https URL without user info or fragment
// (http for loopback only); "" is fine unless required.
func checkURL(field, raw string, required bool) error {
	if raw == "" && !required {
		return nil
	}
	bad := &FieldError{field, "must be an https URL"}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" || len(raw) > 2048 {
		return bad
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return bad
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func sealContext(connectionID string) string {
	return "foyer upstream client secret v1 " + connectionID
}

// prepare checks in and makes the record, its secret sealed.
func (s *Service) prepare(in NewConnection) (storage.UpstreamConnection, error) {
	in, err := normalize(in)
	if err != nil {
		return storage.UpstreamConnection{}, err
	}
	mapping, err := json.Marshal(in.Mapping)
	if err != nil {
		return storage.UpstreamConnection{}, err
	}
	if in.Mapping == (Mapping{}) {
		mapping = nil
	}
	now := s.o.Now()
	c := storage.UpstreamConnection{
		ID: in.ID, OrgID: in.OrgID, Type: in.Type, Name: in.Name, Issuer: in.Issuer,
		ClientID: in.ClientID, Scopes: in.Scopes, AuthURL: in.AuthURL, TokenURL: in.TokenURL, APIURL: in.APIURL,
		Mapping: mapping, MultiFactor: in.MultiFactor, LinkByEmail: in.LinkByEmail, CreatedAt: now, UpdatedAt: now,
	}
	if c.ID == "" {
		c.ID = storage.NewID(storage.PrefixUpstreamConnection)
	}
	if in.OrgSlug != "" {
		c.OrgID = orgSlugMarker + in.OrgSlug
	}
	c.ClientSecret = s.o.Sealer.Seal([]byte(in.ClientSecret), sealContext(c.ID))
	return c, nil
}

// orgSlugMarker starts the OrgID of a configured connection that names its
// organization by slug; resolve replaces it at use.
const orgSlugMarker = "slug:"

// CreateConnection checks in, seals its secret and stores it.
func (s *Service) CreateConnection(ctx context.Context, in NewConnection) (storage.UpstreamConnection, error) {
	in.ID, in.OrgSlug = "", ""
	c, err := s.prepare(in)
	if err != nil {
		return c, err
	}
	return s.o.Store.CreateUpstreamConnection(ctx, c)
}

// Connections lists the configured connections, then the stored ones.
// Configured connections naming their organization by slug are resolved
// (and left out, with a warning, while it does not exist).
func (s *Service) Connections(ctx context.Context) ([]Connection, error) {
	var out []Connection
	for _, id := range s.order {
		c, err := s.resolve(ctx, s.static[id])
		if errors.Is(err, storage.ErrNotFound) {
			s.o.Logger.WarnContext(ctx, "upstream: configured connection skipped", "connection", id, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Connection{UpstreamConnection: c, Configured: true})
	}
	stored, err := s.o.Store.ListUpstreamConnections(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range stored {
		if _, shadowed := s.static[c.ID]; !shadowed {
			out = append(out, Connection{UpstreamConnection: c})
		}
	}
	return out, nil
}

// Connection is a connection and where it comes from.
type Connection struct {
	storage.UpstreamConnection
	// Configured: from the configuration file, so not deletable.
	Configured bool
}

// ErrConfigured: a connection of the configuration file cannot be deleted
// through the API.
var ErrConfigured = errors.New("the connection is in the configuration file")

// Get returns connection id, configured or stored; storage.ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Connection, error) {
	if c, ok := s.static[id]; ok {
		c, err := s.resolve(ctx, c)
		return Connection{UpstreamConnection: c, Configured: true}, err
	}
	c, err := s.o.Store.GetUpstreamConnection(ctx, id)
	return Connection{UpstreamConnection: c}, err
}

// DeleteConnection removes a stored connection with the links of people
// to it; their accounts stay.
func (s *Service) DeleteConnection(ctx context.Context, id string) error {
	if _, ok := s.static[id]; ok {
		return ErrConfigured
	}
	return s.o.Store.DeleteUpstreamConnection(ctx, id)
}

// resolve replaces a configured connection's organization slug by the
// organization's ID; an organization that does not exist is
// storage.ErrNotFound.
func (s *Service) resolve(ctx context.Context, c storage.UpstreamConnection) (storage.UpstreamConnection, error) {
	slug, ok := strings.CutPrefix(c.OrgID, orgSlugMarker)
	if !ok {
		return c, nil
	}
	o, err := s.o.Store.GetOrganizationBySlug(ctx, slug)
	if err != nil {
		return c, fmt.Errorf("organization %q of connection %s: %w", slug, c.ID, err)
	}
	c.OrgID = o.ID
	return c, nil
}

// CallbackURL is where connection id's upstream sends people back: the
// redirect URI to register there.
func (s *Service) CallbackURL(id string) string {
	return s.o.Issuer + "/login/upstream/" + id + "/callback"
}

// StartPath is where a sign-in through connection id begins, resuming the
// authorization challenge (if any) afterwards.
func StartPath(id, challenge string) string {
	p := "/login/upstream/" + url.PathEscape(id) + "/start"
	if challenge != "" {
		p += "?" + url.Values{"challenge": {challenge}}.Encode()
	}
	return p
}

// LoginButtons are the "Continue with …" buttons of the sign-in page: the
// global connections (signin.Connections); the page adds its challenge.
// Organizations' connections are reached through their sign-in links or
// the authorization's connection parameter.
func (s *Service) LoginButtons(ctx context.Context) ([]render.ConnectionButton, error) {
	conns, err := s.Connections(ctx)
	if err != nil {
		return nil, err
	}
	var out []render.ConnectionButton
	for _, c := range conns {
		if c.OrgID == "" {
			out = append(out, render.ConnectionButton{Name: c.Name, Action: StartPath(c.ID, "")})
		}
	}
	return out, nil
}

// MappingOf reads the connection's claim mapping.
func (c Connection) MappingOf() Mapping {
	var m Mapping
	if len(c.Mapping) > 0 {
		json.Unmarshal(c.Mapping, &m) // written by prepare from the same struct
	}
	return m
}
