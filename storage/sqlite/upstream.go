package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

const upstreamConnectionColumns = `id, COALESCE(org_id, ''), type, name, issuer, client_id, client_secret, scopes,
	auth_url, token_url, api_url, mapping, multi_factor, link_by_email, created_at, updated_at`

func scanUpstreamConnection(row scanner) (storage.UpstreamConnection, error) {
	var c storage.UpstreamConnection
	err := row.Scan(&c.ID, &c.OrgID, &c.Type, &c.Name, &c.Issuer, &c.ClientID, &c.ClientSecret, listColumn{&c.Scopes},
		&c.AuthURL, &c.TokenURL, &c.APIURL, &c.Mapping, &c.MultiFactor, &c.LinkByEmail,
		timeColumn{&c.CreatedAt}, timeColumn{&c.UpdatedAt})
	return c, dbError(err, storage.ErrNotFound)
}

// CreateUpstreamConnection stores c. A taken ID is ErrAlreadyExists; an
// unknown organization fails the foreign key: ErrNotFound; an empty client
// ID or secret, or an unknown type, fails its CHECK: ErrInvalid. The secret
// stays out of error messages.
func (s *Store) CreateUpstreamConnection(ctx context.Context, c storage.UpstreamConnection) (storage.UpstreamConnection, error) {
	out, err := scanUpstreamConnection(s.q(ctx).QueryRowContext(ctx, `
		INSERT INTO upstream_connections (id, org_id, type, name, issuer, client_id, client_secret, scopes,
			auth_url, token_url, api_url, mapping, multi_factor, link_by_email, created_at, updated_at)
		VALUES (?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+upstreamConnectionColumns,
		c.ID, c.OrgID, c.Type, c.Name, c.Issuer, c.ClientID, c.ClientSecret, encodeList(c.Scopes),
		c.AuthURL, c.TokenURL, c.APIURL, c.Mapping, c.MultiFactor, c.LinkByEmail,
		formatTime(c.CreatedAt), formatTime(c.UpdatedAt)))
	if err != nil {
		return storage.UpstreamConnection{}, fmt.Errorf("create upstream connection %s: %w", c.ID, err)
	}
	return out, nil
}

func (s *Store) GetUpstreamConnection(ctx context.Context, id string) (storage.UpstreamConnection, error) {
	c, err := scanUpstreamConnection(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+upstreamConnectionColumns+` FROM upstream_connections WHERE id = ?`, id))
	if err != nil {
		return storage.UpstreamConnection{}, fmt.Errorf("get upstream connection %s: %w", id, err)
	}
	return c, nil
}

// ListUpstreamConnections orders by creation, then ID.
func (s *Store) ListUpstreamConnections(ctx context.Context) ([]storage.UpstreamConnection, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `
		SELECT `+upstreamConnectionColumns+` FROM upstream_connections
		ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list upstream connections: %w", dbError(err, storage.ErrNotFound))
	}
	cs, err := collect(rows, scanUpstreamConnection)
	if err != nil {
		return nil, fmt.Errorf("list upstream connections: %w", err)
	}
	return cs, nil
}

// DeleteUpstreamConnection deletes the connection and its external
// identities, which have no foreign key to it, in one transaction.
func (s *Store) DeleteUpstreamConnection(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := deleteOne(ctx, tx, `DELETE FROM upstream_connections WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM external_identities WHERE connection_id = ?`, id)
		return dbError(err, storage.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("delete upstream connection %s: %w", id, err)
	}
	return nil
}
