package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const samlConnectionColumns = `id, org_id, name, metadata_url, metadata, metadata_fetched_at, metadata_error,
	sp_key, sp_certificate, allow_idp_initiated, mapping, created_at, updated_at`

func scanSAMLConnection(row pgx.Row) (storage.SAMLConnection, error) {
	var (
		c         storage.SAMLConnection
		fetchedAt *time.Time
	)
	if err := row.Scan(&c.ID, &c.OrgID, &c.Name, &c.MetadataURL, &c.Metadata, &fetchedAt, &c.MetadataError,
		&c.SPKey, &c.SPCertificate, &c.AllowIDPInitiated, &c.Mapping, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return storage.SAMLConnection{}, err
	}
	c.MetadataFetchedAt, c.CreatedAt, c.UpdatedAt = orZero(fetchedAt), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CreateSAMLConnection stores c. A taken ID is ErrAlreadyExists; an unknown
// organization fails the foreign key: ErrNotFound; an empty SP key or
// certificate fails its CHECK: ErrInvalid. Keys stay out of error messages.
func (s *Store) CreateSAMLConnection(ctx context.Context, c storage.SAMLConnection) (storage.SAMLConnection, error) {
	out, err := scanSAMLConnection(s.q(ctx).QueryRow(ctx, `
		INSERT INTO saml_connections (`+samlConnectionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		RETURNING `+samlConnectionColumns,
		c.ID, c.OrgID, c.Name, c.MetadataURL, c.Metadata, nullTimestamp(c.MetadataFetchedAt), c.MetadataError,
		c.SPKey, c.SPCertificate, c.AllowIDPInitiated, c.Mapping, timestamp(c.CreatedAt), timestamp(c.UpdatedAt)))
	return out, mapError(fmt.Sprintf("create SAML connection %q", c.ID), err)
}

func (s *Store) GetSAMLConnection(ctx context.Context, id string) (storage.SAMLConnection, error) {
	c, err := scanSAMLConnection(s.q(ctx).QueryRow(ctx,
		`SELECT `+samlConnectionColumns+` FROM saml_connections WHERE id = $1`, id))
	return c, mapError(fmt.Sprintf("get SAML connection %q", id), err)
}

// ListSAMLConnections orders by creation, then ID for connections created
// at once. An empty orgID matches every organization.
func (s *Store) ListSAMLConnections(ctx context.Context, orgID string) ([]storage.SAMLConnection, error) {
	rows, _ := s.q(ctx).Query(ctx, `
		SELECT `+samlConnectionColumns+` FROM saml_connections
		WHERE $1 = '' OR org_id = $1
		ORDER BY created_at, id`, orgID)
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SAMLConnection, error) { return scanSAMLConnection(r) })
	return cs, mapError(fmt.Sprintf("list SAML connections of organization %q", orgID), err)
}

// UpdateSAMLConnection locks the row (FOR UPDATE), applies update and
// writes every column but id, org_id and created_at, which keep their
// stored values whatever update returns. update may run more than once
// (see inTx).
func (s *Store) UpdateSAMLConnection(ctx context.Context, id string, update func(storage.SAMLConnection) (storage.SAMLConnection, error)) (storage.SAMLConnection, error) {
	var out storage.SAMLConnection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanSAMLConnection(tx.QueryRow(ctx,
			`SELECT `+samlConnectionColumns+` FROM saml_connections WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		c, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanSAMLConnection(tx.QueryRow(ctx, `
			UPDATE saml_connections SET name = $2, metadata_url = $3, metadata = $4, metadata_fetched_at = $5,
				metadata_error = $6, sp_key = $7, sp_certificate = $8, allow_idp_initiated = $9, mapping = $10,
				updated_at = $11
			WHERE id = $1
			RETURNING `+samlConnectionColumns,
			id, c.Name, c.MetadataURL, c.Metadata, nullTimestamp(c.MetadataFetchedAt),
			c.MetadataError, c.SPKey, c.SPCertificate, c.AllowIDPInitiated, c.Mapping,
			timestamp(c.UpdatedAt)))
		return err
	})
	return out, mapError(fmt.Sprintf("update SAML connection %q", id), err)
}

// DeleteSAMLConnection deletes the connection, which cascades to its
// domains, and its external identities, which have no foreign key to it
// (upstream OIDC connections share the table), in one transaction.
func (s *Store) DeleteSAMLConnection(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM saml_connections WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM external_identities WHERE connection_id = $1`, id)
		return err
	})
	return mapDeleteError(fmt.Sprintf("delete SAML connection %q", id), err)
}

const samlDomainColumns = `domain, connection_id, verification_token, verified_at, created_at`

func scanSAMLDomain(row pgx.Row) (storage.SAMLDomain, error) {
	var (
		d          storage.SAMLDomain
		verifiedAt *time.Time
	)
	if err := row.Scan(&d.Domain, &d.ConnectionID, &d.VerificationToken, &verifiedAt, &d.CreatedAt); err != nil {
		return storage.SAMLDomain{}, err
	}
	d.VerifiedAt, d.CreatedAt = orZero(verifiedAt), d.CreatedAt.UTC()
	return d, nil
}

// AddSAMLDomain stores the claim. A domain claimed already, by any
// connection, is ErrAlreadyExists; an unknown connection fails the foreign
// key: ErrNotFound; a domain that is empty or not lowercase fails its
// CHECK: ErrInvalid.
func (s *Store) AddSAMLDomain(ctx context.Context, d storage.SAMLDomain) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO saml_domains (`+samlDomainColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		d.Domain, d.ConnectionID, d.VerificationToken, nullTimestamp(d.VerifiedAt), timestamp(d.CreatedAt))
	return mapError(fmt.Sprintf("add SAML domain %q to connection %q", d.Domain, d.ConnectionID), err)
}

