package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func membershipTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetMembership},
		{"CreateRefused", testCreateMembershipRefused},
		{"ListByOrganization", testListMembershipsByOrganization},
		{"ListByUser", testListMembershipsByUser},
		{"UpdateRole", testUpdateMembership},
		{"UpdateRefused", testUpdateMembershipRefused},
		{"Delete", testDeleteMembership},
		{"DeleteUserRemovesMemberships", testDeleteUserRemovesMemberships},
	}
}

func testCreateGetMembership(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	createRole(t, s, newRole(acme.ID, "auditor", "org:read"))

	builtin := newMembership(acme.ID, alice.ID, storage.RoleMember)
	builtin.UpdatedAt = at(1)
	tests := []struct {
		name string
		m    storage.Membership
	}{
		{"built-in role", builtin},
		{"custom role", newMembership(acme.ID, bob.ID, "auditor")},
	}
	for _, tc := range tests {
		want := storedMembership(tc.m)
		got, err := s.CreateMembership(ctx, tc.m)
		if err != nil {
			t.Errorf("CreateMembership(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateMembership(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		got, err = s.GetMembership(ctx, tc.m.OrgID, tc.m.UserID)
		if err != nil {
			t.Errorf("GetMembership(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetMembership(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

func testCreateMembershipRefused(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	createRole(t, s, newRole(globex.ID, "auditor", "org:read"))
	existing := createMembership(t, s, newMembership(acme.ID, alice.ID, storage.RoleMember))

	tests := []struct {
		name string
		m    storage.Membership
		want error
	}{
		{"missing organization", newMembership(storage.NewID(storage.PrefixOrganization), bob.ID, storage.RoleMember), storage.ErrNotFound},
		{"missing user", newMembership(acme.ID, storage.NewID(storage.PrefixUser), storage.RoleMember), storage.ErrNotFound},
		{"missing role", newMembership(acme.ID, bob.ID, "nobody"), storage.ErrNotFound},
		{"another organization's custom role", newMembership(acme.ID, bob.ID, "auditor"), storage.ErrNotFound},
		{"already a member", newMembership(acme.ID, alice.ID, storage.RoleAdmin), storage.ErrAlreadyExists},
	}
	for _, tc := range tests {
		_, err := s.CreateMembership(ctx, tc.m)
		checkErr(t, "CreateMembership("+tc.name+")", err, tc.want)
	}

	_, err := s.GetMembership(ctx, acme.ID, bob.ID)
	checkErr(t, "GetMembership(refused)", err, storage.ErrNotFound)
	if got, err := s.GetMembership(ctx, acme.ID, alice.ID); err != nil {
		t.Errorf("GetMembership(%q, %q) error = %v", acme.ID, alice.ID, err)
	} else if d := diff(existing, got); d != "" {
		t.Errorf("GetMembership(%q, %q) after duplicate mismatch (-want +got):\n%s", acme.ID, alice.ID, d)
	}
}

func testListMembershipsByOrganization(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	roles := []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleMember, "auditor", storage.RoleMember}

	var created []storage.Membership
	for i, email := range []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"} {
		u := createUser(t, s, newUser(email))
		created = append(created, createMembership(t, s, newMembership(acme.ID, u.ID, roles[i])))
		if i%2 == 0 {
			createMembership(t, s, newMembership(globex.ID, u.ID, storage.RoleMember))
		}
	}
	createMembership(t, s, newMembership(globex.ID, createUser(t, s, newUser("f@example.com")).ID, storage.RoleAdmin))
	slices.SortFunc(created, func(a, b storage.Membership) int { return strings.Compare(a.UserID, b.UserID) })

	all, err := s.ListMembershipsByOrganization(ctx, acme.ID, storage.Page{})
	if err != nil {
		t.Fatalf("ListMembershipsByOrganization(%q) error = %v", acme.ID, err)
	}
	if d := diff(created, all); d != "" {
		t.Errorf("ListMembershipsByOrganization(%q) mismatch (-want +got):\n%s", acme.ID, d)
	}

	var userIDs []string
	for _, m := range created {
		userIDs = append(userIDs, m.UserID)
	}
	checkPaging(t, "ListMembershipsByOrganization", userIDs, func(p storage.Page) ([]string, error) {
		ms, err := s.ListMembershipsByOrganization(ctx, acme.ID, p)
		var got []string
		for _, m := range ms {
			got = append(got, m.UserID)
		}
		return got, err
	})
}

func testListMembershipsByUser(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	carol := createUser(t, s, newUser("carol@example.com"))

	var want []storage.Membership
	for i, slug := range []string{"acme", "globex", "initech"} {
		o := createOrg(t, s, newOrg(slug))
		role := []string{storage.RoleAdmin, storage.RoleMember, "auditor"}[i]
		if role == "auditor" {
			createRole(t, s, newRole(o.ID, role, "org:read"))
		}
		want = append(want, createMembership(t, s, newMembership(o.ID, alice.ID, role)))
		if i == 0 {
			createMembership(t, s, newMembership(o.ID, bob.ID, storage.RoleMember))
		}
	}
	slices.SortFunc(want, func(a, b storage.Membership) int { return strings.Compare(a.OrgID, b.OrgID) })

	tests := []struct {
		name   string
		userID string
		want   []storage.Membership
	}{
		{"member of three", alice.ID, want},
		{"member of none", carol.ID, nil},
	}
	for _, tc := range tests {
		got, err := s.ListMembershipsByUser(ctx, tc.userID)
		if err != nil {
			t.Errorf("ListMembershipsByUser(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("ListMembershipsByUser(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

func testUpdateMembership(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	alice := createUser(t, s, newUser("alice@example.com"))
	createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	before := createMembership(t, s, newMembership(acme.ID, alice.ID, storage.RoleMember))

	tests := []struct {
		name string
		role string
	}{
		{"to a custom role", "auditor"},
		{"to a built-in role", storage.RoleAdmin},
	}
	for i, tc := range tests {
		updatedAt := at(5 + i)
		var seen storage.Membership
		got, err := s.UpdateMembership(ctx, acme.ID, alice.ID, func(m storage.Membership) (storage.Membership, error) {
			seen = m
			m.Role = tc.role
			m.UpdatedAt = updatedAt
			return m, nil
		})
		if err != nil {
			t.Fatalf("UpdateMembership(%s) error = %v", tc.name, err)
		}
		if d := diff(before, seen); d != "" {
			t.Errorf("UpdateMembership(%s) closure got (-want +got):\n%s", tc.name, d)
		}
		want := before
		want.Role, want.UpdatedAt = tc.role, stored(updatedAt)
		if d := diff(want, got); d != "" {
			t.Errorf("UpdateMembership(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		if got, err := s.GetMembership(ctx, acme.ID, alice.ID); err != nil {
			t.Errorf("GetMembership() after update %s error = %v", tc.name, err)
		} else if d := diff(want, got); d != "" {
			t.Errorf("GetMembership() after update %s mismatch (-want +got):\n%s", tc.name, d)
		}
		before = want
	}
}

func testUpdateMembershipRefused(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	createRole(t, s, newRole(globex.ID, "auditor", "org:read"))
	before := createMembership(t, s, newMembership(acme.ID, alice.ID, storage.RoleMember))
	errAbort := errors.New("abort")
	setRole := func(role string) func(storage.Membership) (storage.Membership, error) {
		return func(m storage.Membership) (storage.Membership, error) {
			m.Role = role
			return m, nil
		}
	}

	tests := []struct {
		name   string
		orgID  string
		userID string
		update func(storage.Membership) (storage.Membership, error)
		want   error
	}{
		{"to a missing role", acme.ID, alice.ID, setRole("nobody"), storage.ErrNotFound},
		{"to another organization's custom role", acme.ID, alice.ID, setRole("auditor"), storage.ErrNotFound},
		{"missing membership", globex.ID, alice.ID, setRole(storage.RoleAdmin), storage.ErrNotFound},
		{"closure fails", acme.ID, alice.ID, func(m storage.Membership) (storage.Membership, error) {
			m.Role = storage.RoleAdmin
			return m, errAbort
		}, errAbort},
	}
	for _, tc := range tests {
		_, err := s.UpdateMembership(ctx, tc.orgID, tc.userID, tc.update)
		checkErr(t, "UpdateMembership("+tc.name+")", err, tc.want)
	}

	got, err := s.GetMembership(ctx, acme.ID, alice.ID)
	if err != nil {
		t.Fatalf("GetMembership(%q, %q) error = %v", acme.ID, alice.ID, err)
	}
	if d := diff(before, got); d != "" {
		t.Errorf("GetMembership(%q, %q) after refused updates mismatch (-want +got):\n%s", acme.ID, alice.ID, d)
	}
	_, err = s.GetMembership(ctx, globex.ID, alice.ID)
	checkErr(t, "GetMembership(never created)", err, storage.ErrNotFound)
}

func testDeleteMembership(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	createMembership(t, s, newMembership(acme.ID, alice.ID, storage.RoleMember))
	keep := createMembership(t, s, newMembership(acme.ID, bob.ID, storage.RoleMember))

	if err := s.DeleteMembership(ctx, acme.ID, alice.ID); err != nil {
		t.Fatalf("DeleteMembership(%q, %q) error = %v", acme.ID, alice.ID, err)
	}
	_, err := s.GetMembership(ctx, acme.ID, alice.ID)
	checkErr(t, "GetMembership(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteMembership(deleted)", s.DeleteMembership(ctx, acme.ID, alice.ID), storage.ErrNotFound)

	ms, err := s.ListMembershipsByOrganization(ctx, acme.ID, storage.Page{})
	if err != nil {
		t.Fatalf("ListMembershipsByOrganization(%q) error = %v", acme.ID, err)
	}
	if d := diff([]storage.Membership{keep}, ms); d != "" {
		t.Errorf("ListMembershipsByOrganization(%q) after delete mismatch (-want +got):\n%s", acme.ID, d)
	}
	// Only the membership went.
	if _, err := s.GetUser(ctx, alice.ID); err != nil {
		t.Errorf("GetUser(%q) after DeleteMembership error = %v", alice.ID, err)
	}
	if _, err := s.GetOrganization(ctx, acme.ID); err != nil {
		t.Errorf("GetOrganization(%q) after DeleteMembership error = %v", acme.ID, err)
	}
}

func testDeleteUserRemovesMemberships(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	createMembership(t, s, newMembership(acme.ID, alice.ID, "auditor"))
	createMembership(t, s, newMembership(globex.ID, alice.ID, storage.RoleAdmin))
	keep := createMembership(t, s, newMembership(acme.ID, bob.ID, storage.RoleMember))

	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser(%q) with memberships error = %v", alice.ID, err)
	}
	for _, orgID := range []string{acme.ID, globex.ID} {
		_, err := s.GetMembership(ctx, orgID, alice.ID)
		checkErr(t, "GetMembership(deleted user)", err, storage.ErrNotFound)
	}
	// The contract does not say whether listing a missing user's
	// memberships is an error; either way it must list none.
	if ms, err := s.ListMembershipsByUser(ctx, alice.ID); len(ms) != 0 || err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ListMembershipsByUser(deleted user) = %v, %v; want none", ms, err)
	}
	ms, err := s.ListMembershipsByOrganization(ctx, acme.ID, storage.Page{})
	if err != nil {
		t.Fatalf("ListMembershipsByOrganization(%q) error = %v", acme.ID, err)
	}
	if d := diff([]storage.Membership{keep}, ms); d != "" {
		t.Errorf("ListMembershipsByOrganization(%q) after deleting a user mismatch (-want +got):\n%s", acme.ID, d)
	}
	// The custom role the user had is now unused and can go.
	if err := s.DeleteRole(ctx, acme.ID, "auditor"); err != nil {
		t.Errorf("DeleteRole(%q) after deleting its only member error = %v", "auditor", err)
	}
}
