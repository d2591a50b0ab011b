package storagetest

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerdev/foyer/storage"
)

func roleTests() []test {
	return []test{
		{"NewOrganizationHasBuiltins", testListBuiltinRoles},
		{"ListBuiltinsThenCustomByName", testListRolesOrder},
		{"CreateAndGet", testCreateGetRole},
		{"CreateRefused", testCreateRoleRefused},
		{"Update", testUpdateRole},
		{"UpdateRefused", testUpdateRoleRefused},
		{"Delete", testDeleteRole},
		{"MissingOrganizationHasNoRoles", testRolesOfMissingOrg},
	}
}

func testRolesOfMissingOrg(t *testing.T, s storage.Store) {
	missing := storage.NewID(storage.PrefixOrganization)
	if roles, err := s.ListRoles(t.Context(), missing); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ListRoles(missing org) = %v, %v; want ErrNotFound", roles, err)
	}
	if r, err := s.GetRole(t.Context(), missing, storage.RoleAdmin); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRole(missing org, admin) = %v, %v; want ErrNotFound", r, err)
	}
}

func testListBuiltinRoles(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))

	got, err := s.ListRoles(t.Context(), acme.ID)
	if err != nil {
		t.Fatalf("ListRoles(%q) error = %v", acme.ID, err)
	}
	if d := diff(storage.BuiltinRoles(), got, ignoreRoleTimes()); d != "" {
		t.Errorf("ListRoles(new organization) mismatch (-want +got):\n%s", d)
	}
	for _, r := range got {
		if !r.Builtin() {
			t.Errorf("ListRoles(new organization) role %q: Builtin() = false, want true", r.Name)
		}
	}
}

func testListRolesOrder(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	// Created out of order; listed by name.
	zeta := createRole(t, s, newRole(acme.ID, "zeta", "org:read"))
	alpha := createRole(t, s, newRole(acme.ID, "alpha", "org:read", "org:update"))
	mid := createRole(t, s, newRole(acme.ID, "mid"))
	createRole(t, s, newRole(globex.ID, "beta", "org:read"))

	got, err := s.ListRoles(t.Context(), acme.ID)
	if err != nil {
		t.Fatalf("ListRoles(%q) error = %v", acme.ID, err)
	}
	want := append(storage.BuiltinRoles(), alpha, mid, zeta)
	if d := diff(want, got, ignoreRoleTimes()); d != "" {
		t.Errorf("ListRoles(%q) mismatch (-want +got):\n%s", acme.ID, d)
	}
	// Custom roles keep their times.
	if len(got) == len(want) {
		if d := diff(want[3:], got[3:]); d != "" {
			t.Errorf("ListRoles(%q) custom roles mismatch (-want +got):\n%s", acme.ID, d)
		}
	}
}

