package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func concurrencyTests() []test {
	return []test{
		{"UpdateUserLosesNothing", testConcurrentUpdateUser},
		{"UpdateOrganizationLosesNothing", testConcurrentUpdateOrg},
		{"UpdateSigningKeysBootstrapsOneKey", testConcurrentKeyBootstrap},
		{"UpdateSigningKeysLosesNothing", testConcurrentKeyAppend},
		{"UpdateBrowserSessionLosesNothing", testConcurrentUpdateBrowserSession},
		{"DeactivateOAuthSessionOnce", testConcurrentDeactivate},
		{"DeactivateOAuthSessionInTransactionsOnce", testConcurrentDeactivateInTx},
	}
}

// writers is how many goroutines update one record at once.
const writers = 20

// keyWriters is how many instances update the signing keys at once.
const keyWriters = 10

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

func testConcurrentUpdateBrowserSession(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	b := newBrowserSession(alice.ID, 0)
	b.UserAgent = ""
	b = createBrowserSession(t, s, b)

	checkNoLostUpdate(t, "UpdateBrowserSession", func(c byte) error {
		_, err := s.UpdateBrowserSession(t.Context(), b.ID, func(b storage.BrowserSession) (storage.BrowserSession, error) {
			b.UserAgent += string(c)
			return b, nil
		})
		return err
	}, func() (string, error) {
		b, err := s.GetBrowserSession(t.Context(), b.ID)
		return b.UserAgent, err
	})
}

// testConcurrentDeactivate redeems one authorization code from writers
// requests at once: exactly one succeeds, every other gets ErrConflict
// (SECURITY.md DB-01).
func testConcurrentDeactivate(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	code := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-1", client.ID))

	checkOneRedeems(t, s, code, func() error {
		return s.DeactivateOAuthSession(t.Context(), code.Kind, code.Signature)
	})
}

// testConcurrentDeactivateInTx redeems one code from writers
// requests at once, each in its own transaction as fosite's token endpoint
// runs it: exactly one commits a redemption.
func testConcurrentDeactivateInTx(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	code := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-1", client.ID))

	checkOneRedeems(t, s, code, func() error {
		ctx, err := s.BeginTx(t.Context())
		if err != nil {
			return err
		}
		if err := s.DeactivateOAuthSession(ctx, code.Kind, code.Signature); err != nil {
			s.Rollback(ctx)
			return err
		}
		return s.Commit(ctx)
	})
}

// checkOneRedeems runs redeem from writers goroutines at once and checks
// that exactly one succeeds and the others get ErrConflict, and that code is
// then inactive.
func checkOneRedeems(t *testing.T, s storage.Store, code storage.OAuthSession, redeem func() error) {
	t.Helper()
	checkExactlyOne(t, "redemptions of one code", storage.ErrConflict, redeem)
	used := code
	used.Active = false
	checkOAuthSession(t, s, "after concurrent redemptions", used)
}

// checkExactlyOne runs do from writers goroutines at once and checks that
// exactly one returns nil and the others refused.
func checkExactlyOne(t *testing.T, what string, refused error, do func() error) {
	t.Helper()
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start // release all at once for the most overlap
			errs[i] = do()
		})
	}
	close(start)
	wg.Wait()

	var succeeded, failed int
	for i, err := range errs {
		switch {
		case err == nil:
			succeeded++
		case errors.Is(err, refused):
			failed++
		default:
			t.Errorf("%s #%d error = %v, want nil or %v", what, i, err, refused)
		}
	}
	if succeeded != 1 || failed != writers-1 {
		t.Errorf("%d concurrent %s: %d succeeded and %d got %v, want 1 and %d",
			writers, what, succeeded, failed, refused, writers-1)
	}
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
		t.Errorf("after %d concurrent %s calls, the field = %q (%d letters), want each of %q once",
			writers, call, got, len(got), want)
	}
}

// testConcurrentKeyBootstrap starts keyWriters instances at once on an empty
// key set, each adding an active key unless the set has one (SECURITY.md
// F4). Exactly one key results, no call fails, and every call returns that
// key, so all instances sign with it. Were the updates not serialized, some
// would add a key too and fail on the unique index.
func testConcurrentKeyBootstrap(t *testing.T, s storage.Store) {
	results := make([][]storage.SigningKey, keyWriters)
	errs := make([]error, keyWriters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range keyWriters {
		// Key material is made outside the closure, which only decides.
		k := newSigningKey(storage.KeyActive, i)
		k.ActivatedAt = k.CreatedAt
		wg.Go(func() {
			<-start // release all at once for the most overlap
			results[i], errs[i] = s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
				if slices.ContainsFunc(keys, func(have storage.SigningKey) bool { return have.State == storage.KeyActive }) {
					return keys, nil
				}
				return append(keys, k), nil
			})
		})
	}
	close(start)
	wg.Wait()

	keys, err := s.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatalf("ListSigningKeys() error = %v", err)
	}
	if len(keys) != 1 {
		t.Errorf("after %d concurrent bootstraps ListSigningKeys() = %d keys, want 1", keyWriters, len(keys))
	}
	for i := range keyWriters {
		if errs[i] != nil {
			t.Errorf("UpdateSigningKeys(bootstrap #%d) error = %v", i, errs[i])
		} else if d := diff(keys, results[i]); d != "" {
			t.Errorf("UpdateSigningKeys(bootstrap #%d) returned another set than is stored (-stored +returned):\n%s", i, d)
		}
	}
}

// testConcurrentKeyAppend has keyWriters goroutines each add one retired key
// at once. Every key is stored, and the sets the calls return hold 1, 2, …,
// keyWriters keys, one each: every call saw all those before it.
func testConcurrentKeyAppend(t *testing.T, s storage.Store) {
	var want []storage.SigningKey
	for i := range keyWriters {
		want = append(want, newSigningKey(storage.KeyRetired, i))
	}
	sizes := make([]int, keyWriters)
	errs := make([]error, keyWriters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, k := range want {
		wg.Go(func() {
			<-start
			keys, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
				return append(keys, k), nil
			})
			sizes[i], errs[i] = len(keys), err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("UpdateSigningKeys(add key #%d) error = %v", i, err)
		}
	}

	// newSigningKey(…, i) is created at(i): want is in the stored order.
	checkListedKeys(t, s, fmt.Sprintf("ListSigningKeys() after %d concurrent additions", keyWriters), storedKeys(want...))
	slices.Sort(sizes)
	for i, n := range sizes {
		if n != i+1 {
			t.Errorf("UpdateSigningKeys returned sets of sizes %v, want 1 to %d once each", sizes, keyWriters)
			break
		}
	}
}
