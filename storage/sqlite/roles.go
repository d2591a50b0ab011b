package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

// roleColumns reads a built-in role's NULL org_id as "", as storage.Role
// has it.
const roleColumns = `id, COALESCE(org_id, ''), name, description, permissions, created_at, updated_at`

// usableIn restricts a roles query to the roles organization ?1 may use:
// its own, and the built-ins provided the organization exists, so that a
// missing organization has no roles at all.
const usableIn = `(org_id = ?1 OR (org_id IS NULL AND EXISTS (SELECT 1 FROM organizations WHERE id = ?1)))`

func scanRole(row scanner) (storage.Role, error) {
	var r storage.Role
	err := row.Scan(&r.ID, &r.OrgID, &r.Name, &r.Description, listColumn{&r.Permissions},
		timeColumn{&r.CreatedAt}, timeColumn{&r.UpdatedAt})
	return r, err
}

// CreateRole stores a custom role of r.OrgID.
func (s *Store) CreateRole(ctx context.Context, r storage.Role) (storage.Role, error) {
	if r.OrgID == "" {
		return storage.Role{}, fmt.Errorf("create role %q: no organization: %w", r.Name, storage.ErrInvalid)
	}
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// No unique index spans built-in and custom roles (the built-ins'
		// org_id is NULL), so the write lock makes this check safe instead.
		builtin, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM roles WHERE org_id IS NULL AND name = ?)`, r.Name)
		if err != nil {
			return err
		}
		if builtin {
			return fmt.Errorf("a built-in role has that name: %w", storage.ErrAlreadyExists)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO roles (id, org_id, name, description, permissions, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.OrgID, r.Name, r.Description, encodeList(r.Permissions),
			formatTime(r.CreatedAt), formatTime(r.UpdatedAt))
		// A foreign-key failure here means the organization is missing.
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.Role{}, fmt.Errorf("create role %q in organization %s: %w", r.Name, r.OrgID, err)
	}
	return r, nil
}

func (s *Store) GetRole(ctx context.Context, orgID, name string) (storage.Role, error) {
	r, err := getRole(ctx, s.q(ctx), orgID, name)
	if err != nil {
		return storage.Role{}, fmt.Errorf("get role %q in organization %s: %w", name, orgID, err)
	}
	return r, nil
}

func getRole(ctx context.Context, q querier, orgID, name string) (storage.Role, error) {
	r, err := scanRole(q.QueryRowContext(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE `+usableIn+` AND name = ?2`, orgID, name))
	return r, dbError(err, storage.ErrNotFound)
}

// ListRoles lists the built-ins, then the organization's own roles, each by
// name. ErrNotFound when the organization does not exist.
func (s *Store) ListRoles(ctx context.Context, orgID string) ([]storage.Role, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE `+usableIn+` ORDER BY org_id IS NOT NULL, name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list roles of organization %s: %w", orgID, dbError(err, storage.ErrNotFound))
	}
	roles, err := collect(rows, scanRole)
	if err != nil {
		return nil, fmt.Errorf("list roles of organization %s: %w", orgID, err)
	}
	// An existing organization always has the built-ins.
	if len(roles) == 0 {
		return nil, fmt.Errorf("list roles of organization %s: %w", orgID, storage.ErrNotFound)
	}
	return roles, nil
}

// UpdateRole applies update to a custom role under the write lock; only the
// description, permissions and UpdatedAt it returns are kept.
func (s *Store) UpdateRole(ctx context.Context, orgID, name string, update func(storage.Role) (storage.Role, error)) (storage.Role, error) {
	var r storage.Role
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getRole(ctx, tx, orgID, name)
		if err != nil {
			return err
		}
		if old.Builtin() {
			return fmt.Errorf("built-in role: %w", storage.ErrConflict)
		}
		if r, err = update(old); err != nil {
			return err
		}
		r.ID, r.OrgID, r.Name, r.CreatedAt, r.UpdatedAt = old.ID, old.OrgID, old.Name, old.CreatedAt, utc(r.UpdatedAt)
		_, err = tx.ExecContext(ctx, `UPDATE roles SET description = ?, permissions = ?, updated_at = ? WHERE id = ?`,
			r.Description, encodeList(r.Permissions), formatTime(r.UpdatedAt), r.ID)
		return dbError(err, storage.ErrNotFound)
	})
	if err != nil {
		return storage.Role{}, fmt.Errorf("update role %q in organization %s: %w", name, orgID, err)
	}
	return r, nil
}

// DeleteRole deletes a custom role that no membership uses.
func (s *Store) DeleteRole(ctx context.Context, orgID, name string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getRole(ctx, tx, orgID, name)
		if err != nil {
			return err
		}
		if r.Builtin() {
			return fmt.Errorf("built-in role: %w", storage.ErrConflict)
		}
		// The foreign key would refuse too; checking first says why.
		used, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE role_id = ?)`, r.ID)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("memberships use it: %w", storage.ErrConflict)
		}
		return deleteOne(ctx, tx, `DELETE FROM roles WHERE id = ?`, r.ID)
	})
	if err != nil {
		return fmt.Errorf("delete role %q in organization %s: %w", name, orgID, err)
	}
	return nil
}
