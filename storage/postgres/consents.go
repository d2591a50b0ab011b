package postgres

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
)

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row pgx.Row) (storage.Consent, error) {
	var c storage.Consent
	if err := row.Scan(&c.UserID, &c.ClientID, &c.Scopes, &c.GrantedAt); err != nil {
		return storage.Consent{}, err
	}
	c.GrantedAt = c.GrantedAt.UTC()
	return c, nil
}

// SaveConsent creates or replaces the consent of (UserID, ClientID) in one
// statement. ErrNotFound when the user or the client does not exist (a
// foreign-key violation).
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) (storage.Consent, error) {
	op := fmt.Sprintf("save consent of user %q to client %q", c.UserID, c.ClientID)
	c, err := scanConsent(s.q(ctx).QueryRow(ctx, `
		INSERT INTO consents (`+consentColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, granted_at = EXCLUDED.granted_at
		RETURNING `+consentColumns,
		c.UserID, c.ClientID, nonNil(c.Scopes), timestamp(c.GrantedAt)))
	return c, mapError(op, err)
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.q(ctx).QueryRow(ctx,
		`SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID))
	return c, mapError(fmt.Sprintf("get consent of user %q to client %q", userID, clientID), err)
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return deleteOne(ctx, s.q(ctx), fmt.Sprintf("delete consent of user %q to client %q", userID, clientID),
		`DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

// ListConsents lists the user's consents ordered by client ID.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	rows, _ := s.q(ctx).Query(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 ORDER BY client_id`, userID)
	consents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Consent, error) { return scanConsent(r) })
	return consents, mapError(fmt.Sprintf("list consents of user %q", userID), err)
}
