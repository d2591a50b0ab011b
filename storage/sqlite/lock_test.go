package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// TestLockFileExcludes checks what Migrate relies on: a held migration lock
// keeps out a second taker, even one in the same process (flock locks belong
// to the open file), until it is released.
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foyer.db.migrate.lock")
	unlock, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lockFile(%q) error = %v", path, err)
	}

	// A canceled context ends the wait at once instead of blocking.
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := lockFile(canceled, path); !errors.Is(err, context.Canceled) {
		t.Errorf("lockFile(%q) while held error = %v, want %v", path, err, context.Canceled)
	}

	unlock()
	// A free lock is taken without waiting, so the canceled context does
	// not matter.
	again, err := lockFile(canceled, path)
	if err != nil {
		t.Fatalf("lockFile(%q) after release error = %v", path, err)
	}
	again()
}
