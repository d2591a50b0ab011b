package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

const orgColumns = `id, slug, name, logo_url, brand_color, require_mfa, created_at, updated_at`

func scanOrg(row scanner) (storage.Organization, error) {
	var o storage.Organization
	err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.LogoURL, &o.BrandColor, &o.RequireMFA, timeColumn{&o.CreatedAt}, timeColumn{&o.UpdatedAt})
	return o, err
}

// CreateOrganization stores o and records organization.created in the
// same transaction.
func (s *Store) CreateOrganization(ctx context.Context, o storage.Organization) (storage.Organization, error) {
	o.CreatedAt, o.UpdatedAt = utc(o.CreatedAt), utc(o.UpdatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO organizations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.Slug, o.Name, o.LogoURL, o.BrandColor, o.RequireMFA, formatTime(o.CreatedAt), formatTime(o.UpdatedAt))
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationCreated, o))
	})
	if err != nil {
		return storage.Organization{}, fmt.Errorf("create organization %s: %w", o.ID, err)
	}
	return o, nil
}

func (s *Store) GetOrganization(ctx context.Context, id string) (storage.Organization, error) {
	o, err := getOrg(ctx, s.q(ctx), id)
	if err != nil {
		return storage.Organization{}, fmt.Errorf("get organization %s: %w", id, err)
	}
	return o, nil
}

func getOrg(ctx context.Context, q querier, id string) (storage.Organization, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, id))
	return o, dbError(err, storage.ErrNotFound)
}

func (s *Store) GetOrganizationBySlug(ctx context.Context, slug string) (storage.Organization, error) {
	o, err := scanOrg(s.q(ctx).QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE slug = ?`, slug))
	if err != nil {
		return storage.Organization{}, fmt.Errorf("get organization by slug %q: %w", slug, dbError(err, storage.ErrNotFound))
	}
	return o, nil
}

func (s *Store) ListOrganizations(ctx context.Context, p storage.Page) ([]storage.Organization, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+orgColumns+` FROM organizations WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.EffectiveLimit())
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", dbError(err, storage.ErrNotFound))
	}
	orgs, err := collect(rows, scanOrg)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	return orgs, nil
}

// UpdateOrganization applies update to the stored organization under the
// write lock. The stored ID and CreatedAt win over whatever update returns.
// It records organization.updated only when the event's data changed.
func (s *Store) UpdateOrganization(ctx context.Context, id string, update func(storage.Organization) (storage.Organization, error)) (storage.Organization, error) {
	var o storage.Organization
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getOrg(ctx, tx, id)
		if err != nil {
			return err
		}
		if o, err = update(old); err != nil {
			return err
		}
		o.ID, o.CreatedAt, o.UpdatedAt = old.ID, old.CreatedAt, utc(o.UpdatedAt)
		_, err = tx.ExecContext(ctx, `UPDATE organizations SET slug = ?, name = ?, logo_url = ?, brand_color = ?, require_mfa = ?, updated_at = ? WHERE id = ?`,
			o.Slug, o.Name, o.LogoURL, o.BrandColor, o.RequireMFA, formatTime(o.UpdatedAt), o.ID)
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		if !storage.OrganizationChanged(old, o) {
			return nil
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationUpdated, o))
	})
	if err != nil {
		return storage.Organization{}, fmt.Errorf("update organization %s: %w", id, err)
	}
	return o, nil
}

// DeleteOrganization deletes the organization and records
// organization.deleted with the organization as it was. The foreign keys
// cascade to its memberships, invitations, custom roles and webhook
// endpoints in the same statement; those cascaded deletions record no
// membership.deleted or invitation.revoked: organization.deleted implies
// them.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// External identities have no foreign key to their connection
		// (upstream connections share the table): the organization's SAML
		// and upstream connections' go with it here.
		if _, err := tx.ExecContext(ctx, `DELETE FROM external_identities
			WHERE connection_id IN (SELECT id FROM saml_connections WHERE org_id = ?1
				UNION SELECT id FROM upstream_connections WHERE org_id = ?1)`, id); err != nil {
			return dbError(err, storage.ErrConflict)
		}
		o, err := scanOrg(tx.QueryRowContext(ctx, `DELETE FROM organizations WHERE id = ? RETURNING `+orgColumns, id))
		if err != nil {
			// No row is ErrNotFound; a foreign key means rows still
			// refer to the organization.
			return dbError(err, storage.ErrConflict)
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationDeleted, o))
	})
	if err != nil {
		return fmt.Errorf("delete organization %s: %w", id, err)
	}
	return nil
}
