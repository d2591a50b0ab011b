package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func organizationTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetOrg},
		{"CreateDuplicate", testCreateOrgDuplicate},
		{"NotFound", testOrgNotFound},
		{"List", testListOrgs},
		{"Update", testUpdateOrg},
		{"RequireMFA", testOrgRequireMFA},
		{"UpdateToTakenSlug", testUpdateOrgSlugTaken},
		{"UpdateAbortedByClosure", testUpdateOrgAborted},
		{"Delete", testDeleteOrg},
		{"DeleteCascades", testDeleteOrgCascades},
	}
}

func testCreateGetOrg(t *testing.T, s storage.Store) {
	ctx := t.Context()
	o := newOrg("acme")
	o.UpdatedAt = at(1)
	want := storedOrg(o)

	got, err := s.CreateOrganization(ctx, o)
	if err != nil {
		t.Fatalf("CreateOrganization(%q) error = %v", o.Slug, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("CreateOrganization(%q) mismatch (-want +got):\n%s", o.Slug, d)
	}
	got, err = s.GetOrganization(ctx, o.ID)
	if err != nil {
		t.Fatalf("GetOrganization(%q) error = %v", o.ID, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetOrganization(%q) mismatch (-want +got):\n%s", o.ID, d)
	}
	got, err = s.GetOrganizationBySlug(ctx, o.Slug)
	if err != nil {
		t.Fatalf("GetOrganizationBySlug(%q) error = %v", o.Slug, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetOrganizationBySlug(%q) mismatch (-want +got):\n%s", o.Slug, d)
	}
}

func testCreateOrgDuplicate(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))

	sameID := newOrg("other")
	sameID.ID = acme.ID
	tests := []struct {
		name string
		org  storage.Organization
	}{
		{"same ID", sameID},
		{"same slug", newOrg("acme")},
	}
	for _, tc := range tests {
		_, err := s.CreateOrganization(t.Context(), tc.org)
		checkErr(t, "CreateOrganization("+tc.name+")", err, storage.ErrAlreadyExists)
	}
	got, err := s.GetOrganization(t.Context(), acme.ID)
	if err != nil {
		t.Fatalf("GetOrganization(%q) error = %v", acme.ID, err)
	}
	if d := diff(acme, got); d != "" {
		t.Errorf("GetOrganization(%q) after duplicates mismatch (-want +got):\n%s", acme.ID, d)
	}
}

func testOrgNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createOrg(t, s, newOrg("acme"))
	missing := storage.NewID(storage.PrefixOrganization)
	called := false

	tests := []struct {
		call string
		do   func() error
	}{
		{"GetOrganization", func() error { _, err := s.GetOrganization(ctx, missing); return err }},
		{"GetOrganizationBySlug", func() error { _, err := s.GetOrganizationBySlug(ctx, "nowhere"); return err }},
		{"UpdateOrganization", func() error {
			_, err := s.UpdateOrganization(ctx, missing, func(o storage.Organization) (storage.Organization, error) {
				called = true
				return o, nil
			})
			return err
		}},
		{"DeleteOrganization", func() error { return s.DeleteOrganization(ctx, missing) }},
	}
	for _, tc := range tests {
		checkErr(t, tc.call, tc.do(), storage.ErrNotFound)
	}
	if called {
		t.Error("UpdateOrganization(missing) called the update closure")
	}
}

func testListOrgs(t *testing.T, s storage.Store) {
	var created []storage.Organization
	for _, slug := range []string{"a", "b", "c", "d", "e"} {
		created = append(created, createOrg(t, s, newOrg(slug)))
	}
	slices.SortFunc(created, func(a, b storage.Organization) int { return strings.Compare(a.ID, b.ID) })

	all, err := s.ListOrganizations(t.Context(), storage.Page{})
	if err != nil {
		t.Fatalf("ListOrganizations() error = %v", err)
	}
	if d := diff(created, all); d != "" {
		t.Errorf("ListOrganizations() mismatch (-want +got):\n%s", d)
	}

	var ids []string
	for _, o := range created {
		ids = append(ids, o.ID)
	}
	checkPaging(t, "ListOrganizations", ids, func(p storage.Page) ([]string, error) {
		orgs, err := s.ListOrganizations(t.Context(), p)
		var got []string
		for _, o := range orgs {
			got = append(got, o.ID)
		}
		return got, err
	})
}

