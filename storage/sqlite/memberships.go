package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

// membershipSelect reads memberships with their role's name, which is what
// storage.Membership holds; the table keeps the role's ID.
const membershipSelect = `
	SELECT m.org_id, m.user_id, r.name, m.created_at, m.updated_at
	FROM memberships m JOIN roles r ON r.id = m.role_id`

func scanMembership(row scanner) (storage.Membership, error) {
	var m storage.Membership
	err := row.Scan(&m.OrgID, &m.UserID, &m.Role, timeColumn{&m.CreatedAt}, timeColumn{&m.UpdatedAt})
	return m, err
}

// resolveRole returns the ID of the role called name that orgID may use: a
// built-in or one of its own, never another organization's.
func resolveRole(ctx context.Context, tx *sql.Tx, orgID, name string) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx,
		`SELECT id FROM roles WHERE name = ? AND (org_id IS NULL OR org_id = ?)`, name, orgID).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("role %q: %w", name, dbError(err, storage.ErrNotFound))
	}
	return id, nil
}

func (s *Store) CreateMembership(ctx context.Context, m storage.Membership) (storage.Membership, error) {
	m.CreatedAt, m.UpdatedAt = utc(m.CreatedAt), utc(m.UpdatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Checked one by one to say which is missing; the foreign keys would
		// only say that something is.
		for _, c := range []struct{ what, query, id string }{
			{"organization", `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?)`, m.OrgID},
			{"user", `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, m.UserID},
		} {
			found, err := exists(ctx, tx, c.query, c.id)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%s: %w", c.what, storage.ErrNotFound)
			}
		}
		roleID, err := resolveRole(ctx, tx, m.OrgID, m.Role)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO memberships (org_id, user_id, role_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			m.OrgID, m.UserID, roleID, formatTime(m.CreatedAt), formatTime(m.UpdatedAt))
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipCreated, m))
	})
	if err != nil {
		return storage.Membership{}, fmt.Errorf("create membership of user %s in organization %s: %w", m.UserID, m.OrgID, err)
	}
	return m, nil
}

func (s *Store) GetMembership(ctx context.Context, orgID, userID string) (storage.Membership, error) {
	m, err := getMembership(ctx, s.q(ctx), orgID, userID)
	if err != nil {
		return storage.Membership{}, fmt.Errorf("get membership of user %s in organization %s: %w", userID, orgID, err)
	}
	return m, nil
}

func getMembership(ctx context.Context, q querier, orgID, userID string) (storage.Membership, error) {
	m, err := scanMembership(q.QueryRowContext(ctx,
		membershipSelect+` WHERE m.org_id = ? AND m.user_id = ?`, orgID, userID))
	return m, dbError(err, storage.ErrNotFound)
}

func (s *Store) ListMembershipsByOrganization(ctx context.Context, orgID string, p storage.Page) ([]storage.Membership, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		membershipSelect+` WHERE m.org_id = ? AND m.user_id > ? ORDER BY m.user_id LIMIT ?`,
		orgID, p.After, p.EffectiveLimit())
	if err != nil {
		return nil, fmt.Errorf("list memberships of organization %s: %w", orgID, dbError(err, storage.ErrNotFound))
	}
	ms, err := collect(rows, scanMembership)
	if err != nil {
		return nil, fmt.Errorf("list memberships of organization %s: %w", orgID, err)
	}
	return ms, nil
}

func (s *Store) ListMembershipsByUser(ctx context.Context, userID string) ([]storage.Membership, error) {
	rows, err := s.q(ctx).QueryContext(ctx, membershipSelect+` WHERE m.user_id = ? ORDER BY m.org_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships of user %s: %w", userID, dbError(err, storage.ErrNotFound))
	}
	ms, err := collect(rows, scanMembership)
	if err != nil {
		return nil, fmt.Errorf("list memberships of user %s: %w", userID, err)
	}
	return ms, nil
}

// UpdateMembership applies update under the write lock; only the role and
// UpdatedAt it returns are kept, and the role must be usable in the
// organization. It records membership.updated only when the role changed.
func (s *Store) UpdateMembership(ctx context.Context, orgID, userID string, update func(storage.Membership) (storage.Membership, error)) (storage.Membership, error) {
	var m storage.Membership
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getMembership(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if m, err = update(old); err != nil {
			return err
		}
		m.OrgID, m.UserID, m.CreatedAt, m.UpdatedAt = old.OrgID, old.UserID, old.CreatedAt, utc(m.UpdatedAt)
		roleID, err := resolveRole(ctx, tx, m.OrgID, m.Role)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE memberships SET role_id = ?, updated_at = ? WHERE org_id = ? AND user_id = ?`,
			roleID, formatTime(m.UpdatedAt), m.OrgID, m.UserID)
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		if m.Role == old.Role {
			return nil
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipUpdated, m))
	})
	if err != nil {
		return storage.Membership{}, fmt.Errorf("update membership of user %s in organization %s: %w", userID, orgID, err)
	}
	return m, nil
}

// DeleteMembership deletes the membership and records membership.deleted
// with it as it was (read first: the table keeps the role's ID, the event
// its name). Memberships deleted by the cascade of DeleteUser or
// DeleteOrganization record no membership.deleted.
func (s *Store) DeleteMembership(ctx context.Context, orgID, userID string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := getMembership(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := deleteOne(ctx, tx, `DELETE FROM memberships WHERE org_id = ? AND user_id = ?`, orgID, userID); err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipDeleted, m))
	})
	if err != nil {
		return fmt.Errorf("delete membership of user %s in organization %s: %w", userID, orgID, err)
	}
	return nil
}
