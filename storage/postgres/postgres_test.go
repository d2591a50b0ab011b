package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// openFresh returns a migrated Store in a schema of its own, closed and
// dropped when the test ends.
func openFresh(t *testing.T) *Store {
	t.Helper()
	return openMigrated(t, pgtest.Schema(t))
}

func openMigrated(t *testing.T, connString string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{URL: connString})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newUser(email string) storage.User {
	now := time.Now()
	return storage.User{ID: storage.NewID(storage.PrefixUser), Email: email, Name: "Test", CreatedAt: now, UpdatedAt: now}
}

// allMigrations are the files in migrations/, in order.
var allMigrations = []string{"00001_init.sql", "00002_signing_keys.sql", "00003_oauth.sql", "00004_assertion_jtis.sql", "00005_revoked_grants.sql", "00006_outbox.sql", "00007_rate_limits.sql", "00008_one_time_tokens.sql", "00009_invitations.sql", "00010_client_require_organization.sql", "00011_device_codes.sql", "00012_mfa.sql", "00013_organization_branding.sql", "00014_saml.sql", "00015_events_audit.sql", "00016_upstream_connections.sql"}

func TestMigrate(t *testing.T) {
	s, err := Open(t.Context(), Options{URL: pgtest.Schema(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	first, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	want := storage.MigrationReport{Applied: allMigrations, Version: int64(len(allMigrations))}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first Migrate report (-want +got):\n%s", diff)
	}
	second, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if diff := cmp.Diff(storage.MigrationReport{Version: int64(len(allMigrations))}, second); diff != "" {
		t.Errorf("second Migrate report (-want +got):\n%s", diff)
	}
	checkBuiltinRoles(t, s)

	// A permission changed in BuiltinRoles reaches the database at the next
	// migration.
	if _, err := s.pool.Exec(t.Context(), `UPDATE roles SET permissions = '{stale}' WHERE id = 'rol_admin'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("third Migrate: %v", err)
	}
	checkBuiltinRoles(t, s)
}

func checkBuiltinRoles(t *testing.T, s *Store) {
	t.Helper()
	now := time.Now()
	org := storage.Organization{ID: storage.NewID(storage.PrefixOrganization), Name: "Roles", CreatedAt: now, UpdatedAt: now}
	org.Slug = org.ID[4:]
	if _, err := s.CreateOrganization(t.Context(), org); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRoles(t.Context(), org.ID)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	want := storage.BuiltinRoles()
	ignoreTimes := cmp.FilterPath(func(p cmp.Path) bool {
		name := p.Last().String()
		return name == ".CreatedAt" || name == ".UpdatedAt"
	}, cmp.Ignore())
	// ListRoles orders by name; BuiltinRoles happens to be in that order.
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
		t.Errorf("built-in roles (-want +got):\n%s", diff)
	}
}

// Processes that start together all migrate; the advisory lock makes them
// take turns, so the schema is created once.
func TestMigrateConcurrently(t *testing.T) {
	connString := pgtest.Schema(t)
	const n = 5
	reports := make([]storage.MigrationReport, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := Open(t.Context(), Options{URL: connString, MaxConns: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			reports[i], errs[i] = s.Migrate(t.Context())
		})
	}
	wg.Wait()

	var applied []string
	for i := range n {
		if errs[i] != nil {
			t.Errorf("process %d: %v", i, errs[i])
			continue
		}
		if reports[i].Version != int64(len(allMigrations)) {
			t.Errorf("process %d: Version = %d, want 4", i, reports[i].Version)
		}
		applied = append(applied, reports[i].Applied...)
	}
	if diff := cmp.Diff(allMigrations, applied); diff != "" {
		t.Errorf("migrations applied over all processes (-want +got):\n%s", diff)
	}

	s := openMigrated(t, connString)
	var tables, versions, roles int
	err := s.pool.QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'users'),
		(SELECT count(*) FROM goose_db_version WHERE version_id = 1),
		(SELECT count(*) FROM roles)`).Scan(&tables, &versions, &roles)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 1 || versions != 1 || roles != len(storage.BuiltinRoles()) {
		t.Errorf("users tables = %d, version 1 rows = %d, roles = %d; want 1, 1, %d", tables, versions, roles, len(storage.BuiltinRoles()))
	}
}

// recorder is a slog.Handler that keeps records and calls onWarn for each
// warning.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
	onWarn  func()
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	if rec.Level == slog.LevelWarn && r.onWarn != nil {
		r.onWarn()
	}
	return nil
}

// count returns how many records of each level were logged.
func (r *recorder) count() map[slog.Level]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[slog.Level]int{}
	for _, rec := range r.records {
		n[rec.Level]++
	}
	return n
}

