package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func clientTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetClient},
		{"CreateDuplicate", testCreateClientDuplicate},
		{"NotFound", testClientNotFound},
		{"List", testListClients},
		{"Update", testUpdateClient},
		{"UpdateAbortedByClosure", testUpdateClientAborted},
		{"Delete", testDeleteClient},
	}
}

func testCreateGetClient(t *testing.T, s storage.Store) {
	ctx := t.Context()
	public := newClient()
	public.SecretHash, public.Public, public.FirstParty = "", true, false
	public.AccessTokenFormat = "opaque"
	public.PostLogoutRedirectURIs, public.Scopes = nil, []string{"openid"}
	public.TokenEndpointAuthMethod, public.RequirePKCE, public.RequirePAR = "none", false, false
	public.ApplicationType, public.JWKS = "native", nil
	public.UpdatedAt = at(1)
	orgOnly := newClient()
	orgOnly.RequireOrganization = true

	tests := []struct {
		name   string
		client storage.Client
	}{
		{"confidential client with a JWK Set", newClient()},
		{"public native client with an empty list and no JWK Set", public},
		{"client that requires an organization", orgOnly},
	}
	for _, tc := range tests {
		want := storedClient(tc.client)
		got, err := s.CreateClient(ctx, tc.client)
		if err != nil {
			t.Errorf("CreateClient(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("CreateClient(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		got, err = s.GetClient(ctx, tc.client.ID)
		if err != nil {
			t.Errorf("GetClient(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetClient(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

func testCreateClientDuplicate(t *testing.T, s storage.Store) {
	first := createClient(t, s, newClient())
	dup := newClient()
	dup.ID, dup.Name = first.ID, "Another App"

	_, err := s.CreateClient(t.Context(), dup)
	checkErr(t, "CreateClient(same ID)", err, storage.ErrAlreadyExists)
	got, err := s.GetClient(t.Context(), first.ID)
	if err != nil {
		t.Fatalf("GetClient(%q) error = %v", first.ID, err)
	}
	if d := diff(first, got); d != "" {
		t.Errorf("GetClient(%q) after duplicate mismatch (-want +got):\n%s", first.ID, d)
	}
}

func testClientNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	createClient(t, s, newClient())
	missing := storage.NewID("cli_")
	called := false

	tests := []struct {
		call string
		do   func() error
	}{
		{"GetClient", func() error { _, err := s.GetClient(ctx, missing); return err }},
		{"UpdateClient", func() error {
			_, err := s.UpdateClient(ctx, missing, func(c storage.Client) (storage.Client, error) {
				called = true
				return c, nil
			})
			return err
		}},
		{"DeleteClient", func() error { return s.DeleteClient(ctx, missing) }},
	}
	for _, tc := range tests {
		checkErr(t, tc.call, tc.do(), storage.ErrNotFound)
	}
	if called {
		t.Error("UpdateClient(missing) called the update closure")
	}
}

func testListClients(t *testing.T, s storage.Store) {
	var created []storage.Client
	for range 5 {
		created = append(created, createClient(t, s, newClient()))
	}
	slices.SortFunc(created, func(a, b storage.Client) int { return strings.Compare(a.ID, b.ID) })

	all, err := s.ListClients(t.Context(), storage.Page{})
	if err != nil {
		t.Fatalf("ListClients() error = %v", err)
	}
	if d := diff(created, all); d != "" {
		t.Errorf("ListClients() mismatch (-want +got):\n%s", d)
	}

	var ids []string
	for _, c := range created {
		ids = append(ids, c.ID)
	}
	checkPaging(t, "ListClients", ids, func(p storage.Page) ([]string, error) {
		clients, err := s.ListClients(t.Context(), p)
		var got []string
		for _, c := range clients {
			got = append(got, c.ID)
		}
		return got, err
	})
}

func testUpdateClient(t *testing.T, s storage.Store) {
	ctx := t.Context()
	before := createClient(t, s, newClient())
	want := storage.Client{
		ID:                      before.ID,
		Name:                    "Renamed App",
		Public:                  true,
		RedirectURIs:            []string{"https://new.example.com/cb"},
		GrantTypes:              []string{"urn:ietf:params:oauth:grant-type:device_code"},
		Scopes:                  []string{"openid", "email"},
		AccessTokenFormat:       "opaque",
		TokenEndpointAuthMethod: "none",
		ApplicationType:         "native",
		RequireOrganization:     true,
		CreatedAt:               before.CreatedAt,
		UpdatedAt:               stored(at(5)),
	}

	var seen storage.Client
	got, err := s.UpdateClient(ctx, before.ID, func(c storage.Client) (storage.Client, error) {
		seen = c
		c.Name = want.Name
		c.SecretHash = ""
		c.Public = true
		c.RedirectURIs = want.RedirectURIs
		c.PostLogoutRedirectURIs = nil
		c.GrantTypes = want.GrantTypes
		c.Scopes = want.Scopes
		c.FirstParty = false
		c.AccessTokenFormat = "opaque"
		c.TokenEndpointAuthMethod = "none"
		c.RequirePKCE, c.RequirePAR = false, false
		c.ApplicationType = "native"
		c.JWKS = nil
		c.RequireOrganization = true
		c.UpdatedAt = at(5)
		// The backend keeps the stored ID and creation time.
		c.ID, c.CreatedAt = storage.NewID("cli_"), at(9)
		return c, nil
	})
	if err != nil {
		t.Fatalf("UpdateClient(%q) error = %v", before.ID, err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateClient(%q) closure got (-want +got):\n%s", before.ID, d)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateClient(%q) mismatch (-want +got):\n%s", before.ID, d)
	}
	got, err = s.GetClient(ctx, before.ID)
	if err != nil {
		t.Fatalf("GetClient(%q) error = %v", before.ID, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("GetClient(%q) after update mismatch (-want +got):\n%s", before.ID, d)
	}
}

func testUpdateClientAborted(t *testing.T, s storage.Store) {
	before := createClient(t, s, newClient())
	errAbort := errors.New("abort")

	_, err := s.UpdateClient(t.Context(), before.ID, func(c storage.Client) (storage.Client, error) {
		c.RedirectURIs = append(c.RedirectURIs, "https://evil.example.com/")
		return c, errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateClient(closure fails) error = %v, want %v", err, errAbort)
	}
	got, err := s.GetClient(t.Context(), before.ID)
	if err != nil {
		t.Fatalf("GetClient(%q) error = %v", before.ID, err)
	}
	if d := diff(before, got); d != "" {
		t.Errorf("GetClient(%q) after aborted update mismatch (-want +got):\n%s", before.ID, d)
	}
}

func testDeleteClient(t *testing.T, s storage.Store) {
	ctx := t.Context()
	gone := createClient(t, s, newClient())
	keep := createClient(t, s, newClient())

	if err := s.DeleteClient(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteClient(%q) error = %v", gone.ID, err)
	}
	_, err := s.GetClient(ctx, gone.ID)
	checkErr(t, "GetClient(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteClient(deleted)", s.DeleteClient(ctx, gone.ID), storage.ErrNotFound)
	if got, err := s.GetClient(ctx, keep.ID); err != nil {
		t.Errorf("GetClient(%q) error = %v", keep.ID, err)
	} else if d := diff(keep, got); d != "" {
		t.Errorf("GetClient(%q) after deleting another mismatch (-want +got):\n%s", keep.ID, d)
	}
}
