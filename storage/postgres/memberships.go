package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

// Memberships store a role ID; records carry the role's name.
const membershipSelect = `SELECT m.org_id, m.user_id, r.name, m.created_at, m.updated_at
	FROM memberships m JOIN roles r ON r.id = m.role_id`

func scanMembership(row pgx.Row) (storage.Membership, error) {
	var m storage.Membership
	if err := row.Scan(&m.OrgID, &m.UserID, &m.Role, &m.CreatedAt, &m.UpdatedAt); err != nil {
		return storage.Membership{}, err
	}
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, nil
}

// CreateMembership adds m. ErrNotFound when the organization, the user or
// the role (a built-in or a custom role of m.OrgID) does not exist;
// ErrAlreadyExists when the user is already a member.
func (s *Store) CreateMembership(ctx context.Context, m storage.Membership) (storage.Membership, error) {
	op := fmt.Sprintf("create membership of user %q in organization %q", m.UserID, m.OrgID)
	// One statement resolves the role and inserts, atomically; the foreign
	// key check locks the role row against a concurrent DeleteRole. A missing
	// organization or user fails that check; a missing role leaves nothing
	// to insert. The membership.created event commits with it.
	var out storage.Membership
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanMembership(tx.QueryRow(ctx, `
			INSERT INTO memberships (org_id, user_id, role_id, created_at, updated_at)
			SELECT $1, $3, id, $4, $5 `+roleInOrg+`
			RETURNING org_id, user_id, $2::text, created_at, updated_at`,
			m.OrgID, m.Role, m.UserID, timestamp(m.CreatedAt), timestamp(m.UpdatedAt)))
		if errors.Is(err, pgx.ErrNoRows) {
			return noRole(m.Role)
		}
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipCreated, out))
	})
	if err != nil {
		return storage.Membership{}, mapError(op, err)
	}
	return out, nil
}

func noRole(name string) error {
	return fmt.Errorf("%w: no role %q in the organization", storage.ErrNotFound, name)
}

func (s *Store) GetMembership(ctx context.Context, orgID, userID string) (storage.Membership, error) {
	m, err := scanMembership(s.q(ctx).QueryRow(ctx, membershipSelect+` WHERE m.org_id = $1 AND m.user_id = $2`, orgID, userID))
	return m, mapError(fmt.Sprintf("get membership of user %q in organization %q", userID, orgID), err)
}

// ListMembershipsByOrganization lists the organization's members ordered by
// user ID; p.After is a user ID.
func (s *Store) ListMembershipsByOrganization(ctx context.Context, orgID string, p storage.Page) ([]storage.Membership, error) {
	rows, _ := s.q(ctx).Query(ctx, membershipSelect+` WHERE m.org_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3`,
		orgID, p.After, p.EffectiveLimit())
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Membership, error) { return scanMembership(r) })
	return ms, mapError(fmt.Sprintf("list memberships of organization %q", orgID), err)
}

// ListMembershipsByUser lists every membership of the user ordered by
// organization ID.
func (s *Store) ListMembershipsByUser(ctx context.Context, userID string) ([]storage.Membership, error) {
	rows, _ := s.q(ctx).Query(ctx, membershipSelect+` WHERE m.user_id = $1 ORDER BY m.org_id`, userID)
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Membership, error) { return scanMembership(r) })
	return ms, mapError(fmt.Sprintf("list memberships of user %q", userID), err)
}

// UpdateMembership locks the membership, applies update and writes its Role
// (resolved like CreateMembership) and UpdatedAt. update may run more than
// once. A membership.updated event is recorded only when the role changed.
func (s *Store) UpdateMembership(ctx context.Context, orgID, userID string, update func(storage.Membership) (storage.Membership, error)) (storage.Membership, error) {
	var out storage.Membership
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanMembership(tx.QueryRow(ctx, membershipSelect+` WHERE m.org_id = $1 AND m.user_id = $2 FOR UPDATE OF m`, orgID, userID))
		if err != nil {
			return err
		}
		m, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		var roleID string
		err = tx.QueryRow(ctx, `SELECT id `+roleInOrg, orgID, m.Role).Scan(&roleID)
		if errors.Is(err, pgx.ErrNoRows) {
			return noRole(m.Role)
		}
		if err != nil {
			return err
		}
		out, err = scanMembership(tx.QueryRow(ctx, `
			UPDATE memberships SET role_id = $3, updated_at = $5
			WHERE org_id = $1 AND user_id = $2
			RETURNING org_id, user_id, $4::text, created_at, updated_at`,
			orgID, userID, roleID, m.Role, timestamp(m.UpdatedAt)))
		if err != nil || out.Role == old.Role {
			return err
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipUpdated, out))
	})
	if err != nil {
		return storage.Membership{}, mapError(fmt.Sprintf("update membership of user %q in organization %q", userID, orgID), err)
	}
	return out, nil
}

// DeleteMembership removes the membership and records membership.deleted
// with it as it was. Memberships deleted with their user or organization
// (ON DELETE CASCADE) record no membership.deleted: the user.deleted or
// organization.deleted event implies them.
func (s *Store) DeleteMembership(ctx context.Context, orgID, userID string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := scanMembership(tx.QueryRow(ctx, `
			DELETE FROM memberships m USING roles r
			WHERE r.id = m.role_id AND m.org_id = $1 AND m.user_id = $2
			RETURNING m.org_id, m.user_id, r.name, m.created_at, m.updated_at`, orgID, userID))
		if err != nil {
			return err // pgx.ErrNoRows: ErrNotFound
		}
		return insertEvent(ctx, tx, storage.NewMembershipEvent(storage.EventMembershipDeleted, m))
	})
	return mapDeleteError(fmt.Sprintf("delete membership of user %q in organization %q", userID, orgID), err)
}
