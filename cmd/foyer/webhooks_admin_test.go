package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/storage"
)

// hookReceiver is a webhook endpoint: it keeps what it receives and
// answers status.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	got    []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func startHookReceiver(t *testing.T, status int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{r.Header.Clone(), body})
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

// deliveries waits until the endpoint has n deliveries in status, and
// returns them.
func (e *adminEnv) deliveries(t *testing.T, token, hookID, status string, n int) []admin.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var l admin.List[admin.WebhookDelivery]
		e.must(t, http.StatusOK, token, "GET", "/webhooks/"+hookID+"/deliveries?status="+status, nil).decode(t, &l)
		if len(l.Items) >= n {
			return l.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s: %d deliveries %s after 20s, want %d", hookID, len(l.Items), status, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAdminWebhooks: webhook endpoints through the admin API, on both
// backends. The signing secret is in the create answer only (no-store)
// and the worker signs with exactly it (the API seals it with the
// worker's key); URLs and event types are checked (400 naming the
// field); deliveries are listed and a finished one replayed as a new
// delivery, while a pending one is a 409.
func TestAdminWebhooks(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			tok := e.root
			var org admin.Organization
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Acme"}).decode(t, &org)
			op := "/organizations/" + org.ID

			// Bad input: a problem naming the field.
			for _, tc := range []struct {
				name  string
				body  any
				field string
			}{
				{"no url", map[string]any{}, "url"},
				{"relative url", map[string]any{"url": "/hooks"}, "url"},
				{"user info", map[string]any{"url": "https://user:pw@hooks.example.test/x"}, "url"},
				{"fragment", map[string]any{"url": "https://hooks.example.test/x#frag"}, "url"},
				{"ftp", map[string]any{"url": "ftp://hooks.example.test/x"}, "url"},
				{"javascript", map[string]any{"url": "javascript:alert(1)"}, "url"},
				{"unknown event type", map[string]any{"url": "https://hooks.example.test/x", "event_types": []string{"user.exploded"}}, "event_types"},
				{"unknown group", map[string]any{"url": "https://hooks.example.test/x", "event_types": []string{"billing.*"}}, "event_types"},
				{"an audit type", map[string]any{"url": "https://hooks.example.test/x", "event_types": []string{"admin.user.updated"}}, "event_types"},
				{"a filter twice", map[string]any{"url": "https://hooks.example.test/x", "event_types": []string{"*", "*"}}, "event_types"},
				{"event types not a list", `{"url": "https://hooks.example.test/x", "event_types": "user.created"}`, "event_types"},
				{"a secret of one's own (mass assignment)", map[string]any{"url": "https://hooks.example.test/x", "secret": "whsec_mine"}, "secret"},
				{"an organization in the body", map[string]any{"url": "https://hooks.example.test/x", "org_id": org.ID}, "org_id"},
				{"control characters", map[string]any{"url": "https://hooks.example.test/x", "description": "a\x00b"}, "description"},
			} {
				for _, path := range []string{"/webhooks", op + "/webhooks"} {
					r := e.call(t, tok, "POST", path, tc.body)
					if r.status != http.StatusBadRequest {
						t.Errorf("%s: POST %s = %d %s, want 400", tc.name, path, r.status, r)
						continue
					}
					if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
						t.Errorf("%s: %+v, want an error naming %q", tc.name, p.Errors, tc.field)
					}
				}
			}
			if es, err := e.store.ListWebhookEndpoints(ctx, ""); err != nil || len(es) != 0 {
				t.Fatalf("bad requests stored endpoints %v, %v", es, err)
			}

			// Created: the secret once, not cached; everything else without.
			ok := startHookReceiver(t, http.StatusNoContent)
			r := e.must(t, http.StatusCreated, tok, "POST", op+"/webhooks", map[string]any{
				"url": ok.URL + "/hooks", "description": "Acme's CRM", "event_types": []string{"organization.*"},
			})
			var hook admin.Webhook
			r.decode(t, &hook)
			if !strings.HasPrefix(hook.Secret, "whsec_") || hook.OrgID != org.ID || hook.URL != ok.URL+"/hooks" || hook.Disabled ||
				len(hook.EventTypes) != 1 || r.header.Get("Cache-Control") != "no-store" || r.header.Get("Location") != admin.Prefix+"/webhooks/"+hook.ID {
				t.Fatalf("created %s (Cache-Control %q, Location %q)", r, r.header.Get("Cache-Control"), r.header.Get("Location"))
			}
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_"))
			if err != nil || len(key) < 32 {
				t.Fatalf("secret %q is not whsec_ and 32 bytes of base64: %v", hook.Secret, err)
			}
			stored, err := e.store.GetWebhookEndpoint(ctx, hook.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(stored.Secret), string(key)) || strings.Contains(string(stored.Secret), hook.Secret) {
				t.Error("the secret is stored in the clear")
			}
			for _, rr := range []apiReply{
				e.must(t, http.StatusOK, tok, "GET", "/webhooks/"+hook.ID, nil),
				e.must(t, http.StatusOK, tok, "GET", "/webhooks", nil),
				e.must(t, http.StatusOK, tok, "GET", op+"/webhooks", nil),
				e.must(t, http.StatusOK, tok, "PATCH", "/webhooks/"+hook.ID, map[string]any{"description": "CRM"}),
			} {
				if strings.Contains(rr.String(), hook.Secret) || strings.Contains(rr.String(), `"secret"`) {
					t.Errorf("the secret is shown again: %s", rr)
				}
			}
			var list admin.List[admin.Webhook]
			e.must(t, http.StatusOK, tok, "GET", "/webhooks?organization="+org.ID, nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != hook.ID || list.Items[0].Description != "CRM" {
				t.Errorf("listed %+v", list)
			}

			// Plain http is a development URL: the test server runs --dev.
			var global admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", "/webhooks", map[string]any{"url": "http://127.0.0.1:9/global", "disabled": true}).decode(t, &global)
			if global.OrgID != "" || !global.Disabled || len(global.EventTypes) != 0 {
				t.Errorf("global endpoint %+v", global)
			}
			e.must(t, http.StatusBadRequest, tok, "PATCH", "/webhooks/"+global.ID, map[string]any{"url": "https://a@b.example/x"}).problem(t)
			e.must(t, http.StatusBadRequest, tok, "PATCH", "/webhooks/"+global.ID, map[string]any{"event_types": []string{"nope"}}).problem(t)
			if g, err := e.store.GetWebhookEndpoint(ctx, global.ID); err != nil || g.URL != "http://127.0.0.1:9/global" || len(g.EventTypes) != 0 {
				t.Errorf("refused changes changed the endpoint: %+v, %v", g, err)
			}

			// A change of the organization is delivered, signed with the
			// secret that was shown.
			e.must(t, http.StatusOK, tok, "PATCH", op, map[string]any{"name": "Acme Inc"})
			delivered := e.deliveries(t, tok, hook.ID, "delivered", 1)
			reqs := ok.requests()
			if len(reqs) != 1 {
				t.Fatalf("the endpoint got %d requests", len(reqs))
			}
			h := reqs[0].header
			ts, _ := strconv.ParseInt(h.Get(events.HeaderTimestamp), 10, 64)
			if want := events.Sign(key, h.Get(events.HeaderID), time.Unix(ts, 0), reqs[0].body); h.Get(events.HeaderSignature) != want {
				t.Errorf("signature %q, want %q from the shown secret", h.Get(events.HeaderSignature), want)
			}
			if !strings.Contains(string(reqs[0].body), `"organization.updated"`) {
				t.Errorf("delivered %s", reqs[0].body)
			}
			if d := delivered[0]; d.EventID != h.Get(events.HeaderID) || d.Attempts != 1 || d.FinishedAt == nil || d.NextAttemptAt != nil {
				t.Errorf("delivery %+v", d)
			}

			// Replay: a new pending delivery of the same event, sent again.
			var replayed admin.WebhookDelivery
			e.must(t, http.StatusCreated, tok, "POST", "/webhooks/"+hook.ID+"/deliveries/"+delivered[0].ID+"/replay", nil).decode(t, &replayed)
			if replayed.ID == delivered[0].ID || replayed.EventID != delivered[0].EventID || replayed.Status != storage.DeliveryPending {
				t.Errorf("replayed %+v of %+v", replayed, delivered[0])
			}
			e.deliveries(t, tok, hook.ID, "delivered", 2)
			if reqs := ok.requests(); len(reqs) != 2 || reqs[1].header.Get(events.HeaderID) != h.Get(events.HeaderID) {
				t.Errorf("after the replay the endpoint got %d requests", len(reqs))
			}

			// A pending delivery (the endpoint keeps failing) is a 409.
			bad := startHookReceiver(t, http.StatusInternalServerError)
			var failing admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", op+"/webhooks", map[string]any{"url": bad.URL, "event_types": []string{"organization.updated"}}).decode(t, &failing)
			e.must(t, http.StatusOK, tok, "PATCH", op, map[string]any{"name": "Acme Corp"})
			pending := e.deliveries(t, tok, failing.ID, "pending", 1)
			for len(bad.requests()) == 0 {
				time.Sleep(50 * time.Millisecond) // tried once at least
			}
			p := e.must(t, http.StatusConflict, tok, "POST", "/webhooks/"+failing.ID+"/deliveries/"+pending[0].ID+"/replay", nil).problem(t)
			if !strings.Contains(p.Detail, "pending") {
				t.Errorf("409 detail %q", p.Detail)
			}
			e.deliveries(t, tok, failing.ID, "pending", 1)
			var all admin.List[admin.WebhookDelivery]
			e.must(t, http.StatusOK, tok, "GET", "/webhooks/"+failing.ID+"/deliveries", nil).decode(t, &all)
			if len(all.Items) != 1 || all.Items[0].LastStatusCode != http.StatusInternalServerError && all.Items[0].Attempts > 0 {
				t.Errorf("failing deliveries %+v", all)
			}
			// Another endpoint's delivery is not this one's.
			e.must(t, http.StatusNotFound, tok, "POST", "/webhooks/"+failing.ID+"/deliveries/"+delivered[0].ID+"/replay", nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "POST", "/webhooks/"+hook.ID+"/deliveries/dlv_nope/replay", nil).problem(t)

			// Listing: paging with MACed cursors, status filter.
			var page admin.List[admin.WebhookDelivery]
			e.must(t, http.StatusOK, tok, "GET", "/webhooks/"+hook.ID+"/deliveries?limit=1", nil).decode(t, &page)
			if len(page.Items) != 1 || page.NextCursor == "" {
				t.Fatalf("first page %+v", page)
			}
			var rest admin.List[admin.WebhookDelivery]
			e.must(t, http.StatusOK, tok, "GET", "/webhooks/"+hook.ID+"/deliveries?limit=1&cursor="+url.QueryEscape(page.NextCursor), nil).decode(t, &rest)
			if len(rest.Items) != 1 || rest.Items[0].ID == page.Items[0].ID {
				t.Errorf("second page %+v after %+v", rest, page)
			}
			for _, q := range []string{"status=lost", "limit=0", "cursor=" + url.QueryEscape(flip(page.NextCursor, len(page.NextCursor)-1))} {
				e.must(t, http.StatusBadRequest, tok, "GET", "/webhooks/"+hook.ID+"/deliveries?"+q, nil).problem(t)
			}

			// Deleted with its deliveries.
			e.must(t, http.StatusNoContent, tok, "DELETE", "/webhooks/"+hook.ID, nil)
			e.must(t, http.StatusNotFound, tok, "GET", "/webhooks/"+hook.ID, nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "GET", "/webhooks/"+hook.ID+"/deliveries", nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "DELETE", "/webhooks/"+hook.ID, nil).problem(t)
		})
	}
}

