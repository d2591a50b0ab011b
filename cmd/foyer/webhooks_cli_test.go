package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/storage"
)

// TestCLIWebhooksAndAudit: `foyer webhooks` and `foyer audit list` on the
// database, on both backends. The secret is printed by create only; URLs
// and event types follow the admin API's rules; a finished delivery is
// replayed, a pending one refused; every change is in the audit log with
// the actor "cli" (AD-07), and no secret is.
func TestCLIWebhooksAndAudit(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			store, dbEnv := openTestStore(t, backend)
			ctx := t.Context()
			dir := t.TempDir()
			env := append(slices.Clone(dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey)
			cli := func(args ...string) result { t.Helper(); return foyer(t, dir, env, args...) }
			ok := func(v any, args ...string) string {
				t.Helper()
				r := cli(append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
					t.Fatalf("foyer %v printed %q: %v", args, r.stdout, err)
				}
				return r.stdout
			}
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := cli(args...)
				if r.code != code || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q", args, r.code, r.stdout, r.stderr, code, want)
				}
			}

			var org admin.Organization
			ok(&org, "orgs", "create", "--slug", "acme", "--name", "Acme")

			var hook admin.Webhook
			ok(&hook, "webhooks", "create", "--url", "https://hooks.example.test/acme", "--org", "acme",
				"--events", "user.*,organization.created", "--description", "Acme CRM")
			if !strings.HasPrefix(hook.Secret, "whsec_") || hook.OrgID != org.ID || hook.Description != "Acme CRM" ||
				!slices.Equal(hook.EventTypes, []string{"user.*", "organization.created"}) {
				t.Errorf("webhooks create = %+v", hook)
			}
			r := cli("webhooks", "create", "--url", "https://hooks.example.test/all")
			if r.code != 0 || !strings.Contains(r.stdout, "whsec_") || !strings.HasPrefix(r.stdout, "created webhook whe_") {
				t.Errorf("webhooks create (text): exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			var dev admin.Webhook
			ok(&dev, "webhooks", "create", "--url", "http://127.0.0.1:9/dev", "--allow-private")
			secrets := []string{hook.Secret, strings.TrimPrefix(hook.Secret, "whsec_"), dev.Secret}

			fails(1, "url: must be an https URL", "webhooks", "create", "--url", "http://hooks.example.test/x")
			fails(1, "url: must not point to an internal address", "webhooks", "create", "--url", "https://127.0.0.1/x")
			fails(1, "url: must not contain user info", "webhooks", "create", "--url", "https://u:p@hooks.example.test/x")
			fails(1, "event_types: ", "webhooks", "create", "--url", "https://hooks.example.test/x", "--events", "user.exploded")
			fails(1, `org: no organization "nope"`, "webhooks", "create", "--url", "https://hooks.example.test/x", "--org", "nope")
			fails(2, "missing --url", "webhooks", "create")

			var list []admin.Webhook
			out := ok(&list, "webhooks", "list")
			if len(list) != 3 {
				t.Errorf("webhooks list = %+v, want 3", list)
			}
			for _, s := range secrets {
				if strings.Contains(out, s) || strings.Contains(out, `"secret"`) {
					t.Errorf("webhooks list shows a secret: %s", out)
				}
			}
			ok(&list, "webhooks", "list", "--org", "acme")
			if len(list) != 1 || list[0].ID != hook.ID {
				t.Errorf("webhooks list --org acme = %+v", list)
			}

			// A failed delivery of the endpoint, as the worker leaves one.
			now := time.Now()
			var dlv string
			if _, err := store.DispatchEvents(ctx, now, 1000, func(ev storage.Event) []storage.EventDelivery {
				if dlv != "" || ev.Type != storage.EventOrganizationCreated {
					return nil
				}
				dlv = storage.NewID(storage.PrefixDelivery)
				return []storage.EventDelivery{{ID: dlv, EventID: ev.ID, Sink: storage.SinkWebhook, EndpointID: hook.ID,
					Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now}}
			}); err != nil || dlv == "" {
				t.Fatalf("dispatch: %v (delivery %q)", err, dlv)
			}
			if err := store.FinishDelivery(ctx, dlv, storage.DeliveryFailed, now, "endpoint answered 500", 500); err != nil {
				t.Fatal(err)
			}
			var ds []admin.WebhookDelivery
			ok(&ds, "webhooks", "deliveries", hook.ID, "--status", "failed")
			if len(ds) != 1 || ds[0].ID != dlv || ds[0].LastStatusCode != 500 {
				t.Errorf("webhooks deliveries --status failed = %+v", ds)
			}
			var replayed admin.WebhookDelivery
			ok(&replayed, "webhooks", "replay", hook.ID, dlv)
			if replayed.ID == dlv || replayed.Status != storage.DeliveryPending || replayed.EventID != ds[0].EventID {
				t.Errorf("webhooks replay = %+v", replayed)
			}
			ok(&ds, "webhooks", "deliveries", hook.ID)
			if len(ds) != 2 {
				t.Errorf("webhooks deliveries after the replay = %+v", ds)
			}
			fails(1, "delivery: "+replayed.ID+" is still pending", "webhooks", "replay", hook.ID, replayed.ID)
			fails(1, `delivery: no delivery "dlv_nope"`, "webhooks", "replay", hook.ID, "dlv_nope")
			fails(1, "delivery: no delivery", "webhooks", "replay", dev.ID, dlv) // another endpoint's
			fails(2, "--status must be", "webhooks", "deliveries", hook.ID, "--status", "lost")

			if r := cli("webhooks", "delete", dev.ID); r.code != 0 || !strings.Contains(r.stdout, "deleted webhook "+dev.ID) {
				t.Errorf("webhooks delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			fails(1, "webhook: no webhook endpoint", "webhooks", "delete", dev.ID)

			// The audit log: every change, by the CLI, without secrets.
			var entries []admin.AuditEvent
			ok(&entries, "audit", "list", "--type", admin.AuditWebhookCreated)
			if len(entries) != 3 {
				t.Errorf("audit list --type %s = %d entries", admin.AuditWebhookCreated, len(entries))
			}
			for _, en := range entries {
				if en.Actor.Type != storage.ActorCLI || en.Actor.ID != "" || en.Target.Type != "webhook" || !strings.HasPrefix(en.Target.ID, "whe_") {
					t.Errorf("entry %+v, want actor cli and a webhook target", en)
				}
			}
			ok(&entries, "audit", "list", "--org", "acme", "--since", "1h")
			var types []string
			for _, en := range entries {
				types = append(types, en.Type)
				if en.OrganizationID != org.ID {
					t.Errorf("audit list --org acme shows %+v", en)
				}
			}
			if !slices.Contains(types, admin.AuditWebhookCreated) || !slices.Contains(types, admin.AuditWebhookDeliveryReplayed) {
				t.Errorf("audit list --org acme types %v", types)
			}
			ok(&entries, "audit", "list", "--limit", "1")
			if len(entries) != 1 || entries[0].Type != admin.AuditWebhookDeleted || entries[0].Target.ID != dev.ID {
				t.Errorf("audit list --limit 1 = %+v, want the deletion", entries)
			}
			all := ok(&entries, "audit", "list", "--limit", "1000")
			for _, s := range secrets {
				if strings.Contains(all, s) {
					t.Error("the audit log holds a webhook secret")
				}
			}
			if r := cli("audit", "list", "--type", admin.AuditWebhookDeleted); r.code != 0 || !strings.Contains(r.stdout, admin.AuditWebhookDeleted) ||
				!strings.Contains(r.stdout, "cli  webhook:"+dev.ID) {
				t.Errorf("audit list (text): exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := cli("audit", "list", "--type", "nothing.here"); r.code != 0 || strings.TrimSpace(r.stdout) != "no audit entries" {
				t.Errorf("audit list of nothing: exit %d, stdout %q", r.code, r.stdout)
			}
			fails(2, "--limit must be", "audit", "list", "--limit", "0")
			fails(1, `user: no user "nobody@example.com"`, "audit", "list", "--user", "nobody@example.com")
		})
	}
}
