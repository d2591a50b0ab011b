package storagetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func transactionTests() []test {
	return []test{
		{"CommitMakesWritesVisible", testTxCommit},
		{"RollbackDiscardsWrites", testTxRollback},
		{"RollbackKeepsSessionActive", testTxRollbackDeactivate},
		{"DeleteInvisibleUntilCommit", testTxDelete},
		{"FailedUpdateUndoesOnlyItself", testTxFailedUpdate},
		{"EndedTransactionRefused", testTxEnded},
		{"NoTransactionToEnd", testTxNone},
		{"BeginInsideTransactionRefused", testTxNested},
	}
}

// txTimeout bounds a transaction in the suite. A backend that runs a
// statement outside the transaction it was given can wait for a lock that
// transaction holds; the timeout turns that deadlock into a failure.
const txTimeout = 30 * time.Second

// beginTx starts a transaction and makes sure it ends with the test, so that
// a failed test does not leave a connection busy.
func beginTx(t *testing.T, s storage.Store) context.Context {
	t.Helper()
	timeout, cancel := context.WithTimeout(t.Context(), txTimeout)
	ctx, err := s.BeginTx(timeout)
	if err != nil {
		cancel()
		t.Fatalf("BeginTx() error = %v", err)
	}
	t.Cleanup(func() {
		s.Rollback(ctx) // an error after Commit or Rollback is expected
		cancel()
	})
	return ctx
}

// txRecords are one record of each kind, written in a transaction.
type txRecords struct {
	user       storage.User
	org        storage.Organization
	role       storage.Role
	membership storage.Membership
	client     storage.Client
	key        storage.SigningKey
	code       storage.OAuthSession // deactivated after its creation
	browser    storage.BrowserSession
	consent    storage.Consent
}

// writeInTx creates a record of each kind with ctx, and changes most of them
// with the update methods, which must find the records in the transaction.
func writeInTx(t *testing.T, s storage.Store, ctx context.Context) txRecords {
	t.Helper()
	var r txRecords
	var err error
	check := func(call string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s in a transaction error = %v", call, err)
		}
	}
	r.user, err = s.CreateUser(ctx, newUser("alice@example.com"))
	check("CreateUser", err)
	r.user, err = s.UpdateUser(ctx, r.user.ID, func(u storage.User) (storage.User, error) {
		u.Name = "Alice in a transaction"
		return u, nil
	})
	check("UpdateUser", err)
	r.org, err = s.CreateOrganization(ctx, newOrg("acme"))
	check("CreateOrganization", err)
	r.org, err = s.UpdateOrganization(ctx, r.org.ID, func(o storage.Organization) (storage.Organization, error) {
		o.Name = "Acme in a transaction"
		return o, nil
	})
	check("UpdateOrganization", err)
	r.role, err = s.CreateRole(ctx, newRole(r.org.ID, "auditor", "org:read"))
	check("CreateRole", err)
	r.role, err = s.UpdateRole(ctx, r.org.ID, r.role.Name, func(ro storage.Role) (storage.Role, error) {
		ro.Permissions = append(ro.Permissions, "org:members:read")
		return ro, nil
	})
	check("UpdateRole", err)
	r.membership, err = s.CreateMembership(ctx, newMembership(r.org.ID, r.user.ID, storage.RoleMember))
	check("CreateMembership", err)
	r.membership, err = s.UpdateMembership(ctx, r.org.ID, r.user.ID, func(m storage.Membership) (storage.Membership, error) {
		m.Role = r.role.Name
		return m, nil
	})
	check("UpdateMembership", err)
	r.client, err = s.CreateClient(ctx, newClient())
	check("CreateClient", err)
	r.client, err = s.UpdateClient(ctx, r.client.ID, func(c storage.Client) (storage.Client, error) {
		c.Name = "App in a transaction"
		return c, nil
	})
	check("UpdateClient", err)
	key := newSigningKey(storage.KeyActive, 0)
	keys, err := s.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(keys, key), nil
	})
	check("UpdateSigningKeys", err)
	if len(keys) != 1 {
		t.Fatalf("UpdateSigningKeys in a transaction = %d keys, want 1", len(keys))
	}
	r.key = keys[0]
	r.code = newOAuthSession(storage.KindAuthorizeCode, "req-1", r.client.ID)
	r.code.Subject = r.user.ID
	check("CreateOAuthSession", s.CreateOAuthSession(ctx, r.code))
	check("DeactivateOAuthSession", s.DeactivateOAuthSession(ctx, r.code.Kind, r.code.Signature))
	r.code = storedOAuthSession(r.code)
	r.code.Active = false
	r.browser, err = s.CreateBrowserSession(ctx, newBrowserSession(r.user.ID, 0))
	check("CreateBrowserSession", err)
	r.browser, err = s.UpdateBrowserSession(ctx, r.browser.ID, func(b storage.BrowserSession) (storage.BrowserSession, error) {
		b.LastSeenAt = at(5)
		return b, nil
	})
	check("UpdateBrowserSession", err)
	r.consent, err = s.SaveConsent(ctx, newConsent(r.user.ID, r.client.ID, "openid"))
	check("SaveConsent", err)
	return r
}

