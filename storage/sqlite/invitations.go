package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

const invitationColumns = `id, org_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, revoked_at`

func scanInvitation(row scanner) (storage.Invitation, error) {
	var i storage.Invitation
	err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy,
		timeColumn{&i.CreatedAt}, timeColumn{&i.ExpiresAt}, nullTimeColumn{&i.AcceptedAt}, nullTimeColumn{&i.RevokedAt})
	return i, dbError(err, storage.ErrNotFound)
}

// CreateInvitation revokes the open invitation of the same organization and
// address and stores inv, in one transaction, which BEGIN IMMEDIATE makes
// the only writer until it ends, recording invitation.revoked for the one
// revoked and invitation.created. An unknown organization fails the
// insert's foreign key: ErrNotFound.
func (s *Store) CreateInvitation(ctx context.Context, inv storage.Invitation) (storage.Invitation, error) {
	var out storage.Invitation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			UPDATE invitations SET revoked_at = ?
			WHERE org_id = ? AND email_key = ? AND accepted_at IS NULL AND revoked_at IS NULL
			RETURNING `+invitationColumns,
			formatTime(inv.CreatedAt), inv.OrgID, storage.EmailKey(inv.Email))
		if err != nil {
			return dbError(err, storage.ErrNotFound)
		}
		revoked, err := collect(rows, scanInvitation)
		if err != nil {
			return err
		}
		for _, r := range revoked {
			if err := insertEvent(ctx, tx, storage.NewInvitationEvent(storage.EventInvitationRevoked, r)); err != nil {
				return err
			}
		}
		out, err = scanInvitation(tx.QueryRowContext(ctx, `
			INSERT INTO invitations (`+invitationColumns+`, email_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING `+invitationColumns,
			inv.ID, inv.OrgID, inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy,
			formatTime(inv.CreatedAt), formatTime(inv.ExpiresAt), nullTime(inv.AcceptedAt),
			nullTime(inv.RevokedAt), storage.EmailKey(inv.Email)))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewInvitationEvent(storage.EventInvitationCreated, out))
	})
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("create invitation %s: %w", inv.ID, err)
	}
	return out, nil
}

func (s *Store) GetInvitation(ctx context.Context, id string) (storage.Invitation, error) {
	i, err := scanInvitation(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE id = ?`, id))
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("get invitation %s: %w", id, err)
	}
	return i, nil
}

// GetInvitationByTokenHash keeps the hash out of error messages.
func (s *Store) GetInvitationByTokenHash(ctx context.Context, hash string) (storage.Invitation, error) {
	i, err := scanInvitation(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE token_hash = ?`, hash))
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("get invitation by token: %w", err)
	}
	return i, nil
}

func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]storage.Invitation, error) {
	rows, err := s.q(ctx).QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = ?
		ORDER BY (accepted_at IS NULL AND revoked_at IS NULL) DESC, created_at DESC, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list invitations of organization %s: %w", orgID, dbError(err, storage.ErrNotFound))
	}
	out, err := collect(rows, scanInvitation)
	if err != nil {
		return nil, fmt.Errorf("list invitations of organization %s: %w", orgID, err)
	}
	return out, nil
}

// AcceptInvitation is one conditional UPDATE. SQLite runs writes one at a
// time, so of concurrent callers the first sets accepted_at and the others
// find it set and update nothing.
func (s *Store) AcceptInvitation(ctx context.Context, id string, now time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "accept invitation", storage.EventInvitationAccepted, id, `
		UPDATE invitations SET accepted_at = ?2
		WHERE id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
		RETURNING `+invitationColumns, id, formatTime(now))
}

func (s *Store) RevokeInvitation(ctx context.Context, id string, now time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "revoke invitation", storage.EventInvitationRevoked, id, `
		UPDATE invitations SET revoked_at = ?2
		WHERE id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL
		RETURNING `+invitationColumns, id, formatTime(now))
}

func (s *Store) ResendInvitation(ctx context.Context, id, tokenHash string, expiresAt time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "resend invitation", storage.EventInvitationResent, id, `
		UPDATE invitations SET token_hash = ?2, expires_at = ?3
		WHERE id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL
		RETURNING `+invitationColumns, id, tokenHash, formatTime(expiresAt))
}

// updateOpenInvitation runs a conditional UPDATE … RETURNING and records
// the event eventType of the invitation it returns, in one transaction;
// when it updates nothing, a read tells an unknown invitation (ErrNotFound)
// from one no longer in a state to change (ErrConflict).
func (s *Store) updateOpenInvitation(ctx context.Context, op, eventType, id, query string, args ...any) (storage.Invitation, error) {
	var i storage.Invitation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		i, err = scanInvitation(tx.QueryRowContext(ctx, query, args...))
		if err == nil {
			return insertEvent(ctx, tx, storage.NewInvitationEvent(eventType, i))
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		found, err := exists(ctx, tx, `SELECT EXISTS (SELECT 1 FROM invitations WHERE id = ?)`, id)
		switch {
		case err != nil:
			return err
		case !found:
			return storage.ErrNotFound
		}
		return fmt.Errorf("%w: accepted, revoked or expired", storage.ErrConflict)
	})
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("%s %s: %w", op, id, err)
	}
	return i, nil
}
