package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// connectError returns the error pgconn gives for connString.
func connectError(t *testing.T, connString string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, connString)
	if err == nil {
		conn.Close(ctx)
		t.Fatalf("connecting to %s succeeded, want an error", connString)
	}
	return err
}

func TestMapError(t *testing.T) {
	pgErr := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Message: "test", Code: code} }
	refused := connectError(t, "postgres://foyer@"+closedPort(t)+"/test?sslmode=disable&connect_timeout=5")
	pgtest.Require(t)
	noDatabase := connectError(t, pgtest.WithParam(pgtest.BaseURL(), "dbname", "foyer_no_such_db"))

	const (
		write    = false
		deleting = true
	)
	for _, tc := range []struct {
		name   string
		err    error
		delete bool  // mapped as a delete statement
		want   error // the sentinel, or nil for none
	}{
		{"no rows", pgx.ErrNoRows, write, storage.ErrNotFound},
		{"wrapped no rows", fmt.Errorf("scan: %w", pgx.ErrNoRows), write, storage.ErrNotFound},
		{"unique violation", pgErr(codeUniqueViolation), write, storage.ErrAlreadyExists},
		{"unique violation, wrapped", fmt.Errorf("insert: %w", pgErr(codeUniqueViolation)), write, storage.ErrAlreadyExists},
		{"foreign key violation on write: referenced record missing", pgErr(codeForeignKeyViolation), write, storage.ErrNotFound},
		{"foreign key violation on delete: still referenced", pgErr(codeForeignKeyViolation), deleting, storage.ErrConflict},
		{"check violation", pgErr(codeCheckViolation), write, storage.ErrInvalid},
		{"not-null violation", pgErr(codeNotNullViolation), write, storage.ErrInvalid},
		{"connection failure (class 08)", pgErr("08006"), write, storage.ErrUnavailable},
		{"admin shutdown", pgErr(codeAdminShutdown), write, storage.ErrUnavailable},
		{"crash shutdown", pgErr(codeCrashShutdown), write, storage.ErrUnavailable},
		{"server starting up", pgErr(codeCannotConnectNow), write, storage.ErrUnavailable},
		{"too many connections", pgErr(codeTooManyConnections), write, storage.ErrUnavailable},
		{"connection refused", refused, write, storage.ErrUnavailable},
		{"connection refused on delete", refused, deleting, storage.ErrUnavailable},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, write, storage.ErrUnavailable},
		{"closed network connection", fmt.Errorf("write: %w", net.ErrClosed), write, storage.ErrUnavailable},
		{"EOF", io.EOF, write, storage.ErrUnavailable},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), write, storage.ErrUnavailable},
		{"conn closed", pgconn.ErrConnClosed, write, storage.ErrUnavailable},
		{"bad conn from database/sql", driver.ErrBadConn, write, storage.ErrUnavailable},
		{"closed pool", puddle.ErrClosedPool, write, storage.ErrUnavailable},
		{"deadline exceeded", context.DeadlineExceeded, write, storage.ErrUnavailable},
		{"caller cancelled: the database may be fine", context.Canceled, write, nil},
		{"database does not exist: not an outage", noDatabase, write, nil},
		{"syntax error", pgErr("42601"), write, nil},
		{"serialization failure after retries", pgErr(codeSerializationFailure), write, nil},
		{"plain error", errors.New("boom"), write, nil},
		{"caller's EOF stays the caller's", callbackError{io.EOF}, write, nil},
		{"caller's sentinel passes through", callbackError{storage.ErrInvalid}, write, storage.ErrInvalid},
		{"already mapped", fmt.Errorf("%w: no role %q", storage.ErrNotFound, "x"), write, storage.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			if tc.delete {
				got = mapDeleteError("do thing", tc.err)
			} else {
				got = mapError("do thing", tc.err)
			}
			if got == nil {
				t.Fatalf("mapError(%v) = nil", tc.err)
			}
			if !strings.HasPrefix(got.Error(), "do thing: ") {
				t.Errorf("mapError(%v) = %q, want the operation first", tc.err, got)
			}
			sentinels := []error{storage.ErrNotFound, storage.ErrAlreadyExists, storage.ErrConflict, storage.ErrUnavailable, storage.ErrInvalid}
			for _, s := range sentinels {
				if is, want := errors.Is(got, s), s == tc.want; is != want {
					t.Errorf("errors.Is(mapError(%v), %v) = %t, want %t", tc.err, s, is, want)
				}
			}
			if strings.Count(got.Error(), "not found") > 1 {
				t.Errorf("mapError(%v) = %q repeats the sentinel", tc.err, got)
			}
			// The cause stays available for logs (no rows adds nothing).
			cause := tc.err
			if cb, ok := cause.(callbackError); ok {
				cause = cb.err
			}
			if !errors.Is(cause, pgx.ErrNoRows) && !errors.Is(got, cause) {
				t.Errorf("mapError(%v) = %v, lost the original error", tc.err, got)
			}
		})
	}

	if err := mapError("do thing", nil); err != nil {
		t.Errorf("mapError(nil) = %v, want nil", err)
	}
}
