package postgres

import (
	"io/fs"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// TestMigrationsDownAndUp checks what the conformance suite cannot: a client
// stored before 00003 reads back with the new columns' defaults, and every
// Down section undoes its Up, so that the schema can go down to nothing and
// up again.
func TestMigrationsDownAndUp(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Options{URL: pgtest.Schema(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}

	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatalf("UpTo(2): %v", err)
	}
	now := timestamp(time.Now())
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO clients (id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
			grant_types, scopes, first_party, access_token_format, created_at, updated_at)
		VALUES ('cli_old', 'Old App', '', false, '{}', '{}', '{}', '{}', false, 'jwt', $1, $1)`, now); err != nil {
		t.Fatalf("insert a client at version 2: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 2: %v", err)
	}
	got, err := s.GetClient(ctx, "cli_old")
	if err != nil {
		t.Fatalf("GetClient(cli_old) after 00003: %v", err)
	}
	want := storage.Client{ID: "cli_old", Name: "Old App", AccessTokenFormat: "jwt", ApplicationType: "web", CreatedAt: now, UpdatedAt: now}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetClient(cli_old) after 00003 (-want +got):\n%s", diff)
	}

	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("DownTo(0): %v", err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version' ORDER BY 1`)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 0 {
		t.Errorf("tables after DownTo(0) = %q, want none", tables)
	}

	report, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate after DownTo(0): %v", err)
	}
	if diff := cmp.Diff(storage.MigrationReport{Applied: allMigrations, Version: int64(len(allMigrations))}, report); diff != "" {
		t.Errorf("Migrate after DownTo(0) report (-want +got):\n%s", diff)
	}
	c := storage.Client{ID: "cli_new", TokenEndpointAuthMethod: "private_key_jwt", RequirePKCE: true, RequirePAR: true,
		ApplicationType: "native", JWKS: []byte(`{"keys":[]}`)}
	if _, err := s.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient after migrating up again: %v", err)
	}
	got, err = s.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetClient(cli_new) after migrating up again: %v", err)
	}
	if diff := cmp.Diff(c, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetClient(cli_new) after migrating up again (-want +got):\n%s", diff)
	}
}