func testUpdateOrg(t *testing.T, s storage.Store) {
	ctx := t.Context()
	before := createOrg(t, s, newOrg("acme"))

	var seen storage.Organization
	got, err := s.UpdateOrganization(ctx, before.ID, func(o storage.Organization) (storage.Organization, error) {
		seen = o
		o.Slug = "acme-corp"
		o.Name = "Acme Corporation"
		o.UpdatedAt = at(5)
		// The backend keeps the stored ID and creation time.
		o.ID = storage.NewID(storage.PrefixOrganization)
		o.CreatedAt = at(9)
		return o, nil
	})
	if err != nil {
		t.Fatalf("UpdateOrganization(%q) error = %v", before.ID, err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateOrganization(%q) closure got (-want +got):\n%s", before.ID, d)
	}
	want := storage.Organization{
		ID: before.ID, Slug: "acme-corp", Name: "Acme Corporation",
		CreatedAt: before.CreatedAt, UpdatedAt: stored(at(5)),
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateOrganization(%q) mismatch (-want +got):\n%s", before.ID, d)
	}
	if got, err := s.GetOrganizationBySlug(ctx, "acme-corp"); err != nil {
		t.Errorf("GetOrganizationBySlug(new slug) error = %v", err)
	} else if d := diff(want, got); d != "" {
		t.Errorf("GetOrganizationBySlug(new slug) mismatch (-want +got):\n%s", d)
	}
	_, err = s.GetOrganizationBySlug(ctx, "acme")
	checkErr(t, "GetOrganizationBySlug(old slug)", err, storage.ErrNotFound)
}

// testOrgRequireMFA: RequireMFA, LogoURL and BrandColor are stored by
// Create and Update and read by Get, GetBySlug and List, in both directions.
func testOrgRequireMFA(t *testing.T, s storage.Store) {
	ctx := t.Context()
	strict := newOrg("strict")
	strict.RequireMFA = true
	strict.LogoURL = "https://strict.example/logo.png"
	strict.BrandColor = "#1a2b3c"
	strict = createOrg(t, s, strict)
	lax := createOrg(t, s, newOrg("lax"))
	if !strict.RequireMFA || lax.RequireMFA {
		t.Errorf("CreateOrganization() RequireMFA = %t, %t; want true, false", strict.RequireMFA, lax.RequireMFA)
	}
	if strict.LogoURL != "https://strict.example/logo.png" || strict.BrandColor != "#1a2b3c" || lax.LogoURL != "" || lax.BrandColor != "" {
		t.Errorf("CreateOrganization() LogoURL, BrandColor = %q, %q and %q, %q; want the given ones and empty",
			strict.LogoURL, strict.BrandColor, lax.LogoURL, lax.BrandColor)
	}

	check := func(call string, want ...storage.Organization) {
		t.Helper()
		for _, w := range want {
			if got, err := s.GetOrganization(ctx, w.ID); err != nil {
				t.Errorf("%s: GetOrganization(%q) error = %v", call, w.Slug, err)
			} else if d := diff(w, got); d != "" {
				t.Errorf("%s: GetOrganization(%q) mismatch (-want +got):\n%s", call, w.Slug, d)
			}
			if got, err := s.GetOrganizationBySlug(ctx, w.Slug); err != nil {
				t.Errorf("%s: GetOrganizationBySlug(%q) error = %v", call, w.Slug, err)
			} else if d := diff(w, got); d != "" {
				t.Errorf("%s: GetOrganizationBySlug(%q) mismatch (-want +got):\n%s", call, w.Slug, d)
			}
		}
		want = slices.Clone(want)
		slices.SortFunc(want, func(a, b storage.Organization) int { return strings.Compare(a.ID, b.ID) })
		if got, err := s.ListOrganizations(ctx, storage.Page{}); err != nil {
			t.Errorf("%s: ListOrganizations() error = %v", call, err)
		} else if d := diff(want, got); d != "" {
			t.Errorf("%s: ListOrganizations() mismatch (-want +got):\n%s", call, d)
		}
	}
	check("after create", strict, lax)

	// flip toggles RequireMFA and swaps in the branding of the other
	// organization, so both set and cleared values are written.
	flip := func(o storage.Organization, logoURL, brandColor string) storage.Organization {
		t.Helper()
		var seen storage.Organization
		got, err := s.UpdateOrganization(ctx, o.ID, func(o storage.Organization) (storage.Organization, error) {
			seen = o
			o.RequireMFA = !o.RequireMFA
			o.LogoURL, o.BrandColor = logoURL, brandColor
			return o, nil
		})
		if err != nil {
			t.Fatalf("UpdateOrganization(%q) error = %v", o.Slug, err)
		}
		if seen.RequireMFA != o.RequireMFA || seen.LogoURL != o.LogoURL || seen.BrandColor != o.BrandColor {
			t.Errorf("UpdateOrganization(%q) closure got RequireMFA, LogoURL, BrandColor = %t, %q, %q; want %t, %q, %q",
				o.Slug, seen.RequireMFA, seen.LogoURL, seen.BrandColor, o.RequireMFA, o.LogoURL, o.BrandColor)
		}
		o.RequireMFA = !o.RequireMFA
		o.LogoURL, o.BrandColor = logoURL, brandColor
		if d := diff(o, got); d != "" {
			t.Errorf("UpdateOrganization(%q) mismatch (-want +got):\n%s", o.Slug, d)
		}
		return o
	}
	strict, lax = flip(strict, "", ""), flip(lax, "https://lax.example/l.svg", "#ffffff")
	check("after flipping", strict, lax)
}

func testUpdateOrgSlugTaken(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))

	_, err := s.UpdateOrganization(t.Context(), globex.ID, func(o storage.Organization) (storage.Organization, error) {
		o.Slug = "acme"
		o.Name = "Changed"
		return o, nil
	})
	checkErr(t, "UpdateOrganization(slug of another organization)", err, storage.ErrAlreadyExists)

	for _, want := range []storage.Organization{acme, globex} {
		got, err := s.GetOrganization(t.Context(), want.ID)
		if err != nil {
			t.Errorf("GetOrganization(%q) error = %v", want.ID, err)
		} else if d := diff(want, got); d != "" {
			t.Errorf("GetOrganization(%q) after refused update mismatch (-want +got):\n%s", want.ID, d)
		}
	}
}

