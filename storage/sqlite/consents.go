package sqlite

import (
	"context"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row scanner) (storage.Consent, error) {
	var c storage.Consent
	err := row.Scan(&c.UserID, &c.ClientID, listColumn{&c.Scopes}, timeColumn{&c.GrantedAt})
	return c, err
}

// SaveConsent creates or replaces the consent of (UserID, ClientID) in one
// statement. ErrNotFound when the user or the client does not exist.
func (s *Store) SaveConsent(ctx context.Context, c storage.Consent) (storage.Consent, error) {
	c.GrantedAt = utc(c.GrantedAt)
	_, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO consents (`+consentColumns+`) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, encodeList(c.Scopes), formatTime(c.GrantedAt))
	if err != nil {
		return storage.Consent{}, fmt.Errorf("save consent of user %s to client %s: %w", c.UserID, c.ClientID, dbError(err, storage.ErrNotFound))
	}
	return c, nil
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	c, err := scanConsent(s.q(ctx).QueryRowContext(ctx,
		`SELECT `+consentColumns+` FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID))
	if err != nil {
		return storage.Consent{}, fmt.Errorf("get consent of user %s to client %s: %w", userID, clientID, dbError(err, storage.ErrNotFound))
	}
	return c, nil
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	err := deleteOne(ctx, s.q(ctx), `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	if err != nil {
		return fmt.Errorf("delete consent of user %s to client %s: %w", userID, clientID, err)
	}
	return nil
}

// ListConsents lists the user's consents ordered by client ID.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	rows, err := s.q(ctx).QueryContext(ctx,
		`SELECT `+consentColumns+` FROM consents WHERE user_id = ? ORDER BY client_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list consents of user %s: %w", userID, dbError(err, storage.ErrNotFound))
	}
	consents, err := collect(rows, scanConsent)
	if err != nil {
		return nil, fmt.Errorf("list consents of user %s: %w", userID, err)
	}
	return consents, nil
}
