package postgres

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const orgColumns = `id, slug, name, logo_url, brand_color, require_mfa, created_at, updated_at`

func scanOrganization(row pgx.Row) (storage.Organization, error) {
	var o storage.Organization
	if err := row.Scan(&o.ID, &o.Slug, &o.Name, &o.LogoURL, &o.BrandColor, &o.RequireMFA, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return storage.Organization{}, err
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, nil
}

// CreateOrganization stores o. ErrAlreadyExists when the ID or slug is taken.
// The organization.created event commits with it.
func (s *Store) CreateOrganization(ctx context.Context, o storage.Organization) (storage.Organization, error) {
	var out storage.Organization
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanOrganization(tx.QueryRow(ctx, `
			INSERT INTO organizations (id, slug, name, logo_url, brand_color, require_mfa, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			RETURNING `+orgColumns,
			o.ID, o.Slug, o.Name, o.LogoURL, o.BrandColor, o.RequireMFA, timestamp(o.CreatedAt), timestamp(o.UpdatedAt)))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationCreated, out))
	})
	if err != nil {
		return storage.Organization{}, mapError("create organization", err)
	}
	return out, nil
}

func (s *Store) GetOrganization(ctx context.Context, id string) (storage.Organization, error) {
	o, err := scanOrganization(s.q(ctx).QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	return o, mapError(fmt.Sprintf("get organization %q", id), err)
}

func (s *Store) GetOrganizationBySlug(ctx context.Context, slug string) (storage.Organization, error) {
	o, err := scanOrganization(s.q(ctx).QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE slug = $1`, slug))
	return o, mapError(fmt.Sprintf("get organization by slug %q", slug), err)
}

func (s *Store) ListOrganizations(ctx context.Context, p storage.Page) ([]storage.Organization, error) {
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id > $1 ORDER BY id LIMIT $2`,
		p.After, p.EffectiveLimit())
	orgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Organization, error) { return scanOrganization(r) })
	return orgs, mapError("list organizations", err)
}

// UpdateOrganization locks the row, applies update and writes the slug, name,
// LogoURL, BrandColor, RequireMFA and UpdatedAt it returns. update may run more than once.
// An organization.updated event is recorded only when the event's data
// changed.
func (s *Store) UpdateOrganization(ctx context.Context, id string, update func(storage.Organization) (storage.Organization, error)) (storage.Organization, error) {
	var out storage.Organization
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanOrganization(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		o, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanOrganization(tx.QueryRow(ctx, `
			UPDATE organizations SET slug = $2, name = $3, logo_url = $4, brand_color = $5, require_mfa = $6, updated_at = $7
			WHERE id = $1
			RETURNING `+orgColumns,
			id, o.Slug, o.Name, o.LogoURL, o.BrandColor, o.RequireMFA, timestamp(o.UpdatedAt)))
		if err != nil {
			return err
		}
		if !storage.OrganizationChanged(old, out) {
			return nil
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationUpdated, out))
	})
	if err != nil {
		return storage.Organization{}, mapError(fmt.Sprintf("update organization %q", id), err)
	}
	return out, nil
}

// DeleteOrganization removes the organization; the database cascades to its
// memberships and custom roles.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// External identities have no foreign key to their connection
		// (upstream connections share the table): the organization's SAML
		// and upstream connections' go with it here.
		if _, err := tx.Exec(ctx, `DELETE FROM external_identities
			WHERE connection_id IN (SELECT id FROM saml_connections WHERE org_id = $1
				UNION SELECT id FROM upstream_connections WHERE org_id = $1)`, id); err != nil {
			return err
		}
		// The organization.deleted event carries the organization as it
		// was. The cascaded deletions (memberships, invitations, webhook
		// endpoints, …) record no events of their own: organization.deleted
		// implies them.
		o, err := scanOrganization(tx.QueryRow(ctx, `DELETE FROM organizations WHERE id = $1 RETURNING `+orgColumns, id))
		if err != nil {
			return err // pgx.ErrNoRows: ErrNotFound
		}
		return insertEvent(ctx, tx, storage.NewOrganizationEvent(storage.EventOrganizationDeleted, o))
	})
	return mapDeleteError(fmt.Sprintf("delete organization %q", id), err)
}