// txReads reads r back with ctx through every read method and reports,
// for each, whether it found the record as written.
func txReads(t *testing.T, s storage.Store, ctx context.Context, r txRecords) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	// get records whether a read found want: an equal record is found,
	// ErrNotFound is not, anything else fails the test.
	get := func(call string, got, want any, err error) {
		t.Helper()
		switch {
		case errors.Is(err, storage.ErrNotFound):
			found[call] = false
		case err != nil:
			t.Errorf("%s error = %v", call, err)
		default:
			if d := diff(want, got); d != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", call, d)
			}
			found[call] = true
		}
	}
	// list records whether a list holds the record.
	list := func(call string, err error, has bool) {
		t.Helper()
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s error = %v", call, err)
			return
		}
		found[call] = has
	}

	u, err := s.GetUser(ctx, r.user.ID)
	get("GetUser", u, r.user, err)
	u, err = s.GetUserByEmail(ctx, r.user.Email)
	get("GetUserByEmail", u, r.user, err)
	users, err := s.ListUsers(ctx, storage.Page{})
	list("ListUsers", err, slices.ContainsFunc(users, func(v storage.User) bool { return v.ID == r.user.ID }))

	o, err := s.GetOrganization(ctx, r.org.ID)
	get("GetOrganization", o, r.org, err)
	o, err = s.GetOrganizationBySlug(ctx, r.org.Slug)
	get("GetOrganizationBySlug", o, r.org, err)
	orgs, err := s.ListOrganizations(ctx, storage.Page{})
	list("ListOrganizations", err, slices.ContainsFunc(orgs, func(v storage.Organization) bool { return v.ID == r.org.ID }))

	role, err := s.GetRole(ctx, r.org.ID, r.role.Name)
	get("GetRole", role, r.role, err)
	roles, err := s.ListRoles(ctx, r.org.ID)
	list("ListRoles", err, slices.ContainsFunc(roles, func(v storage.Role) bool { return v.ID == r.role.ID }))

	m, err := s.GetMembership(ctx, r.org.ID, r.user.ID)
	get("GetMembership", m, r.membership, err)
	ms, err := s.ListMembershipsByOrganization(ctx, r.org.ID, storage.Page{})
	list("ListMembershipsByOrganization", err, slices.ContainsFunc(ms, func(v storage.Membership) bool { return v.UserID == r.user.ID }))
	byUser, err := s.ListMembershipsByUser(ctx, r.user.ID)
	list("ListMembershipsByUser", err, slices.ContainsFunc(byUser, func(v storage.Membership) bool { return v.OrgID == r.org.ID }))

	c, err := s.GetClient(ctx, r.client.ID)
	get("GetClient", c, r.client, err)
	clients, err := s.ListClients(ctx, storage.Page{})
	list("ListClients", err, slices.ContainsFunc(clients, func(v storage.Client) bool { return v.ID == r.client.ID }))

	keys, err := s.ListSigningKeys(ctx)
	list("ListSigningKeys", err, slices.ContainsFunc(keys, func(v storage.SigningKey) bool { return v.ID == r.key.ID }))

	code, err := s.GetOAuthSession(ctx, r.code.Kind, r.code.Signature)
	get("GetOAuthSession", code, r.code, err)

	b, err := s.GetBrowserSession(ctx, r.browser.ID)
	get("GetBrowserSession", b, r.browser, err)
	bs, err := s.ListBrowserSessions(ctx, r.user.ID)
	list("ListBrowserSessions", err, slices.ContainsFunc(bs, func(v storage.BrowserSession) bool { return v.ID == r.browser.ID }))

	consent, err := s.GetConsent(ctx, r.user.ID, r.client.ID)
	get("GetConsent", consent, r.consent, err)
	consents, err := s.ListConsents(ctx, r.user.ID)
	list("ListConsents", err, slices.ContainsFunc(consents, func(v storage.Consent) bool { return v.ClientID == r.client.ID }))
	return found
}

