package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const invitationColumns = `id, org_id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, revoked_at`

func scanInvitation(row pgx.Row) (storage.Invitation, error) {
	var (
		i                     storage.Invitation
		acceptedAt, revokedAt *time.Time
	)
	if err := row.Scan(&i.ID, &i.OrgID, &i.Email, &i.Role, &i.TokenHash, &i.InvitedBy,
		&i.CreatedAt, &i.ExpiresAt, &acceptedAt, &revokedAt); err != nil {
		return storage.Invitation{}, err
	}
	i.CreatedAt, i.ExpiresAt = i.CreatedAt.UTC(), i.ExpiresAt.UTC()
	i.AcceptedAt, i.RevokedAt = orZero(acceptedAt), orZero(revokedAt)
	return i, nil
}

// CreateInvitation revokes the open invitation of the same organization and
// address and stores inv, in one transaction. It locks the organization's
// row first, so that two invitations created at once queue (the partial
// unique index would otherwise fail one of them), and so that an unknown
// organization is ErrNotFound before anything is written. The
// invitation.revoked event of the superseded invitation and the
// invitation.created event commit with the change, in that order.
func (s *Store) CreateInvitation(ctx context.Context, inv storage.Invitation) (storage.Invitation, error) {
	op := fmt.Sprintf("create invitation %q", inv.ID)
	var out storage.Invitation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM organizations WHERE id = $1 FOR NO KEY UPDATE`, inv.OrgID).Scan(&id); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			UPDATE invitations SET revoked_at = $3
			WHERE org_id = $1 AND email_key = $2 AND accepted_at IS NULL AND revoked_at IS NULL
			RETURNING `+invitationColumns,
			inv.OrgID, storage.EmailKey(inv.Email), timestamp(inv.CreatedAt))
		if err != nil {
			return err
		}
		revoked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Invitation, error) { return scanInvitation(r) })
		if err != nil {
			return err
		}
		out, err = scanInvitation(tx.QueryRow(ctx, `
			INSERT INTO invitations (`+invitationColumns+`, email_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING `+invitationColumns,
			inv.ID, inv.OrgID, inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy,
			timestamp(inv.CreatedAt), timestamp(inv.ExpiresAt), nullTimestamp(inv.AcceptedAt),
			nullTimestamp(inv.RevokedAt), storage.EmailKey(inv.Email)))
		if err != nil {
			return err
		}
		var evs []storage.Event
		for _, r := range revoked {
			evs = append(evs, storage.NewInvitationEvent(storage.EventInvitationRevoked, r))
		}
		return insertEvent(ctx, tx, append(evs, storage.NewInvitationEvent(storage.EventInvitationCreated, out))...)
	})
	if err != nil {
		return storage.Invitation{}, mapError(op, err)
	}
	return out, nil
}

func (s *Store) GetInvitation(ctx context.Context, id string) (storage.Invitation, error) {
	i, err := scanInvitation(s.q(ctx).QueryRow(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE id = $1`, id))
	return i, mapError(fmt.Sprintf("get invitation %q", id), err)
}

// GetInvitationByTokenHash keeps the hash out of error messages.
func (s *Store) GetInvitationByTokenHash(ctx context.Context, hash string) (storage.Invitation, error) {
	i, err := scanInvitation(s.q(ctx).QueryRow(ctx,
		`SELECT `+invitationColumns+` FROM invitations WHERE token_hash = $1`, hash))
	return i, mapError("get invitation by token", err)
}

func (s *Store) ListInvitations(ctx context.Context, orgID string) ([]storage.Invitation, error) {
	op := fmt.Sprintf("list invitations of organization %q", orgID)
	rows, err := s.q(ctx).Query(ctx, `SELECT `+invitationColumns+` FROM invitations WHERE org_id = $1
		ORDER BY (accepted_at IS NULL AND revoked_at IS NULL) DESC, created_at DESC, id`, orgID)
	if err != nil {
		return nil, mapError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Invitation, error) { return scanInvitation(r) })
	return out, mapError(op, err)
}

// AcceptInvitation is one conditional UPDATE: the row lock makes
// concurrent callers take turns, and under READ COMMITTED each later one
// re-checks accepted_at IS NULL against the committed row and updates
// nothing.
func (s *Store) AcceptInvitation(ctx context.Context, id string, now time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "accept invitation", storage.EventInvitationAccepted, id, `
		UPDATE invitations SET accepted_at = $2
		WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2
		RETURNING `+invitationColumns, id, timestamp(now))
}

func (s *Store) RevokeInvitation(ctx context.Context, id string, now time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "revoke invitation", storage.EventInvitationRevoked, id, `
		UPDATE invitations SET revoked_at = $2
		WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
		RETURNING `+invitationColumns, id, timestamp(now))
}

func (s *Store) ResendInvitation(ctx context.Context, id, tokenHash string, expiresAt time.Time) (storage.Invitation, error) {
	return s.updateOpenInvitation(ctx, "resend invitation", storage.EventInvitationResent, id, `
		UPDATE invitations SET token_hash = $2, expires_at = $3
		WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
		RETURNING `+invitationColumns, id, tokenHash, timestamp(expiresAt))
}

// updateOpenInvitation runs a conditional UPDATE … RETURNING and records
// the event typ of the updated invitation in the same transaction; when it
// updates nothing, a read tells an unknown invitation (ErrNotFound) from
// one no longer in a state to change (ErrConflict).
func (s *Store) updateOpenInvitation(ctx context.Context, op, typ, id, query string, args ...any) (storage.Invitation, error) {
	op = fmt.Sprintf("%s %q", op, id)
	var out storage.Invitation
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanInvitation(tx.QueryRow(ctx, query, args...))
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM invitations WHERE id = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return storage.ErrNotFound
			}
			return fmt.Errorf("%w: accepted, revoked or expired", storage.ErrConflict)
		}
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, storage.NewInvitationEvent(typ, out))
	})
	if err != nil {
		return storage.Invitation{}, mapError(op, err)
	}
	return out, nil
}
