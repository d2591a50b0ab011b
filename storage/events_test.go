package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func TestEventTypeMatches(t *testing.T) {
	tests := []struct {
		filter, typ string
		want        bool
	}{
		{"*", storage.EventUserCreated, true},
		{"*", storage.EventSessionEnded, true},
		{storage.EventUserCreated, storage.EventUserCreated, true},
		{storage.EventUserCreated, storage.EventUserUpdated, false},
		{"user.*", storage.EventUserCreated, true},
		{"user.*", storage.EventUserDeleted, true},
		{"invitation.*", storage.EventInvitationAccepted, true},
		{"user.*", storage.EventOrganizationCreated, false},
		{"user.*", "users.created", false},        // a group is a whole word
		{"user.*", "user", false},                 // the group alone is no type
		{"user", storage.EventUserCreated, false}, // no implied wildcard
		{"user.", storage.EventUserCreated, false},
		{".*", storage.EventUserCreated, false},
		{"", storage.EventUserCreated, false},
		{"*.created", storage.EventUserCreated, false}, // only a trailing group wildcard
		{"user.created.*", storage.EventUserCreated, false},
		{"User.*", storage.EventUserCreated, false}, // types are lowercase and matched exactly
	}
	for _, tc := range tests {
		if got := storage.EventTypeMatches(tc.filter, tc.typ); got != tc.want {
			t.Errorf("EventTypeMatches(%q, %q) = %v, want %v", tc.filter, tc.typ, got, tc.want)
		}
	}
}

// TestEventTypesMatchThemselves: every listed type is taken by itself, its
// group and "*", so an endpoint filter built from EventTypes works.
func TestEventTypesMatchThemselves(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range storage.EventTypes {
		if seen[typ] {
			t.Errorf("EventTypes lists %q twice", typ)
		}
		seen[typ] = true
		group, _, ok := strings.Cut(typ, ".")
		if !ok {
			t.Errorf("event type %q has no group", typ)
		}
		for _, filter := range []string{typ, group + ".*", "*"} {
			if !storage.EventTypeMatches(filter, typ) {
				t.Errorf("EventTypeMatches(%q, %q) = false, want true", filter, typ)
			}
		}
	}
	if len(storage.EventTypes) != 15 {
		t.Errorf("EventTypes has %d types, want the 15 Event* constants", len(storage.EventTypes))
	}
}

func TestWebhookEndpointWants(t *testing.T) {
	created := time.Date(2025, time.March, 14, 15, 0, 0, 0, time.UTC)
	acme, globex := "org_acme", "org_globex"
	userEvent := storage.Event{ID: "evt_1", Type: storage.EventUserCreated, OccurredAt: created.Add(time.Minute)}
	acmeEvent := storage.Event{ID: "evt_2", Type: storage.EventMembershipCreated, OrgID: acme, OccurredAt: created.Add(time.Minute)}
	endpoint := func(change func(*storage.WebhookEndpoint)) storage.WebhookEndpoint {
		e := storage.WebhookEndpoint{ID: "whe_1", URL: "https://hooks.example.com/", CreatedAt: created, UpdatedAt: created}
		if change != nil {
			change(&e)
		}
		return e
	}
	tests := []struct {
		name string
		e    storage.WebhookEndpoint
		ev   storage.Event
		want bool
	}{
		{"global, no filter, user event", endpoint(nil), userEvent, true},
		{"global, no filter, organization event", endpoint(nil), acmeEvent, true},
		{"empty filter is no filter", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{} }), acmeEvent, true},
		{"disabled", endpoint(func(e *storage.WebhookEndpoint) { e.Disabled = true }), userEvent, false},
		{"created after the event", endpoint(func(e *storage.WebhookEndpoint) { e.CreatedAt = created.Add(2 * time.Minute) }), userEvent, false},
		{"created a nanosecond after the event", endpoint(func(e *storage.WebhookEndpoint) { e.CreatedAt = userEvent.OccurredAt.Add(1) }), userEvent, false},
		{"created at the event's instant", endpoint(func(e *storage.WebhookEndpoint) { e.CreatedAt = userEvent.OccurredAt }), userEvent, true},
		{"created at the same instant elsewhere", endpoint(func(e *storage.WebhookEndpoint) {
			e.CreatedAt = userEvent.OccurredAt.In(time.FixedZone("UTC+1", 3600))
		}), userEvent, true},
		{"of the event's organization", endpoint(func(e *storage.WebhookEndpoint) { e.OrgID = acme }), acmeEvent, true},
		{"of another organization", endpoint(func(e *storage.WebhookEndpoint) { e.OrgID = globex }), acmeEvent, false},
		{"of an organization, user event", endpoint(func(e *storage.WebhookEndpoint) { e.OrgID = acme }), userEvent, false},
		{"exact filter", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{storage.EventUserCreated} }), userEvent, true},
		{"exact filter, other type", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{storage.EventUserDeleted} }), userEvent, false},
		{"group filter", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{"membership.*"} }), acmeEvent, true},
		{"group filter, other group", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{"membership.*"} }), userEvent, false},
		{"one of several filters", endpoint(func(e *storage.WebhookEndpoint) {
			e.EventTypes = []string{"invitation.*", storage.EventUserDeleted, storage.EventUserCreated}
		}), userEvent, true},
		{"none of several filters", endpoint(func(e *storage.WebhookEndpoint) {
			e.EventTypes = []string{"invitation.*", storage.EventUserDeleted}
		}), userEvent, false},
		{"star filter", endpoint(func(e *storage.WebhookEndpoint) { e.EventTypes = []string{"*"} }), acmeEvent, true},
		{"organization and filter both hold", endpoint(func(e *storage.WebhookEndpoint) {
			e.OrgID, e.EventTypes = acme, []string{"membership.*"}
		}), acmeEvent, true},
		{"filter holds, organization does not", endpoint(func(e *storage.WebhookEndpoint) {
			e.OrgID, e.EventTypes = globex, []string{"membership.*"}
		}), acmeEvent, false},
		{"disabled, though everything else holds", endpoint(func(e *storage.WebhookEndpoint) {
			e.OrgID, e.EventTypes, e.Disabled = acme, []string{"*"}, true
		}), acmeEvent, false},
	}
	for _, tc := range tests {
		if got := tc.e.Wants(tc.ev); got != tc.want {
			t.Errorf("Wants(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
