package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// newAdminAPI wires the admin API to the provider's token check and the
// directory's validation, which admin may not import itself.
func newAdminAPI(store storage.Store, provider *authz.Provider, key []byte, log *slog.Logger) (*admin.API, error) {
	return admin.New(admin.Options{
		Store:     store,
		Tokens:    adminTokens{provider},
		Directory: adminDirectory{idp.NewDirectory(idp.Options{Store: store, Logger: log})},
		CursorKey: deriveKey(key, "foyer admin cursor hmac v1"),
		Logger:    log,
	})
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

func (d adminDirectory) CreateUser(ctx context.Context, u admin.NewUser) (storage.User, error) {
	return d.d.CreateUser(ctx, idp.NewUser{
		Email: u.Email, Name: u.Name, Password: u.Password, EmailVerified: u.EmailVerified, Admin: u.Admin,
	})
}

func (d adminDirectory) CreateOrganization(ctx context.Context, slug, name string) (storage.Organization, error) {
	return d.d.CreateOrganization(ctx, slug, name)
}
