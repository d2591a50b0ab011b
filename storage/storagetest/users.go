package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func userTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetUser},
		{"GetByEmailIgnoresCase", testGetUserByEmail},
		{"CreateDuplicate", testCreateUserDuplicate},
		{"NotFound", testUserNotFound},
		{"List", testListUsers},
		{"Search", testSearchUsers},
		{"Update", testUpdateUser},
		{"UpdateToTakenEmail", testUpdateUserEmailTaken},
		{"UpdateAbortedByClosure", testUpdateUserAborted},
		{"Delete", testDeleteUser},
	}
}

func testCreateGetUser(t *testing.T, s storage.Store) {
	u := newUser("Alice@Example.com")
	u.EmailVerified, u.Admin = true, true
	u.UpdatedAt = at(1)
	want := storedUser(u)

	got, err := s.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateUser(%q) error = %v", u.Email, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CreateUser(%q) mismatch (-want +got):\n%s", u.Email, d)
	}
	got, err = s.GetUser(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("GetUser(%q) error = %v", u.ID, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetUser(%q) mismatch (-want +got):\n%s", u.ID, d)
	}
}

func testGetUserByEmail(t *testing.T, s storage.Store) {
	want := createUser(t, s, newUser("Alice@Example.com"))
	createUser(t, s, newUser("bob@example.com"))

	for _, email := range []string{"Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM", "alice@example.COM"} {
		got, err := s.GetUserByEmail(t.Context(), email)
		if err != nil {
			t.Errorf("GetUserByEmail(%q) error = %v", email, err)
			continue
		}
		// The record keeps the email as it was typed at creation.
		if d := diff(want, got); d != "" {
			t.Errorf("GetUserByEmail(%q) mismatch (-want +got):\n%s", email, d)
		}
	}
}

func testCreateUserDuplicate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("Alice@Example.com"))

	sameID := newUser("other@example.com")
	sameID.ID = alice.ID
	tests := []struct {
		name string
		user storage.User
	}{
		{"same ID", sameID},
		{"same email", newUser("Alice@Example.com")},
		{"email differing only in case", newUser("alice@example.COM")},
	}
	for _, tc := range tests {
		_, err := s.CreateUser(t.Context(), tc.user)
		checkErr(t, "CreateUser("+tc.name+")", err, storage.ErrAlreadyExists)
	}

	got, err := s.GetUser(t.Context(), alice.ID)
	if err != nil {
		t.Fatalf("GetUser(%q) error = %v", alice.ID, err)
	}
	if d := diff(alice, got); d != "" {
		t.Errorf("GetUser(%q) after duplicates mismatch (-want +got):\n%s", alice.ID, d)
	}
	if users, err := s.ListUsers(t.Context(), storage.Page{}); err != nil || len(users) != 1 {
		t.Errorf("ListUsers() = %d users, %v; want 1 user", len(users), err)
	}
}

func testUserNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("alice@example.com"))
	missing := storage.NewID(storage.PrefixUser)
	called := false

	tests := []struct {
		call string
		do   func() error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, missing); return err }},
		{"GetUserByEmail", func() error { _, err := s.GetUserByEmail(ctx, "nobody@example.com"); return err }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, missing, func(u storage.User) (storage.User, error) {
				called = true
				return u, nil
			})
			return err
		}},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, missing) }},
	}
	for _, tc := range tests {
		checkErr(t, tc.call, tc.do(), storage.ErrNotFound)
	}
	if called {
		t.Error("UpdateUser(missing) called the update closure")
	}
}

