package storagetest

import (
	"crypto/rand"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func invitationTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetInvitation},
		{"CreateForUnknownOrganization", testCreateInvitationUnknownOrg},
		{"NotFound", testInvitationNotFound},
		{"NewerSupersedesOpen", testInvitationSupersedes},
		{"ListOpenFirst", testListInvitations},
		{"AcceptOnce", testAcceptInvitation},
		{"ConcurrentAcceptOnce", testConcurrentAcceptInvitation},
		{"ExpiredRefused", testAcceptExpiredInvitation},
		{"Revoke", testRevokeInvitation},
		{"ResendReplacesLink", testResendInvitation},
		{"DeleteOrganizationRemovesInvitations", testDeleteOrgRemovesInvitations},
	}
}

// newInvitation returns an invitation to org as editor, created at(0) and
// expiring at(10). Its hash stands for the keyed hash of a random token.
func newInvitation(orgID, email string) storage.Invitation {
	return storage.Invitation{
		ID:        storage.NewID(storage.PrefixInvitation),
		OrgID:     orgID,
		Email:     email,
		Role:      "editor",
		TokenHash: rand.Text(),
		InvitedBy: storage.NewID(storage.PrefixUser),
		CreatedAt: at(0),
		ExpiresAt: at(10),
	}
}

func storedInvitation(i storage.Invitation) storage.Invitation {
	i.CreatedAt, i.ExpiresAt = stored(i.CreatedAt), stored(i.ExpiresAt)
	if !i.AcceptedAt.IsZero() {
		i.AcceptedAt = stored(i.AcceptedAt)
	}
	if !i.RevokedAt.IsZero() {
		i.RevokedAt = stored(i.RevokedAt)
	}
	return i
}

func createInvitation(t *testing.T, s storage.Store, i storage.Invitation) storage.Invitation {
	t.Helper()
	got, err := s.CreateInvitation(t.Context(), i)
	if err != nil {
		t.Fatalf("CreateInvitation(%q) error = %v", i.Email, err)
	}
	if d := diff(storedInvitation(i), got); d != "" {
		t.Errorf("CreateInvitation(%q) mismatch (-want +got):\n%s", i.Email, d)
	}
	return got
}

func checkInvitation(t *testing.T, s storage.Store, call string, want storage.Invitation) {
	t.Helper()
	got, err := s.GetInvitation(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetInvitation() error = %v", call, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetInvitation() mismatch (-want +got):\n%s", call, d)
	}
}

func testCreateGetInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "New@Example.com"))
	checkInvitation(t, s, "created", inv)
	got, err := s.GetInvitationByTokenHash(t.Context(), inv.TokenHash)
	if err != nil {
		t.Fatalf("GetInvitationByTokenHash() error = %v", err)
	}
	if d := diff(inv, got); d != "" {
		t.Errorf("GetInvitationByTokenHash() mismatch (-want +got):\n%s", d)
	}
	dup := newInvitation(org.ID, "other@example.com")
	dup.TokenHash = inv.TokenHash
	_, err = s.CreateInvitation(t.Context(), dup)
	checkErr(t, "CreateInvitation(taken hash)", err, storage.ErrAlreadyExists)
}

func testCreateInvitationUnknownOrg(t *testing.T, s storage.Store) {
	_, err := s.CreateInvitation(t.Context(), newInvitation(storage.NewID(storage.PrefixOrganization), "new@example.com"))
	checkErr(t, "CreateInvitation(unknown organization)", err, storage.ErrNotFound)
}

func testInvitationNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id := storage.NewID(storage.PrefixInvitation)
	_, err := s.GetInvitation(ctx, id)
	checkErr(t, "GetInvitation(unknown)", err, storage.ErrNotFound)
	_, err = s.GetInvitationByTokenHash(ctx, rand.Text())
	checkErr(t, "GetInvitationByTokenHash(unknown)", err, storage.ErrNotFound)
	_, err = s.AcceptInvitation(ctx, id, at(1))
	checkErr(t, "AcceptInvitation(unknown)", err, storage.ErrNotFound)
	_, err = s.RevokeInvitation(ctx, id, at(1))
	checkErr(t, "RevokeInvitation(unknown)", err, storage.ErrNotFound)
	_, err = s.ResendInvitation(ctx, id, rand.Text(), at(20))
	checkErr(t, "ResendInvitation(unknown)", err, storage.ErrNotFound)
}

// testInvitationSupersedes: a new invitation of the same address (any case)
// to the same organization revokes the open one; other organizations' and
// other addresses' invitations stay open.
func testInvitationSupersedes(t *testing.T, s storage.Store) {
	acme, globex := createOrg(t, s, newOrg("acme")), createOrg(t, s, newOrg("globex"))
	old := createInvitation(t, s, newInvitation(acme.ID, "new@example.com"))
	elsewhere := createInvitation(t, s, newInvitation(globex.ID, "new@example.com"))
	other := createInvitation(t, s, newInvitation(acme.ID, "other@example.com"))

	newer := newInvitation(acme.ID, "NEW@example.com")
	newer.CreatedAt = at(1)
	newer = createInvitation(t, s, newer)

	old.RevokedAt = stored(at(1))
	checkInvitation(t, s, "superseded", old)
	checkInvitation(t, s, "newer", newer)
	checkInvitation(t, s, "other organization", elsewhere)
	checkInvitation(t, s, "other address", other)
	_, err := s.AcceptInvitation(t.Context(), old.ID, at(2))
	checkErr(t, "AcceptInvitation(superseded)", err, storage.ErrConflict)
}

