package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const samlConnectionColumns = `id, org_id, name, metadata_url, metadata, metadata_fetched_at, metadata_error,
	sp_key, sp_certificate, allow_idp_initiated, mapping, created_at, updated_at`

func scanSAMLConnection(row scanner) (storage.SAMLConnection, error) {
	var c storage.SAMLConnection
	err := row.Scan(&c.ID, &c.OrgID, &c.Name, &c.MetadataURL, &c.Metadata, nullTimeColumn{&c.MetadataFetchedAt}, &c.MetadataError,
		&c.SPKey, &c.SPCertificate, &c.AllowIDPInitiated, &c.Mapping, timeColumn{&c.CreatedAt}, timeColumn{&c.UpdatedAt})
	return c, dbError(err, storage.ErrNotFound)
}

// CreateSAMLConnection stores c. A taken ID is ErrAlreadyExists; an unknown
// organization fails the foreign key: ErrNotFound; an empty SP key or
// certificate fails its CHECK: ErrInvalid. Keys stay out of error messages.
func (s *Store) CreateSAMLConnection(ctx context.Context, c storage.SAMLConnection) (storage.SAMLConnection, error) {
	out, err := scanSAMLConnection(s.q(ctx).QueryRowContext(ctx, `
		INSERT INTO saml_connections (`+samlConnectionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+samlConnectionColumns,
		c.ID, c.OrgID, c.Name, c.MetadataURL, c.Metadata, nullTime(c.MetadataFetchedAt), c.MetadataError,
		c.SPKey, c.SPCertificate, c.AllowIDPInitiated, c.Mapping, formatTime(c.CreatedAt), formatTime(c.UpdatedAt)))
	if err != nil {
		return storage.SAMLConnection{}, fmt.Errorf("create SAML connection %s: %w", c.ID, err)
	}
	return out, nil
}

func (s *Store) GetSAMLConnection(ctx context.Context, id string) (storage.SAMLConnection, error) {
	c, err := getSAMLConnection(ctx, s.q(ctx), id)
	if err != nil {
		return storage.SAMLConnection{}, fmt.Errorf("get SAML connection %s: %w", id, err)
	}
	return c, nil
}

func getSAMLConnection(ctx context.Context, q querier, id string) (storage.SAMLConnection, error) {
	return scanSAMLConnection(q.QueryRowContext(ctx,
		`SELECT `+samlConnectionColumns+` FROM saml_connections WHERE id = ?`, id))
}