func testCreateGetRole(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	r := newRole(acme.ID, "auditor", "org:read", "org:members:read")
	r.UpdatedAt = at(1)
	want := storedRole(r)

	got, err := s.CreateRole(ctx, r)
	if err != nil {
		t.Fatalf("CreateRole(%q, %q) error = %v", r.OrgID, r.Name, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CreateRole(%q, %q) mismatch (-want +got):\n%s", r.OrgID, r.Name, d)
	}
	if got.Builtin() {
		t.Errorf("CreateRole(%q, %q).Builtin() = true, want false", r.OrgID, r.Name)
	}

	tests := []struct {
		name    string
		orgID   string
		role    string
		want    storage.Role
		wantErr error
	}{
		{"own custom role", acme.ID, "auditor", want, nil},
		{"built-in role", acme.ID, storage.RoleEditor, builtinRole(t, storage.RoleEditor), nil},
		{"built-in role in another organization", globex.ID, storage.RoleAdmin, builtinRole(t, storage.RoleAdmin), nil},
		{"another organization's custom role", globex.ID, "auditor", storage.Role{}, storage.ErrNotFound},
		{"missing role", acme.ID, "nobody", storage.Role{}, storage.ErrNotFound},
	}
	for _, tc := range tests {
		got, err := s.GetRole(ctx, tc.orgID, tc.role)
		if tc.wantErr != nil {
			checkErr(t, "GetRole("+tc.name+")", err, tc.wantErr)
			continue
		}
		if err != nil {
			t.Errorf("GetRole(%s) error = %v", tc.name, err)
			continue
		}
		var opts []cmp.Option
		if tc.want.Builtin() {
			opts = append(opts, ignoreRoleTimes())
		}
		if d := diff(tc.want, got, opts...); d != "" {
			t.Errorf("GetRole(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

func testCreateRoleRefused(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	auditor := createRole(t, s, newRole(acme.ID, "auditor", "org:read"))

	tests := []struct {
		name string
		role storage.Role
		want error
	}{
		{"built-in name", newRole(acme.ID, storage.RoleAdmin, "org:read"), storage.ErrAlreadyExists},
		{"existing custom name", newRole(acme.ID, "auditor"), storage.ErrAlreadyExists},
		{"missing organization", newRole(storage.NewID(storage.PrefixOrganization), "auditor"), storage.ErrNotFound},
	}
	for _, tc := range tests {
		_, err := s.CreateRole(ctx, tc.role)
		checkErr(t, "CreateRole("+tc.name+")", err, tc.want)
	}

	if got, err := s.GetRole(ctx, acme.ID, "auditor"); err != nil {
		t.Errorf("GetRole(%q) error = %v", "auditor", err)
	} else if d := diff(auditor, got); d != "" {
		t.Errorf("GetRole(%q) after refused creates mismatch (-want +got):\n%s", "auditor", d)
	}
	if got, err := s.GetRole(ctx, acme.ID, storage.RoleAdmin); err != nil {
		t.Errorf("GetRole(%q) error = %v", storage.RoleAdmin, err)
	} else if d := diff(builtinRole(t, storage.RoleAdmin), got, ignoreRoleTimes()); d != "" {
		t.Errorf("GetRole(%q) after refused creates mismatch (-want +got):\n%s", storage.RoleAdmin, d)
	}
	// Names are unique per organization: another may reuse one.
	createRole(t, s, newRole(globex.ID, "auditor"))
}

func testUpdateRole(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	before := createRole(t, s, newRole(acme.ID, "auditor", "org:read"))

	var seen storage.Role
	got, err := s.UpdateRole(ctx, acme.ID, "auditor", func(r storage.Role) (storage.Role, error) {
		seen = r
		r.Description = "Reads everything"
		r.Permissions = []string{"org:read", "org:members:read"}
		r.UpdatedAt = at(5)
		// Name, ID, organization and creation time cannot change.
		r.Name = "renamed"
		r.ID = storage.NewID(storage.PrefixRole)
		r.OrgID = globex.ID
		r.CreatedAt = at(9)
		return r, nil
	})
	if err != nil {
		t.Fatalf("UpdateRole(%q) error = %v", "auditor", err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateRole(%q) closure got (-want +got):\n%s", "auditor", d)
	}
	want := before
	want.Description = "Reads everything"
	want.Permissions = []string{"org:read", "org:members:read"}
	want.UpdatedAt = stored(at(5))
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateRole(%q) mismatch (-want +got):\n%s", "auditor", d)
	}
	if got, err := s.GetRole(ctx, acme.ID, "auditor"); err != nil {
		t.Errorf("GetRole(%q) error = %v", "auditor", err)
	} else if d := diff(want, got); d != "" {
		t.Errorf("GetRole(%q) after update mismatch (-want +got):\n%s", "auditor", d)
	}
	_, err = s.GetRole(ctx, acme.ID, "renamed")
	checkErr(t, "GetRole(renamed)", err, storage.ErrNotFound)
	_, err = s.GetRole(ctx, globex.ID, "auditor")
	checkErr(t, "GetRole(moved to another organization)", err, storage.ErrNotFound)
}

func testUpdateRoleRefused(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	auditor := createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	errAbort := errors.New("abort")
	grant := func(r storage.Role) (storage.Role, error) {
		r.Permissions = append(r.Permissions, "org:delete")
		return r, nil
	}

	tests := []struct {
		name   string
		orgID  string
		role   string
		update func(storage.Role) (storage.Role, error)
		want   error
	}{
		{"built-in role", acme.ID, storage.RoleMember, grant, storage.ErrConflict},
		{"missing role", acme.ID, "nobody", grant, storage.ErrNotFound},
		{"another organization's custom role", globex.ID, "auditor", grant, storage.ErrNotFound},
		{"closure fails", acme.ID, "auditor", func(r storage.Role) (storage.Role, error) {
			r.Permissions = append(r.Permissions, "org:delete")
			return r, errAbort
		}, errAbort},
	}
	for _, tc := range tests {
		_, err := s.UpdateRole(ctx, tc.orgID, tc.role, tc.update)
		checkErr(t, "UpdateRole("+tc.name+")", err, tc.want)
	}

	if got, err := s.GetRole(ctx, acme.ID, storage.RoleMember); err != nil {
		t.Errorf("GetRole(%q) error = %v", storage.RoleMember, err)
	} else if d := diff(builtinRole(t, storage.RoleMember), got, ignoreRoleTimes()); d != "" {
		t.Errorf("GetRole(%q) after refused update mismatch (-want +got):\n%s", storage.RoleMember, d)
	}
	if got, err := s.GetRole(ctx, acme.ID, "auditor"); err != nil {
		t.Errorf("GetRole(%q) error = %v", "auditor", err)
	} else if d := diff(auditor, got); d != "" {
		t.Errorf("GetRole(%q) after refused updates mismatch (-want +got):\n%s", "auditor", d)
	}
}

func testDeleteRole(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	inUse := createRole(t, s, newRole(acme.ID, "billing", "org:read"))
	createMembership(t, s, newMembership(acme.ID, alice.ID, "billing"))

	tests := []struct {
		name  string
		orgID string
		role  string
		want  error
	}{
		{"built-in role", acme.ID, storage.RoleAdmin, storage.ErrConflict},
		{"role in use", acme.ID, "billing", storage.ErrConflict},
		{"missing role", acme.ID, "nobody", storage.ErrNotFound},
		{"another organization's custom role", globex.ID, "auditor", storage.ErrNotFound},
	}
	for _, tc := range tests {
		checkErr(t, "DeleteRole("+tc.name+")", s.DeleteRole(ctx, tc.orgID, tc.role), tc.want)
	}
	if _, err := s.GetRole(ctx, acme.ID, storage.RoleAdmin); err != nil {
		t.Errorf("GetRole(%q) after refused delete error = %v", storage.RoleAdmin, err)
	}
	if got, err := s.GetRole(ctx, acme.ID, "billing"); err != nil {
		t.Errorf("GetRole(%q) after refused delete error = %v", "billing", err)
	} else if d := diff(inUse, got); d != "" {
		t.Errorf("GetRole(%q) after refused delete mismatch (-want +got):\n%s", "billing", d)
	}

	if err := s.DeleteRole(ctx, acme.ID, "auditor"); err != nil {
		t.Fatalf("DeleteRole(%q) error = %v", "auditor", err)
	}
	_, err := s.GetRole(ctx, acme.ID, "auditor")
	checkErr(t, "GetRole(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteRole(deleted)", s.DeleteRole(ctx, acme.ID, "auditor"), storage.ErrNotFound)

	// Once no membership uses it, the role can go.
	if err := s.DeleteMembership(ctx, acme.ID, alice.ID); err != nil {
		t.Fatalf("DeleteMembership(%q, %q) error = %v", acme.ID, alice.ID, err)
	}
	if err := s.DeleteRole(ctx, acme.ID, "billing"); err != nil {
		t.Errorf("DeleteRole(%q) once unused error = %v", "billing", err)
	}
	roles, err := s.ListRoles(ctx, acme.ID)
	if err != nil {
		t.Fatalf("ListRoles(%q) error = %v", acme.ID, err)
	}
	if d := diff(storage.BuiltinRoles(), roles, ignoreRoleTimes()); d != "" {
		t.Errorf("ListRoles(%q) after deletes mismatch (-want +got):\n%s", acme.ID, d)
	}
}
