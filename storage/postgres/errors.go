package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// PostgreSQL error codes we act on
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	codeNotNullViolation     = "23502"
	codeForeignKeyViolation  = "23503"
	codeUniqueViolation      = "23505"
	codeCheckViolation       = "23514"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeTooManyConnections   = "53300"
	codeAdminShutdown        = "57P01"
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03"
)

// callbackError carries an error returned by a caller's update closure
// through a transaction, so that it is returned as is and never classified
// as a driver error.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// mapError wraps err with op and the storage sentinel it stands for. The
// driver error stays in the chain for logs; callers test the sentinel with
// errors.Is. A foreign-key violation means a referenced record is missing.
func mapError(op string, err error) error {
	return wrapError(op, err, storage.ErrNotFound)
}

// mapDeleteError is mapError for statements that delete: there a
// foreign-key violation means other records still point at the row.
func mapDeleteError(op string, err error) error {
	return wrapError(op, err, storage.ErrConflict)
}

func wrapError(op string, err, foreignKey error) error {
	if err == nil {
		return nil
	}
	if cb, ok := errors.AsType[callbackError](err); ok {
		return fmt.Errorf("%s: %w", op, cb.err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// "no rows in result set" adds nothing to the sentinel.
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if alreadyMapped(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if sentinel := classify(err, foreignKey); sentinel != nil {
		return fmt.Errorf("%s: %w: %w", op, sentinel, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// alreadyMapped reports whether err already carries a storage sentinel
// (returned by this package's own checks), so it is not wrapped twice.
func alreadyMapped(err error) bool {
	for _, s := range []error{storage.ErrNotFound, storage.ErrAlreadyExists, storage.ErrConflict, storage.ErrUnavailable, storage.ErrInvalid} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// classify returns the storage sentinel err stands for, or nil.
func classify(err, foreignKey error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch code := pgErr.Code; {
		case code == codeUniqueViolation:
			return storage.ErrAlreadyExists
		case code == codeForeignKeyViolation:
			return foreignKey
		case code == codeCheckViolation, code == codeNotNullViolation:
			return storage.ErrInvalid
		case unavailableCode(code):
			return storage.ErrUnavailable
		}
		// Any other answer from the server (a syntax error, a failed
		// authentication inside a ConnectError) is not an outage.
		return nil
	}
	if unreachable(err) {
		return storage.ErrUnavailable
	}
	return nil
}

// unavailableCode reports whether a server error means the server cannot
// serve us right now: connection exceptions (class 08), shutdown, start-up
// and full connection slots.
func unavailableCode(code string) bool {
	switch code {
	case codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeTooManyConnections:
		return true
	}
	return strings.HasPrefix(code, "08")
}

// unreachable reports whether err, which is not a server error, means the
// database could not be reached or the connection broke.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		// The caller gave up; the database may be fine.
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, puddle.ErrClosedPool)
}

// retryable reports whether a transaction that failed with err may be run
// again: the server aborted it to resolve a conflict, or pgconn knows nothing
// was sent (SECURITY.md DB-06).
func retryable(err error) bool {
	if _, ok := errors.AsType[callbackError](err); ok {
		return false // the caller's own error
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	return pgconn.SafeToRetry(err)
}
