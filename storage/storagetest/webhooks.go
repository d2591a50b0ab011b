package storagetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func webhookEndpointTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetWebhookEndpoint},
		{"CreateDuplicateRefused", testCreateWebhookEndpointDuplicate},
		{"CreateForUnknownOrganization", testCreateWebhookEndpointUnknownOrg},
		{"NotFound", testWebhookEndpointNotFound},
		{"ListAllOrOneOrganization", testListWebhookEndpoints},
		{"Update", testUpdateWebhookEndpoint},
		{"UpdateAbortedByClosure", testUpdateWebhookEndpointAborted},
		{"DeleteRemovesDeliveries", testDeleteWebhookEndpoint},
		{"DeleteOrganizationRemovesEndpoints", testDeleteOrgRemovesWebhookEndpoints},
	}
}

// newWebhookEndpoint returns an enabled endpoint of the organization (of
// every organization for ""), created at(m), that takes user events and
// new memberships. Its secret is not valid UTF-8, so a backend that reads
// blobs as text would not keep it.
func newWebhookEndpoint(orgID string, m int) storage.WebhookEndpoint {
	return storage.WebhookEndpoint{
		ID:          storage.NewID(storage.PrefixWebhookEndpoint),
		OrgID:       orgID,
		URL:         "https://hooks.example.com/foyer?source=idp&x=1",
		Description: "CRM sync — “users”",
		EventTypes:  []string{"user.*", storage.EventMembershipCreated},
		Secret:      []byte{0x00, 0xff, 's', 'e', 'a', 'l', 'e', 'd', '\n', 0x80},
		CreatedAt:   at(m),
		UpdatedAt:   at(m),
	}
}

func storedWebhookEndpoint(e storage.WebhookEndpoint) storage.WebhookEndpoint {
	e.CreatedAt, e.UpdatedAt = stored(e.CreatedAt), stored(e.UpdatedAt)
	return e
}

func createWebhookEndpoint(t *testing.T, s storage.Store, e storage.WebhookEndpoint) storage.WebhookEndpoint {
	t.Helper()
	got, err := s.CreateWebhookEndpoint(t.Context(), e)
	if err != nil {
		t.Fatalf("CreateWebhookEndpoint(%q) error = %v", e.ID, err)
	}
	if d := diff(storedWebhookEndpoint(e), got); d != "" {
		t.Errorf("CreateWebhookEndpoint(%q) mismatch (-want +got):\n%s", e.ID, d)
	}
	return storedWebhookEndpoint(e)
}

func checkWebhookEndpoint(t *testing.T, s storage.Store, call string, want storage.WebhookEndpoint) {
	t.Helper()
	got, err := s.GetWebhookEndpoint(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetWebhookEndpoint(%q) error = %v", call, want.ID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetWebhookEndpoint(%q) mismatch (-want +got):\n%s", call, want.ID, d)
	}
}

