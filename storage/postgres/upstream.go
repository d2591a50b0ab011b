package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/foyerdev/foyer/storage"
)

const upstreamConnectionColumns = `id, COALESCE(org_id, ''), type, name, issuer, client_id, client_secret, scopes,
	auth_url, token_url, api_url, mapping, multi_factor, link_by_email, created_at, updated_at`

func scanUpstreamConnection(row pgx.Row) (storage.UpstreamConnection, error) {
	var c storage.UpstreamConnection
	if err := row.Scan(&c.ID, &c.OrgID, &c.Type, &c.Name, &c.Issuer, &c.ClientID, &c.ClientSecret, &c.Scopes,
		&c.AuthURL, &c.TokenURL, &c.APIURL, &c.Mapping, &c.MultiFactor, &c.LinkByEmail,
		&c.CreatedAt, &c.UpdatedAt); err != nil {
		return storage.UpstreamConnection{}, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateUpstreamConnection stores c. A taken ID is ErrAlreadyExists; an
// unknown organization fails the foreign key: ErrNotFound; an empty client
// ID or secret, or an unknown type, fails its CHECK: ErrInvalid. The secret
// stays out of error messages.
func (s *Store) CreateUpstreamConnection(ctx context.Context, c storage.UpstreamConnection) (storage.UpstreamConnection, error) {
	out, err := scanUpstreamConnection(s.q(ctx).QueryRow(ctx, `
		INSERT INTO upstream_connections (id, org_id, type, name, issuer, client_id, client_secret, scopes,
			auth_url, token_url, api_url, mapping, multi_factor, link_by_email, created_at, updated_at)
		VALUES ($1, NULLIF($2, ''), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		RETURNING `+upstreamConnectionColumns,
		c.ID, c.OrgID, c.Type, c.Name, c.Issuer, c.ClientID, c.ClientSecret, nonNil(c.Scopes),
		c.AuthURL, c.TokenURL, c.APIURL, c.Mapping, c.MultiFactor, c.LinkByEmail,
		timestamp(c.CreatedAt), timestamp(c.UpdatedAt)))
	return out, mapError(fmt.Sprintf("create upstream connection %q", c.ID), err)
}

func (s *Store) GetUpstreamConnection(ctx context.Context, id string) (storage.UpstreamConnection, error) {
	c, err := scanUpstreamConnection(s.q(ctx).QueryRow(ctx,
		`SELECT `+upstreamConnectionColumns+` FROM upstream_connections WHERE id = $1`, id))
	return c, mapError(fmt.Sprintf("get upstream connection %q", id), err)
}

// ListUpstreamConnections orders by creation, then ID.
func (s *Store) ListUpstreamConnections(ctx context.Context) ([]storage.UpstreamConnection, error) {
	rows, _ := s.q(ctx).Query(ctx, `
		SELECT `+upstreamConnectionColumns+` FROM upstream_connections
		ORDER BY created_at, id`)
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.UpstreamConnection, error) { return scanUpstreamConnection(r) })
	return cs, mapError("list upstream connections", err)
}

// DeleteUpstreamConnection deletes the connection and its external
// identities, which have no foreign key to it, in one transaction.
func (s *Store) DeleteUpstreamConnection(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM upstream_connections WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM external_identities WHERE connection_id = $1`, id)
		return err
	})
	return mapDeleteError(fmt.Sprintf("delete upstream connection %q", id), err)
}