func testListUsers(t *testing.T, s storage.Store) {
	var created []storage.User
	for _, email := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"} {
		created = append(created, createUser(t, s, newUser(email)))
	}
	slices.SortFunc(created, func(a, b storage.User) int { return strings.Compare(a.ID, b.ID) })

	// Pages carry whole records, not just IDs.
	all, err := s.ListUsers(t.Context(), storage.Page{})
	if err != nil {
		t.Fatalf("ListUsers() error = %v", err)
	}
	if d := diff(created, all); d != "" {
		t.Errorf("ListUsers() mismatch (-want +got):\n%s", d)
	}

	var ids []string
	for _, u := range created {
		ids = append(ids, u.ID)
	}
	checkPaging(t, "ListUsers", ids, func(p storage.Page) ([]string, error) {
		users, err := s.ListUsers(t.Context(), p)
		var got []string
		for _, u := range users {
			got = append(got, u.ID)
		}
		return got, err
	})
}

func testUpdateUser(t *testing.T, s storage.Store) {
	ctx := t.Context()
	before := createUser(t, s, newUser("Alice@Example.com"))

	var seen storage.User
	got, err := s.UpdateUser(ctx, before.ID, func(u storage.User) (storage.User, error) {
		seen = u
		u.Email = "Alice.New@Example.com"
		u.EmailVerified = true
		u.Name = "Alice New"
		u.PasswordHash = ""
		u.Admin = true
		u.UpdatedAt = at(5)
		// The backend keeps the stored ID and creation time.
		u.ID = storage.NewID(storage.PrefixUser)
		u.CreatedAt = at(9)
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser(%q) error = %v", before.ID, err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateUser(%q) closure got (-want +got):\n%s", before.ID, d)
	}
	want := storage.User{
		ID: before.ID, Email: "Alice.New@Example.com", EmailVerified: true, Name: "Alice New",
		Admin: true, CreatedAt: before.CreatedAt, UpdatedAt: stored(at(5)),
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateUser(%q) mismatch (-want +got):\n%s", before.ID, d)
	}
	if got, err := s.GetUser(ctx, before.ID); err != nil {
		t.Errorf("GetUser(%q) error = %v", before.ID, err)
	} else if d := diff(want, got); d != "" {
		t.Errorf("GetUser(%q) after update mismatch (-want +got):\n%s", before.ID, d)
	}
	if got, err := s.GetUserByEmail(ctx, "alice.new@example.com"); err != nil || got.ID != before.ID {
		t.Errorf("GetUserByEmail(new email) = %q, %v; want %q", got.ID, err, before.ID)
	}
	_, err = s.GetUserByEmail(ctx, "alice@example.com")
	checkErr(t, "GetUserByEmail(old email)", err, storage.ErrNotFound)
	// The old email is free again.
	createUser(t, s, newUser("alice@example.com"))
}

