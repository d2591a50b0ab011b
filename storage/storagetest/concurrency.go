package storagetest

import (
	"slices"
	"sync"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func concurrencyTests() []test {
	return []test{
		{"UpdateUserLosesNothing", testConcurrentUpdateUser},
		{"UpdateOrganizationLosesNothing", testConcurrentUpdateOrg},
	}
}

// writers is how many goroutines update one record at once.
const writers = 20

func testConcurrentUpdateUser(t *testing.T, s storage.Store) {
	u := newUser("alice@example.com")
	u.Name = ""
	u = createUser(t, s, u)

	checkNoLostUpdate(t, "UpdateUser", func(c byte) error {
		_, err := s.UpdateUser(t.Context(), u.ID, func(u storage.User) (storage.User, error) {
			u.Name += string(c)
			return u, nil
		})
		return err
	}, func() (string, error) {
		u, err := s.GetUser(t.Context(), u.ID)
		return u.Name, err
	})
}

func testConcurrentUpdateOrg(t *testing.T, s storage.Store) {
	o := newOrg("acme")
	o.Name = ""
	o = createOrg(t, s, o)

	checkNoLostUpdate(t, "UpdateOrganization", func(c byte) error {
		_, err := s.UpdateOrganization(t.Context(), o.ID, func(o storage.Organization) (storage.Organization, error) {
			o.Name += string(c)
			return o, nil
		})
		return err
	}, func() (string, error) {
		o, err := s.GetOrganization(t.Context(), o.ID)
		return o.Name, err
	})
}

// checkNoLostUpdate has writers goroutines each append a distinct letter to
// one record at the same time; afterwards the record must hold every letter
// exactly once. A backend whose update closure reads outside the write's
// transaction loses some of them.
func checkNoLostUpdate(t *testing.T, call string, appendLetter func(c byte) error, read func() (string, error)) {
	t.Helper()
	var want []byte
	for i := range writers {
		want = append(want, byte('a'+i))
	}

	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i, c := range want {
		wg.Go(func() { errs[i] = appendLetter(c) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s(append %q) error = %v", call, want[i], err)
		}
	}

	got, err := read()
	if err != nil {
		t.Fatalf("reading after concurrent %s error = %v", call, err)
	}
	letters := []byte(got)
	slices.Sort(letters)
	if string(letters) != string(want) {
		t.Errorf("after %d concurrent %s calls, Name = %q (%d letters), want each of %q once",
			writers, call, got, len(got), want)
	}
}