func checkWebhookEndpoints(t *testing.T, s storage.Store, orgID string, want ...storage.WebhookEndpoint) {
	t.Helper()
	got, err := s.ListWebhookEndpoints(t.Context(), orgID)
	if err != nil {
		t.Errorf("ListWebhookEndpoints(%q) error = %v", orgID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ListWebhookEndpoints(%q) mismatch (-want +got):\n%s", orgID, d)
	}
}

func testCreateGetWebhookEndpoint(t *testing.T, s storage.Store) {
	org := createOrg(t, s, newOrg("acme"))
	orgEndpoint := newWebhookEndpoint(org.ID, 0)
	orgEndpoint.UpdatedAt = at(1)
	global := newWebhookEndpoint("", 0)
	global.EventTypes, global.Description, global.Disabled = nil, "", true

	for _, tc := range []struct {
		name string
		e    storage.WebhookEndpoint
	}{
		{"of an organization, filtered", orgEndpoint},
		{"of every organization, every event, disabled", global},
	} {
		got, err := s.CreateWebhookEndpoint(t.Context(), tc.e)
		if err != nil {
			t.Errorf("CreateWebhookEndpoint(%s) error = %v", tc.name, err)
			continue
		}
		want := storedWebhookEndpoint(tc.e)
		if d := diff(want, got); d != "" {
			t.Errorf("CreateWebhookEndpoint(%s) mismatch (-want +got):\n%s", tc.name, d)
		}
		checkWebhookEndpoint(t, s, tc.name, want)
		if g, err := s.GetWebhookEndpoint(t.Context(), tc.e.ID); err == nil {
			checkTime(t, "GetWebhookEndpoint("+tc.name+").CreatedAt", g.CreatedAt, stored(tc.e.CreatedAt))
			checkTime(t, "GetWebhookEndpoint("+tc.name+").UpdatedAt", g.UpdatedAt, stored(tc.e.UpdatedAt))
		}
	}
}

func testCreateWebhookEndpointDuplicate(t *testing.T, s storage.Store) {
	first := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	again := newWebhookEndpoint("", 5)
	again.ID, again.URL = first.ID, "https://other.example.com/"
	_, err := s.CreateWebhookEndpoint(t.Context(), again)
	checkErr(t, "CreateWebhookEndpoint(taken ID)", err, storage.ErrAlreadyExists)
	checkWebhookEndpoint(t, s, "after the duplicate", first)
}

func testCreateWebhookEndpointUnknownOrg(t *testing.T, s storage.Store) {
	_, err := s.CreateWebhookEndpoint(t.Context(), newWebhookEndpoint(storage.NewID(storage.PrefixOrganization), 0))
	checkErr(t, "CreateWebhookEndpoint(unknown organization)", err, storage.ErrNotFound)
	checkWebhookEndpoints(t, s, "")
}

func testWebhookEndpointNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	kept := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	missing := storage.NewID(storage.PrefixWebhookEndpoint)
	_, err := s.GetWebhookEndpoint(ctx, missing)
	checkErr(t, "GetWebhookEndpoint(missing)", err, storage.ErrNotFound)
	called := false
	_, err = s.UpdateWebhookEndpoint(ctx, missing, func(e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
		called = true
		return e, nil
	})
	checkErr(t, "UpdateWebhookEndpoint(missing)", err, storage.ErrNotFound)
	if called {
		t.Error("UpdateWebhookEndpoint(missing) called the update closure")
	}
	checkErr(t, "DeleteWebhookEndpoint(missing)", s.DeleteWebhookEndpoint(ctx, missing), storage.ErrNotFound)
	checkWebhookEndpoints(t, s, "", kept)
}

// testListWebhookEndpoints: "" lists every endpoint, an organization only
// its own, each ordered by ID.
func testListWebhookEndpoints(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	var all, ofAcme, ofGlobex []storage.WebhookEndpoint
	for i, orgID := range []string{acme.ID, "", globex.ID, acme.ID, ""} {
		e := createWebhookEndpoint(t, s, newWebhookEndpoint(orgID, i))
		all = append(all, e)
		switch orgID {
		case acme.ID:
			ofAcme = append(ofAcme, e)
		case globex.ID:
			ofGlobex = append(ofGlobex, e)
		}
	}
	for _, es := range [][]storage.WebhookEndpoint{all, ofAcme, ofGlobex} {
		sortEndpoints(es)
	}
	checkWebhookEndpoints(t, s, "", all...)
	checkWebhookEndpoints(t, s, acme.ID, ofAcme...)
	checkWebhookEndpoints(t, s, globex.ID, ofGlobex...)
}

// testUpdateWebhookEndpoint: the closure changes every field; the ID,
// organization and creation time keep their stored values.
func testUpdateWebhookEndpoint(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	before := createWebhookEndpoint(t, s, newWebhookEndpoint(acme.ID, 0))

	var seen storage.WebhookEndpoint
	got, err := s.UpdateWebhookEndpoint(t.Context(), before.ID, func(e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
		seen = e
		e.ID = storage.NewID(storage.PrefixWebhookEndpoint)
		e.OrgID = globex.ID
		e.CreatedAt = at(50)
		e.URL = "https://new.example.com/hooks"
		e.Description = "rotated"
		e.EventTypes = []string{"invitation.*"}
		e.Secret = []byte{0xfe, 0x00, 'n', 'e', 'w'}
		e.Disabled = true
		e.UpdatedAt = at(9)
		return e, nil
	})
	if err != nil {
		t.Fatalf("UpdateWebhookEndpoint() error = %v", err)
	}
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateWebhookEndpoint() closure got (-stored +got):\n%s", d)
	}
	want := before
	want.URL, want.Description, want.EventTypes = "https://new.example.com/hooks", "rotated", []string{"invitation.*"}
	want.Secret, want.Disabled, want.UpdatedAt = []byte{0xfe, 0x00, 'n', 'e', 'w'}, true, stored(at(9))
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateWebhookEndpoint() mismatch (-want +got):\n%s", d)
	}
	checkWebhookEndpoint(t, s, "after the update", want)
	checkWebhookEndpoints(t, s, acme.ID, want)
	checkWebhookEndpoints(t, s, globex.ID)

	// Back to every event type: an empty filter is stored as empty.
	got, err = s.UpdateWebhookEndpoint(t.Context(), before.ID, func(e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
		e.EventTypes = nil
		return e, nil
	})
	if err != nil {
		t.Fatalf("UpdateWebhookEndpoint(no filter) error = %v", err)
	}
	want.EventTypes = nil
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateWebhookEndpoint(no filter) mismatch (-want +got):\n%s", d)
	}
	checkWebhookEndpoint(t, s, "after clearing the filter", want)
}

