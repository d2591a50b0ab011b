package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Options configures Open.
type Options struct {
	// URL is a PostgreSQL connection string, postgres://user:password@host:port/db?…
	// or key=value pairs. A search_path parameter selects the schema; each
	// connection attempt is bounded by connect_timeout, 5s when unset or 0.
	URL string
	// MaxConns caps the pool; 0 means 10. It replaces pool_max_conns from
	// the URL.
	MaxConns int32
	// ConnectRetry is how long Open keeps trying to reach the database
	// before it gives up; 0 means a single attempt.
	ConnectRetry time.Duration
	// Logger receives the start-up and migration lines; nil discards them.
	Logger *slog.Logger
}

const (
	defaultMaxConns = 10
	// defaultConnectTimeout bounds each connection attempt unless the URL
	// sets connect_timeout, so requests fail fast while the database is gone
	// instead of hanging on the OS's TCP timeout.
	defaultConnectTimeout = 5 * time.Second
	firstRetryDelay       = 100 * time.Millisecond
	maxRetryDelay         = 5 * time.Second
	// txAttempts is how often a transaction runs before a retryable error is
	// returned to the caller.
	txAttempts = 4
)

// Store is a storage.Store backed by a pgx connection pool. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	addr string // host:port, for messages
	now  func() time.Time
}

var _ storage.Store = (*Store)(nil)

// Open creates the pool and waits, up to opts.ConnectRetry, until the
// database answers. It does not migrate: call Migrate. When the database
// stays unreachable the error wraps storage.ErrUnavailable.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, parseError(err)
	}
	cfg.MaxConns = defaultMaxConns
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "foyer"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{
		pool: pool,
		log:  log,
		addr: net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))),
		now:  time.Now,
	}
	if err := s.waitUntilReachable(ctx, opts.ConnectRetry); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// parseError describes a connection string that did not parse without ever
// quoting it: pgconn masks passwords only on a best-effort basis, and a
// malformed string can put a password anywhere. It keeps pgconn's summary
// ("invalid port") and the inner error's text up to its first quoted value,
// never a part of the input.
func parseError(err error) error {
	pce, ok := errors.AsType[*pgconn.ParseConfigError](err)
	if !ok {
		return errors.New("invalid database URL")
	}
	// pgconn formats "cannot parse `<masked>`: <summary> (<inner>)".
	msg := pce.Error()
	inner := errors.Unwrap(pce)
	if inner != nil {
		msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
	}
	summary := ""
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		summary = firstLine(msg[i+len("`: "):])
	}
	if inner != nil {
		// Quoted values are raw input; elide from the first one on.
		detail, _, quoted := strings.Cut(firstLine(inner.Error()), `"`)
		if quoted {
			detail = strings.TrimRight(detail, " ") + " …"
		}
		summary = strings.Trim(summary+": "+detail, ": ")
	}
	if summary == "" {
		return errors.New("invalid database URL")
	}
	return fmt.Errorf("invalid database URL: %s", summary)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// waitUntilReachable pings until the database answers, backing off
// exponentially with jitter, for at most patience. It logs one warning at the
// first failure and the rest at Debug, so a long outage at start-up is one
// clear line (SECURITY.md F2). Errors that retrying cannot fix, such as a
// failed authentication or an unknown database, end the wait at once.
func (s *Store) waitUntilReachable(ctx context.Context, patience time.Duration) error {
	start := time.Now()
	giveUp := func(cause error) error {
		return fmt.Errorf("postgres at %s unreachable after %s: %w: %w",
			s.addr, time.Since(start).Round(100*time.Millisecond), storage.ErrUnavailable, cause)
	}
	delay := firstRetryDelay
	for attempt := 1; ; attempt++ {
		err := s.pool.Ping(ctx)
		switch {
		case err == nil:
			if attempt > 1 {
				s.log.InfoContext(ctx, "database reachable", "host", s.addr, "attempts", attempt)
			}
			return nil
		case ctx.Err() != nil:
			return giveUp(err)
		case classify(err, nil) != storage.ErrUnavailable:
			return fmt.Errorf("postgres at %s: %w", s.addr, err)
		}
		remaining := patience - time.Since(start)
		if remaining <= 0 {
			return giveUp(err)
		}
		if attempt == 1 {
			s.log.WarnContext(ctx, "database not reachable, retrying", "host", s.addr, "err", err, "retry_for", patience)
		} else {
			s.log.DebugContext(ctx, "database still not reachable", "host", s.addr, "attempt", attempt, "err", err)
		}
		// Sleep between half and all of delay, so instances started together
		// do not retry in step.
		sleep := min(delay/2+rand.N(delay/2+1), remaining)
		select {
		case <-ctx.Done():
			return giveUp(fmt.Errorf("%w; last error: %w", ctx.Err(), err))
		case <-time.After(sleep):
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// Ping reports whether the database answers; storage.ErrUnavailable when not.
func (s *Store) Ping(ctx context.Context) error {
	return mapError("ping postgres at "+s.addr, s.pool.Ping(ctx))
}

// Close closes every connection; the Store is unusable afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies the pending migrations and seeds the built-in roles. Goose
// holds a session advisory lock while it migrates, so processes that start
// together take turns, and the later ones find nothing to do.
func (s *Store) Migrate(ctx context.Context) (storage.MigrationReport, error) {
	var report storage.MigrationReport
	lockID, err := s.migrationLockID(ctx)
	if err != nil {
		return report, err
	}
	// Wait up to 5 minutes for another process's migration, polling each
	// second (the locker's finest step).
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // releases the connections to the pool, which stays open
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), // only our SQL files, no Go migrations registered elsewhere
	)
	if err != nil {
		return report, fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			report.Applied = append(report.Applied, path.Base(r.Source.Path))
			s.log.InfoContext(ctx, "applied migration", "file", path.Base(r.Source.Path), "duration", r.Duration)
		}
	}
	if err != nil {
		return report, mapError("migrate", err)
	}
	if report.Version, err = provider.GetDBVersion(ctx); err != nil {
		return report, mapError("migrate: read version", err)
	}
	if err := s.seedBuiltinRoles(ctx, lockID); err != nil {
		return report, err
	}
	return report, nil
}