// checkTxReads reads r with ctx and checks that every read finds it, or
// that none does.
func checkTxReads(t *testing.T, s storage.Store, ctx context.Context, r txRecords, what string, want bool) {
	t.Helper()
	for call, found := range txReads(t, s, ctx, r) {
		if found != want {
			t.Errorf("%s: %s found the record: %t, want %t", what, call, found, want)
		}
	}
}

// testTxCommit writes with the transaction's context: reads with that
// context see the writes at once, other connections only after Commit.
func testTxCommit(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	r := writeInTx(t, s, ctx)
	checkTxReads(t, s, ctx, r, "inside the transaction", true)
	checkTxReads(t, s, t.Context(), r, "outside the transaction before Commit", false)

	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	checkTxReads(t, s, t.Context(), r, "after Commit", true)
}

// testTxRollback discards every write of the transaction, and the store
// goes on as if it had never begun.
func testTxRollback(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	r := writeInTx(t, s, ctx)
	checkTxReads(t, s, ctx, r, "inside the transaction", true)

	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	checkTxReads(t, s, t.Context(), r, "after Rollback", false)
	// Nothing is left over: the same records can be written again.
	again := writeInTx(t, s, t.Context())
	checkTxReads(t, s, t.Context(), again, "written again without a transaction", true)
}

// testTxRollbackDeactivate: a code redeemed in a transaction that is rolled
// back (the token response failed) stays redeemable, once.
func testTxRollbackDeactivate(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	code := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-1", client.ID))
	used := code
	used.Active = false

	ctx := beginTx(t, s)
	if err := s.DeactivateOAuthSession(ctx, code.Kind, code.Signature); err != nil {
		t.Fatalf("DeactivateOAuthSession() in a transaction error = %v", err)
	}
	if got, err := s.GetOAuthSession(ctx, code.Kind, code.Signature); err != nil || got.Active {
		t.Errorf("GetOAuthSession() in the transaction = active %t, %v; want inactive", got.Active, err)
	}
	checkOAuthSession(t, s, "outside the transaction before Rollback", code)
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	checkOAuthSession(t, s, "after Rollback", code)

	if err := s.DeactivateOAuthSession(t.Context(), code.Kind, code.Signature); err != nil {
		t.Errorf("DeactivateOAuthSession() after Rollback error = %v", err)
	}
	checkOAuthSession(t, s, "deactivated after Rollback", used)
}

// testTxDelete: deletes and revocations in a transaction stay invisible to
// other connections until Commit.
func testTxDelete(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	client := createClient(t, s, newClient())
	access := createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, "req-1", client.ID))
	refresh := createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, "req-1", client.ID))
	consent := saveConsent(t, s, newConsent(alice.ID, client.ID, "openid"))

	ctx := beginTx(t, s)
	if n, err := s.RevokeOAuthSessions(ctx, "req-1", storage.KindAccessToken); err != nil || n != 1 {
		t.Fatalf("RevokeOAuthSessions() in a transaction = %d, %v; want 1, nil", n, err)
	}
	if err := s.DeleteOAuthSession(ctx, refresh.Kind, refresh.Signature); err != nil {
		t.Fatalf("DeleteOAuthSession() in a transaction error = %v", err)
	}
	if err := s.DeleteConsent(ctx, alice.ID, client.ID); err != nil {
		t.Fatalf("DeleteConsent() in a transaction error = %v", err)
	}
	_, err := s.GetOAuthSession(ctx, refresh.Kind, refresh.Signature)
	checkErr(t, "GetOAuthSession(deleted) in the transaction", err, storage.ErrNotFound)

	checkOAuthSession(t, s, "outside the transaction before Commit", access)
	checkOAuthSession(t, s, "outside the transaction before Commit", refresh)
	checkConsents(t, s, alice.ID, consent)

	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	revoked := access
	revoked.Active = false
	checkOAuthSession(t, s, "after Commit", revoked)
	_, err = s.GetOAuthSession(t.Context(), refresh.Kind, refresh.Signature)
	checkErr(t, "GetOAuthSession(deleted) after Commit", err, storage.ErrNotFound)
	checkConsents(t, s, alice.ID)
}

