package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

const userColumns = `id, email, email_verified, name, password_hash, admin, created_at, updated_at`

func scanUser(row scanner) (storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Email, &u.EmailVerified, &u.Name, &u.PasswordHash, &u.Admin,
		timeColumn{&u.CreatedAt}, timeColumn{&u.UpdatedAt})
	return u, err
}

// CreateUser stores u with its times in UTC microseconds and returns it,
// recording user.created in the same transaction.
func (s *Store) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO users (id, email, email_key, email_verified, name, password_hash, admin, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, storage.EmailKey(u.Email), u.EmailVerified, u.Name, u.PasswordHash, u.Admin,
			formatTime(u.CreatedAt), formatTime(u.UpdatedAt))
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserCreated, u))
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return u, nil
}

func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := getUser(ctx, s.q(ctx), id)
	if err != nil {
		return storage.User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return u, nil
}

func getUser(ctx context.Context, q querier, id string) (storage.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, dbError(err, storage.ErrNotFound)
}

// GetUserByEmail looks the user up by storage.EmailKey, the unique form.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := scanUser(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_key = ?`, storage.EmailKey(email)))
	if err != nil {
		return storage.User{}, fmt.Errorf("get user by email: %w", dbError(err, storage.ErrNotFound))
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context, p storage.Page) ([]storage.User, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.EffectiveLimit())
	if err != nil {
		return nil, fmt.Errorf("list users: %w", dbError(err, storage.ErrNotFound))
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdateUser applies update to the stored user under the write lock. The
// stored ID and CreatedAt win over whatever update returns. It records
// user.updated only when the change shows in the event (storage.UserChanged).
func (s *Store) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) (storage.User, error) {
	var u storage.User
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := getUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if u, err = update(old); err != nil {
			return err
		}
		u.ID, u.CreatedAt, u.UpdatedAt = old.ID, old.CreatedAt, utc(u.UpdatedAt)
		_, err = tx.ExecContext(ctx, `
			UPDATE users SET email = ?, email_key = ?, email_verified = ?, name = ?, password_hash = ?,
				admin = ?, updated_at = ?
			WHERE id = ?`,
			u.Email, storage.EmailKey(u.Email), u.EmailVerified, u.Name, u.PasswordHash, u.Admin,
			formatTime(u.UpdatedAt), u.ID)
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		if !storage.UserChanged(old, u) {
			return nil
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserUpdated, u))
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("update user %s: %w", id, err)
	}
	return u, nil
}

// DeleteUser deletes the user and records user.deleted with the user as
// it was. The foreign keys cascade to memberships, browser sessions and
// consents; those cascaded deletions record no membership.deleted or
// session.ended: user.deleted implies them.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `DELETE FROM users WHERE id = ? RETURNING `+userColumns, id))
		if err != nil {
			// No row is ErrNotFound; a foreign key means rows still
			// refer to the user.
			return dbError(err, storage.ErrConflict)
		}
		return insertEvent(ctx, tx, storage.NewUserEvent(storage.EventUserDeleted, u))
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}

// SearchUsers counts every match, then reads one page of them. The two
// reads are not one snapshot: a total off by a concurrent sign-up is fine
// for a list screen.
func (s *Store) SearchUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, int, error) {
	where, args := userFilter(q)
	var total int
	if err := s.q(ctx).QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", dbError(err, storage.ErrNotFound))
	}
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE `+where+` AND id > ? ORDER BY id LIMIT ?`,
		append(args, q.After, q.EffectiveLimit())...)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", dbError(err, storage.ErrNotFound))
	}
	users, err := collect(rows, scanUser)
	if err != nil {
		return nil, 0, fmt.Errorf("search users: %w", err)
	}
	return users, total, nil
}

// userFilter is the WHERE condition (with its arguments) for q's filters.
// SQLite's LIKE ignores ASCII case; email_key is already lowercase.
func userFilter(q storage.UserQuery) (string, []any) {
	where, args := "1 = 1", []any{}
	if q.Search != "" {
		p := storage.LikePattern(q.Search)
		where += ` AND (email_key LIKE ? ESCAPE '\' OR name LIKE ? ESCAPE '\')`
		args = append(args, p, p)
	}
	if q.OrgID != "" || q.Role != "" {
		where += ` AND EXISTS (SELECT 1 FROM memberships m JOIN roles r ON r.id = m.role_id
			WHERE m.user_id = users.id AND (? = '' OR m.org_id = ?) AND (? = '' OR r.name = ?))`
		args = append(args, q.OrgID, q.OrgID, q.Role, q.Role)
	}
	return where, args
}