// migrationLockID derives the advisory lock key from the schema the pool
// uses: processes sharing a schema take turns, while stores in different
// schemas of one database (tests, side-by-side deployments) do not wait for
// each other.
func (s *Store) migrationLockID(ctx context.Context) (int64, error) {
	var schema *string
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return 0, mapError("migrate: read schema", err)
	}
	if schema == nil {
		return 0, fmt.Errorf("migrate: %w: no schema in search_path exists", storage.ErrInvalid)
	}
	h := fnv.New64a()
	h.Write([]byte("foyer migrations " + *schema))
	return int64(h.Sum64()), nil
}

// seedBuiltinRoles writes storage.BuiltinRoles in one transaction, updating
// rows whose description or permissions changed. The transaction-level
// advisory lock makes concurrent seeders take turns instead of racing on the
// unique indexes.
func (s *Store) seedBuiltinRoles(ctx context.Context, lockID int64) error {
	now := timestamp(s.now())
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockID); err != nil {
			return err
		}
		for _, r := range storage.BuiltinRoles() {
			_, err := tx.Exec(ctx, `
				INSERT INTO roles (id, org_id, name, description, permissions, created_at, updated_at)
				VALUES ($1, NULL, $2, $3, $4, $5, $5)
				ON CONFLICT (id) DO UPDATE
				SET name = EXCLUDED.name, description = EXCLUDED.description,
					permissions = EXCLUDED.permissions, updated_at = EXCLUDED.updated_at
				WHERE (roles.name, roles.description, roles.permissions)
					IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.permissions)`,
				r.ID, r.Name, r.Description, nonNil(r.Permissions), now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return mapError("migrate: seed built-in roles", err)
}

// inTx runs fn in a transaction and commits. It runs fn again, in a new
// transaction, when the failure is retryable (see retryable); fn must
// therefore have no effect outside tx. When ctx carries a transaction
// (BeginTx), fn runs once in it instead, inside a savepoint (pgx's nested
// transaction): a failure undoes fn's writes and leaves the caller's
// transaction usable, and the caller's Commit decides. A retry there would
// be pointless, as a serialization failure aborts the caller's transaction.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if tx := s.ctxTx(ctx); tx != nil {
		return pgx.BeginFunc(ctx, tx, fn)
	}
	var err error
	for range txAttempts {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || ctx.Err() != nil || !retryable(err) {
			return err
		}
	}
	return err
}

// timestamp is t as the database stores it: microseconds, UTC.
func timestamp(t time.Time) time.Time {
	return t.Truncate(time.Microsecond).UTC()
}

// nullTimestamp is timestamp for a time that may not have happened yet: the
// zero time is NULL.
func nullTimestamp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = timestamp(t)
	return &t
}

// orZero is a nullable time as read: UTC, and the zero time for NULL.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// deleteOne runs a DELETE and reports storage.ErrNotFound, wrapped with op,
// when it matched no row.
func deleteOne(ctx context.Context, q querier, op, sql string, args ...any) error {
	tag, err := q.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = storage.ErrNotFound
	}
	return mapDeleteError(op, err)
}

// nonNil turns a nil slice into an empty one: the array columns are NOT NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
