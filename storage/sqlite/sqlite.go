package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/foyerdev/foyer/storage"
)

// Options configures Open.
type Options struct {
	// Path is the database file. Its directory is created (0700) when
	// missing. Migrate locks Path+".migrate.lock". ":memory:" does not
	// work: each pooled connection would get its own empty database.
	Path string
	// Logger receives migration progress; nil discards it.
	Logger *slog.Logger
}

// Store is a storage.Store kept in one SQLite file. It is safe for
// concurrent use.
type Store struct {
	db     *sql.DB
	path   string
	logger *slog.Logger
	now    func() time.Time
}

var _ storage.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the database at opts.Path without
// migrating it; call Migrate before use.
func Open(ctx context.Context, opts Options) (*Store, error) {
	// The driver cuts a plain file name at '?' to read its parameters.
	if opts.Path == "" || strings.ContainsRune(opts.Path, '?') {
		return nil, fmt.Errorf("open sqlite: path %q: empty or containing '?'", opts.Path)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(opts.Path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	// sql.Open connects lazily; connect now so that a file that cannot be
	// opened, or is not a database, fails here rather than on first use.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, dbError(err, storage.ErrConflict))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{db: db, path: opts.Path, logger: logger, now: time.Now}, nil
}

// dsn is the driver's data source name for path. modernc.org/sqlite runs
// each _pragma on every new connection (busy_timeout first); _txlock makes
// every transaction BEGIN IMMEDIATE, taking the write lock up front, so a
// read-then-write transaction can neither lose an update nor fail with
// SQLITE_BUSY when it upgrades from reader to writer.
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// Migrate applies the pending migrations and seeds the built-in roles. It
// holds an exclusive lock on Path+".migrate.lock" throughout, so processes
// that migrate the same file at once take turns: the first applies, the
// others find nothing to do.
func (s *Store) Migrate(ctx context.Context) (storage.MigrationReport, error) {
	unlock, err := lockFile(ctx, s.path+".migrate.lock")
	if err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: %w", err)
	}
	defer unlock()

	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: %w", err)
	}
	// No global registry: Foyer's migrations are these files and nothing
	// another package registered.
	provider, err := goose.NewProvider(goose.DialectSQLite3, s.db, files,
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(s.logger))
	if err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: %w", err)
	}
	var report storage.MigrationReport
	for _, r := range results {
		report.Applied = append(report.Applied, path.Base(r.Source.Path))
	}
	if report.Version, err = provider.GetDBVersion(ctx); err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: %w", err)
	}
	if err := s.seedBuiltinRoles(ctx); err != nil {
		return storage.MigrationReport{}, fmt.Errorf("migrate: seed built-in roles: %w", err)
	}
	return report, nil
}

// lockFile takes an exclusive flock on path and returns its release. flock
// locks belong to the open file, so two Stores in one process exclude each
// other just as two processes do. It polls so that ctx can end the wait.
func lockFile(ctx context.Context, path string) (unlock func(), _ error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Closing the file releases the lock.
	return func() { f.Close() }, nil
}

// seedBuiltinRoles upserts storage.BuiltinRoles in one transaction, so that
// a permission changed there reaches every organization at the next
// migration. Built-in roles keep the zero time: nobody created them.
func (s *Store) seedBuiltinRoles(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range storage.BuiltinRoles() {
			_, err := tx.ExecContext(ctx, `
				INSERT INTO roles (id, org_id, name, description, permissions, created_at, updated_at)
				VALUES (?, NULL, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET
					name = excluded.name, description = excluded.description, permissions = excluded.permissions`,
				r.ID, r.Name, r.Description, encodeList(r.Permissions), formatTime(r.CreatedAt), formatTime(r.UpdatedAt))
			if err != nil {
				return fmt.Errorf("role %s: %w", r.Name, dbError(err, storage.ErrConflict))
			}
		}
		return nil
	})
}

// Ping reports whether the database file answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w (%v)", storage.ErrUnavailable, err)
	}
	return nil
}

// Close closes every connection.
func (s *Store) Close() error {
	return s.db.Close()
}

// querier is what *sql.DB and *sql.Tx share, so one read serves both inside
// and outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in one transaction, committed when fn returns nil. BEGIN
// takes the write lock (see dsn), so nothing fn reads changes before it
// writes. When ctx carries a transaction (BeginTx), fn runs in it instead,
// inside a savepoint, and the caller's Commit decides.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if tx := s.ctxTx(ctx); tx != nil {
		return savepoint(ctx, tx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err, storage.ErrConflict)
	}
	defer tx.Rollback() // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return dbError(tx.Commit(), storage.ErrConflict)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err, storage.ErrNotFound)
	}
	return out, nil
}

// deleteOne runs a DELETE and reports storage.ErrNotFound when it matched
// no row. A foreign-key failure means rows still refer to the one deleted.
func deleteOne(ctx context.Context, q querier, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return dbError(err, storage.ErrConflict)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// exists reports whether query, a SELECT EXISTS(…), found a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var found bool
	if err := q.QueryRowContext(ctx, query, args...).Scan(&found); err != nil {
		return false, dbError(err, storage.ErrConflict)
	}
	return found, nil
}

// dbError maps err to a storage sentinel when one applies, keeping the
// driver's message for the logs but not its type; other errors pass
// through. fk is what a foreign-key failure means for the statement:
// storage.ErrNotFound when a row refers to one that does not exist,
// storage.ErrConflict when a delete would leave rows referring to nothing.
func dbError(err, fk error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return storage.ErrNotFound
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	// The driver turns on extended result codes; the low byte is the
	// primary code.
	var sentinel error
	switch code := se.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		sentinel = storage.ErrAlreadyExists
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		sentinel = fk
	case code == sqlite3.SQLITE_CONSTRAINT_CHECK, code == sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		sentinel = storage.ErrInvalid
	case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED, code&0xff == sqlite3.SQLITE_CANTOPEN:
		sentinel = storage.ErrUnavailable
	default:
		return err
	}
	return fmt.Errorf("%w (%v)", sentinel, err)
}

// timeLayout is fixed-width UTC with microseconds, so stored times sort as
// text in the order of the instants.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// utc is a time as the store keeps it: UTC, truncated to microseconds.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func formatTime(t time.Time) string { return utc(t).Format(timeLayout) }

// timeColumn scans a time written by formatTime; time.Parse returns it in
// UTC.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("time column holds %T, want text", src)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

// nullTime is formatTime for a time that may not have happened yet: the
// zero time is NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// nullTimeColumn scans a time written by nullTime: NULL is the zero time.
type nullTimeColumn struct{ t *time.Time }

func (c nullTimeColumn) Scan(src any) error {
	if src == nil {
		*c.t = time.Time{}
		return nil
	}
	return timeColumn(c).Scan(src)
}

// encodeList stores a list as a JSON array; nil becomes [] rather than null.
func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// listColumn scans a list written by encodeList.
type listColumn struct{ l *[]string }

func (c listColumn) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("list column holds %T, want text", src)
	}
	return json.Unmarshal([]byte(s), c.l)
}
