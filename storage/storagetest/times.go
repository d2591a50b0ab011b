package storagetest

import (
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// times are a record's CreatedAt and UpdatedAt.
type times struct{ created, updated time.Time }

// testTimes checks, for every record kind, that the times the caller set
// come back from Create and from Get equal, in UTC and truncated to
// microseconds. cmp compares times with Equal, which ignores the location,
// hence the explicit Location checks.
func testTimes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Nanoseconds and a non-UTC location, on both times.
	created, updated := at(0), at(1).Add(999*time.Nanosecond)
	org := newOrg("acme")
	user := newUser("alice@example.com")

	tests := []struct {
		name string
		// create creates a record with created and updated and reads it
		// back, returning the times of both results.
		create func() (fromCreate, fromGet times, err error)
	}{
		{"user", func() (times, times, error) {
			user.CreatedAt, user.UpdatedAt = created, updated
			c, err := s.CreateUser(ctx, user)
			if err != nil {
				return times{}, times{}, err
			}
			g, err := s.GetUser(ctx, user.ID)
			return times{c.CreatedAt, c.UpdatedAt}, times{g.CreatedAt, g.UpdatedAt}, err
		}},
		{"organization", func() (times, times, error) {
			org.CreatedAt, org.UpdatedAt = created, updated
			c, err := s.CreateOrganization(ctx, org)
			if err != nil {
				return times{}, times{}, err
			}
			g, err := s.GetOrganization(ctx, org.ID)
			return times{c.CreatedAt, c.UpdatedAt}, times{g.CreatedAt, g.UpdatedAt}, err
		}},
		// Roles and memberships need the organization and user above.
		{"role", func() (times, times, error) {
			r := newRole(org.ID, "auditor", "org:read")
			r.CreatedAt, r.UpdatedAt = created, updated
			c, err := s.CreateRole(ctx, r)
			if err != nil {
				return times{}, times{}, err
			}
			g, err := s.GetRole(ctx, org.ID, r.Name)
			return times{c.CreatedAt, c.UpdatedAt}, times{g.CreatedAt, g.UpdatedAt}, err
		}},
		{"membership", func() (times, times, error) {
			m := newMembership(org.ID, user.ID, storage.RoleMember)
			m.CreatedAt, m.UpdatedAt = created, updated
			c, err := s.CreateMembership(ctx, m)
			if err != nil {
				return times{}, times{}, err
			}
			g, err := s.GetMembership(ctx, org.ID, user.ID)
			return times{c.CreatedAt, c.UpdatedAt}, times{g.CreatedAt, g.UpdatedAt}, err
		}},
		{"client", func() (times, times, error) {
			cl := newClient()
			cl.CreatedAt, cl.UpdatedAt = created, updated
			c, err := s.CreateClient(ctx, cl)
			if err != nil {
				return times{}, times{}, err
			}
			g, err := s.GetClient(ctx, cl.ID)
			return times{c.CreatedAt, c.UpdatedAt}, times{g.CreatedAt, g.UpdatedAt}, err
		}},
	}
	want := times{stored(created), stored(updated)}
	for _, tc := range tests {
		fromCreate, fromGet, err := tc.create()
		if err != nil {
			t.Fatalf("create and get %s error = %v", tc.name, err)
		}
		for _, got := range []struct {
			call  string
			times times
		}{{"Create", fromCreate}, {"Get", fromGet}} {
			checkTime(t, got.call+" "+tc.name+" CreatedAt", got.times.created, want.created)
			checkTime(t, got.call+" "+tc.name+" UpdatedAt", got.times.updated, want.updated)
		}
	}
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v (UTC, microseconds)", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}
