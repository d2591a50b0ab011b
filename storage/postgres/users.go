package postgres

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const userColumns = `id, email, email_verified, name, password_hash, admin, created_at, updated_at`

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	if err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.PasswordHash, &u.Admin, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return storage.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// CreateUser stores u. ErrAlreadyExists when the ID or the email (by
// storage.EmailKey) is taken; ErrInvalid when either is empty. The
// user.created event commits with the user.
func (s *Store) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	var out storage.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanUser(tx.QueryRow(ctx, `
			INSERT INTO users (id, email, email_key, email_verified, name, password_hash, admin, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			RETURNING `+userColumns,
			u.ID, u.Email, storage.EmailKey(u.Email), u.EmailVerified, u.Name, u.PasswordHash, u.Admin,
			timestamp(u.CreatedAt), timestamp(u.UpdatedAt)))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserCreated, out))
	})
	if err != nil {
		return storage.User{}, mapError("create user", err)
	}
	return out, nil
}

func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, mapError(fmt.Sprintf("get user %q", id), err)
}

// GetUserByEmail finds a user by email, ignoring case and surrounding space.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, storage.EmailKey(email)))
	// The email stays out of the message: errors end up in logs.
	return u, mapError("get user by email", err)
}

func (s *Store) ListUsers(ctx context.Context, p storage.Page) ([]storage.User, error) {
	// A failed Query surfaces through CollectRows (pgx's documented idiom).
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`,
		p.After, p.EffectiveLimit())
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	return users, mapError("list users", err)
}

// UpdateUser locks the user's row, applies update and writes the result; ID
// and CreatedAt keep their stored values. update may run more than once.
// A user.updated event is recorded only when storage.UserChanged.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) (storage.User, error) {
	var out storage.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		old, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		u, err := update(old)
		if err != nil {
			return callbackError{err}
		}
		out, err = scanUser(tx.QueryRow(ctx, `
			UPDATE users SET email = $2, email_key = $3, email_verified = $4, name = $5,
				password_hash = $6, admin = $7, updated_at = $8
			WHERE id = $1
			RETURNING `+userColumns,
			id, u.Email, storage.EmailKey(u.Email), u.EmailVerified, u.Name, u.PasswordHash, u.Admin,
			timestamp(u.UpdatedAt)))
		if err != nil || !storage.UserChanged(old, out) {
			return err
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserUpdated, out))
	})
	if err != nil {
		return storage.User{}, mapError(fmt.Sprintf("update user %q", id), err)
	}
	return out, nil
}

// DeleteUser removes the user; the database cascades to their memberships,
// browser sessions and consents. The user.deleted event carries the user
// as it was; the cascaded deletions record no membership.deleted or
// session.ended events of their own: user.deleted implies them.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		u, err := scanUser(tx.QueryRow(ctx, `DELETE FROM users WHERE id = $1 RETURNING `+userColumns, id))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserDeleted, u))
	})
	return mapDeleteError(fmt.Sprintf("delete user %q", id), err)
}

// SearchUsers counts every match, then reads one page of them. The two
// reads are not one snapshot: a total off by a concurrent sign-up is fine
// for a list screen.
func (s *Store) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, int, error) {
	// Every filter is always bound; an empty one matches everything, so
	// the statement is one fixed text.
	const where = ` WHERE ($1 = '' OR email_key LIKE $1 ESCAPE '\' OR name ILIKE $1 ESCAPE '\')
		AND ($2 = '' AND $3 = '' OR EXISTS (SELECT 1 FROM memberships m JOIN roles r ON r.id = m.role_id
			WHERE m.user_id = users.id AND ($2 = '' OR m.org_id = $2) AND ($3 = '' OR r.name = $3)))`
	pattern := ""
	if q.Search != "" {
		pattern = storage.LikePattern(q.Search)
	}
	var total int
	if err := s.q(ctx).QueryRow(ctx, `SELECT count(*) FROM users`+where, pattern, q.OrgID, q.Role).Scan(&total); err != nil {
		return nil, 0, mapError("count users", err)
	}
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+userColumns+` FROM users`+where+` AND id > $4 ORDER BY id LIMIT $5`,
		pattern, q.OrgID, q.Role, q.After, q.EffectiveLimit())
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	if err != nil {
		return nil, 0, mapError("search users", err)
	}
	return users, total, nil
}
