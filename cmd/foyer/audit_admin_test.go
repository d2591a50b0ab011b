package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/storage"
)

// auditLogOf is the whole audit log, newest first.
func auditLogOf(t *testing.T, store storage.AuditLog) []storage.AuditEntry {
	t.Helper()
	es, err := store.ListAuditEntries(t.Context(), storage.AuditQuery{Limit: storage.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// auditOfType is the entries of typ, newest first.
func auditOfType(t *testing.T, store storage.AuditLog, typ string) []storage.AuditEntry {
	t.Helper()
	es, err := store.ListAuditEntries(t.Context(), storage.AuditQuery{Type: typ, Limit: storage.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// adminAuditWant is what the newest entry of a type must say.
type adminAuditWant struct {
	typ, targetType, targetID, orgID, userID string
	// before and after must be in the details' before and after.
	before, after map[string]any
	// changed, when set, is exactly the fields the details name.
	changed []string
}

// auditChange is audit.Change as it reads back from JSON.
type auditChange struct {
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
}

// checkAudit checks the newest entry of w.typ: by actor (type, id), from
// the test's client, about w's target, with w's diff.
func checkAudit(t *testing.T, store storage.AuditLog, actorType, actorID string, w adminAuditWant) storage.AuditEntry {
	t.Helper()
	es := auditOfType(t, store, w.typ)
	if len(es) == 0 {
		t.Errorf("no audit entry %s (AD-07)", w.typ)
		return storage.AuditEntry{}
	}
	e := es[0]
	if e.ActorType != actorType || e.ActorID != actorID || e.TargetType != w.targetType || e.TargetID != w.targetID ||
		e.OrgID != w.orgID || e.UserID != w.userID || e.IP != "127.0.0.1" || !strings.HasPrefix(e.UserAgent, "Go-http-client") || e.Reason != "" {
		t.Errorf("%s entry = %+v;\nwant actor %s:%s, target %s:%s, org %q, user %q, IP 127.0.0.1 and the client's user agent",
			w.typ, e, actorType, actorID, w.targetType, w.targetID, w.orgID, w.userID)
	}
	var d auditChange
	if err := json.Unmarshal(e.Details, &d); err != nil {
		t.Errorf("%s details %s: %v", w.typ, e.Details, err)
		return e
	}
	for side, want := range map[string]map[string]any{"before": w.before, "after": w.after} {
		got := d.Before
		if side == "after" {
			got = d.After
		}
		for k, v := range want {
			if !jsonEqual(got[k], v) {
				t.Errorf("%s details %s[%s] = %v, want %v (%s)", w.typ, side, k, got[k], v, e.Details)
			}
		}
	}
	if w.changed != nil {
		var keys []string
		for k := range d.After {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, w.changed) {
			t.Errorf("%s details change %v, want only %v (%s)", w.typ, keys, w.changed, e.Details)
		}
	}
	return e
}

// TestAdminAuditAD07Mutations drives every kind of admin API mutation and
// checks its audit entry (SECURITY.md AD-07): type, actor (a machine's
// client ID, a person's user ID), target, organization, IP and user agent,
// and the diff of what changed. Then no secret that went through the API
// — password, hashes, client secret, webhook secret, tokens, invitation
// link hash, sealed keys — appears anywhere in the log.
func TestAdminAuditAD07Mutations(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dns := &fakeDNS{txt: map[string][]string{}}
			e := adminEnvOn(t, newOIDCEnvWith(t, backend, "", seams{lookupTXT: dns.lookup}))
			ctx := t.Context()
			tok, op := e.root, e.operator.id
			check := func(w adminAuditWant) storage.AuditEntry {
				t.Helper()
				return checkAudit(t, e.store, storage.ActorClient, op, w)
			}

			// Users.
			const password = "a long enough password"
			var bob admin.User
			e.must(t, http.StatusCreated, tok, "POST", "/users", map[string]any{"email": "bob@example.com", "name": "Bob", "password": password}).decode(t, &bob)
			check(adminAuditWant{typ: admin.AuditUserCreated, targetType: "user", targetID: bob.ID, userID: bob.ID,
				after: map[string]any{"email": "bob@example.com", "name": "Bob", "admin": false}})
			e.must(t, http.StatusOK, tok, "PATCH", "/users/"+bob.ID, map[string]any{"name": "Robert", "email_verified": true})
			check(adminAuditWant{typ: admin.AuditUserUpdated, targetType: "user", targetID: bob.ID, userID: bob.ID,
				before: map[string]any{"name": "Bob", "email_verified": false}, after: map[string]any{"name": "Robert", "email_verified": true},
				changed: []string{"email_verified", "name"}})

			// Organizations, members, roles.
			var org admin.Organization
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Acme"}).decode(t, &org)
			check(adminAuditWant{typ: admin.AuditOrganizationCreated, targetType: "organization", targetID: org.ID, orgID: org.ID,
				after: map[string]any{"slug": "acme", "name": "Acme"}})
			e.must(t, http.StatusOK, tok, "PATCH", "/organizations/"+org.ID, map[string]any{"brand_color": "#112233"})
			check(adminAuditWant{typ: admin.AuditOrganizationUpdated, targetType: "organization", targetID: org.ID, orgID: org.ID,
				before: map[string]any{"brand_color": ""}, after: map[string]any{"brand_color": "#112233"}, changed: []string{"brand_color"}})
			op1 := "/organizations/" + org.ID
			e.must(t, http.StatusCreated, tok, "POST", op1+"/members", map[string]any{"user_id": bob.ID, "role": "member"})
			check(adminAuditWant{typ: admin.AuditMembershipCreated, targetType: "membership", targetID: bob.ID, orgID: org.ID, userID: bob.ID,
				after: map[string]any{"role": "member"}})
			e.must(t, http.StatusOK, tok, "PATCH", op1+"/members/"+bob.ID, map[string]any{"role": "editor"})
			check(adminAuditWant{typ: admin.AuditMembershipUpdated, targetType: "membership", targetID: bob.ID, orgID: org.ID, userID: bob.ID,
				before: map[string]any{"role": "member"}, after: map[string]any{"role": "editor"}, changed: []string{"role"}})
			var role admin.Role
			e.must(t, http.StatusCreated, tok, "POST", op1+"/roles", map[string]any{"name": "billing", "permissions": []string{"org:billing:read"}}).decode(t, &role)
			check(adminAuditWant{typ: admin.AuditRoleCreated, targetType: "role", targetID: role.ID, orgID: org.ID,
				after: map[string]any{"name": "billing", "permissions": []string{"org:billing:read"}}})
			e.must(t, http.StatusOK, tok, "PATCH", op1+"/roles/billing", map[string]any{"description": "Invoices"})
			check(adminAuditWant{typ: admin.AuditRoleUpdated, targetType: "role", targetID: role.ID, orgID: org.ID,
				before: map[string]any{"description": ""}, after: map[string]any{"description": "Invoices"}, changed: []string{"description"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", op1+"/roles/billing", nil)
			check(adminAuditWant{typ: admin.AuditRoleDeleted, targetType: "role", targetID: role.ID, orgID: org.ID,
				before: map[string]any{"name": "billing", "description": "Invoices"}})

			// Invitations.
			var inv admin.Invitation
			e.must(t, http.StatusCreated, tok, "POST", op1+"/invitations", map[string]any{"email": "guest@example.com", "role": "member"}).decode(t, &inv)
			check(adminAuditWant{typ: admin.AuditInvitationCreated, targetType: "invitation", targetID: inv.ID, orgID: org.ID,
				after: map[string]any{"email": "guest@example.com", "role": "member", "status": "pending"}})
			e.must(t, http.StatusOK, tok, "POST", op1+"/invitations/"+inv.ID+"/resend", nil)
			check(adminAuditWant{typ: admin.AuditInvitationResent, targetType: "invitation", targetID: inv.ID, orgID: org.ID, changed: []string{"expires_at"}})
			storedInv, err := e.store.GetInvitation(ctx, inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			e.must(t, http.StatusNoContent, tok, "DELETE", op1+"/invitations/"+inv.ID, nil)
			check(adminAuditWant{typ: admin.AuditInvitationRevoked, targetType: "invitation", targetID: inv.ID, orgID: org.ID,
				before: map[string]any{"status": "pending"}, after: map[string]any{"status": "revoked"}})

			// SAML connections and domains.
			var conn admin.SAMLConnection
			e.must(t, http.StatusCreated, tok, "POST", op1+"/saml-connections", map[string]any{
				"name": "Corp IdP", "metadata": string(startSAMLIdP(t).metadata(t)),
			}).decode(t, &conn)
			created := check(adminAuditWant{typ: admin.AuditSAMLConnectionCreated, targetType: "saml_connection", targetID: conn.ID, orgID: org.ID,
				after: map[string]any{"name": "Corp IdP", "allow_idp_initiated": false}})
			if !strings.Contains(string(created.Details), "metadata_sha256") || strings.Contains(string(created.Details), "EntityDescriptor") {
				t.Errorf("SAML entry details %s: want the metadata's hash, not the document", created.Details)
			}
			cp := op1 + "/saml-connections/" + conn.ID
			e.must(t, http.StatusOK, tok, "PATCH", cp, map[string]any{"allow_idp_initiated": true})
			check(adminAuditWant{typ: admin.AuditSAMLConnectionUpdated, targetType: "saml_connection", targetID: conn.ID, orgID: org.ID,
				before: map[string]any{"allow_idp_initiated": false}, after: map[string]any{"allow_idp_initiated": true}, changed: []string{"allow_idp_initiated"}})
			var dom admin.SAMLDomain
			e.must(t, http.StatusCreated, tok, "POST", cp+"/domains", map[string]any{"domain": "corp.example"}).decode(t, &dom)
			check(adminAuditWant{typ: admin.AuditSAMLDomainAdded, targetType: "saml_domain", targetID: "corp.example", orgID: org.ID,
				after: map[string]any{"domain": "corp.example", "verified": false, "connection_id": conn.ID}})
			dns.set(dom.VerificationRecord.Name, dom.VerificationRecord.Value)
			e.must(t, http.StatusOK, tok, "POST", cp+"/domains/corp.example/verify", nil)
			check(adminAuditWant{typ: admin.AuditSAMLDomainVerified, targetType: "saml_domain", targetID: "corp.example", orgID: org.ID,
				before: map[string]any{"verified": false}, after: map[string]any{"verified": true}, changed: []string{"verified"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", cp+"/domains/corp.example", nil)
			check(adminAuditWant{typ: admin.AuditSAMLDomainRemoved, targetType: "saml_domain", targetID: "corp.example", orgID: org.ID,
				before: map[string]any{"domain": "corp.example", "verified": true}})
			storedConn, err := e.store.GetSAMLConnection(ctx, conn.ID)
			if err != nil {
				t.Fatal(err)
			}
			e.must(t, http.StatusNoContent, tok, "DELETE", cp, nil)
			check(adminAuditWant{typ: admin.AuditSAMLConnectionDeleted, targetType: "saml_connection", targetID: conn.ID, orgID: org.ID,
				before: map[string]any{"name": "Corp IdP"}})

			// Clients: the secret is in the answer, never in the log.
			var cl admin.Client
			e.must(t, http.StatusCreated, tok, "POST", "/clients", map[string]any{
				"name": "Reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"},
			}).decode(t, &cl)
			if cl.ClientSecret == "" {
				t.Fatal("no client secret in the create answer")
			}
			storedClient, err := e.store.GetClient(ctx, cl.ID)
			if err != nil {
				t.Fatal(err)
			}
			check(adminAuditWant{typ: admin.AuditClientCreated, targetType: "client", targetID: cl.ID,
				after: map[string]any{"name": "Reports", "grant_types": []string{"client_credentials"}}})
			e.must(t, http.StatusOK, tok, "PATCH", "/clients/"+cl.ID, map[string]any{"name": "Reports v2"})
			check(adminAuditWant{typ: admin.AuditClientUpdated, targetType: "client", targetID: cl.ID,
				before: map[string]any{"name": "Reports"}, after: map[string]any{"name": "Reports v2"}, changed: []string{"name"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", "/clients/"+cl.ID, nil)
			check(adminAuditWant{typ: admin.AuditClientDeleted, targetType: "client", targetID: cl.ID, before: map[string]any{"name": "Reports v2"}})

			// Webhooks: the secret is in the create answer only.
			var hook admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", "/webhooks", map[string]any{
				"url": "https://hooks.example.test/foyer", "event_types": []string{"user.*"}, "disabled": true,
			}).decode(t, &hook)
			if !strings.HasPrefix(hook.Secret, "whsec_") {
				t.Fatalf("webhook secret %q", hook.Secret)
			}
			storedHook, err := e.store.GetWebhookEndpoint(ctx, hook.ID)
			if err != nil {
				t.Fatal(err)
			}
			check(adminAuditWant{typ: admin.AuditWebhookCreated, targetType: "webhook", targetID: hook.ID,
				after: map[string]any{"url": "https://hooks.example.test/foyer", "event_types": []string{"user.*"}, "disabled": true}})
			e.must(t, http.StatusOK, tok, "PATCH", "/webhooks/"+hook.ID, map[string]any{"event_types": []string{"*"}})
			check(adminAuditWant{typ: admin.AuditWebhookUpdated, targetType: "webhook", targetID: hook.ID,
				before: map[string]any{"event_types": []string{"user.*"}}, after: map[string]any{"event_types": []string{"*"}}, changed: []string{"event_types"}})
			var orgHook admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", op1+"/webhooks", map[string]any{"url": "https://hooks.example.test/acme", "disabled": true}).decode(t, &orgHook)
			check(adminAuditWant{typ: admin.AuditWebhookCreated, targetType: "webhook", targetID: orgHook.ID, orgID: org.ID,
				after: map[string]any{"url": "https://hooks.example.test/acme", "org_id": org.ID}})
			e.must(t, http.StatusNoContent, tok, "DELETE", "/webhooks/"+hook.ID, nil)
			check(adminAuditWant{typ: admin.AuditWebhookDeleted, targetType: "webhook", targetID: hook.ID, before: map[string]any{"url": "https://hooks.example.test/foyer"}})

			// Upstream connections: the client secret is write-only.
			const upstreamSecret = "upstream-client-secret-value"
			var up admin.UpstreamConnection
			e.must(t, http.StatusCreated, tok, "POST", op1+"/upstream-connections", map[string]any{
				"type": "github", "name": "GitHub", "client_id": "gh-client", "client_secret": upstreamSecret,
			}).decode(t, &up)
			check(adminAuditWant{typ: admin.AuditUpstreamConnectionCreated, targetType: "upstream_connection", targetID: up.ID, orgID: org.ID,
				after: map[string]any{"type": "github", "name": "GitHub", "client_id": "gh-client"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", "/upstream-connections/"+up.ID, nil)
			check(adminAuditWant{typ: admin.AuditUpstreamConnectionDeleted, targetType: "upstream_connection", targetID: up.ID, orgID: org.ID,
				before: map[string]any{"name": "GitHub"}})

			// A person who is a Foyer admin acts as a user.
			root := e.createPerson(t, "root@example.com")
			if _, err := e.store.UpdateUser(ctx, root.ID, func(u storage.User) (storage.User, error) { u.Admin = true; return u, nil }); err != nil {
				t.Fatal(err)
			}
			rootTok, _ := e.personToken(t, root.Email, e.pass, admin.Scope)
			e.must(t, http.StatusOK, rootTok, "PATCH", "/organizations/"+org.ID, map[string]any{"name": "Acme Inc"})
			checkAudit(t, e.store, storage.ActorUser, root.ID, adminAuditWant{typ: admin.AuditOrganizationUpdated, targetType: "organization",
				targetID: org.ID, orgID: org.ID, before: map[string]any{"name": "Acme"}, after: map[string]any{"name": "Acme Inc"}, changed: []string{"name"}})

			// Sessions: bob signs in twice; one session ends, then all.
			e.personToken(t, bob.Email, password)
			e.personToken(t, bob.Email, password)
			var sessions admin.List[admin.Session]
			e.must(t, http.StatusOK, tok, "GET", "/users/"+bob.ID+"/sessions", nil).decode(t, &sessions)
			if len(sessions.Items) != 2 {
				t.Fatalf("bob's sessions = %+v", sessions)
			}
			sid := sessions.Items[0].SID
			e.must(t, http.StatusNoContent, tok, "DELETE", "/users/"+bob.ID+"/sessions/"+sid, nil)
			check(adminAuditWant{typ: admin.AuditSessionRevoked, targetType: "session", targetID: sid, userID: bob.ID, before: map[string]any{"sid": sid}})
			e.must(t, http.StatusNoContent, tok, "DELETE", "/users/"+bob.ID+"/sessions", nil)
			check(adminAuditWant{typ: admin.AuditSessionsRevoked, targetType: "user", targetID: bob.ID, userID: bob.ID,
				before: map[string]any{"sessions": []string{sessions.Items[1].SID}}})

			// Users are deleted last but one; bob's secrets were in play.
			storedBob, err := e.store.GetUser(ctx, bob.ID)
			if err != nil {
				t.Fatal(err)
			}
			e.must(t, http.StatusNoContent, tok, "DELETE", "/users/"+bob.ID, nil)
			check(adminAuditWant{typ: admin.AuditUserDeleted, targetType: "user", targetID: bob.ID, userID: bob.ID, before: map[string]any{"name": "Robert"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", op1, nil)
			check(adminAuditWant{typ: admin.AuditOrganizationDeleted, targetType: "organization", targetID: org.ID, orgID: org.ID,
				before: map[string]any{"slug": "acme"}})

			// Keys, last: the rotation and the revocation are the key
			// manager's transactions, recorded right after they succeed.
			var keys admin.List[admin.SigningKey]
			e.must(t, http.StatusOK, tok, "GET", "/keys", nil).decode(t, &keys)
			state := func(kid string) string {
				for _, k := range keys.Items {
					if k.KID == kid {
						return k.State
					}
				}
				return ""
			}
			var active, next string
			for _, k := range keys.Items {
				switch k.State {
				case "active":
					active = k.KID
				case "next":
					next = k.KID
				}
			}
			e.must(t, http.StatusOK, tok, "POST", "/keys/rotate", map[string]any{"force": true}).decode(t, &keys)
			check(adminAuditWant{typ: admin.AuditKeyRotated, targetType: "key", targetID: next,
				before: map[string]any{active: "active", next: "next"}, after: map[string]any{active: state(active), next: "active"}})
			if state(active) != "retired" {
				t.Errorf("after rotation %s is %q", active, state(active))
			}
			fresh := e.machineToken(t, e.operator, admin.Scope)
			e.must(t, http.StatusOK, fresh, "POST", "/keys/"+active+"/revoke", nil)
			check(adminAuditWant{typ: admin.AuditKeyRevoked, targetType: "key", targetID: active, before: map[string]any{active: "retired"}})

			// No secret anywhere in the log.
			all, err := json.Marshal(auditLogOf(t, e.store))
			if err != nil {
				t.Fatal(err)
			}
			log := string(all)
			hookKey := strings.TrimPrefix(hook.Secret, "whsec_")
			for what, secret := range map[string]string{
				"bob's password":               password,
				"bob's password hash":          storedBob.PasswordHash,
				"the client secret":            cl.ClientSecret,
				"the client secret hash":       storedClient.SecretHash,
				"the webhook secret":           hook.Secret,
				"the webhook key":              hookKey,
				"the sealed webhook secret":    base64.StdEncoding.EncodeToString(storedHook.Secret),
				"the invitation link hash":     storedInv.TokenHash,
				"the sealed SAML SP key":       base64.StdEncoding.EncodeToString(storedConn.SPKey),
				"the machine access token":     e.root,
				"the person's access token":    rootTok,
				"a PEM private key":            "PRIVATE KEY",
				"the operator's client secret": e.operator.secret,
				"the upstream client secret":   upstreamSecret,
			} {
				if secret == "" {
					t.Errorf("%s is empty: the check proves nothing", what)
					continue
				}
				if strings.Contains(log, secret) {
					t.Errorf("the audit log holds %s (AD-07)", what)
				}
			}
		})
	}
}

// failingAuditLog writes an entry of a chosen type and then fails, inside
// the transaction of the change: the change must roll back, and the entry
// with it — which it does only if both share the transaction.
type failingAuditLog struct {
	log storage.AuditLog
	mu  sync.Mutex
	typ string
}

func (f *failingAuditLog) failOn(typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typ = typ
}

var errInjected = errors.New("injected audit failure")

func (f *failingAuditLog) AppendAuditEntry(ctx context.Context, e storage.AuditEntry) error {
	f.mu.Lock()
	fail := e.Type == f.typ
	f.mu.Unlock()
	if err := f.log.AppendAuditEntry(ctx, e); err != nil || !fail {
		return err
	}
	return errInjected
}

func (f *failingAuditLog) ListAuditEntries(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEntry, error) {
	return f.log.ListAuditEntries(ctx, q)
}

func (f *failingAuditLog) DeleteAuditEntriesBefore(ctx context.Context, before time.Time) (int64, error) {
	return f.log.DeleteAuditEntriesBefore(ctx, before)
}

// TestAdminAuditAD07SameTransaction: a change and its audit entry commit
// or roll back together (AD-07). When the entry's write fails after the
// row was written, the request is a 500 and neither the change nor the
// entry remains; when the change fails, no entry is written.
func TestAdminAuditAD07SameTransaction(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			fail := &failingAuditLog{}
			e := adminEnvOn(t, newOIDCEnvWith(t, backend, "", seams{auditLog: func(l storage.AuditLog) storage.AuditLog {
				fail.log = l
				return fail
			}}))
			ctx := t.Context()
			tok := e.root
			bob := e.createPerson(t, "bob@example.com")
			e.personToken(t, bob.Email, e.pass) // a session to end
			var org admin.Organization
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Acme"}).decode(t, &org)
			var hook admin.Webhook
			e.must(t, http.StatusCreated, tok, "POST", "/webhooks", map[string]any{"url": "https://hooks.example.test/a", "disabled": true}).decode(t, &hook)

			for _, tc := range []struct {
				name, typ, method, path string
				body                    any
				unchanged               func() error // nil when nothing changed
			}{
				{"create a user", admin.AuditUserCreated, "POST", "/users", map[string]any{"email": "carol@example.com"}, func() error {
					if _, err := e.store.GetUserByEmail(ctx, "carol@example.com"); !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("carol exists: %v", err)
					}
					return nil
				}},
				{"rename a user", admin.AuditUserUpdated, "PATCH", "/users/" + bob.ID, map[string]any{"name": "Robert"}, func() error {
					if u, err := e.store.GetUser(ctx, bob.ID); err != nil || u.Name != bob.Name {
						return fmt.Errorf("bob = %+v, %v", u, err)
					}
					return nil
				}},
				{"end a person's sessions", admin.AuditSessionsRevoked, "DELETE", "/users/" + bob.ID + "/sessions", nil, func() error {
					if ss, err := e.store.ListBrowserSessions(ctx, bob.ID); err != nil || len(ss) != 1 {
						return fmt.Errorf("bob's sessions = %v, %v", ss, err)
					}
					return nil
				}},
				{"delete a user", admin.AuditUserDeleted, "DELETE", "/users/" + bob.ID, nil, func() error {
					if _, err := e.store.GetUser(ctx, bob.ID); err != nil {
						return fmt.Errorf("bob is gone: %v", err)
					}
					return nil
				}},
				{"create an organization", admin.AuditOrganizationCreated, "POST", "/organizations", map[string]any{"slug": "globex", "name": "Globex"}, func() error {
					if _, err := e.store.GetOrganizationBySlug(ctx, "globex"); !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("globex exists: %v", err)
					}
					return nil
				}},
				{"add a member", admin.AuditMembershipCreated, "POST", "/organizations/" + org.ID + "/members", map[string]any{"user_id": bob.ID, "role": "admin"}, func() error {
					if _, err := e.store.GetMembership(ctx, org.ID, bob.ID); !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("bob is a member: %v", err)
					}
					return nil
				}},
				{"create a role", admin.AuditRoleCreated, "POST", "/organizations/" + org.ID + "/roles", map[string]any{"name": "billing", "permissions": []string{}}, func() error {
					if _, err := e.store.GetRole(ctx, org.ID, "billing"); !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("the role exists: %v", err)
					}
					return nil
				}},
				{"invite", admin.AuditInvitationCreated, "POST", "/organizations/" + org.ID + "/invitations", map[string]any{"email": "guest@example.com", "role": "member"}, func() error {
					if is, err := e.store.ListInvitations(ctx, org.ID); err != nil || len(is) != 0 {
						return fmt.Errorf("invitations = %v, %v", is, err)
					}
					return nil
				}},
				{"register a client", admin.AuditClientCreated, "POST", "/clients", map[string]any{"client_id": "spy", "name": "Spy", "grant_types": []string{"client_credentials"}}, func() error {
					if _, err := e.store.GetClient(ctx, "spy"); !errors.Is(err, storage.ErrNotFound) {
						return fmt.Errorf("the client exists: %v", err)
					}
					return nil
				}},
				{"create a webhook", admin.AuditWebhookCreated, "POST", "/organizations/" + org.ID + "/webhooks", map[string]any{"url": "https://hooks.example.test/b"}, func() error {
					if es, err := e.store.ListWebhookEndpoints(ctx, org.ID); err != nil || len(es) != 0 {
						return fmt.Errorf("endpoints = %v, %v", es, err)
					}
					return nil
				}},
				{"disable a webhook", admin.AuditWebhookUpdated, "PATCH", "/webhooks/" + hook.ID, map[string]any{"description": "changed"}, func() error {
					if h, err := e.store.GetWebhookEndpoint(ctx, hook.ID); err != nil || h.Description != "" {
						return fmt.Errorf("endpoint = %+v, %v", h, err)
					}
					return nil
				}},
				{"delete a webhook", admin.AuditWebhookDeleted, "DELETE", "/webhooks/" + hook.ID, nil, func() error {
					_, err := e.store.GetWebhookEndpoint(ctx, hook.ID)
					return err
				}},
				{"delete an organization", admin.AuditOrganizationDeleted, "DELETE", "/organizations/" + org.ID, nil, func() error {
					_, err := e.store.GetOrganization(ctx, org.ID)
					return err
				}},
			} {
				before := len(auditOfType(t, e.store, tc.typ))
				fail.failOn(tc.typ)
				r := e.call(t, tok, tc.method, tc.path, tc.body)
				fail.failOn("")
				if r.status != http.StatusInternalServerError {
					t.Errorf("%s with a failing audit write = %d %s, want 500", tc.name, r.status, r)
				}
				if err := tc.unchanged(); err != nil {
					t.Errorf("%s: the change outlived its failed audit entry: %v", tc.name, err)
				}
				if after := len(auditOfType(t, e.store, tc.typ)); after != before {
					t.Errorf("%s: %d entries %s after the rollback, want %d", tc.name, after, tc.typ, before)
				}
			}

			// The other way round: a change that fails writes no entry.
			before := len(auditLogOf(t, e.store))
			e.must(t, http.StatusConflict, tok, "DELETE", "/organizations/"+org.ID+"/roles/member", nil)
			e.must(t, http.StatusBadRequest, tok, "PATCH", "/webhooks/"+hook.ID, map[string]any{"url": "ftp://x.example"})
			e.must(t, http.StatusBadRequest, tok, "POST", "/organizations/"+org.ID+"/webhooks", map[string]any{"url": "https://h.example", "event_types": []string{"nope"}})
			e.must(t, http.StatusBadRequest, tok, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Again"})
			if after := len(auditLogOf(t, e.store)); after != before {
				t.Errorf("failed changes wrote %d audit entries", after-before)
			}
		})
	}
}

// flip changes the base64url character at i of s to another one.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// auditPage is one page of /audit-events.
type auditPage = admin.List[admin.AuditEvent]

// walkAudit reads every page of path (which has a query) and returns the
// IDs in order.
func (e *adminEnv) walkAudit(t *testing.T, token, path string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 100 {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page auditPage
		e.must(t, http.StatusOK, token, "GET", p, nil).decode(t, &page)
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatalf("%s: more than 100 pages", path)
	return nil
}

// TestAdminAuditEventsListing: GET /audit-events and
// /organizations/{id}/audit-events page newest first through the whole
// log with MACed cursors (a forged one is a 400, AD-05), filter by time,
// actor, user, type and organization, refuse bad filters with a 400
// naming them; an organization admin reads their organization's entries
// only, and another organization's is a 404 (AD-02).
func TestAdminAuditEventsListing(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			tok := e.root
			var orgA, orgB admin.Organization
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "org-a", "name": "A"}).decode(t, &orgA)
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "org-b", "name": "B"}).decode(t, &orgB)
			adminA := e.createPerson(t, "admin-a@example.com")
			e.must(t, http.StatusCreated, tok, "POST", "/organizations/"+orgA.ID+"/members", map[string]any{"user_id": adminA.ID, "role": "admin"})
			// Signed in before the log is read: signing in is audited too.
			aTok, _ := e.personToken(t, adminA.Email, e.pass, admin.Scope)

			// 40 entries in the past, several sharing a time (ties break by
			// ID), spread over both organizations, two actors and types.
			base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			for i := range 40 {
				en := storage.AuditEntry{
					ID: storage.NewID(storage.PrefixAuditEntry), OccurredAt: base.Add(time.Duration(i/3) * time.Minute),
					Type: "signin.succeeded", ActorType: storage.ActorUser, ActorID: "usr_actor1", UserID: "usr_actor1",
					OrgID: orgA.ID, IP: "192.0.2.1", UserAgent: "test", Details: json.RawMessage(`{"method":"pwd"}`),
				}
				if i%2 == 1 {
					en.OrgID, en.Type, en.ActorID, en.UserID, en.Reason = orgB.ID, "signin.failed", "usr_actor2", "usr_actor2", "bad password"
				}
				if err := e.store.AppendAuditEntry(ctx, en); err != nil {
					t.Fatal(err)
				}
			}
			all := auditLogOf(t, e.store)
			var want []string
			for _, en := range all {
				want = append(want, en.ID)
			}

			// Every page, newest first, nothing twice, nothing missed.
			for _, limit := range []int{1, 7, 50} {
				if got := e.walkAudit(t, tok, fmt.Sprintf("/audit-events?limit=%d", limit)); !slices.Equal(got, want) {
					t.Errorf("limit %d: walked %d entries %v,\nwant %d %v", limit, len(got), got, len(want), want)
				}
			}
			var first auditPage
			e.must(t, http.StatusOK, tok, "GET", "/audit-events?limit=1", nil).decode(t, &first)
			it := first.Items[0]
			if it.ID != all[0].ID || it.Type != all[0].Type || it.Actor.Type != all[0].ActorType || it.Actor.ID != all[0].ActorID ||
				it.Target.Type != all[0].TargetType || it.OrganizationID != all[0].OrgID || !json.Valid(it.Details) {
				t.Errorf("first item %+v, want %+v", it, all[0])
			}
			var raw struct{ Items []map[string]any }
			e.must(t, http.StatusOK, tok, "GET", "/audit-events?limit=1&type=signin.failed", nil).decode(t, &raw)
			for _, f := range []string{"id", "occurred_at", "type", "actor", "user_id", "organization_id", "target", "ip", "user_agent", "reason", "details"} {
				if _, ok := raw.Items[0][f]; !ok {
					t.Errorf("item lacks %q: %v", f, raw.Items[0])
				}
			}
			if d, ok := raw.Items[0]["details"].(map[string]any); !ok || d["method"] != "pwd" {
				t.Errorf("details = %v, want the JSON object", raw.Items[0]["details"])
			}

			// Filters.
			filtered := func(keep func(storage.AuditEntry) bool) []string {
				var ids []string
				for _, en := range all {
					if keep(en) {
						ids = append(ids, en.ID)
					}
				}
				return ids
			}
			from, to := base.Add(2*time.Minute), base.Add(5*time.Minute)
			for _, tc := range []struct {
				query string
				keep  func(storage.AuditEntry) bool
			}{
				{"type=signin.failed", func(en storage.AuditEntry) bool { return en.Type == "signin.failed" }},
				{"actor=usr_actor1", func(en storage.AuditEntry) bool { return en.ActorID == "usr_actor1" }},
				{"actor=" + e.operator.id, func(en storage.AuditEntry) bool { return en.ActorID == e.operator.id }},
				{"user=usr_actor2", func(en storage.AuditEntry) bool { return en.UserID == "usr_actor2" }},
				{"organization=" + orgB.ID, func(en storage.AuditEntry) bool { return en.OrgID == orgB.ID }},
				{"type=admin.organization.created", func(en storage.AuditEntry) bool { return en.Type == admin.AuditOrganizationCreated }},
				{"from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339),
					func(en storage.AuditEntry) bool { return !en.OccurredAt.Before(from) && en.OccurredAt.Before(to) }},
				{"from=" + from.Format(time.RFC3339) + "&organization=" + orgA.ID + "&type=signin.succeeded",
					func(en storage.AuditEntry) bool {
						return !en.OccurredAt.Before(from) && en.OrgID == orgA.ID && en.Type == "signin.succeeded"
					}},
			} {
				wantIDs := filtered(tc.keep)
				if len(wantIDs) == 0 {
					t.Fatalf("%s: the fixture has no match", tc.query)
				}
				if got := e.walkAudit(t, tok, "/audit-events?limit=4&"+tc.query); !slices.Equal(got, wantIDs) {
					t.Errorf("%s: %v, want %v", tc.query, got, wantIDs)
				}
			}

			// Bad filters and cursors: 400 naming the parameter.
			var users admin.List[admin.User]
			e.must(t, http.StatusOK, tok, "GET", "/users?limit=1", nil).decode(t, &users)
			good := first.NextCursor
			for _, tc := range []struct{ query, field string }{
				{"from=yesterday", "from"},
				{"to=2025-13-01T00:00:00Z", "to"},
				{"from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z", "to"},
				{"type=" + url.QueryEscape("signin.failed' OR 1=1 --"), "type"},
				{"actor=" + url.QueryEscape("usr_x\x00"), "actor"},
				{"user=" + url.QueryEscape("a b"), "user"},
				{"organization=" + strings.Repeat("o", 300), "organization"},
				{"limit=0", "limit"},
				{"limit=201", "limit"},
				{"cursor=" + url.QueryEscape(flip(good, len(good)-1)), "cursor"}, // edited MAC (AD-05)
				{"cursor=" + url.QueryEscape(flip(good, 0)), "cursor"},           // edited position
				{"cursor=" + url.QueryEscape(users.NextCursor), "cursor"},        // another list's cursor
				{"cursor=" + url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte("2025-06-01T12:00:00Z aud_x"))+".AAAA"), "cursor"}, // made up
			} {
				r := e.call(t, tok, "GET", "/audit-events?"+tc.query, nil)
				if r.status != http.StatusBadRequest {
					t.Errorf("%s = %d %s, want 400", tc.query, r.status, r)
					continue
				}
				if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("%s: %+v, want an error naming %q", tc.query, p.Errors, tc.field)
				}
			}

			// An organization admin: their organization's entries only.
			e.must(t, http.StatusForbidden, aTok, "GET", "/audit-events", nil).problem(t)
			e.must(t, http.StatusForbidden, aTok, "GET", "/audit-events?organization="+orgA.ID, nil).problem(t)
			e.must(t, http.StatusNotFound, aTok, "GET", "/organizations/"+orgB.ID+"/audit-events", nil).problem(t) // AD-02
			e.must(t, http.StatusNotFound, aTok, "GET", "/organizations/org_nope/audit-events", nil).problem(t)
			wantA := filtered(func(en storage.AuditEntry) bool { return en.OrgID == orgA.ID })
			if got := e.walkAudit(t, aTok, "/organizations/"+orgA.ID+"/audit-events?limit=6"); !slices.Equal(got, wantA) {
				t.Errorf("org A's admin reads %v, want A's %v", got, wantA)
			}
			// organization= cannot widen the organization route.
			if got := e.walkAudit(t, aTok, "/organizations/"+orgA.ID+"/audit-events?limit=50&organization="+orgB.ID); !slices.Equal(got, wantA) {
				t.Errorf("org A's admin with organization=B reads %v, want A's %v", got, wantA)
			}
			// A Foyer admin reads any organization's.
			wantB := filtered(func(en storage.AuditEntry) bool { return en.OrgID == orgB.ID })
			if got := e.walkAudit(t, tok, "/organizations/"+orgB.ID+"/audit-events?limit=50"); !slices.Equal(got, wantB) {
				t.Errorf("Foyer admin reads B's %v, want %v", got, wantB)
			}
		})
	}
}