func TestOpenUnreachable(t *testing.T) {
	addr := closedPort(t)
	connString := "postgres://foyer:Sup3rSecret@" + addr + "/test?sslmode=disable"

	t.Run("retries then gives up", func(t *testing.T) {
		rec := &recorder{}
		_, err := Open(t.Context(), Options{URL: connString, ConnectRetry: 500 * time.Millisecond, Logger: slog.New(rec)})
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("Open = %v, want ErrUnavailable", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "postgres at "+addr+" unreachable after") {
			t.Errorf("Open error %q does not name %s", msg, addr)
		}
		if strings.Contains(msg, "Sup3rSecret") {
			t.Errorf("Open error %q shows the password", msg)
		}
		levels := rec.count()
		if levels[slog.LevelWarn] != 1 || levels[slog.LevelDebug] == 0 {
			t.Errorf("logged %v, want one Warn and the retries at Debug", levels)
		}
		for _, r := range rec.records {
			if r.Level == slog.LevelWarn && r.Message != "database not reachable, retrying" {
				t.Errorf("warning %q, want %q", r.Message, "database not reachable, retrying")
			}
		}
	})

	t.Run("no retry budget means one attempt", func(t *testing.T) {
		rec := &recorder{}
		_, err := Open(t.Context(), Options{URL: connString, Logger: slog.New(rec)})
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Fatalf("Open = %v, want ErrUnavailable", err)
		}
		if levels := rec.count(); len(levels) != 0 {
			t.Errorf("logged %v, want nothing: the caller reports the error", levels)
		}
	})

	t.Run("cancelled while retrying", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rec := &recorder{onWarn: cancel} // cancel once Open is retrying
		done := make(chan error, 1)
		go func() {
			_, err := Open(ctx, Options{URL: connString, ConnectRetry: time.Hour, Logger: slog.New(rec)})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Open = %v, want context.Canceled and ErrUnavailable", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Open still retrying 30s after its context was cancelled")
		}
	})
}

// Retrying cannot fix a database that does not exist (or a wrong password):
// Open says so at once instead of calling the server unreachable.
func TestOpenMissingDatabase(t *testing.T) {
	pgtest.Require(t)
	connString := pgtest.WithParam(pgtest.BaseURL(), "dbname", "foyer_no_such_db_"+hex.EncodeToString(randomBytes(4)))
	rec := &recorder{}
	_, err := Open(t.Context(), Options{URL: connString, ConnectRetry: time.Minute, Logger: slog.New(rec)})
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Open = %v, want an error that is not ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "3D000") {
		t.Errorf("Open error %q does not carry the server's reason (3D000)", err)
	}
	if n := rec.count()[slog.LevelWarn]; n != 0 {
		t.Errorf("logged %d warnings, want none: nothing was retried", n)
	}
}

// A connection string that does not parse is reported on one line that
// never shows the password, whatever part of the string is broken.
func TestOpenInvalidURL(t *testing.T) {
	const secret = "Pa55w0rdXYZ"
	for _, connString := range []string{
		"postgres://user:" + secret + "@localhost:notaport/db",
		"postgres://user:" + secret + "@localhost:99999/db",
		"postgres://user:Pa55%zzw0rdXYZ@localhost/db",
		"postgres://user:Pa55/w0rdXYZ@localhost/db",
		"postgres://user:Pa55/w0rd%zzXYZ@localhost/db", // pgconn quotes "w0rd%zzXYZ@localhost/db"
		"postgres://us@er:Pa55:w0rd@XYZ@local host/db", // pgconn quotes "Pa55:w0rd@XYZ@local host"
		"postgres://user:Pa55:w0rdXYZ@local host/db",
		"postgres://user:" + secret + "@[::1/db",
		"postgres://user:" + secret + "@localhost/db?connect_timeout=soon",
		"postgres://user:" + secret + "@localhost/db?sslmode=sometimes",
		"postgres://user:" + secret + "@localhost/db?pool_max_conns=many",
		"postgres://user:" + secret + "@localhost/db?password",
		"postgresql://user@localhost/db?password=" + secret + "&sslmode=nope",
		"host=localhost password=Pa55 w0rdXYZ dbname=test", // pgconn quotes "w0rdXYZ"
		"host=localhost password='Pa55w0rdXYZ dbname=test",
		"host=localhost port=x password=" + secret,
	} {
		_, err := Open(t.Context(), Options{URL: connString})
		if err == nil {
			t.Errorf("Open(%q) succeeded, want an error", connString)
			continue
		}
		msg := err.Error()
		t.Logf("Open(%q) = %q", connString, msg)
		if strings.Contains(msg, "Pa55") || strings.Contains(msg, "w0rd") {
			t.Errorf("Open(%q) = %q, shows the password", connString, msg)
		}
		if !strings.HasPrefix(msg, "invalid database URL") || strings.Contains(msg, "\n") {
			t.Errorf("Open(%q) = %q, want one line starting with \"invalid database URL\"", connString, msg)
		}
	}
}

