package authz

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeRevocations is the revoked_grants table, with a switch to make it fail
// and a count of single-grant lookups.
type fakeRevocations struct {
	ids     []string
	down    bool
	lookups int
}

func (f *fakeRevocations) GrantRevoked(_ context.Context, id string) (bool, error) {
	f.lookups++
	if f.down {
		return false, errors.New("database down")
	}
	for _, have := range f.ids {
		if have == id {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeRevocations) RevokedGrants(context.Context, time.Time) ([]string, error) {
	if f.down {
		return nil, errors.New("database down")
	}
	return append([]string(nil), f.ids...), nil
}

func TestRevocationList(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	db := &fakeRevocations{ids: []string{"elsewhere"}}
	l := newRevocationList(db, func() time.Time { return now })
	check := func(step, grant string, want bool, wantLookups int) {
		t.Helper()
		got, err := l.revoked(ctx, grant)
		if err != nil || got != want || db.lookups != wantLookups {
			t.Errorf("%s: revoked(%q) = %v, %v with %d lookups; want %v with %d", step, grant, got, err, db.lookups, want, wantLookups)
		}
	}

	// Never loaded: every answer comes from the database.
	check("before the first reload", "elsewhere", true, 1)
	check("before the first reload", "live", false, 2)

	if err := l.reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("loaded", "elsewhere", true, 2)
	check("loaded", "live", false, 2)

	// Revoked here: refused at once, and kept by a reload whose query did
	// not see it yet.
	l.add("here")
	check("revoked here", "here", true, 2)
	now = now.Add(revocationRefresh)
	if err := l.reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a reload that missed the local revocation", "here", true, 2)

	// Revoked on another instance: seen after the next reload.
	db.ids = append(db.ids, "there")
	check("revoked elsewhere, before the reload", "there", false, 2)
	now = now.Add(revocationRefresh)
	if err := l.reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("revoked elsewhere, after the reload", "there", true, 2)

	// Reloads fail: once the list is stale, the database answers, and its
	// failure is an error, never "live".
	db.down = true
	now = now.Add(revocationStale)
	if err := l.reload(ctx); err == nil {
		t.Fatal("reload with the database down succeeded")
	}
	if got, err := l.revoked(ctx, "live"); err == nil || got {
		t.Errorf("stale list with the database down: revoked = %v, %v; want an error", got, err)
	}
	db.down = false
	check("stale list, database back", "live", false, 4)
	check("stale list, a revocation it holds", "there", true, 4)

	// A local revocation no reload ever saw is dropped once long committed
	// (its transaction rolled back); the database is the truth.
	now = now.Add(revocationStale + time.Second)
	if err := l.reload(ctx); err != nil {
		t.Fatal(err)
	}
	check("local revocation the database never had", "here", false, 4)
}
