package postgres

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const clientColumns = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, first_party, access_token_format, token_endpoint_auth_method,
	require_pkce, require_par, application_type, jwks, require_organization, created_at, updated_at`

func scanClient(row pgx.Row) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.RedirectURIs, &c.PostLogoutRedirectURIs,
		&c.GrantTypes, &c.Scopes, &c.FirstParty, &c.AccessTokenFormat, &c.TokenEndpointAuthMethod,
		&c.RequirePKCE, &c.RequirePAR, &c.ApplicationType, &c.JWKS, &c.RequireOrganization, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return storage.Client{}, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateClient stores c. ErrAlreadyExists when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) (storage.Client, error) {
	c, err := scanClient(s.q(ctx).QueryRow(ctx, `
		INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		RETURNING `+clientColumns,
		c.ID, c.Name, c.SecretHash, c.Public, nonNil(c.RedirectURIs), nonNil(c.PostLogoutRedirectURIs),
		nonNil(c.GrantTypes), nonNil(c.Scopes), c.FirstParty, c.AccessTokenFormat, c.TokenEndpointAuthMethod,
		c.RequirePKCE, c.RequirePAR, c.ApplicationType, c.JWKS, c.RequireOrganization,
		timestamp(c.CreatedAt), timestamp(c.UpdatedAt)))
	return c, mapError("create client", err)
}

func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.q(ctx).QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	return c, mapError(fmt.Sprintf("get client %q", id), err)
}

func (s *Store) ListClients(ctx context.Context, p storage.Page) ([]storage.Client, error) {
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`,
		p.After, p.EffectiveLimit())
	clients, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Client, error) { return scanClient(r) })
	return clients, mapError("list clients", err)
}

// UpdateClient locks the client's row, applies update and writes the result;
// ID and CreatedAt keep their stored values. update may run more than once.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	var out storage.Client
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		c, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanClient(tx.QueryRow(ctx, `
			UPDATE clients SET name = $2, secret_hash = $3, public = $4, redirect_uris = $5,
				post_logout_redirect_uris = $6, grant_types = $7, scopes = $8, first_party = $9,
				access_token_format = $10, token_endpoint_auth_method = $11, require_pkce = $12,
				require_par = $13, application_type = $14, jwks = $15, updated_at = $16,
				require_organization = $17
			WHERE id = $1
			RETURNING `+clientColumns,
			id, c.Name, c.SecretHash, c.Public, nonNil(c.RedirectURIs), nonNil(c.PostLogoutRedirectURIs),
			nonNil(c.GrantTypes), nonNil(c.Scopes), c.FirstParty, c.AccessTokenFormat, c.TokenEndpointAuthMethod,
			c.RequirePKCE, c.RequirePAR, c.ApplicationType, c.JWKS, timestamp(c.UpdatedAt), c.RequireOrganization))
		return err
	})
	return out, mapError(fmt.Sprintf("update client %q", id), err)
}

// DeleteClient removes the client; the database cascades to its OAuth
// sessions and consents.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete client %q", id), `DELETE FROM clients WHERE id = $1`, id)
}
