package storagetest

import (
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func migrateTests() []test {
	return []test{
		{"Idempotent", testMigrateIdempotent},
		{"Ping", testPing},
	}
}

// testMigrateIdempotent migrates a store that open already migrated: nothing
// is applied, the version holds, and the built-in roles are not seeded twice.
func testMigrateIdempotent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate() on a migrated store error = %v", err)
	}
	if len(first.Applied) != 0 || first.Version <= 0 {
		t.Errorf("Migrate() on a migrated store = %+v, want nothing applied and a positive version", first)
	}
	second, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate() again error = %v", err)
	}
	if len(second.Applied) != 0 || second.Version != first.Version {
		t.Errorf("Migrate() again = %+v, want nothing applied and version %d", second, first.Version)
	}

	acme := createOrg(t, s, newOrg("acme"))
	roles, err := s.ListRoles(ctx, acme.ID)
	if err != nil {
		t.Fatalf("ListRoles(%q) error = %v", acme.ID, err)
	}
	if d := diff(storage.BuiltinRoles(), roles, ignoreRoleTimes()); d != "" {
		t.Errorf("ListRoles() after migrating again mismatch (-want +got):\n%s", d)
	}
}

func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}