// TestAdminWebhooksAD02: an organization admin of A manages A's webhook
// endpoints only. B's endpoints and the global ones answer 404 on every
// route, exactly like a missing ID (AD-02); creating a global endpoint is
// a 403; nothing of B changes.
func TestAdminWebhooksAD02(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			var orgA, orgB admin.Organization
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": "org-a", "name": "A"}).decode(t, &orgA)
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": "org-b", "name": "B"}).decode(t, &orgB)
			adminA := e.createPerson(t, "admin-a@example.com")
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+orgA.ID+"/members", map[string]any{"user_id": adminA.ID, "role": "admin"})
			var hookB, global admin.Webhook
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+orgB.ID+"/webhooks", map[string]any{"url": "https://hooks.example.test/b", "disabled": true}).decode(t, &hookB)
			e.must(t, http.StatusCreated, e.root, "POST", "/webhooks", map[string]any{"url": "https://hooks.example.test/all", "disabled": true}).decode(t, &global)
			tok, _ := e.personToken(t, adminA.Email, e.pass, admin.Scope)

			var hookA admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", "/organizations/"+orgA.ID+"/webhooks", map[string]any{"url": "https://hooks.example.test/a", "disabled": true}).decode(t, &hookA)
			if hookA.OrgID != orgA.ID || !strings.HasPrefix(hookA.Secret, "whsec_") {
				t.Errorf("org A's admin created %+v", hookA)
			}
			checkAudit(t, e.store, storage.ActorUser, adminA.ID, adminAuditWant{typ: admin.AuditWebhookCreated, targetType: "webhook",
				targetID: hookA.ID, orgID: orgA.ID, after: map[string]any{"url": "https://hooks.example.test/a"}})
			var list admin.List[admin.Webhook]
			e.must(t, http.StatusOK, tok, "GET", "/webhooks", nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != hookA.ID {
				t.Errorf("org A's admin lists %+v, want A's endpoint only", list)
			}

			for _, id := range []string{hookB.ID, global.ID, "whe_nope"} {
				for _, tc := range []struct {
					method, path string
					body         any
				}{
					{"GET", "/webhooks/" + id, nil},
					{"PATCH", "/webhooks/" + id, map[string]any{"url": "https://evil.example/steal"}},
					{"DELETE", "/webhooks/" + id, nil},
					{"GET", "/webhooks/" + id + "/deliveries", nil},
					{"POST", "/webhooks/" + id + "/deliveries/dlv_x/replay", nil},
				} {
					r := e.call(t, tok, tc.method, tc.path, tc.body)
					if r.status != http.StatusNotFound {
						t.Errorf("org A's admin: %s %s = %d %s, want 404", tc.method, tc.path, r.status, r)
						continue
					}
					if p := r.problem(t); p.Detail != "No webhook with that ID." {
						t.Errorf("%s %s: detail %q differs from a missing ID's", tc.method, tc.path, p.Detail)
					}
				}
			}
			e.must(t, http.StatusNotFound, tok, "GET", "/organizations/"+orgB.ID+"/webhooks", nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "POST", "/organizations/"+orgB.ID+"/webhooks", map[string]any{"url": "https://evil.example/b"}).problem(t)
			e.must(t, http.StatusNotFound, tok, "GET", "/webhooks?organization="+orgB.ID, nil).problem(t)
			e.must(t, http.StatusForbidden, tok, "POST", "/webhooks", map[string]any{"url": "https://evil.example/all"}).problem(t)

			for _, h := range []admin.Webhook{hookB, global} {
				got, err := e.store.GetWebhookEndpoint(ctx, h.ID)
				if err != nil || got.URL != h.URL {
					t.Errorf("%s after the attempts: %+v, %v", h.ID, got, err)
				}
			}
			if es, err := e.store.ListWebhookEndpoints(ctx, orgB.ID); err != nil || len(es) != 1 {
				t.Errorf("B's endpoints after the attempts: %v, %v", es, err)
			}
			// Their own: changed and deleted.
			e.must(t, http.StatusOK, tok, "PATCH", "/webhooks/"+hookA.ID, map[string]any{"disabled": false})
			e.must(t, http.StatusOK, tok, "GET", "/webhooks/"+hookA.ID+"/deliveries", nil)
			e.must(t, http.StatusNoContent, tok, "DELETE", "/webhooks/"+hookA.ID, nil)
		})
	}
}
