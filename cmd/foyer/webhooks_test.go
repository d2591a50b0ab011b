package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/events/eventstest"
	"github.com/foyerdev/foyer/storage"
)

// fastRetries makes webhook retries quick enough for a test.
func fastRetries(c *config.Config) {
	c.Webhooks.RetryMin, c.Webhooks.RetryMax, c.Webhooks.Timeout = 50*time.Millisecond, 200*time.Millisecond, 2*time.Second
}

// addWebhook registers r as an endpoint the way the admin API does (a
// secret sealed under the server's key) and gives r the secret.
func addWebhook(t *testing.T, store storage.Store, r *eventstest.Receiver, orgID string, types ...string) storage.WebhookEndpoint {
	t.Helper()
	seal, err := webhookSealer(testKey())
	if err != nil {
		t.Fatal(err)
	}
	id := storage.NewID(storage.PrefixWebhookEndpoint)
	secret, sealed := events.NewSecret(seal, id)
	now := time.Now().UTC()
	e, err := store.CreateWebhookEndpoint(t.Context(), storage.WebhookEndpoint{
		ID: id, OrgID: orgID, URL: r.URL, EventTypes: types, Secret: sealed, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.SetSecret(secret)
	return e
}

func types(ms []eventstest.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type)
	}
	return out
}

func messageOf(t *testing.T, ms []eventstest.Message, typ string, data any, match func() bool) {
	t.Helper()
	for _, m := range ms {
		if m.Type != typ {
			continue
		}
		if err := json.Unmarshal(m.Data, data); err != nil {
			t.Fatalf("%s data %s: %v", typ, m.Data, err)
		}
		if match() {
			return
		}
	}
	t.Errorf("no %s event with the expected data among %v", typ, types(ms))
}

