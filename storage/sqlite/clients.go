package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

const clientColumns = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
	grant_types, scopes, first_party, access_token_format, token_endpoint_auth_method,
	require_pkce, require_par, application_type, jwks, require_organization, created_at, updated_at`

func scanClient(row scanner) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public,
		listColumn{&c.RedirectURIs}, listColumn{&c.PostLogoutRedirectURIs},
		listColumn{&c.GrantTypes}, listColumn{&c.Scopes},
		&c.FirstParty, &c.AccessTokenFormat, &c.TokenEndpointAuthMethod,
		&c.RequirePKCE, &c.RequirePAR, &c.ApplicationType, &c.JWKS, &c.RequireOrganization,
		timeColumn{&c.CreatedAt}, timeColumn{&c.UpdatedAt})
	return c, err
}

func (s *Store) CreateClient(ctx context.Context, c storage.Client) (storage.Client, error) {
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.SecretHash, c.Public,
		encodeList(c.RedirectURIs), encodeList(c.PostLogoutRedirectURIs),
		encodeList(c.GrantTypes), encodeList(c.Scopes),
		c.FirstParty, c.AccessTokenFormat, c.TokenEndpointAuthMethod,
		c.RequirePKCE, c.RequirePAR, c.ApplicationType, c.JWKS, c.RequireOrganization,
		formatTime(c.CreatedAt), formatTime(c.UpdatedAt))
	if err != nil {
		return storage.Client{}, fmt.Errorf("create client %s: %w", c.ID, dbError(err, storage.ErrNotFound))
	}
	return c, nil
}

func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := getClient(ctx, s.q(ctx), id)
	if err != nil {
		return storage.Client{}, fmt.Errorf("get client %s: %w", id, err)
	}
	return c, nil
}

func getClient(ctx context.Context, q querier, id string) (storage.Client, error) {
	c, err := scanClient(q.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	return c, dbError(err, storage.ErrNotFound)
}

func (s *Store) ListClients(ctx context.Context, p storage.Page) ([]storage.Client, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.EffectiveLimit())
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", dbError(err, storage.ErrNotFound))
	}
	clients, err := collect(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return clients, nil
}

// UpdateClient applies update to the stored client under the write lock.
// The stored ID and CreatedAt win over whatever update returns.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) (storage.Client, error) {
	var c storage.Client
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getClient(ctx, tx, id)
		if err != nil {
			return err
		}
		if c, err = update(old); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = old.ID, old.CreatedAt, utc(c.UpdatedAt)
		_, err = tx.ExecContext(ctx, `
			UPDATE clients SET name = ?, secret_hash = ?, public = ?, redirect_uris = ?,
				post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, first_party = ?,
				access_token_format = ?, token_endpoint_auth_method = ?, require_pkce = ?,
				require_par = ?, application_type = ?, jwks = ?, updated_at = ?,
				require_organization = ?
			WHERE id = ?`,
			c.Name, c.SecretHash, c.Public, encodeList(c.RedirectURIs),
			encodeList(c.PostLogoutRedirectURIs), encodeList(c.GrantTypes), encodeList(c.Scopes), c.FirstParty,
			c.AccessTokenFormat, c.TokenEndpointAuthMethod, c.RequirePKCE,
			c.RequirePAR, c.ApplicationType, c.JWKS, formatTime(c.UpdatedAt), c.RequireOrganization, c.ID)
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.Client{}, fmt.Errorf("update client %s: %w", id, err)
	}
	return c, nil
}

// DeleteClient deletes the client; the foreign keys cascade to its OAuth
// sessions and consents.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM clients WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}