func testUpdateOrgAborted(t *testing.T, s storage.Store) {
	before := createOrg(t, s, newOrg("acme"))
	errAbort := errors.New("abort")

	_, err := s.UpdateOrganization(t.Context(), before.ID, func(o storage.Organization) (storage.Organization, error) {
		o.Name = "Changed"
		return o, errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateOrganization(closure fails) error = %v, want %v", err, errAbort)
	}
	got, err := s.GetOrganization(t.Context(), before.ID)
	if err != nil {
		t.Fatalf("GetOrganization(%q) error = %v", before.ID, err)
	}
	if d := diff(before, got); d != "" {
		t.Errorf("GetOrganization(%q) after aborted update mismatch (-want +got):\n%s", before.ID, d)
	}
}

func testDeleteOrg(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))

	if err := s.DeleteOrganization(ctx, acme.ID); err != nil {
		t.Fatalf("DeleteOrganization(%q) error = %v", acme.ID, err)
	}
	_, err := s.GetOrganization(ctx, acme.ID)
	checkErr(t, "GetOrganization(deleted)", err, storage.ErrNotFound)
	_, err = s.GetOrganizationBySlug(ctx, "acme")
	checkErr(t, "GetOrganizationBySlug(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteOrganization(deleted)", s.DeleteOrganization(ctx, acme.ID), storage.ErrNotFound)

	if got, err := s.GetOrganization(ctx, globex.ID); err != nil {
		t.Errorf("GetOrganization(%q) error = %v", globex.ID, err)
	} else if d := diff(globex, got); d != "" {
		t.Errorf("GetOrganization(%q) after deleting another mismatch (-want +got):\n%s", globex.ID, d)
	}
	// The slug can be used again.
	createOrg(t, s, newOrg("acme"))
}

// testDeleteOrgCascades checks that deleting an organization removes its
// memberships and custom roles, and nothing else.
func testDeleteOrgCascades(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	auditor := createRole(t, s, newRole(acme.ID, "auditor", "org:read"))
	createRole(t, s, newRole(acme.ID, "unused", "org:read"))
	createMembership(t, s, newMembership(acme.ID, alice.ID, auditor.Name))
	keep := createMembership(t, s, newMembership(globex.ID, alice.ID, storage.RoleMember))
	keepRole := createRole(t, s, newRole(globex.ID, "auditor", "org:read"))

	if err := s.DeleteOrganization(ctx, acme.ID); err != nil {
		t.Fatalf("DeleteOrganization(%q) with members and roles error = %v", acme.ID, err)
	}
	_, err := s.GetMembership(ctx, acme.ID, alice.ID)
	checkErr(t, "GetMembership(deleted organization)", err, storage.ErrNotFound)

	ms, err := s.ListMembershipsByUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("ListMembershipsByUser(%q) error = %v", alice.ID, err)
	}
	if d := diff([]storage.Membership{keep}, ms); d != "" {
		t.Errorf("ListMembershipsByUser(%q) after deleting an organization mismatch (-want +got):\n%s", alice.ID, d)
	}
	if _, err := s.GetUser(ctx, alice.ID); err != nil {
		t.Errorf("GetUser(%q) after deleting an organization error = %v", alice.ID, err)
	}
	if got, err := s.GetRole(ctx, globex.ID, "auditor"); err != nil {
		t.Errorf("GetRole(other organization, %q) error = %v", "auditor", err)
	} else if d := diff(keepRole, got); d != "" {
		t.Errorf("GetRole(other organization, %q) mismatch (-want +got):\n%s", "auditor", d)
	}

	// An organization recreated with the same ID starts with the built-ins
	// only: the custom roles went with the old one.
	again := newOrg("acme")
	again.ID = acme.ID
	createOrg(t, s, again)
	roles, err := s.ListRoles(ctx, acme.ID)
	if err != nil {
		t.Fatalf("ListRoles(%q) error = %v", acme.ID, err)
	}
	if d := diff(storage.BuiltinRoles(), roles, ignoreRoleTimes()); d != "" {
		t.Errorf("ListRoles(recreated organization) mismatch (-want +got):\n%s", d)
	}
}