// TestWebhookEveryEventType: every event type is produced by the action
// that should produce it — through the admin API, the invitation page and
// sign-in — with the changed record as its data, signed per Standard
// Webhooks (checked by an independent verifier), on both backends. An
// organization's endpoint gets that organization's events only, filtered
// by type; a change that fails (a taken slug) produces no event.
func TestWebhookEveryEventType(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			se := newSigninEnvConfigured(t, backend, "127.0.0.1", fastRetries)
			e := adminEnvOn(t, se.oidcEnv)
			all := eventstest.NewReceiver(t, nil)
			addWebhook(t, e.store, all, "")

			var carol, erin struct {
				ID string `json:"id"`
			}
			e.must(t, http.StatusCreated, e.root, "POST", "/users", map[string]any{"email": "carol@example.com", "name": "Carol"}).decode(t, &carol)
			e.must(t, http.StatusOK, e.root, "PATCH", "/users/"+carol.ID, map[string]any{"name": "Carol C"})
			var acme struct {
				ID string `json:"id"`
			}
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Acme"}).decode(t, &acme)
			e.must(t, http.StatusBadRequest, e.root, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Again"})
			orgHook := eventstest.NewReceiver(t, nil)
			addWebhook(t, e.store, orgHook, acme.ID, "membership.*", storage.EventInvitationAccepted)
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": "globex", "name": "Globex"})
			globex, err := e.store.GetOrganizationBySlug(t.Context(), "globex")
			if err != nil {
				t.Fatal(err)
			}
			globexHook := eventstest.NewReceiver(t, nil)
			addWebhook(t, e.store, globexHook, globex.ID)

			e.must(t, http.StatusOK, e.root, "PATCH", "/organizations/"+acme.ID, map[string]any{"name": "Acme Inc"})
			members := "/organizations/" + acme.ID + "/members"
			e.must(t, http.StatusCreated, e.root, "POST", members, map[string]any{"user_id": carol.ID, "role": "member"})
			e.must(t, http.StatusOK, e.root, "PATCH", members+"/"+carol.ID, map[string]any{"role": "editor"})
			e.must(t, http.StatusNoContent, e.root, "DELETE", members+"/"+carol.ID, nil)
			invitations := "/organizations/" + acme.ID + "/invitations"
			var dan struct {
				ID string `json:"id"`
			}
			e.must(t, http.StatusCreated, e.root, "POST", invitations, map[string]any{"email": "dan@example.com", "role": "editor"}).decode(t, &dan)
			e.must(t, http.StatusOK, e.root, "POST", invitations+"/"+dan.ID+"/resend", nil)
			e.must(t, http.StatusNoContent, e.root, "DELETE", invitations+"/"+dan.ID, nil)

			// Erin accepts an invitation by signing up on its page: her
			// account, membership, the accepted invitation and her session.
			e.must(t, http.StatusCreated, e.root, "POST", invitations, map[string]any{"email": "erin@example.com", "role": "member"})
			link := se.mail.Wait(t, 3)[2].Link(t)
			b := newBrowser(t)
			page := se.fetch(t, b, "GET", linkPath(t, link), nil)
			if page.status != http.StatusOK {
				t.Fatalf("invitation page = %v", page)
			}
			token := strings.TrimPrefix(link, se.issuer+"/invitations/accept?token=")
			if r := se.post(t, b, "/invitations/accept/signup", page.body, url.Values{
				"token": {token}, "name": {"Erin"}, "password": {"a long and unusual passphrase"},
			}); r.status != http.StatusSeeOther {
				t.Fatalf("accept and sign up = %v", r)
			}
			u, err := e.store.GetUserByEmail(t.Context(), "erin@example.com")
			if err != nil {
				t.Fatal(err)
			}
			erin.ID = u.ID
			e.must(t, http.StatusNoContent, e.root, "DELETE", "/users/"+erin.ID+"/sessions", nil)
			// The organization's endpoint goes with the organization (and
			// its pending deliveries with it): let it receive first.
			orgHook.Wait(t, 30*time.Second, "Acme's events", func(ms []eventstest.Message) bool { return len(ms) >= 5 })
			e.must(t, http.StatusNoContent, e.root, "DELETE", "/users/"+carol.ID, nil)
			e.must(t, http.StatusNoContent, e.root, "DELETE", "/organizations/"+acme.ID, nil)

			want := []string{
				"user.created", "user.updated", "organization.created", "organization.created", "organization.updated",
				"membership.created", "membership.updated", "membership.deleted",
				"invitation.created", "invitation.resent", "invitation.revoked", "invitation.created",
				"user.created", "membership.created", "invitation.accepted", "session.created",
				"session.ended", "user.deleted", "organization.deleted",
			}
			all.Wait(t, 30*time.Second, "every event", func(ms []eventstest.Message) bool { return len(ms) >= len(want) })
			time.Sleep(1500 * time.Millisecond) // a poll more: nothing extra arrives
			got := all.Received()
			g, w := slices.Sorted(slices.Values(types(got))), slices.Sorted(slices.Values(want))
			if !slices.Equal(g, w) {
				t.Fatalf("event types:\n got %v\nwant %v", g, w)
			}
			for _, m := range got {
				if strings.Contains(string(m.Data), "argon2") || strings.Contains(string(m.Data), "password_hash") ||
					strings.Contains(string(m.Data), token) {
					t.Errorf("%s carries a secret: %s", m.Type, m.Data)
				}
			}

			var ud storage.UserData
			messageOf(t, got, "user.created", &ud, func() bool { return ud.ID == carol.ID && ud.Email == "carol@example.com" && !ud.HasPassword })
			messageOf(t, got, "user.updated", &ud, func() bool { return ud.ID == carol.ID && ud.Name == "Carol C" })
			messageOf(t, got, "user.created", &ud, func() bool { return ud.ID == erin.ID && ud.EmailVerified && ud.HasPassword })
			messageOf(t, got, "user.deleted", &ud, func() bool { return ud.ID == carol.ID })
			var od storage.OrganizationData
			messageOf(t, got, "organization.created", &od, func() bool { return od.ID == acme.ID && od.Slug == "acme" && od.Name == "Acme" })
			messageOf(t, got, "organization.updated", &od, func() bool { return od.ID == acme.ID && od.Name == "Acme Inc" })
			messageOf(t, got, "organization.deleted", &od, func() bool { return od.ID == acme.ID })
			var md storage.MembershipData
			messageOf(t, got, "membership.created", &md, func() bool { return md.UserID == carol.ID && md.Role == "member" && md.OrganizationID == acme.ID })
			messageOf(t, got, "membership.updated", &md, func() bool { return md.UserID == carol.ID && md.Role == "editor" })
			messageOf(t, got, "membership.deleted", &md, func() bool { return md.UserID == carol.ID })
			messageOf(t, got, "membership.created", &md, func() bool { return md.UserID == erin.ID && md.Role == "member" })
			var id storage.InvitationData
			messageOf(t, got, "invitation.resent", &id, func() bool { return id.ID == dan.ID && id.Email == "dan@example.com" })
			messageOf(t, got, "invitation.revoked", &id, func() bool { return id.ID == dan.ID && id.RevokedAt != nil })
			messageOf(t, got, "invitation.accepted", &id, func() bool { return id.Email == "erin@example.com" && id.AcceptedAt != nil })
			var sd storage.SessionData
			messageOf(t, got, "session.created", &sd, func() bool { return sd.UserID == erin.ID && slices.Contains(sd.AMR, "pwd") && sd.ID != "" })
			messageOf(t, got, "session.ended", &sd, func() bool { return sd.UserID == erin.ID && !sd.Expired })

			// The organization's endpoint: its memberships and accepted
			// invitation only; the other organization's: nothing of Acme.
			wantOrg := []string{"invitation.accepted", "membership.created", "membership.created", "membership.deleted", "membership.updated"}
			if g := slices.Sorted(slices.Values(types(orgHook.Received()))); !slices.Equal(g, wantOrg) {
				t.Errorf("Acme's endpoint got %v, want %v", g, wantOrg)
			}
			if g := globexHook.Received(); len(g) != 0 {
				t.Errorf("Globex's endpoint got Acme's events: %v", types(g))
			}
		})
	}
}

