package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// UseAssertionJTI records jti until expiresAt in one statement: an INSERT
// that, when the jti is stored already, replaces the row only if it has
// expired. SQLite runs writes one at a time, so of concurrent callers with
// one jti exactly one inserts it; the others find it unexpired, change
// nothing (changes() is 0) and get ErrAlreadyExists. The jti stays out of
// error messages, like a session's signature.
//
// The contract passes no "now", so expiry is judged by this store's clock
// (s.now, stored like every time), sent as a parameter. A row that expires
// exactly now counts as expired: a JWT is refused from its exp on
// (RFC 7519 §4.1.4), so it can no longer be replayed.
func (s *Store) UseAssertionJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	res, err := s.q(ctx).ExecContext(ctx, `
		INSERT INTO assertion_jtis (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE assertion_jtis.expires_at <= ?`,
		jti, formatTime(expiresAt), formatTime(s.now()))
	if err != nil {
		return fmt.Errorf("use assertion jti: %w", dbError(err, storage.ErrNotFound))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("use assertion jti: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("use assertion jti: used before and not yet expired: %w", storage.ErrAlreadyExists)
	}
	return nil
}
