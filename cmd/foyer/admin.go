package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/authz"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/idp"
	sso "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/storage"
)

// newAdminAPI wires the admin API to the provider's token check and the
// directory's validation, which admin may not import itself; invitations
// carry the mailer and the sign-in side's link tokens; SAML connections
// are made by the service provider sp, and their domains verified through
// lookupTXT (nil: the system resolver). Every change is recorded by
// hooks.audit; webhook secrets are sealed as the events worker opens them.
func newAdminAPI(store storage.Store, provider *authz.Provider, km *keys.Manager, key []byte, invitations admin.InvitationOptions,
	sp *sso.Service, lookupTXT admin.LookupTXT, log *slog.Logger, up admin.Upstream, hooks adminHooks) (*admin.API, error) {
	if lookupTXT == nil {
		lookupTXT = net.DefaultResolver.LookupTXT
	}
	// The worker's sealer, not the SAML keys' one: each purpose has its
	// own derived key, and the worker must open what the API seals.
	seal, err := webhookSealer(key)
	if err != nil {
		return nil, err
	}
	return admin.New(admin.Options{
		Store:     store,
		Tokens:    adminTokens{provider},
		Directory: adminDirectory{idp.NewDirectory(idp.Options{Store: store, Logger: log})},
		Clients:   adminClients{clients.NewRegistrar(store, clients.NewSecretHasher(clients.DeriveKey(key)), nil)},
		Keys:      adminKeys{km},
		SAML:      adminSAML{sp},
		Upstream:  up,
		LookupTXT: lookupTXT,
		CursorKey: deriveKey(key, "foyer admin cursor hmac v1"),
		Logger:    log,

		Invitations: invitations,

		Audit:                   hooks.audit,
		WebhookSealer:           seal,
		AllowPrivateWebhookURLs: hooks.allowPrivateWebhooks,
	})
}

// adminRecorder is the recorder of the admin API: the server's, unless a
// test wraps its audit log.
func adminRecorder(rec *audit.Recorder, log storage.AuditLog, s seams, now func() time.Time, logger *slog.Logger) *audit.Recorder {
	if s.auditLog == nil {
		return rec
	}
	return audit.New(s.auditLog(log), now, logger)
}

// adminHooks are the admin API's audit log and webhook URL policy.
type adminHooks struct {
	audit *audit.Recorder
	// allowPrivateWebhooks admits http and internal webhook URLs (--dev).
	allowPrivateWebhooks bool
}

// adminTokens adapts authz's access-token check to admin.Tokens.
type adminTokens struct{ p *authz.Provider }

func (t adminTokens) VerifyAccessToken(ctx context.Context, token string) (admin.AccessToken, error) {
	at, err := t.p.VerifyAccessToken(ctx, token)
	if errors.Is(err, authz.ErrInvalidToken) {
		return admin.AccessToken{}, admin.ErrInvalidToken
	}
	if err != nil {
		return admin.AccessToken{}, err
	}
	return admin.AccessToken{Subject: at.Subject, ClientID: at.ClientID, UserID: at.UserID, OrgID: at.OrgID, Scopes: at.Scopes}, nil
}

// adminDirectory adapts idp.Directory to admin.Directory; its
// *idp.FieldError has the FieldMessage method admin reads.
type adminDirectory struct{ d *idp.Directory }

func (d adminDirectory) PrepareUser(u admin.NewUser) (storage.User, error) {
	return d.d.PrepareUser(idp.NewUser{
		Email: u.Email, Name: u.Name, Password: u.Password, EmailVerified: u.EmailVerified, Admin: u.Admin,
	})
}

func (d adminDirectory) StoreUser(ctx context.Context, u storage.User) (storage.User, error) {
	return d.d.StoreUser(ctx, u)
}

func (d adminDirectory) CreateOrganization(ctx context.Context, o admin.NewOrganization) (storage.Organization, error) {
	return d.d.CreateOrganizationWith(ctx, idp.NewOrganization{
		Slug: o.Slug, Name: o.Name, LogoURL: o.LogoURL, BrandColor: o.BrandColor, RequireMFA: o.RequireMFA,
	})
}

func (d adminDirectory) CheckBranding(logoURL, brandColor string) error {
	if err := idp.ValidateLogoURL(logoURL); err != nil {
		return err
	}
	return idp.ValidateBrandColor(brandColor)
}

// adminClients adapts clients.Registrar to admin.Clients: a
// *clients.FieldError becomes an *admin.FieldError, which admin reads;
// storage errors (not found, taken) stay visible to errors.Is.
type adminClients struct{ r *clients.Registrar }