func testListInvitations(t *testing.T, s storage.Store) {
	acme, globex := createOrg(t, s, newOrg("acme")), createOrg(t, s, newOrg("globex"))
	first := createInvitation(t, s, newInvitation(acme.ID, "a@example.com"))
	second := newInvitation(acme.ID, "b@example.com")
	second.CreatedAt = at(1)
	second = createInvitation(t, s, second)
	third := newInvitation(acme.ID, "c@example.com")
	third.CreatedAt = at(2)
	third = createInvitation(t, s, third)
	createInvitation(t, s, newInvitation(globex.ID, "a@example.com"))

	third, err := s.RevokeInvitation(t.Context(), third.ID, at(3))
	if err != nil {
		t.Fatalf("RevokeInvitation() error = %v", err)
	}
	got, err := s.ListInvitations(t.Context(), acme.ID)
	if err != nil {
		t.Fatalf("ListInvitations() error = %v", err)
	}
	if d := diff([]storage.Invitation{second, first, third}, got); d != "" {
		t.Errorf("ListInvitations() mismatch (-want +got):\n%s", d)
	}
}

func testAcceptInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	got, err := s.AcceptInvitation(t.Context(), inv.ID, at(1))
	if err != nil {
		t.Fatalf("AcceptInvitation() error = %v", err)
	}
	inv.AcceptedAt = stored(at(1))
	if d := diff(inv, got); d != "" {
		t.Errorf("AcceptInvitation() mismatch (-want +got):\n%s", d)
	}
	_, err = s.AcceptInvitation(t.Context(), inv.ID, at(2))
	checkErr(t, "AcceptInvitation(again)", err, storage.ErrConflict)
	_, err = s.RevokeInvitation(t.Context(), inv.ID, at(2))
	checkErr(t, "RevokeInvitation(accepted)", err, storage.ErrConflict)
	_, err = s.ResendInvitation(t.Context(), inv.ID, rand.Text(), at(20))
	checkErr(t, "ResendInvitation(accepted)", err, storage.ErrConflict)
	checkInvitation(t, s, "after refused changes", inv)
}

func testConcurrentAcceptInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	checkExactlyOne(t, "accepts of one invitation", storage.ErrConflict, func() error {
		_, err := s.AcceptInvitation(t.Context(), inv.ID, at(1))
		return err
	})
}

func testAcceptExpiredInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	_, err := s.AcceptInvitation(t.Context(), inv.ID, at(10))
	checkErr(t, "AcceptInvitation(at expiry)", err, storage.ErrConflict)
	checkInvitation(t, s, "after expired accept", inv)
}

func testRevokeInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	if _, err := s.RevokeInvitation(t.Context(), inv.ID, at(1)); err != nil {
		t.Fatalf("RevokeInvitation() error = %v", err)
	}
	inv.RevokedAt = stored(at(1))
	checkInvitation(t, s, "revoked", inv)
	_, err := s.RevokeInvitation(t.Context(), inv.ID, at(2))
	checkErr(t, "RevokeInvitation(again)", err, storage.ErrConflict)
	_, err = s.AcceptInvitation(t.Context(), inv.ID, at(2))
	checkErr(t, "AcceptInvitation(revoked)", err, storage.ErrConflict)
	// A revoked invitation no longer blocks a new one for the address.
	createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
}

func testResendInvitation(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	oldHash, newHash := inv.TokenHash, rand.Text()
	got, err := s.ResendInvitation(t.Context(), inv.ID, newHash, at(30))
	if err != nil {
		t.Fatalf("ResendInvitation() error = %v", err)
	}
	inv.TokenHash, inv.ExpiresAt = newHash, stored(at(30))
	if d := diff(inv, got); d != "" {
		t.Errorf("ResendInvitation() mismatch (-want +got):\n%s", d)
	}
	_, err = s.GetInvitationByTokenHash(t.Context(), oldHash)
	checkErr(t, "GetInvitationByTokenHash(old link)", err, storage.ErrNotFound)
	// The new expiry counts: accepting after the old one works.
	if _, err := s.AcceptInvitation(t.Context(), inv.ID, at(20)); err != nil {
		t.Errorf("AcceptInvitation(after the old expiry) error = %v", err)
	}
}

func testDeleteOrgRemovesInvitations(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	if err := s.DeleteOrganization(t.Context(), org.ID); err != nil {
		t.Fatalf("DeleteOrganization() error = %v", err)
	}
	_, err := s.GetInvitation(t.Context(), inv.ID)
	checkErr(t, "GetInvitation(of a deleted organization)", err, storage.ErrNotFound)
}