// While the database is gone every call says ErrUnavailable, never
// ErrNotFound (which callers could take for "no such token"), and the pool
// reconnects by itself when it is back (SECURITY.md F1, DB-04).
func TestOutageAndRecovery(t *testing.T) {
	proxy := pgtest.NewProxy(t, pgtest.HostPort())
	connString := pgtest.WithHost(pgtest.Schema(t), proxy.Addr())
	s := openMigrated(t, connString)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, newUser("outage@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping before the outage: %v", err)
	}

	proxy.Cut()
	if err := s.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping during the outage = %v, want ErrUnavailable", err)
	}
	for _, id := range []string{u.ID, "usr_missing"} {
		_, err := s.GetUser(ctx, id)
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetUser(%q) during the outage = %v, want ErrUnavailable and not ErrNotFound", id, err)
		}
	}
	_, err = s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) { return u, nil })
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("UpdateUser during the outage = %v, want ErrUnavailable", err)
	}

	proxy.Restore()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping still failing 30s after the database came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Errorf("GetUser after recovery: %v", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := openFresh(t)
	s.Close()
	if err := s.Ping(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
	}
}

// SECURITY.md DB-01 flavour: of 20 concurrent sign-ups with one email
// (typed in different cases) exactly one wins.
func TestCreateUserSameEmailConcurrently(t *testing.T) {
	s := openFresh(t)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			email := "race@example.com"
			if i%2 == 1 {
				email = " Race@Example.COM"
			}
			_, errs[i] = s.CreateUser(t.Context(), newUser(email))
		})
	}
	wg.Wait()
	var created, taken int
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, storage.ErrAlreadyExists):
			taken++
		default:
			t.Errorf("CreateUser: %v, want nil or ErrAlreadyExists", err)
		}
	}
	if created != 1 || taken != n-1 {
		t.Errorf("created %d and refused %d, want 1 and %d", created, taken, n-1)
	}
}

// Concurrent closures never lose an update: each runs on the row as the
// previous one left it.
func TestUpdateUserConcurrently(t *testing.T) {
	s := openFresh(t)
	u, err := s.CreateUser(t.Context(), newUser("cas@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.UpdateUser(t.Context(), u.ID, func(u storage.User) (storage.User, error) {
				u.Name += "+"
				return u, nil
			})
			if err != nil {
				t.Errorf("UpdateUser: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetUser(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := u.Name + strings.Repeat("+", n); got.Name != want {
		t.Errorf("Name = %q, want %q", got.Name, want)
	}
}

func TestInTxRetries(t *testing.T) {
	s := openFresh(t)
	serialization := &pgconn.PgError{Code: codeSerializationFailure}
	for _, tc := range []struct {
		name      string
		fail      error // returned by every failing run
		failRuns  int
		wantRuns  int
		wantError bool
	}{
		{"serialization failure once", serialization, 1, 2, false},
		{"deadlock once", &pgconn.PgError{Code: codeDeadlockDetected}, 1, 2, false},
		{"serialization failure every time", serialization, txAttempts, txAttempts, true},
		{"unique violation not retried", &pgconn.PgError{Code: codeUniqueViolation}, 1, 1, true},
		{"caller's error not retried", callbackError{serialization}, 1, 1, true},
		{"connection lost not retried", fmt.Errorf("read: %w", net.ErrClosed), 1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := 0
			err := s.inTx(t.Context(), func(tx pgx.Tx) error {
				runs++
				if runs <= tc.failRuns {
					return tc.fail
				}
				return nil
			})
			if runs != tc.wantRuns || (err != nil) != tc.wantError {
				t.Errorf("inTx ran %d times and returned %v, want %d runs (error: %t)", runs, err, tc.wantRuns, tc.wantError)
			}
		})
	}
}

// Features validate first; the schema's checks are the last line and come
// back as ErrInvalid.
func TestEmptyKeysInvalid(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	org, err := s.CreateOrganization(ctx, storage.Organization{ID: storage.NewID(storage.PrefixOrganization), Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"user without ID", func() error { _, err := s.CreateUser(ctx, storage.User{Email: "a@example.com"}); return err }},
		{"user without email", func() error { _, err := s.CreateUser(ctx, newUser("  ")); return err }},
		{"organization without slug", func() error {
			_, err := s.CreateOrganization(ctx, storage.Organization{ID: storage.NewID(storage.PrefixOrganization)})
			return err
		}},
		{"role without organization", func() error { _, err := s.CreateRole(ctx, storage.Role{ID: "rol_x", Name: "x"}); return err }},
		{"role without name", func() error { _, err := s.CreateRole(ctx, storage.Role{ID: "rol_x", OrgID: org.ID}); return err }},
		{"client without ID", func() error { _, err := s.CreateClient(ctx, storage.Client{Name: "x"}); return err }},
	} {
		if err := tc.do(); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("create %s = %v, want ErrInvalid", tc.name, err)
		}
	}
}
