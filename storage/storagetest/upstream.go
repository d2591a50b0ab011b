package storagetest

import (
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func upstreamTests() []test {
	return []test{
		{"CreateGetList", testCreateGetListUpstreamConnections},
		{"CreateUnknownOrganization", testCreateUpstreamConnectionUnknownOrg},
		{"CreateDuplicate", testCreateUpstreamConnectionDuplicate},
		{"CreateInvalid", testCreateUpstreamConnectionInvalid},
		{"NotFound", testUpstreamConnectionNotFound},
		{"Delete", testDeleteUpstreamConnection},
		{"DeleteOrganizationCascades", testDeleteOrgRemovesUpstreamConnections},
	}
}

// newUpstreamConnection returns an OpenID connection of orgID ("" for a
// global one) with every field set, created at(m) and updated at(m+1).
func newUpstreamConnection(orgID string, m int) storage.UpstreamConnection {
	return storage.UpstreamConnection{
		ID:           storage.NewID(storage.PrefixUpstreamConnection),
		OrgID:        orgID,
		Type:         storage.UpstreamOIDC,
		Name:         "Google",
		Issuer:       "https://accounts.google.com",
		ClientID:     "1234.apps.googleusercontent.com",
		ClientSecret: blob("sealed:"),
		Scopes:       []string{"openid", "email", "profile"},
		Mapping:      []byte(`{"email": "mail",  "name":"cn" }` + "\n"),
		MultiFactor:  true,
		LinkByEmail:  true,
		CreatedAt:    at(m),
		UpdatedAt:    at(m + 1),
	}
}

// newGitHubConnection returns a GitHub connection with its own endpoints
// and without the optional fields.
func newGitHubConnection(m int) storage.UpstreamConnection {
	return storage.UpstreamConnection{
		ID: storage.NewID(storage.PrefixUpstreamConnection), Type: storage.UpstreamGitHub, Name: "GitHub",
		ClientID: "Iv1.abc", ClientSecret: blob("sealed:"),
		AuthURL: "https://github.example.com/login/oauth/authorize", TokenURL: "https://github.example.com/login/oauth/access_token",
		APIURL: "https://github.example.com/api/v3", CreatedAt: at(m), UpdatedAt: at(m),
	}
}

func storedUpstreamConnection(c storage.UpstreamConnection) storage.UpstreamConnection {
	c.CreatedAt, c.UpdatedAt = stored(c.CreatedAt), stored(c.UpdatedAt)
	return c
}

func createUpstreamConnection(t *testing.T, s storage.Store, c storage.UpstreamConnection) storage.UpstreamConnection {
	t.Helper()
	got, err := s.CreateUpstreamConnection(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateUpstreamConnection(%q) error = %v", c.ID, err)
	}
	want := storedUpstreamConnection(c)
	if d := diff(want, got); d != "" {
		t.Errorf("CreateUpstreamConnection(%q) mismatch (-want +got):\n%s", c.ID, d)
	}
	checkTime(t, "CreateUpstreamConnection() CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "CreateUpstreamConnection() UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	return want
}

func checkUpstreamConnections(t *testing.T, s storage.Store, call string, want []storage.UpstreamConnection) {
	t.Helper()
	got, err := s.ListUpstreamConnections(t.Context())
	if err != nil {
		t.Errorf("%s: ListUpstreamConnections() error = %v", call, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: ListUpstreamConnections() mismatch (-want +got):\n%s", call, d)
	}
}

// testCreateGetListUpstreamConnections stores a global, an organization's
// and a GitHub connection; they read back as stored and list oldest first.
func testCreateGetListUpstreamConnections(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	global := createUpstreamConnection(t, s, newUpstreamConnection("", 2))
	org := createUpstreamConnection(t, s, newUpstreamConnection(acme.ID, 0))
	github := createUpstreamConnection(t, s, newGitHubConnection(1))
	for _, want := range []storage.UpstreamConnection{global, org, github} {
		got, err := s.GetUpstreamConnection(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("GetUpstreamConnection(%q) error = %v", want.ID, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetUpstreamConnection(%q) mismatch (-want +got):\n%s", want.ID, d)
		}
		checkTime(t, "GetUpstreamConnection() CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	checkUpstreamConnections(t, s, "three connections", []storage.UpstreamConnection{org, github, global})
}

func testCreateUpstreamConnectionUnknownOrg(t *testing.T, s storage.Store) {
	_, err := s.CreateUpstreamConnection(t.Context(), newUpstreamConnection("org_missing", 0))
	checkErr(t, "CreateUpstreamConnection(unknown organization)", err, storage.ErrNotFound)
	checkUpstreamConnections(t, s, "after the failed create", nil)
}

func testCreateUpstreamConnectionDuplicate(t *testing.T, s storage.Store) {
	c := createUpstreamConnection(t, s, newUpstreamConnection("", 0))
	again := newUpstreamConnection("", 1)
	again.ID = c.ID
	_, err := s.CreateUpstreamConnection(t.Context(), again)
	checkErr(t, "CreateUpstreamConnection(taken ID)", err, storage.ErrAlreadyExists)
	checkUpstreamConnections(t, s, "after the duplicate", []storage.UpstreamConnection{c})
}

// testCreateUpstreamConnectionInvalid: a connection without its secret or
// client ID, or of an unknown type, is ErrInvalid and never stored.
func testCreateUpstreamConnectionInvalid(t *testing.T, s storage.Store) {
	for name, mutate := range map[string]func(*storage.UpstreamConnection){
		"no secret":    func(c *storage.UpstreamConnection) { c.ClientSecret = nil },
		"no client ID": func(c *storage.UpstreamConnection) { c.ClientID = "" },
		"unknown type": func(c *storage.UpstreamConnection) { c.Type = "saml" },
	} {
		c := newUpstreamConnection("", 0)
		mutate(&c)
		_, err := s.CreateUpstreamConnection(t.Context(), c)
		checkErr(t, "CreateUpstreamConnection("+name+")", err, storage.ErrInvalid)
	}
	checkUpstreamConnections(t, s, "after the invalid creates", nil)
}

func testUpstreamConnectionNotFound(t *testing.T, s storage.Store) {
	_, err := s.GetUpstreamConnection(t.Context(), "ups_missing")
	checkErr(t, "GetUpstreamConnection(missing)", err, storage.ErrNotFound)
	checkErr(t, "DeleteUpstreamConnection(missing)", s.DeleteUpstreamConnection(t.Context(), "ups_missing"), storage.ErrNotFound)
}

// testDeleteUpstreamConnection: deleting a connection removes the external
// identities at it, and nothing of another connection.
func testDeleteUpstreamConnection(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	gone := createUpstreamConnection(t, s, newUpstreamConnection("", 0))
	kept := createUpstreamConnection(t, s, newGitHubConnection(1))
	goneIdentity := createExternalIdentity(t, s, newExternalIdentity(gone.ID, alice.ID, 0))
	keptIdentity := createExternalIdentity(t, s, newExternalIdentity(kept.ID, alice.ID, 1))

	if err := s.DeleteUpstreamConnection(t.Context(), gone.ID); err != nil {
		t.Fatalf("DeleteUpstreamConnection() error = %v", err)
	}
	_, err := s.GetUpstreamConnection(t.Context(), gone.ID)
	checkErr(t, "GetUpstreamConnection(deleted)", err, storage.ErrNotFound)
	checkExternalIdentityGone(t, s, "identity at the deleted connection", goneIdentity)
	checkUpstreamConnections(t, s, "after the delete", []storage.UpstreamConnection{kept})
	checkExternalIdentities(t, s, "identities of alice", alice.ID, []storage.ExternalIdentity{keptIdentity})
}

// testDeleteOrgRemovesUpstreamConnections: deleting an organization removes
// its connections and the identities people have at them; global
// connections and another organization's stay.
func testDeleteOrgRemovesUpstreamConnections(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	alice := createUser(t, s, newUser("alice@example.com"))
	gone := createUpstreamConnection(t, s, newUpstreamConnection(acme.ID, 0))
	kept := createUpstreamConnection(t, s, newUpstreamConnection(globex.ID, 1))
	global := createUpstreamConnection(t, s, newUpstreamConnection("", 2))
	createExternalIdentity(t, s, newExternalIdentity(gone.ID, alice.ID, 0))
	keptIdentity := createExternalIdentity(t, s, newExternalIdentity(kept.ID, alice.ID, 1))
	globalIdentity := createExternalIdentity(t, s, newExternalIdentity(global.ID, alice.ID, 2))

	if err := s.DeleteOrganization(t.Context(), acme.ID); err != nil {
		t.Fatalf("DeleteOrganization() error = %v", err)
	}
	checkUpstreamConnections(t, s, "after the organization went", []storage.UpstreamConnection{kept, global})
	checkExternalIdentities(t, s, "identities after the organization went", alice.ID,
		[]storage.ExternalIdentity{keptIdentity, globalIdentity})
}
