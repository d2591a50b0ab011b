package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func browserSessionTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetBrowserSession},
		{"CreateDuplicate", testCreateBrowserSessionDuplicate},
		{"CreateRefused", testCreateBrowserSessionRefused},
		{"NotFound", testBrowserSessionNotFound},
		{"Update", testUpdateBrowserSession},
		{"UpdateAbortedByClosure", testUpdateBrowserSessionAborted},
		{"Delete", testDeleteBrowserSession},
		{"ListNewestFirst", testListBrowserSessions},
		{"DeleteExpired", testDeleteExpiredBrowserSessions},
		{"DeleteUserRemovesSessionsAndConsents", testDeleteUserCascades},
	}
}

func testCreateGetBrowserSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bare := newBrowserSession(alice.ID, 0)
	bare.AMR, bare.OrgID, bare.IP, bare.UserAgent = nil, "", "", ""

	tests := []struct {
		name    string
		session storage.BrowserSession
	}{
		{"signed in to an organization with a second factor", newBrowserSession(alice.ID, 0)},
		{"without methods, organization or client details", bare},
	}
	for _, tc := range tests {
		want := storedBrowserSession(tc.session)
		got, err := s.CreateBrowserSession(ctx, tc.session)
		if err != nil {
			t.Errorf("CreateBrowserSession(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateBrowserSession(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		got, err = s.GetBrowserSession(ctx, tc.session.ID)
		if err != nil {
			t.Errorf("GetBrowserSession(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetBrowserSession(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

func testCreateBrowserSessionDuplicate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	first := createBrowserSession(t, s, newBrowserSession(alice.ID, 0))
	sameID := newBrowserSession(alice.ID, 1)
	sameID.ID = first.ID
	sameSID := newBrowserSession(alice.ID, 1)
	sameSID.SID = first.SID

	for _, tc := range []struct {
		name    string
		session storage.BrowserSession
	}{
		{"same ID", sameID},
		{"same SID", sameSID},
	} {
		_, err := s.CreateBrowserSession(t.Context(), tc.session)
		checkErr(t, "CreateBrowserSession("+tc.name+")", err, storage.ErrAlreadyExists)
	}
	checkBrowserSessions(t, s, alice.ID, first)
}

func testCreateBrowserSessionRefused(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	noID := newBrowserSession(alice.ID, 0)
	noID.ID = ""
	noSID := newBrowserSession(alice.ID, 0)
	noSID.SID = ""

	tests := []struct {
		name    string
		session storage.BrowserSession
		want    error
	}{
		{"missing user", newBrowserSession(storage.NewID(storage.PrefixUser), 0), storage.ErrNotFound},
		{"no ID", noID, storage.ErrInvalid},
		{"no SID", noSID, storage.ErrInvalid},
	}
	for _, tc := range tests {
		_, err := s.CreateBrowserSession(t.Context(), tc.session)
		checkErr(t, "CreateBrowserSession("+tc.name+")", err, tc.want)
	}
	checkBrowserSessions(t, s, alice.ID)
}

func testBrowserSessionNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	stored := createBrowserSession(t, s, newBrowserSession(alice.ID, 0))
	called := false

	tests := []struct {
		call string
		do   func(id string) error
	}{
		{"GetBrowserSession", func(id string) error { _, err := s.GetBrowserSession(ctx, id); return err }},
		{"UpdateBrowserSession", func(id string) error {
			_, err := s.UpdateBrowserSession(ctx, id, func(b storage.BrowserSession) (storage.BrowserSession, error) {
				called = true
				return b, nil
			})
			return err
		}},
		{"DeleteBrowserSession", func(id string) error { return s.DeleteBrowserSession(ctx, id) }},
	}
	// A session is found by its ID, never by its public SID.
	for _, id := range []string{"no-such-session", stored.SID} {
		for _, tc := range tests {
			checkErr(t, tc.call+"("+id+")", tc.do(id), storage.ErrNotFound)
		}
	}
	if called {
		t.Error("UpdateBrowserSession(missing) called the update closure")
	}
	checkBrowserSessions(t, s, alice.ID, stored)
}

// testUpdateBrowserSession records a step-up sign-in: the closure changes
// every field, and the ID, SID, user and creation time keep their stored
// values.
func testUpdateBrowserSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	before := createBrowserSession(t, s, newBrowserSession(alice.ID, 0))
	want := before
	want.AuthTime, want.AMR, want.OrgID = stored(at(30)), []string{"pwd", "hwk"}, ""
	want.IP, want.UserAgent = "192.0.2.7", "curl/8.0"
	want.LastSeenAt, want.ExpiresAt = stored(at(31)), stored(at(800))

	var seen storage.BrowserSession
	got, err := s.UpdateBrowserSession(ctx, before.ID, func(b storage.BrowserSession) (storage.BrowserSession, error) {
		seen = b
		b.AuthTime, b.AMR, b.OrgID = at(30), []string{"pwd", "hwk"}, ""
		b.IP, b.UserAgent = "192.0.2.7", "curl/8.0"
		b.LastSeenAt, b.ExpiresAt = at(31), at(800)
		b.ID, b.SID, b.UserID, b.CreatedAt = "another", "sid_another", bob.ID, at(9)
		return b, nil
	})
	if err != nil {
		t.Fatalf("UpdateBrowserSession() error = %v", err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateBrowserSession() closure got (-want +got):\n%s", d)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateBrowserSession() mismatch (-want +got):\n%s", d)
	}
	checkBrowserSessions(t, s, alice.ID, want)
	checkBrowserSessions(t, s, bob.ID)
}

func testUpdateBrowserSessionAborted(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	before := createBrowserSession(t, s, newBrowserSession(alice.ID, 0))
	errAbort := errors.New("abort")

	_, err := s.UpdateBrowserSession(t.Context(), before.ID, func(b storage.BrowserSession) (storage.BrowserSession, error) {
		b.ExpiresAt = at(9999)
		return b, errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateBrowserSession(closure fails) error = %v, want %v", err, errAbort)
	}
	checkBrowserSessions(t, s, alice.ID, before)
}

func testDeleteBrowserSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	gone := createBrowserSession(t, s, newBrowserSession(alice.ID, 0))
	keep := createBrowserSession(t, s, newBrowserSession(alice.ID, 1))

	if err := s.DeleteBrowserSession(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteBrowserSession() error = %v", err)
	}
	_, err := s.GetBrowserSession(ctx, gone.ID)
	checkErr(t, "GetBrowserSession(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteBrowserSession(deleted)", s.DeleteBrowserSession(ctx, gone.ID), storage.ErrNotFound)
	checkBrowserSessions(t, s, alice.ID, keep)
	if _, err := s.GetUser(ctx, alice.ID); err != nil {
		t.Errorf("GetUser(%q) after DeleteBrowserSession error = %v", alice.ID, err)
	}
}

// testListBrowserSessions lists a user's sessions newest first, and by ID
// among sessions created in the same microsecond.
func testListBrowserSessions(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	carol := createUser(t, s, newUser("carol@example.com"))
	var want []storage.BrowserSession
	for _, m := range []int{1, 3, 2, 3, 0} {
		want = append(want, createBrowserSession(t, s, newBrowserSession(alice.ID, m)))
	}
	slices.SortFunc(want, func(a, b storage.BrowserSession) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	bobs := createBrowserSession(t, s, newBrowserSession(bob.ID, 5))

	checkBrowserSessions(t, s, alice.ID, want...)
	checkBrowserSessions(t, s, bob.ID, bobs)
	checkBrowserSessions(t, s, carol.ID)
	checkBrowserSessions(t, s, storage.NewID(storage.PrefixUser))
}

// testDeleteUserCascades deletes a user: their browser sessions and consents
// go, another user's stay.
func testDeleteUserCascades(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	client := createClient(t, s, newClient())
	gone := []storage.BrowserSession{
		createBrowserSession(t, s, newBrowserSession(alice.ID, 0)),
		createBrowserSession(t, s, newBrowserSession(alice.ID, 1)),
	}
	saveConsent(t, s, newConsent(alice.ID, client.ID, "openid"))
	bobs := createBrowserSession(t, s, newBrowserSession(bob.ID, 0))
	bobsConsent := saveConsent(t, s, newConsent(bob.ID, client.ID, "openid"))

	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser(%q) with sessions and consents error = %v", alice.ID, err)
	}
	for _, b := range gone {
		_, err := s.GetBrowserSession(ctx, b.ID)
		checkErr(t, "GetBrowserSession(of a deleted user)", err, storage.ErrNotFound)
	}
	_, err := s.GetConsent(ctx, alice.ID, client.ID)
	checkErr(t, "GetConsent(deleted user)", err, storage.ErrNotFound)
	checkBrowserSessions(t, s, alice.ID)

	checkBrowserSessions(t, s, bob.ID, bobs)
	if got, err := s.GetConsent(ctx, bob.ID, client.ID); err != nil {
		t.Errorf("GetConsent(%q, %q) error = %v", bob.ID, client.ID, err)
	} else if d := diff(bobsConsent, got); d != "" {
		t.Errorf("GetConsent(%q, %q) after deleting another user mismatch (-want +got):\n%s", bob.ID, client.ID, d)
	}
	if _, err := s.GetClient(ctx, client.ID); err != nil {
		t.Errorf("GetClient(%q) after DeleteUser error = %v", client.ID, err)
	}
}

// checkBrowserSessions compares the user's listed sessions with want, in
// order, and reads each back by ID.
func checkBrowserSessions(t *testing.T, s storage.Store, userID string, want ...storage.BrowserSession) {
	t.Helper()
	got, err := s.ListBrowserSessions(t.Context(), userID)
	if err != nil {
		t.Errorf("ListBrowserSessions(%q) error = %v", userID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ListBrowserSessions(%q) mismatch (-want +got):\n%s", userID, d)
	}
	for _, w := range want {
		if got, err := s.GetBrowserSession(t.Context(), w.ID); err != nil {
			t.Errorf("GetBrowserSession(of %q) error = %v", userID, err)
		} else if d := diff(w, got); d != "" {
			t.Errorf("GetBrowserSession(of %q) mismatch (-want +got):\n%s", userID, d)
		}
	}
}

// testDeleteExpiredBrowserSessions removes sessions past their absolute
// expiry or idle since before the cut-off, and only those.
func testDeleteExpiredBrowserSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("ada@example.com"))
	session := func(lastSeen, expires int) storage.BrowserSession {
		b := newBrowserSession(u.ID, 0)
		b.LastSeenAt, b.ExpiresAt = at(lastSeen), at(expires)
		return createBrowserSession(t, s, b)
	}
	expired := session(50, 90) // absolute expiry passed
	idle := session(10, 500)   // not seen since before the cut-off
	live := session(60, 500)   // neither
	edge := session(30, 100)   // seen at the cut-off, expiring at now: kept
	n, err := s.DeleteExpiredBrowserSessions(ctx, at(100), at(30))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredBrowserSessions(now at(100), idle before at(30)) = %d, %v; want 2, nil", n, err)
	}
	for _, gone := range []storage.BrowserSession{expired, idle} {
		if _, err := s.GetBrowserSession(ctx, gone.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("session last seen %s, expiring %s: still there (%v)", gone.LastSeenAt, gone.ExpiresAt, err)
		}
	}
	for _, kept := range []storage.BrowserSession{live, edge} {
		if _, err := s.GetBrowserSession(ctx, kept.ID); err != nil {
			t.Errorf("session last seen %s, expiring %s: %v, want kept", kept.LastSeenAt, kept.ExpiresAt, err)
		}
	}
}