// TestWebhookOutageF6: the endpoint answers 500 for a while, as during an
// outage (F6's shape, for webhooks); every event arrives once it answers
// 200 again, and the admin's change never waited on it.
func TestWebhookOutageF6(t *testing.T) {
	env := newOIDCEnvConfigured(t, "embedded", "127.0.0.1", "", seams{}, fastRetries)
	e := adminEnvOn(t, env)
	r := eventstest.NewReceiver(t, func(n int) int {
		if n <= 10 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	addWebhook(t, e.store, r, "")
	for _, slug := range []string{"one", "two", "three"} {
		start := time.Now()
		e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": slug, "name": slug})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("creating an organization took %s while the endpoint was failing", d)
		}
	}
	got := r.Wait(t, 30*time.Second, "three events", func(ms []eventstest.Message) bool { return len(ms) >= 3 })
	if n := r.Requests(); n <= 10 {
		t.Errorf("%d requests, want the 10 failures and then the successes", n)
	}
	seen := map[string]bool{}
	for _, m := range got {
		var od storage.OrganizationData
		json.Unmarshal(m.Data, &od)
		seen[od.Slug] = true
	}
	if len(seen) != 3 {
		t.Errorf("organizations delivered: %v, want one, two and three", seen)
	}
}

// TestWebhookSurvivesSIGKILL: Foyer is killed (SIGKILL) while it delivers
// an event, and more changes commit while it is down (the CLI writes to the
// database); after a restart every event arrives, on both backends.
func TestWebhookSurvivesSIGKILL(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append(b.env(t), "FOYER_ENCRYPTION_KEY="+testEncryptionKey, "FOYER_HTTP_ADDR=127.0.0.1:0",
				"FOYER_WEBHOOKS_TIMEOUT=1s", "FOYER_WEBHOOKS_RETRY_MIN=50ms", "FOYER_WEBHOOKS_RETRY_MAX=200ms")
			if r := foyer(t, dir, env, "migrate"); r.code != 0 {
				t.Fatalf("migrate: %s", r.stderr)
			}
			store := openCLIStore(t, dir, env)

			inFlight := make(chan struct{})
			release := make(chan struct{})
			var once sync.Once
			r := eventstest.NewReceiver(t, func(n int) int {
				if n == 1 {
					once.Do(func() { close(inFlight) })
					<-release // held open until Foyer is dead; then refused
					return http.StatusServiceUnavailable
				}
				return http.StatusOK
			})
			t.Cleanup(func() {
				select {
				case <-release:
				default:
					close(release)
				}
			})
			addWebhook(t, store, r, "")

			serve := startFoyer(t, dir, env)
			if r := foyer(t, dir, env, "users", "create", "--email", "first@example.com"); r.code != 0 {
				t.Fatalf("users create: %s", r.stderr)
			}
			select {
			case <-inFlight:
			case <-time.After(20 * time.Second):
				t.Fatal("the first event was never sent")
			}
			if err := serve.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			serve.Wait()
			close(release)
			if r := foyer(t, dir, env, "users", "create", "--email", "second@example.com"); r.code != 0 {
				t.Fatalf("users create while Foyer is down: %s", r.stderr)
			}
			startFoyer(t, dir, env)
			// The first delivery's lease (2×timeout + 5 s) runs out, then
			// it is sent again.
			got := r.Wait(t, 40*time.Second, "both events", func(ms []eventstest.Message) bool { return len(ms) >= 2 })
			emails := map[string]bool{}
			for _, m := range got {
				var ud storage.UserData
				json.Unmarshal(m.Data, &ud)
				emails[ud.Email] = m.Type == storage.EventUserCreated
			}
			if !emails["first@example.com"] || !emails["second@example.com"] {
				t.Errorf("delivered after the restart: %+v, want both user.created events", got)
			}
		})
	}
}