// testTxFailedUpdate: an update method that fails inside a transaction
// undoes its own writes, all of them, and leaves the transaction usable, so
// the caller's other writes still commit.
func testTxFailedUpdate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	active := newSigningKey(storage.KeyActive, 0)
	retired := newSigningKey(storage.KeyRetired, 1)
	keys := setKeys(t, s, active, retired)

	ctx := beginTx(t, s)
	carol, err := s.CreateUser(ctx, newUser("carol@example.com"))
	if err != nil {
		t.Fatalf("CreateUser() in a transaction error = %v", err)
	}
	// Drops the retired key, then fails on a second active key: the drop
	// must not survive.
	_, err = s.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{keys[0], newSigningKey(storage.KeyActive, 5)}, nil
	})
	checkErr(t, "UpdateSigningKeys(two active keys) in a transaction", err, storage.ErrConflict)
	_, err = s.UpdateUser(ctx, bob.ID, func(u storage.User) (storage.User, error) {
		u.Email, u.Name = alice.Email, "Bob as Alice"
		return u, nil
	})
	checkErr(t, "UpdateUser(email of another user) in a transaction", err, storage.ErrAlreadyExists)
	bob, err = s.UpdateUser(ctx, bob.ID, func(u storage.User) (storage.User, error) {
		u.Name = "Bob after the failures"
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser() after failed updates in the transaction error = %v", err)
	}
	if got, err := s.ListSigningKeys(ctx); err != nil {
		t.Errorf("ListSigningKeys() in the transaction error = %v", err)
	} else if d := diff(keys, got); d != "" {
		t.Errorf("ListSigningKeys() in the transaction after a failed update mismatch (-want +got):\n%s", d)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() after failed updates error = %v", err)
	}

	for _, want := range []storage.User{alice, bob, carol} {
		if got, err := s.GetUser(t.Context(), want.ID); err != nil {
			t.Errorf("GetUser(%q) after Commit error = %v", want.Email, err)
		} else if d := diff(want, got); d != "" {
			t.Errorf("GetUser(%q) after Commit mismatch (-want +got):\n%s", want.Email, d)
		}
	}
	checkListedKeys(t, s, "ListSigningKeys() after Commit", keys)
}

// testTxEnded refuses a context whose transaction has ended: a write with
// it must not happen outside any transaction instead.
func testTxEnded(t *testing.T, s storage.Store) {
	for _, end := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"Commit", s.Commit},
		{"Rollback", s.Rollback},
	} {
		ctx := beginTx(t, s)
		if err := end.do(ctx); err != nil {
			t.Fatalf("%s() error = %v", end.name, err)
		}
		u := newUser(end.name + "@example.com")
		if _, err := s.CreateUser(ctx, u); err == nil {
			t.Errorf("CreateUser() after %s with its context succeeded, want an error", end.name)
		}
		if _, err := s.GetUser(t.Context(), u.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetUser() of a user created after %s = %v, want ErrNotFound", end.name, err)
		}
		if err := s.Commit(ctx); err == nil {
			t.Errorf("Commit() after %s succeeded, want an error", end.name)
		}
		if err := s.Rollback(ctx); err == nil {
			t.Errorf("Rollback() after %s succeeded, want an error", end.name)
		}
	}
}

func testTxNone(t *testing.T, s storage.Store) {
	if err := s.Commit(t.Context()); err == nil {
		t.Error("Commit() without a transaction succeeded, want an error")
	}
	if err := s.Rollback(t.Context()); err == nil {
		t.Error("Rollback() without a transaction succeeded, want an error")
	}
	// The store works on.
	createUser(t, s, newUser("alice@example.com"))
}

// testTxNested refuses to begin a transaction inside another: fosite never
// nests them, and a nested BeginTx that quietly joined would commit early.
func testTxNested(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	u, err := s.CreateUser(ctx, newUser("alice@example.com"))
	if err != nil {
		t.Fatalf("CreateUser() in a transaction error = %v", err)
	}
	if _, err := s.BeginTx(ctx); err == nil {
		t.Error("BeginTx() inside a transaction succeeded, want an error")
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() of the outer transaction error = %v", err)
	}
	if _, err := s.GetUser(t.Context(), u.ID); err != nil {
		t.Errorf("GetUser() after Commit error = %v", err)
	}
}
