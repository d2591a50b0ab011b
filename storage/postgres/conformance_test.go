package postgres

import (
	"testing"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/storagetest"
)

// TestConformance runs the suite every backend passes, each case in a fresh
// schema.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return openFresh(t) })
}
