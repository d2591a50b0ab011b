package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// openStore opens the configured backend and applies pending migrations:
// every command migrates, as serve does, so a fresh data directory just works.
func openStore(ctx context.Context, db config.Database, log *slog.Logger) (storage.Store, storage.MigrationReport, error) {
	var s storage.Store
	if db.URL != "" {
		pg, err := postgres.Open(ctx, postgres.Options{
			URL: db.URL, MaxConns: int32(db.MaxConns), ConnectRetry: db.ConnectRetry, Logger: log,
		})
		if err != nil {
			return nil, storage.MigrationReport{}, fmt.Errorf("database.url: %w", err)
		}
		s = pg
	} else {
		lite, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(db.DataDir, "foyer.db"), Logger: log})
		if err != nil {
			return nil, storage.MigrationReport{}, fmt.Errorf("database.data_dir: %w", err)
		}
		s = lite
	}
	report, err := s.Migrate(ctx)
	if err != nil {
		s.Close()
		return nil, report, fmt.Errorf("migrate: %w", err)
	}
	return s, report, nil
}

// backendName names the backend for logs and output.
func backendName(db config.Database) string {
	if db.URL != "" {
		return "postgres"
	}
	return "embedded"
}

// commandStore loads the configuration and opens (and migrates) the store
// for a one-shot command; the caller closes the store.
func (a *app) commandStore(cmd *cobra.Command) (config.Config, storage.Store, error) {
	cfg, err := a.loadConfig(false)
	if err != nil {
		return cfg, nil, err
	}
	store, _, err := openStore(cmd.Context(), cfg.Database, a.commandLogger())
	return cfg, store, err
}