// startFoyer runs `foyer serve --dev` in dir until the test ends, once it
// listens.
func startFoyer(t *testing.T, dir string, env []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(foyerBin, "serve", "--dev")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := bufio.NewScanner(stderr)
	var log strings.Builder
	for logs.Scan() {
		log.WriteString(logs.Text() + "\n")
		if listening.MatchString(logs.Text()) {
			go io.Copy(io.Discard, stderr)
			return cmd
		}
	}
	t.Fatalf("serve did not start:\n%s", log.String())
	return nil
}

// openCLIStore opens the database the binary in dir uses with env.
func openCLIStore(t *testing.T, dir string, env []string) storage.Store {
	t.Helper()
	db := config.Database{DataDir: filepath.Join(dir, "foyer-data")}
	for _, kv := range env {
		if url, ok := strings.CutPrefix(kv, "FOYER_DATABASE_URL="); ok {
			db.URL = url
		}
	}
	s, _, err := openStore(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNATSConfigured: with nats.url set, the server also publishes every
// event to JetStream, on <nats.subject>.<type>.
func TestNATSConfigured(t *testing.T) {
	stream := "FOYER_TEST_" + strings.ToUpper(storage.NewID(""))
	subject := "foyertest." + strings.ToLower(stream)
	env := newOIDCEnvConfigured(t, "embedded", "127.0.0.1", "", seams{}, func(c *config.Config) {
		c.NATS = config.NATS{URL: "nats://127.0.0.1:4222", Stream: stream, Subject: subject}
	})
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		t.Fatalf("NATS (CI starts it; see .ci/run): %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), stream) })

	e := adminEnvOn(t, env)
	var org struct {
		ID string `json:"id"`
	}
	e.must(t, http.StatusCreated, e.root, "POST", "/organizations", map[string]any{"slug": "natsco", "name": "NATS Co"}).decode(t, &org)

	var msg *jetstream.RawStreamMsg
	deadline := time.Now().Add(30 * time.Second)
	for msg == nil && time.Now().Before(deadline) {
		if s, err := js.Stream(t.Context(), stream); err == nil {
			msg, _ = s.GetLastMsgForSubject(t.Context(), subject+".organization.created")
		}
		if msg == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if msg == nil {
		t.Fatal("no organization.created message on NATS")
	}
	var p struct {
		Type string                   `json:"type"`
		Data storage.OrganizationData `json:"data"`
	}
	if err := json.Unmarshal(msg.Data, &p); err != nil || p.Type != storage.EventOrganizationCreated || p.Data.ID != org.ID {
		t.Errorf("message %s (%v), want organization.created of %s", msg.Data, err, org.ID)
	}
	if id := msg.Header.Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, storage.PrefixEvent) {
		t.Errorf("Nats-Msg-Id = %q, want the event ID", id)
	}
}
