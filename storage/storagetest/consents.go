package storagetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func consentTests() []test {
	return []test{
		{"SaveAndGet", testSaveGetConsent},
		{"SaveReplaces", testSaveConsentReplaces},
		{"SaveRefused", testSaveConsentRefused},
		{"NotFound", testConsentNotFound},
		{"Delete", testDeleteConsent},
		{"ListByUser", testListConsents},
	}
}

func testSaveGetConsent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	app := createClient(t, s, newClient())
	other := createClient(t, s, newClient())

	tests := []struct {
		name    string
		consent storage.Consent
	}{
		{"several scopes", newConsent(alice.ID, app.ID, "openid", "profile", "offline_access")},
		{"no scopes", newConsent(alice.ID, other.ID)},
	}
	for _, tc := range tests {
		want := storedConsent(tc.consent)
		got, err := s.SaveConsent(ctx, tc.consent)
		if err != nil {
			t.Errorf("SaveConsent(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("SaveConsent(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		got, err = s.GetConsent(ctx, tc.consent.UserID, tc.consent.ClientID)
		if err != nil {
			t.Errorf("GetConsent(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetConsent(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

// testSaveConsentReplaces: a user has one consent per client, and saving
// again replaces its scopes and time, fewer scopes included.
func testSaveConsentReplaces(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	app := createClient(t, s, newClient())
	saveConsent(t, s, newConsent(alice.ID, app.ID, "openid", "email"))

	for i, scopes := range [][]string{{"openid", "email", "offline_access"}, {"openid"}} {
		c := newConsent(alice.ID, app.ID, scopes...)
		c.GrantedAt = at(10 + i)
		want := storedConsent(c)
		got, err := s.SaveConsent(ctx, c)
		if err != nil {
			t.Fatalf("SaveConsent(%q again) error = %v", scopes, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("SaveConsent(%q again) mismatch (-want +got):\n%s", scopes, d)
		}
		checkConsents(t, s, alice.ID, want)
	}
}

func testSaveConsentRefused(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	app := createClient(t, s, newClient())

	tests := []struct {
		name    string
		consent storage.Consent
	}{
		{"missing user", newConsent(storage.NewID(storage.PrefixUser), app.ID, "openid")},
		{"missing client", newConsent(alice.ID, storage.NewID("cli_"), "openid")},
		{"no user", newConsent("", app.ID, "openid")},
		{"no client", newConsent(alice.ID, "", "openid")},
	}
	for _, tc := range tests {
		_, err := s.SaveConsent(t.Context(), tc.consent)
		checkErr(t, "SaveConsent("+tc.name+")", err, storage.ErrNotFound)
	}
	checkConsents(t, s, alice.ID)
}

func testConsentNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	app := createClient(t, s, newClient())
	other := createClient(t, s, newClient())
	stored := saveConsent(t, s, newConsent(alice.ID, app.ID, "openid"))

	tests := []struct {
		name             string
		userID, clientID string
	}{
		{"another client", alice.ID, other.ID},
		{"another user", bob.ID, app.ID},
		{"missing user and client", storage.NewID(storage.PrefixUser), storage.NewID("cli_")},
	}
	for _, tc := range tests {
		_, err := s.GetConsent(ctx, tc.userID, tc.clientID)
		checkErr(t, "GetConsent("+tc.name+")", err, storage.ErrNotFound)
		checkErr(t, "DeleteConsent("+tc.name+")", s.DeleteConsent(ctx, tc.userID, tc.clientID), storage.ErrNotFound)
	}
	checkConsents(t, s, alice.ID, stored)
}

func testDeleteConsent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	app := createClient(t, s, newClient())
	other := createClient(t, s, newClient())
	saveConsent(t, s, newConsent(alice.ID, app.ID, "openid"))
	keep := saveConsent(t, s, newConsent(alice.ID, other.ID, "openid"))

	if err := s.DeleteConsent(ctx, alice.ID, app.ID); err != nil {
		t.Fatalf("DeleteConsent(%q, %q) error = %v", alice.ID, app.ID, err)
	}
	_, err := s.GetConsent(ctx, alice.ID, app.ID)
	checkErr(t, "GetConsent(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteConsent(deleted)", s.DeleteConsent(ctx, alice.ID, app.ID), storage.ErrNotFound)
	checkConsents(t, s, alice.ID, keep)
	// Only the consent went.
	if _, err := s.GetClient(ctx, app.ID); err != nil {
		t.Errorf("GetClient(%q) after DeleteConsent error = %v", app.ID, err)
	}
	// It can be given again.
	saveConsent(t, s, newConsent(alice.ID, app.ID, "openid"))
}

func testListConsents(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	carol := createUser(t, s, newUser("carol@example.com"))
	var want []storage.Consent
	for i := range 4 {
		app := createClient(t, s, newClient())
		c := newConsent(alice.ID, app.ID, "openid")
		c.GrantedAt = at(4 - i) // not in client ID order either
		want = append(want, saveConsent(t, s, c))
		if i == 0 {
			saveConsent(t, s, newConsent(bob.ID, app.ID, "openid", "email"))
		}
	}
	slices.SortFunc(want, func(a, b storage.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })

	checkConsents(t, s, alice.ID, want...)
	checkConsents(t, s, carol.ID)
	checkConsents(t, s, storage.NewID(storage.PrefixUser))
}

// checkConsents compares the user's listed consents with want.
func checkConsents(t *testing.T, s storage.Store, userID string, want ...storage.Consent) {
	t.Helper()
	got, err := s.ListConsents(t.Context(), userID)
	if err != nil {
		t.Errorf("ListConsents(%q) error = %v", userID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ListConsents(%q) mismatch (-want +got):\n%s", userID, d)
	}
}