func testUpdateUserEmailTaken(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("Alice@Example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))

	_, err := s.UpdateUser(t.Context(), bob.ID, func(u storage.User) (storage.User, error) {
		u.Email = "alice@EXAMPLE.com"
		u.Name = "Bob Changed"
		return u, nil
	})
	checkErr(t, "UpdateUser(email of another user)", err, storage.ErrAlreadyExists)

	for _, want := range []storage.User{alice, bob} {
		got, err := s.GetUser(t.Context(), want.ID)
		if err != nil {
			t.Errorf("GetUser(%q) error = %v", want.ID, err)
		} else if d := diff(want, got); d != "" {
			t.Errorf("GetUser(%q) after refused update mismatch (-want +got):\n%s", want.ID, d)
		}
	}
}

func testUpdateUserAborted(t *testing.T, s storage.Store) {
	before := createUser(t, s, newUser("alice@example.com"))
	errAbort := errors.New("abort")

	_, err := s.UpdateUser(t.Context(), before.ID, func(u storage.User) (storage.User, error) {
		u.Name = "Changed"
		return u, errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateUser(closure fails) error = %v, want %v", err, errAbort)
	}
	got, err := s.GetUser(t.Context(), before.ID)
	if err != nil {
		t.Fatalf("GetUser(%q) error = %v", before.ID, err)
	}
	if d := diff(before, got); d != "" {
		t.Errorf("GetUser(%q) after aborted update mismatch (-want +got):\n%s", before.ID, d)
	}
}

func testDeleteUser(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("Alice@Example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))

	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser(%q) error = %v", alice.ID, err)
	}
	_, err := s.GetUser(ctx, alice.ID)
	checkErr(t, "GetUser(deleted)", err, storage.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "alice@example.com")
	checkErr(t, "GetUserByEmail(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteUser(deleted)", s.DeleteUser(ctx, alice.ID), storage.ErrNotFound)

	if got, err := s.GetUser(ctx, bob.ID); err != nil {
		t.Errorf("GetUser(%q) error = %v", bob.ID, err)
	} else if d := diff(bob, got); d != "" {
		t.Errorf("GetUser(%q) after deleting another user mismatch (-want +got):\n%s", bob.ID, d)
	}
	// The email can be used again.
	createUser(t, s, newUser("alice@example.com"))
}

func testSearchUsers(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mk := func(email, name string) storage.User {
		u := newUser(email)
		u.Name = name
		return createUser(t, s, u)
	}
	alice := mk("Alice@Example.com", "Alice Liddell")
	bob := mk("bob@example.com", "Bob 100%_sure")
	carol := mk("carol@other.org", "Carol")
	a, b := createOrg(t, s, newOrg("org-a")), createOrg(t, s, newOrg("org-b"))
	createRole(t, s, newRole(a.ID, "billing", "org:billing:read"))
	createMembership(t, s, newMembership(a.ID, alice.ID, "admin"))
	createMembership(t, s, newMembership(a.ID, bob.ID, "billing"))
	createMembership(t, s, newMembership(b.ID, carol.ID, "admin"))

	sorted := func(us ...storage.User) []string {
		var ids []string
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		slices.Sort(ids)
		return ids
	}
	for _, tc := range []struct {
		name string
		q    storage.UserQuery
		want []string
	}{
		{"everyone", storage.UserQuery{}, sorted(alice, bob, carol)},
		{"email ignoring case", storage.UserQuery{Search: "ALICE@"}, sorted(alice)},
		{"name ignoring case", storage.UserQuery{Search: "liddell"}, sorted(alice)},
		{"email domain", storage.UserQuery{Search: "example.com"}, sorted(alice, bob)},
		{"percent and underscore are literal", storage.UserQuery{Search: "%_"}, sorted(bob)},
		{"underscore is no wildcard", storage.UserQuery{Search: "a_i"}, nil},
		{"organization", storage.UserQuery{OrgID: a.ID}, sorted(alice, bob)},
		{"role in any organization", storage.UserQuery{Role: "admin"}, sorted(alice, carol)},
		{"role in one organization", storage.UserQuery{OrgID: a.ID, Role: "admin"}, sorted(alice)},
		{"custom role", storage.UserQuery{OrgID: a.ID, Role: "billing"}, sorted(bob)},
		{"all filters", storage.UserQuery{OrgID: b.ID, Role: "admin", Search: "carol"}, sorted(carol)},
		{"no match", storage.UserQuery{OrgID: b.ID, Search: "alice"}, nil},
	} {
		users, total, err := s.SearchUsers(ctx, tc.q)
		if err != nil {
			t.Fatalf("SearchUsers(%s) error = %v", tc.name, err)
		}
		got := sorted(users...)
		if !slices.Equal(got, tc.want) || total != len(tc.want) {
			t.Errorf("SearchUsers(%s) = %v (total %d), want %v", tc.name, got, total, tc.want)
		}
	}

	// Paging keeps the total of every match.
	want := sorted(alice, bob, carol)
	users, total, err := s.SearchUsers(ctx, storage.UserQuery{Page: storage.Page{After: want[0], Limit: 1}})
	if err != nil || total != 3 || len(users) != 1 || users[0].ID != want[1] {
		t.Errorf("SearchUsers(page 2 of 1) = %v, %d, %v; want [%s], 3", users, total, err, want[1])
	}
}