func (a adminClients) Create(ctx context.Context, in admin.NewClient) (storage.Client, string, error) {
	c, secret, err := a.r.Create(ctx, clients.NewClient{
		ID: in.ID, Name: in.Name, Secret: in.Secret, Public: in.Public,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		GrantTypes: in.GrantTypes, Scopes: in.Scopes, FirstParty: in.FirstParty,
		AccessTokenFormat: in.AccessTokenFormat, TokenEndpointAuthMethod: in.TokenEndpointAuthMethod,
		RequirePKCE: in.RequirePKCE, RequirePAR: in.RequirePAR, ApplicationType: in.ApplicationType,
		JWKS: in.JWKS, RequireOrganization: in.RequireOrganization,
	})
	return c, secret, clientError(err)
}

func (a adminClients) List(ctx context.Context, p storage.Page) ([]storage.Client, error) {
	cs, err := a.r.List(ctx, p)
	return cs, clientError(err)
}

func (a adminClients) Get(ctx context.Context, id string) (storage.Client, error) {
	c, err := a.r.Get(ctx, id)
	return c, clientError(err)
}

func (a adminClients) Update(ctx context.Context, id string, ch admin.ClientChanges) (storage.Client, error) {
	c, err := a.r.Update(ctx, id, clients.Changes{
		Name: ch.Name, RedirectURIs: ch.RedirectURIs, PostLogoutRedirectURIs: ch.PostLogoutRedirectURIs,
		GrantTypes: ch.GrantTypes, Scopes: ch.Scopes, RequireOrganization: ch.RequireOrganization,
	})
	return c, clientError(err)
}

func (a adminClients) Delete(ctx context.Context, id string) error {
	return clientError(a.r.Delete(ctx, id))
}

func clientError(err error) error {
	var fe *clients.FieldError
	switch {
	case err == nil, errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrAlreadyExists):
		return err
	case errors.As(err, &fe):
		return &admin.FieldError{Field: fe.Field, Message: fe.Message}
	}
	return err
}

// adminKeys adapts the signing-key manager to admin.Keys.
type adminKeys struct{ m *keys.Manager }

func (k adminKeys) List(ctx context.Context) ([]storage.SigningKey, error) { return k.m.List(ctx) }

func (k adminKeys) Rotate(ctx context.Context, force bool) error {
	err := k.m.Rotate(ctx, force)
	if errors.Is(err, keys.ErrTooSoon) {
		return fmt.Errorf("%w: %w", admin.ErrRotateTooSoon, err)
	}
	return err
}

func (k adminKeys) Revoke(ctx context.Context, kid string) error { return k.m.Revoke(ctx, kid) }

// adminSAML adapts the SAML service provider to admin.SAML; its
// *saml.FieldError has the FieldMessage method admin reads.
type adminSAML struct{ s *sso.Service }

func (a adminSAML) Prepare(ctx context.Context, in admin.NewSAMLConnection) (storage.SAMLConnection, error) {
	return a.s.PrepareConnection(ctx, sso.NewConnection{
		OrgID: in.OrgID, Name: in.Name, MetadataURL: in.MetadataURL, Metadata: []byte(in.Metadata),
		AllowIDPInitiated: in.AllowIDPInitiated, Mapping: ssoMapping(in.Mapping),
	})
}

func (a adminSAML) PrepareUpdate(ctx context.Context, ch admin.SAMLConnectionChanges) (func(storage.SAMLConnection) (storage.SAMLConnection, error), error) {
	c := sso.ConnectionChanges{Name: ch.Name, AllowIDPInitiated: ch.AllowIDPInitiated, MetadataURL: ch.MetadataURL}
	if ch.Mapping != nil {
		m := ssoMapping(*ch.Mapping)
		c.Mapping = &m
	}
	if ch.Metadata != nil {
		c.Metadata = []byte(*ch.Metadata)
	}
	return a.s.PrepareUpdate(ctx, c)
}

func (a adminSAML) SP(id string) admin.SAMLServiceProvider {
	return admin.SAMLServiceProvider{EntityID: a.s.EntityID(id), ACSURL: a.s.ACSURL(id), MetadataURL: a.s.MetadataURL(id)}
}

func ssoMapping(m admin.SAMLMapping) sso.Mapping {
	out := sso.Mapping{
		EmailAttribute: m.EmailAttribute, FirstNameAttribute: m.FirstNameAttribute, LastNameAttribute: m.LastNameAttribute,
		GroupsAttribute: m.GroupsAttribute, DefaultRole: m.DefaultRole,
	}
	for _, gr := range m.GroupRoles {
		out.GroupRoles = append(out.GroupRoles, sso.GroupRole{Group: gr.Group, Role: gr.Role})
	}
	return out
}
