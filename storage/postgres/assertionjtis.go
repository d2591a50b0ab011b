package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// UseAssertionJTI records jti until expiresAt in one statement: an INSERT
// that, when the jti is stored already, replaces the row only if it has
// expired. Of concurrent callers with one jti the first to write holds the
// index entry (or the row) until its transaction ends; the others wait,
// then find the jti unexpired, change nothing and get ErrAlreadyExists.
// No error aborts the caller's transaction except ErrInvalid for an empty
// jti. The jti stays out of error messages, like a session's signature.
//
// The contract passes no "now", so expiry is judged by this store's clock
// (s.now, truncated like every stored time), sent as a parameter rather
// than read from the database's clock, which may differ from the one the
// caller checked exp with. A row that expires exactly now counts as
// expired: a JWT is refused from its exp on (RFC 7519 §4.1.4), so it can
// no longer be replayed.
func (s *Store) UseAssertionJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	tag, err := s.q(ctx).Exec(ctx, `
		INSERT INTO assertion_jtis (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
		WHERE assertion_jtis.expires_at <= $3`,
		jti, timestamp(expiresAt), timestamp(s.now()))
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("%w: used before and not yet expired", storage.ErrAlreadyExists)
	}
	return mapError("use assertion jti", err)
}
