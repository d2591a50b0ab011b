package sqlite

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pressly/goose/v3"

	"github.com/foyerdev/foyer/storage"
)

// TestMigrationsDownAndUp checks what the conformance suite cannot: a client
// stored before 00003 reads back with the new columns' defaults, and every
// Down section undoes its Up, so that the schema can go down to nothing and
// up again.
func TestMigrationsDownAndUp(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "foyer.db")
	s, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatalf("Open(%q) error = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectSQLite3, s.db, files, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}

	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatalf("UpTo(2) error = %v", err)
	}
	now := formatTime(time.Now())
	if _, err := s.db.ExecContext(ctx, `INSERT INTO clients (id, name, created_at, updated_at) VALUES ('cli_old', 'Old App', ?, ?)`, now, now); err != nil {
		t.Fatalf("insert a client at version 2: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate() from version 2 error = %v", err)
	}
	got, err := s.GetClient(ctx, "cli_old")
	if err != nil {
		t.Fatalf("GetClient(cli_old) after 00003 error = %v", err)
	}
	want := storage.Client{ID: "cli_old", Name: "Old App", ApplicationType: "web"}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(storage.Client{}, "CreatedAt", "UpdatedAt")); d != "" {
		t.Errorf("GetClient(cli_old) after 00003 mismatch (-want +got):\n%s", d)
	}

	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0) error = %v", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := collect(rows, func(r scanner) (string, error) {
		var name string
		return name, r.Scan(&name)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 0 {
		t.Errorf("tables after DownTo(0) = %q, want none", tables)
	}

	report, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate() after DownTo(0) error = %v", err)
	}
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(entries); report.Version != int64(n) || len(report.Applied) != n {
		t.Errorf("Migrate() after DownTo(0) = %+v, want the %d migrations applied", report, n)
	}
	c := storage.Client{ID: "cli_new", TokenEndpointAuthMethod: "private_key_jwt", RequirePKCE: true, RequirePAR: true,
		ApplicationType: "native", JWKS: []byte(`{"keys":[]}`)}
	if _, err := s.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient() after migrating up again error = %v", err)
	}
	got, err = s.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetClient(cli_new) after migrating up again error = %v", err)
	}
	if d := cmp.Diff(c, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("GetClient(cli_new) after migrating up again mismatch (-want +got):\n%s", d)
	}
}