func testUpdateWebhookEndpointAborted(t *testing.T, s storage.Store) {
	before := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	errAbort := errors.New("abort")
	_, err := s.UpdateWebhookEndpoint(t.Context(), before.ID, func(e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
		e.URL = "https://evil.example.com/"
		return e, errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateWebhookEndpoint(closure fails) error = %v, want %v", err, errAbort)
	}
	checkWebhookEndpoint(t, s, "after the aborted update", before)
}

// testDeleteWebhookEndpoint removes the endpoint with its deliveries,
// pending or finished; the events and other deliveries stay.
func testDeleteWebhookEndpoint(t *testing.T, s storage.Store) {
	ctx := t.Context()
	gone := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	kept := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	ev, ds := dispatchDeliveries(t, s, newDelivery("", gone.ID, 0), newDelivery("", gone.ID, 1), newDelivery("", kept.ID, 0), newDelivery("", "", 0))
	finishDelivery(t, s, ds[1].ID, storage.DeliveryFailed, at(2))

	if err := s.DeleteWebhookEndpoint(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteWebhookEndpoint() error = %v", err)
	}
	_, err := s.GetWebhookEndpoint(ctx, gone.ID)
	checkErr(t, "GetWebhookEndpoint(deleted)", err, storage.ErrNotFound)
	for _, d := range ds[:2] {
		_, err := s.GetDelivery(ctx, d.ID)
		checkErr(t, "GetDelivery(to the deleted endpoint)", err, storage.ErrNotFound)
	}
	checkDelivery(t, s, "to the other endpoint", ds[2])
	checkDelivery(t, s, "to NATS", ds[3])
	if _, err := s.GetEvent(ctx, ev.ID); err != nil {
		t.Errorf("GetEvent(of the deleted endpoint's deliveries) error = %v", err)
	}
	checkWebhookEndpoints(t, s, "", kept)
	checkErr(t, "DeleteWebhookEndpoint(deleted)", s.DeleteWebhookEndpoint(ctx, gone.ID), storage.ErrNotFound)
	if got := claimDeliveries(t, s, at(100), 10, time.Minute); len(got) != 2 {
		t.Errorf("ClaimDeliveries() after the delete = %q, want the two other pending deliveries", deliveryIDs(got))
	}
}

// testDeleteOrgRemovesWebhookEndpoints: deleting an organization deletes
// its endpoints and their deliveries; endpoints of every organization stay.
func testDeleteOrgRemovesWebhookEndpoints(t *testing.T, s storage.Store) {
	ctx := t.Context()
	org := createOrg(t, s, newOrg("acme"))
	other := createOrg(t, s, newOrg("globex"))
	ofOrg := createWebhookEndpoint(t, s, newWebhookEndpoint(org.ID, 0))
	ofOther := createWebhookEndpoint(t, s, newWebhookEndpoint(other.ID, 0))
	global := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	_, ds := dispatchDeliveries(t, s, newDelivery("", ofOrg.ID, 0), newDelivery("", global.ID, 0))

	if err := s.DeleteOrganization(ctx, org.ID); err != nil {
		t.Fatalf("DeleteOrganization() error = %v", err)
	}
	_, err := s.GetWebhookEndpoint(ctx, ofOrg.ID)
	checkErr(t, "GetWebhookEndpoint(of the deleted organization)", err, storage.ErrNotFound)
	_, err = s.GetDelivery(ctx, ds[0].ID)
	checkErr(t, "GetDelivery(to the deleted organization's endpoint)", err, storage.ErrNotFound)
	checkDelivery(t, s, "to the global endpoint", ds[1])
	checkWebhookEndpoint(t, s, "of another organization", ofOther)
	checkWebhookEndpoint(t, s, "global", global)
	left := []storage.WebhookEndpoint{ofOther, global}
	sortEndpoints(left)
	checkWebhookEndpoints(t, s, "", left...)
}

// sortEndpoints sorts es by ID, as ListWebhookEndpoints returns them.
func sortEndpoints(es []storage.WebhookEndpoint) {
	slices.SortFunc(es, func(a, b storage.WebhookEndpoint) int { return strings.Compare(a.ID, b.ID) })
}