// ListSAMLConnections orders by creation, then ID for connections created
// at once. An empty orgID matches every organization.
func (s *Store) ListSAMLConnections(ctx context.Context, orgID string) ([]storage.SAMLConnection, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `
		SELECT `+samlConnectionColumns+` FROM saml_connections
		WHERE ?1 = '' OR org_id = ?1
		ORDER BY created_at, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list SAML connections of organization %s: %w", orgID, dbError(err, storage.ErrNotFound))
	}
	cs, err := collect(rows, scanSAMLConnection)
	if err != nil {
		return nil, fmt.Errorf("list SAML connections of organization %s: %w", orgID, err)
	}
	return cs, nil
}

// UpdateSAMLConnection applies update to the stored connection under the
// write lock (BEGIN IMMEDIATE, see dsn), so concurrent callers run one
// after the other. Every column but id, org_id and created_at is written;
// those keep their stored values whatever update returns.
func (s *Store) UpdateSAMLConnection(ctx context.Context, id string, update func(storage.SAMLConnection) (storage.SAMLConnection, error)) (storage.SAMLConnection, error) {
	var out storage.SAMLConnection
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getSAMLConnection(ctx, tx, id)
		if err != nil {
			return err
		}
		c, err := update(old)
		if err != nil {
			return err
		}
		out, err = scanSAMLConnection(tx.QueryRowContext(ctx, `
			UPDATE saml_connections SET name = ?, metadata_url = ?, metadata = ?, metadata_fetched_at = ?,
				metadata_error = ?, sp_key = ?, sp_certificate = ?, allow_idp_initiated = ?, mapping = ?,
				updated_at = ?
			WHERE id = ?
			RETURNING `+samlConnectionColumns,
			c.Name, c.MetadataURL, c.Metadata, nullTime(c.MetadataFetchedAt),
			c.MetadataError, c.SPKey, c.SPCertificate, c.AllowIDPInitiated, c.Mapping,
			formatTime(c.UpdatedAt), id))
		return err
	})
	if err != nil {
		return storage.SAMLConnection{}, fmt.Errorf("update SAML connection %s: %w", id, err)
	}
	return out, nil
}

// DeleteSAMLConnection deletes the connection, which cascades to its
// domains, and its external identities, which have no foreign key to it
// (upstream OIDC connections share the table), in one transaction.
func (s *Store) DeleteSAMLConnection(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := deleteOne(ctx, tx, `DELETE FROM saml_connections WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM external_identities WHERE connection_id = ?`, id)
		return dbError(err, storage.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("delete SAML connection %s: %w", id, err)
	}
	return nil
}

const samlDomainColumns = `domain, connection_id, verification_token, verified_at, created_at`

func scanSAMLDomain(row scanner) (storage.SAMLDomain, error) {
	var d storage.SAMLDomain
	err := row.Scan(&d.Domain, &d.ConnectionID, &d.VerificationToken, nullTimeColumn{&d.VerifiedAt}, timeColumn{&d.CreatedAt})
	return d, dbError(err, storage.ErrNotFound)
}

// AddSAMLDomain stores the claim. A domain claimed already, by any
// connection, is ErrAlreadyExists; an unknown connection fails the foreign
// key: ErrNotFound; a domain that is empty or not lowercase fails its
// CHECK: ErrInvalid.
func (s *Store) AddSAMLDomain(ctx context.Context, d storage.SAMLDomain) error {
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO saml_domains (`+samlDomainColumns+`)
		VALUES (?, ?, ?, ?, ?)`,
		d.Domain, d.ConnectionID, d.VerificationToken, nullTime(d.VerifiedAt), formatTime(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("add SAML domain %q to connection %s: %w", d.Domain, d.ConnectionID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

// GetSAMLDomain matches domain exactly: stored domains are lowercase.
func (s *Store) GetSAMLDomain(ctx context.Context, domain string) (storage.SAMLDomain, error) {
	d, err := scanSAMLDomain(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+samlDomainColumns+` FROM saml_domains WHERE domain = ?`, domain))
	if err != nil {
		return storage.SAMLDomain{}, fmt.Errorf("get SAML domain %q: %w", domain, err)
	}
	return d, nil
}

// ListSAMLDomains orders by creation, then domain.
func (s *Store) ListSAMLDomains(ctx context.Context, connectionID string) ([]storage.SAMLDomain, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `
		SELECT `+samlDomainColumns+` FROM saml_domains
		WHERE connection_id = ?
		ORDER BY created_at, domain`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("list SAML domains of connection %s: %w", connectionID, dbError(err, storage.ErrNotFound))
	}
	ds, err := collect(rows, scanSAMLDomain)
	if err != nil {
		return nil, fmt.Errorf("list SAML domains of connection %s: %w", connectionID, err)
	}
	return ds, nil
}

// VerifySAMLDomain sets verified_at to now, verified before or not.
func (s *Store) VerifySAMLDomain(ctx context.Context, domain string, now time.Time) (storage.SAMLDomain, error) {
	d, err := scanSAMLDomain(s.q(ctx).QueryRowContext(ctx, `
		UPDATE saml_domains SET verified_at = ?
		WHERE domain = ?
		RETURNING `+samlDomainColumns, formatTime(now), domain))
	if err != nil {
		return storage.SAMLDomain{}, fmt.Errorf("verify SAML domain %q: %w", domain, err)
	}
	return d, nil
}

// DeleteSAMLDomain deletes the claim only if it is the connection's:
// another connection's is ErrNotFound and stays.
func (s *Store) DeleteSAMLDomain(ctx context.Context, connectionID, domain string) error {
	if err := deleteOne(ctx, s.q(ctx), `DELETE FROM saml_domains WHERE domain = ? AND connection_id = ?`, domain, connectionID); err != nil {
		return fmt.Errorf("delete SAML domain %q of connection %s: %w", domain, connectionID, err)
	}
	return nil
}

const externalIdentityColumns = `connection_id, subject, user_id, created_at, last_login_at`

func scanExternalIdentity(row scanner) (storage.ExternalIdentity, error) {
	var e storage.ExternalIdentity
	err := row.Scan(&e.ConnectionID, &e.Subject, &e.UserID, timeColumn{&e.CreatedAt}, nullTimeColumn{&e.LastLoginAt})
	return e, dbError(err, storage.ErrNotFound)
}

// CreateExternalIdentity stores e. A (connection, subject) linked already,
// to anyone, is ErrAlreadyExists: SQLite runs writes one at a time, so of
// concurrent callers the first inserts and the others hit the primary key.
// An unknown user fails the foreign key: ErrNotFound. The connection is not
// checked: connection_id has no foreign key.
func (s *Store) CreateExternalIdentity(ctx context.Context, e storage.ExternalIdentity) error {
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO external_identities (`+externalIdentityColumns+`)
		VALUES (?, ?, ?, ?, ?)`,
		e.ConnectionID, e.Subject, e.UserID, formatTime(e.CreatedAt), nullTime(e.LastLoginAt))
	if err != nil {
		return fmt.Errorf("create external identity at %s for user %s: %w", e.ConnectionID, e.UserID, dbError(err, storage.ErrNotFound))
	}
	return nil
}

func (s *Store) GetExternalIdentity(ctx context.Context, connectionID, subject string) (storage.ExternalIdentity, error) {
	e, err := scanExternalIdentity(s.q(ctx).QueryRowContext(ctx, `
		SELECT `+externalIdentityColumns+` FROM external_identities
		WHERE connection_id = ? AND subject = ?`, connectionID, subject))
	if err != nil {
		return storage.ExternalIdentity{}, fmt.Errorf("get external identity at %s: %w", connectionID, err)
	}
	return e, nil
}

// TouchExternalIdentity sets last_login_at to now; ErrNotFound when there
// is no such identity.
func (s *Store) TouchExternalIdentity(ctx context.Context, connectionID, subject string, now time.Time) error {
	res, err := s.q(ctx).ExecContext(ctx, `
		UPDATE external_identities SET last_login_at = ?
		WHERE connection_id = ? AND subject = ?`, formatTime(now), connectionID, subject)
	if err != nil {
		return fmt.Errorf("touch external identity at %s: %w", connectionID, dbError(err, storage.ErrNotFound))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("touch external identity at %s: %w", connectionID, err)
	}
	if n == 0 {
		return fmt.Errorf("touch external identity at %s: %w", connectionID, storage.ErrNotFound)
	}
	return nil
}

// ListExternalIdentities orders by creation, then connection and subject.
func (s *Store) ListExternalIdentities(ctx context.Context, userID string) ([]storage.ExternalIdentity, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `
		SELECT `+externalIdentityColumns+` FROM external_identities
		WHERE user_id = ?
		ORDER BY created_at, connection_id, subject`, userID)
	if err != nil {
		return nil, fmt.Errorf("list external identities of user %s: %w", userID, dbError(err, storage.ErrNotFound))
	}
	es, err := collect(rows, scanExternalIdentity)
	if err != nil {
		return nil, fmt.Errorf("list external identities of user %s: %w", userID, err)
	}
	return es, nil
}

// DeleteExternalIdentity deletes the link only if it is the user's:
// another user's is ErrNotFound and stays.
func (s *Store) DeleteExternalIdentity(ctx context.Context, userID, connectionID, subject string) error {
	if err := deleteOne(ctx, s.q(ctx), `
		DELETE FROM external_identities WHERE connection_id = ? AND subject = ? AND user_id = ?`,
		connectionID, subject, userID); err != nil {
		return fmt.Errorf("delete external identity at %s of user %s: %w", connectionID, userID, err)
	}
	return nil
}
