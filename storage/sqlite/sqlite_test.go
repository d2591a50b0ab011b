package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/sqlite"
	"github.com/foyerdev/foyer/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, filepath.Join(t.TempDir(), "foyer.db"), true)
	})
}

// open opens the database at path, closing it when the test ends.
func open(t *testing.T, path string, migrate bool) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatalf("Open(%q) error = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	if migrate {
		if _, err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate() error = %v", err)
		}
	}
	return s
}

// TestMigrateConcurrently migrates one file from several Stores at once, as
// the CLI and a starting server may: no call fails, each migration is
// applied exactly once and all end at the same version. Without the
// migration lock the calls race on CREATE TABLE, but not on every run, so
// the test repeats on fresh files.
func TestMigrateConcurrently(t *testing.T) {
	const rounds, stores = 5, 4
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "nested", "foyer.db")
		var ss []*sqlite.Store
		for range stores {
			ss = append(ss, open(t, path, false))
		}

		reports := make([]storage.MigrationReport, stores)
		errs := make([]error, stores)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range ss {
			wg.Go(func() {
				<-start // release all at once for the most overlap
				reports[i], errs[i] = s.Migrate(t.Context())
			})
		}
		close(start)
		wg.Wait()

		applied := map[string]int{}
		for i, r := range reports {
			if errs[i] != nil {
				t.Fatalf("round %d: Migrate() #%d error = %v", round, i, errs[i])
			}
			if r.Version <= 0 || r.Version != reports[0].Version {
				t.Errorf("round %d: Migrate() #%d version = %d, want %d, above 0", round, i, r.Version, reports[0].Version)
			}
			for _, name := range r.Applied {
				applied[name]++
			}
		}
		if len(applied) == 0 {
			t.Errorf("round %d: no Migrate() call applied anything", round)
		}
		for name, n := range applied {
			if n != 1 {
				t.Errorf("round %d: migration %s applied %d times, want once", round, name, n)
			}
		}
		org := storage.Organization{ID: storage.NewID(storage.PrefixOrganization), Slug: "acme"}
		if _, err := ss[0].CreateOrganization(t.Context(), org); err != nil {
			t.Fatalf("CreateOrganization() error = %v", err)
		}
		if roles, err := ss[0].ListRoles(t.Context(), org.ID); err != nil || len(roles) != len(storage.BuiltinRoles()) {
			t.Errorf("round %d: ListRoles() = %d roles, %v; want the %d built-ins once", round, len(roles), err, len(storage.BuiltinRoles()))
		}
	}
}
