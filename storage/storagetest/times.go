package storagetest

import (
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// stamp is one time field of a record.
type stamp struct {
	field string
	t     time.Time
}

// createdUpdated are a record's CreatedAt and UpdatedAt.
func createdUpdated(created, updated time.Time) []stamp {
	return []stamp{{"CreatedAt", created}, {"UpdatedAt", updated}}
}

// testTimes checks, for every record kind, that the times the caller set
// come back from Create and from Get equal, in UTC and truncated to
// microseconds. cmp compares times with Equal, which ignores the location,
// hence the explicit Location checks.
func testTimes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Nanoseconds and a non-UTC location, on every time; a record's times
	// differ, so that swapped columns show.
	created, updated := at(0), at(1).Add(999*time.Nanosecond)
	third, fourth := at(2).Add(1*time.Nanosecond), at(3).Add(500*time.Nanosecond)
	org := newOrg("acme")
	user := newUser("alice@example.com")
	client := newClient()

	tests := []struct {
		name string
		// create creates a record with the times above and reads it back,
		// returning the times of both results.
		create func() (fromCreate, fromGet []stamp, err error)
	}{
		{"user", func() ([]stamp, []stamp, error) {
			user.CreatedAt, user.UpdatedAt = created, updated
			c, err := s.CreateUser(ctx, user)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetUser(ctx, user.ID)
			return createdUpdated(c.CreatedAt, c.UpdatedAt), createdUpdated(g.CreatedAt, g.UpdatedAt), err
		}},
		{"organization", func() ([]stamp, []stamp, error) {
			org.CreatedAt, org.UpdatedAt = created, updated
			c, err := s.CreateOrganization(ctx, org)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetOrganization(ctx, org.ID)
			return createdUpdated(c.CreatedAt, c.UpdatedAt), createdUpdated(g.CreatedAt, g.UpdatedAt), err
		}},
		// Roles, memberships, sessions and consents need the records above.
		{"role", func() ([]stamp, []stamp, error) {
			r := newRole(org.ID, "auditor", "org:read")
			r.CreatedAt, r.UpdatedAt = created, updated
			c, err := s.CreateRole(ctx, r)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetRole(ctx, org.ID, r.Name)
			return createdUpdated(c.CreatedAt, c.UpdatedAt), createdUpdated(g.CreatedAt, g.UpdatedAt), err
		}},
		{"membership", func() ([]stamp, []stamp, error) {
			m := newMembership(org.ID, user.ID, storage.RoleMember)
			m.CreatedAt, m.UpdatedAt = created, updated
			c, err := s.CreateMembership(ctx, m)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetMembership(ctx, org.ID, user.ID)
			return createdUpdated(c.CreatedAt, c.UpdatedAt), createdUpdated(g.CreatedAt, g.UpdatedAt), err
		}},
		{"client", func() ([]stamp, []stamp, error) {
			client.CreatedAt, client.UpdatedAt = created, updated
			c, err := s.CreateClient(ctx, client)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetClient(ctx, client.ID)
			return createdUpdated(c.CreatedAt, c.UpdatedAt), createdUpdated(g.CreatedAt, g.UpdatedAt), err
		}},
		{"OAuth session", func() ([]stamp, []stamp, error) {
			o := newOAuthSession(storage.KindAccessToken, "req-1", client.ID)
			o.RequestedAt, o.ExpiresAt = created, updated
			// CreateOAuthSession returns no record: only Get is checked.
			if err := s.CreateOAuthSession(ctx, o); err != nil {
				return nil, nil, err
			}
			g, err := s.GetOAuthSession(ctx, o.Kind, o.Signature)
			return nil, []stamp{{"RequestedAt", g.RequestedAt}, {"ExpiresAt", g.ExpiresAt}}, err
		}},
		{"browser session", func() ([]stamp, []stamp, error) {
			b := newBrowserSession(user.ID, 0)
			b.CreatedAt, b.LastSeenAt, b.AuthTime, b.ExpiresAt = created, updated, third, fourth
			c, err := s.CreateBrowserSession(ctx, b)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetBrowserSession(ctx, b.ID)
			stamps := func(b storage.BrowserSession) []stamp {
				return []stamp{{"CreatedAt", b.CreatedAt}, {"LastSeenAt", b.LastSeenAt}, {"AuthTime", b.AuthTime}, {"ExpiresAt", b.ExpiresAt}}
			}
			return stamps(c), stamps(g), err
		}},
		{"consent", func() ([]stamp, []stamp, error) {
			cs := newConsent(user.ID, client.ID, "openid")
			cs.GrantedAt = created
			c, err := s.SaveConsent(ctx, cs)
			if err != nil {
				return nil, nil, err
			}
			g, err := s.GetConsent(ctx, user.ID, client.ID)
			return []stamp{{"GrantedAt", c.GrantedAt}}, []stamp{{"GrantedAt", g.GrantedAt}}, err
		}},
	}
	// The times are set in this order, whatever the fields.
	want := []time.Time{stored(created), stored(updated), stored(third), stored(fourth)}
	for _, tc := range tests {
		fromCreate, fromGet, err := tc.create()
		if err != nil {
			t.Fatalf("create and get %s error = %v", tc.name, err)
		}
		for _, got := range []struct {
			call   string
			stamps []stamp
		}{{"Create", fromCreate}, {"Get", fromGet}} {
			for i, st := range got.stamps {
				checkTime(t, got.call+" "+tc.name+" "+st.field, st.t, want[i])
			}
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
