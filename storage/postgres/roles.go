package postgres

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

// Built-in roles have a NULL org_id; Role.OrgID is empty for them.
const roleColumns = `id, coalesce(org_id, ''), name, description, permissions, created_at, updated_at`

// usableIn restricts a roles query to the roles organization $1 may use: its
// own, and the built-ins provided the organization exists, so that a missing
// organization has no roles at all.
const usableIn = `(org_id = $1 OR (org_id IS NULL AND EXISTS (SELECT 1 FROM organizations WHERE id = $1)))`

// roleInOrg selects the role named $2 usable in organization $1. Names never
// collide (CreateRole refuses built-in names), but should one ever, the
// built-in wins.
const roleInOrg = `FROM roles WHERE name = $2 AND ` + usableIn + `
	ORDER BY org_id NULLS FIRST LIMIT 1`

func scanRole(row pgx.Row) (storage.Role, error) {
	var r storage.Role
	if err := row.Scan(&r.ID, &r.OrgID, &r.Name, &r.Description, &r.Permissions, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return storage.Role{}, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// CreateRole stores a custom role of r.OrgID. ErrAlreadyExists when the
// organization has a role of that name, built-ins included; ErrNotFound when
// the organization does not exist.
func (s *Store) CreateRole(ctx context.Context, r storage.Role) (storage.Role, error) {
	if r.OrgID == "" {
		return storage.Role{}, fmt.Errorf("create role %q: %w: no organization (built-in roles come from migrations)", r.Name, storage.ErrInvalid)
	}
	if storage.IsBuiltinRole(r.Name) {
		return storage.Role{}, fmt.Errorf("create role %q: %w: a built-in role has that name", r.Name, storage.ErrAlreadyExists)
	}
	r, err := scanRole(s.q(ctx).QueryRow(ctx, `
		INSERT INTO roles (id, org_id, name, description, permissions, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+roleColumns,
		r.ID, r.OrgID, r.Name, r.Description, nonNil(r.Permissions), timestamp(r.CreatedAt), timestamp(r.UpdatedAt)))
	return r, mapError("create role", err)
}

// GetRole finds the role named name usable in organization orgID.
func (s *Store) GetRole(ctx context.Context, orgID, name string) (storage.Role, error) {
	r, err := scanRole(s.q(ctx).QueryRow(ctx, `SELECT `+roleColumns+` `+roleInOrg, orgID, name))
	return r, mapError(fmt.Sprintf("get role %q of organization %q", name, orgID), err)
}

// ListRoles lists the built-in roles, then the organization's custom roles,
// each group ordered by name. ErrNotFound when the organization does not exist.
func (s *Store) ListRoles(ctx context.Context, orgID string) ([]storage.Role, error) {
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+roleColumns+` FROM roles WHERE `+usableIn+`
		ORDER BY org_id IS NOT NULL, name`, orgID)
	roles, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Role, error) { return scanRole(r) })
	if err == nil && len(roles) == 0 {
		err = pgx.ErrNoRows // an existing organization always has the built-ins
	}
	return roles, mapError(fmt.Sprintf("list roles of organization %q", orgID), err)
}

// UpdateRole changes a custom role's description and permissions (and
// UpdatedAt); ErrConflict for a built-in role. update may run more than once.
func (s *Store) UpdateRole(ctx context.Context, orgID, name string, update func(storage.Role) (storage.Role, error)) (storage.Role, error) {
	var out storage.Role
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanRole(tx.QueryRow(ctx, `SELECT `+roleColumns+` `+roleInOrg+` FOR UPDATE`, orgID, name))
		if err != nil {
			return err
		}
		if old.Builtin() {
			return fmt.Errorf("%w: built-in roles change only with a new release", storage.ErrConflict)
		}
		r, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanRole(tx.QueryRow(ctx, `
			UPDATE roles SET description = $2, permissions = $3, updated_at = $4
			WHERE id = $1
			RETURNING `+roleColumns,
			old.ID, r.Description, nonNil(r.Permissions), timestamp(r.UpdatedAt)))
		return err
	})
	return out, mapError(fmt.Sprintf("update role %q of organization %q", name, orgID), err)
}

// DeleteRole removes a custom role. ErrConflict for a built-in role, or while
// memberships use the role: their foreign key refuses the delete, which
// settles a race with a membership being created in the same instant.
func (s *Store) DeleteRole(ctx context.Context, orgID, name string) error {
	op := fmt.Sprintf("delete role %q of organization %q", name, orgID)
	if storage.IsBuiltinRole(name) {
		return fmt.Errorf("%s: %w: built-in roles cannot be deleted", op, storage.ErrConflict)
	}
	return deleteOne(ctx, s.q(ctx), op, `DELETE FROM roles WHERE org_id = $1 AND name = $2`, orgID, name)
}