// GetSAMLDomain matches domain exactly: stored domains are lowercase.
func (s *Store) GetSAMLDomain(ctx context.Context, domain string) (storage.SAMLDomain, error) {
	d, err := scanSAMLDomain(s.q(ctx).QueryRow(ctx,
		`SELECT `+samlDomainColumns+` FROM saml_domains WHERE domain = $1`, domain))
	return d, mapError(fmt.Sprintf("get SAML domain %q", domain), err)
}

// ListSAMLDomains orders by creation, then domain.
func (s *Store) ListSAMLDomains(ctx context.Context, connectionID string) ([]storage.SAMLDomain, error) {
	rows, _ := s.q(ctx).Query(ctx, `
		SELECT `+samlDomainColumns+` FROM saml_domains
		WHERE connection_id = $1
		ORDER BY created_at, domain`, connectionID)
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SAMLDomain, error) { return scanSAMLDomain(r) })
	return ds, mapError(fmt.Sprintf("list SAML domains of connection %q", connectionID), err)
}

// VerifySAMLDomain sets verified_at to now, verified before or not.
func (s *Store) VerifySAMLDomain(ctx context.Context, domain string, now time.Time) (storage.SAMLDomain, error) {
	d, err := scanSAMLDomain(s.q(ctx).QueryRow(ctx, `
		UPDATE saml_domains SET verified_at = $2
		WHERE domain = $1
		RETURNING `+samlDomainColumns, domain, timestamp(now)))
	return d, mapError(fmt.Sprintf("verify SAML domain %q", domain), err)
}

// DeleteSAMLDomain deletes the claim only if it is the connection's:
// another connection's is ErrNotFound and stays.
func (s *Store) DeleteSAMLDomain(ctx context.Context, connectionID, domain string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete SAML domain %q of connection %q", domain, connectionID),
		`DELETE FROM saml_domains WHERE domain = $1 AND connection_id = $2`, domain, connectionID)
}

const externalIdentityColumns = `connection_id, subject, user_id, created_at, last_login_at`

func scanExternalIdentity(row pgx.Row) (storage.ExternalIdentity, error) {
	var (
		e         storage.ExternalIdentity
		lastLogin *time.Time
	)
	if err := row.Scan(&e.ConnectionID, &e.Subject, &e.UserID, &e.CreatedAt, &lastLogin); err != nil {
		return storage.ExternalIdentity{}, err
	}
	e.CreatedAt, e.LastLoginAt = e.CreatedAt.UTC(), orZero(lastLogin)
	return e, nil
}

// CreateExternalIdentity stores e. A (connection, subject) linked already,
// to anyone, is ErrAlreadyExists: of concurrent callers the unique index
// lets one in. An unknown user fails the foreign key: ErrNotFound. The
// connection is not checked: connection_id has no foreign key.
func (s *Store) CreateExternalIdentity(ctx context.Context, e storage.ExternalIdentity) error {
	_, err := s.q(ctx).Exec(ctx, `
		INSERT INTO external_identities (`+externalIdentityColumns+`)
		VALUES ($1, $2, $3, $4, $5)`,
		e.ConnectionID, e.Subject, e.UserID, timestamp(e.CreatedAt), nullTimestamp(e.LastLoginAt))
	return mapError(fmt.Sprintf("create external identity at %q for user %q", e.ConnectionID, e.UserID), err)
}

func (s *Store) GetExternalIdentity(ctx context.Context, connectionID, subject string) (storage.ExternalIdentity, error) {
	e, err := scanExternalIdentity(s.q(ctx).QueryRow(ctx, `
		SELECT `+externalIdentityColumns+` FROM external_identities
		WHERE connection_id = $1 AND subject = $2`, connectionID, subject))
	return e, mapError(fmt.Sprintf("get external identity at %q", connectionID), err)
}

// TouchExternalIdentity sets last_login_at to now; ErrNotFound when there
// is no such identity.
func (s *Store) TouchExternalIdentity(ctx context.Context, connectionID, subject string, now time.Time) error {
	tag, err := s.q(ctx).Exec(ctx, `
		UPDATE external_identities SET last_login_at = $3
		WHERE connection_id = $1 AND subject = $2`, connectionID, subject, timestamp(now))
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	return mapError(fmt.Sprintf("touch external identity at %q", connectionID), err)
}

// ListExternalIdentities orders by creation, then connection and subject.
func (s *Store) ListExternalIdentities(ctx context.Context, userID string) ([]storage.ExternalIdentity, error) {
	rows, _ := s.q(ctx).Query(ctx, `
		SELECT `+externalIdentityColumns+` FROM external_identities
		WHERE user_id = $1
		ORDER BY created_at, connection_id, subject`, userID)
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ExternalIdentity, error) { return scanExternalIdentity(r) })
	return es, mapError(fmt.Sprintf("list external identities of user %q", userID), err)
}

// DeleteExternalIdentity deletes the link only if it is the user's:
// another user's is ErrNotFound and stays.
func (s *Store) DeleteExternalIdentity(ctx context.Context, userID, connectionID, subject string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete external identity at %q of user %q", connectionID, userID),
		`DELETE FROM external_identities WHERE connection_id = $1 AND subject = $2 AND user_id = $3`,
		connectionID, subject, userID)
}
