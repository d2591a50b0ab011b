package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// TestCLIAuditAD07: every command that changes the database records its
// change in the audit log with the actor "cli" (AD-07), on both backends,
// with the admin API's type, target and organization for the same change,
// so one filter finds both; a command that fails records nothing, and no
// entry holds a password, hash, client secret, private key or metadata.
// The log is read from the binary's database.
func TestCLIAuditAD07(t *testing.T) {
	md := startSAMLIdP(t).metadata(t)
	mdSum := sha256.Sum256(md)
	const password = "correct horse battery staple"

	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			env := append(b.env(t), "FOYER_ENCRYPTION_KEY="+testEncryptionKey)
			mdFile := filepath.Join(dir, "idp.xml")
			if err := os.WriteFile(mdFile, md, 0o600); err != nil {
				t.Fatal(err)
			}
			store := openCLIStore(t, dir, env)
			// v holds the IDs the steps print; {name} in a step stands for v[name].
			v := map[string]string{"md": mdFile}
			secrets := []string{password}
			expand := func(s string) string {
				for k, val := range v {
					s = strings.ReplaceAll(s, "{"+k+"}", val)
				}
				return s
			}
			seen := map[string]bool{}
			newEntries := func() []storage.AuditEntry {
				t.Helper()
				all, err := store.ListAuditEntries(ctx, storage.AuditQuery{Limit: storage.MaxPageLimit})
				if err != nil {
					t.Fatal(err)
				}
				var out []storage.AuditEntry
				for _, e := range all {
					if !seen[e.ID] {
						seen[e.ID] = true
						out = append(out, e)
					}
				}
				return out
			}

			steps := []struct {
				args []string
				// before runs first: data the command needs that no command makes.
				before func()
				// save keeps fields of the JSON output in v (name → field).
				save map[string]string
				// code is the exit code wanted, 1 when typ is "" (a failure).
				code int
				// The entry wanted; typ "" wants none.
				typ, targetType, targetID, org, user string
			}{
				{args: []string{"users", "create", "--email", "alice@example.com", "--password", password, "--name", "Alice"}, save: map[string]string{"alice": "id"},
					typ: admin.AuditUserCreated, targetType: admin.TargetUser, targetID: "{alice}", user: "{alice}"},
				{args: []string{"users", "create", "--email", "ALICE@example.com", "--password", password}, code: 1}, // taken
				{args: []string{"users", "create", "--email", "bob@example.com"}, save: map[string]string{"bob": "id"},
					typ: admin.AuditUserCreated, targetType: admin.TargetUser, targetID: "{bob}", user: "{bob}"},

				{args: []string{"orgs", "create", "--slug", "acme", "--name", "Acme"}, save: map[string]string{"org": "id"},
					typ: admin.AuditOrganizationCreated, targetType: admin.TargetOrganization, targetID: "{org}", org: "{org}"},
				{args: []string{"orgs", "create", "--slug", "acme", "--name", "Acme again"}, code: 1},
				{args: []string{"orgs", "update", "acme", "--name", "Acme Inc.", "--brand-color", "#112233"},
					typ: admin.AuditOrganizationUpdated, targetType: admin.TargetOrganization, targetID: "{org}", org: "{org}"},
				{args: []string{"orgs", "update", "acme", "--brand-color", "red"}, code: 1},
				{args: []string{"orgs", "update", "nope", "--name", "Nope"}, code: 1},

				{args: []string{"orgs", "add-member", "--org", "acme", "--email", "alice@example.com", "--role", "member"},
					typ: admin.AuditMembershipCreated, targetType: admin.TargetMembership, targetID: "{alice}", org: "{org}", user: "{alice}"},
				{args: []string{"orgs", "add-member", "--org", "acme", "--email", "alice@example.com", "--role", "admin"}, code: 1},
				{args: []string{"orgs", "set-role", "acme", "alice@example.com", "admin"},
					typ: admin.AuditMembershipUpdated, targetType: admin.TargetMembership, targetID: "{alice}", org: "{org}", user: "{alice}"},
				{args: []string{"orgs", "set-role", "acme", "alice@example.com", "owner"}, code: 1},

				{args: []string{"roles", "create", "--org", "acme", "--name", "billing", "--permission", "org:billing:read"}, save: map[string]string{"role": "id"},
					typ: admin.AuditRoleCreated, targetType: admin.TargetRole, targetID: "{role}", org: "{org}"},
				{args: []string{"roles", "create", "--org", "acme", "--name", "billing", "--permission", "org:billing:write"}, code: 1},
				{args: []string{"orgs", "add-member", "--org", "acme", "--email", "bob@example.com", "--role", "billing"},
					typ: admin.AuditMembershipCreated, targetType: admin.TargetMembership, targetID: "{bob}", org: "{org}", user: "{bob}"},
				{args: []string{"roles", "delete", "--org", "acme", "billing"}, code: 1}, // bob holds it
				{args: []string{"orgs", "remove-member", "acme", "bob@example.com"},
					typ: admin.AuditMembershipDeleted, targetType: admin.TargetMembership, targetID: "{bob}", org: "{org}", user: "{bob}"},
				{args: []string{"orgs", "remove-member", "acme", "bob@example.com"}, code: 1},
				{args: []string{"roles", "delete", "--org", "acme", "billing"},
					typ: admin.AuditRoleDeleted, targetType: admin.TargetRole, targetID: "{role}", org: "{org}"},
				{args: []string{"roles", "delete", "--org", "acme", "billing"}, code: 1},

				{args: []string{"invitations", "create", "--org", "acme", "--email", "carol@example.com", "--role", "member"}, save: map[string]string{"inv": "id"},
					typ: admin.AuditInvitationCreated, targetType: admin.TargetInvitation, targetID: "{inv}", org: "{org}"},
				{args: []string{"invitations", "revoke", "--org", "acme", "{inv}"},
					typ: admin.AuditInvitationRevoked, targetType: admin.TargetInvitation, targetID: "{inv}", org: "{org}"},
				{args: []string{"invitations", "revoke", "--org", "acme", "{inv}"}, code: 1},

				{args: []string{"clients", "create", "--name", "App", "--redirect-uri", "https://app.example.test/cb", "--grant-type", "authorization_code"},
					save: map[string]string{"client": "client_id", "secret": "client_secret"},
					typ:  admin.AuditClientCreated, targetType: admin.TargetClient, targetID: "{client}"},
				{args: []string{"clients", "create", "--id", "{client}", "--name", "Again", "--redirect-uri", "https://app.example.test/cb", "--grant-type", "authorization_code"}, code: 1},
				{args: []string{"clients", "update", "{client}", "--name", "App 2", "--scope", "openid"},
					typ: admin.AuditClientUpdated, targetType: admin.TargetClient, targetID: "{client}"},
				{args: []string{"clients", "update", "{client}", "--redirect-uri", "http://app.example.test/cb"}, code: 1},
				{args: []string{"consents", "revoke", "--user", "alice@example.com", "--client", "{client}"},
					before: func() {
						if _, err := store.SaveConsent(ctx, storage.Consent{UserID: v["alice"], ClientID: v["client"], Scopes: []string{"openid"}, GrantedAt: time.Now()}); err != nil {
							t.Fatal(err)
						}
					},
					typ: admin.AuditConsentRevoked, targetType: admin.TargetConsent, targetID: "{client}", user: "{alice}"},
				{args: []string{"consents", "revoke", "--user", "alice@example.com", "--client", "{client}"}, code: 1},

				{args: []string{"saml", "create", "--org", "acme", "--name", "Corp", "--metadata-file", "{md}"}, save: map[string]string{"saml": "id"},
					typ: admin.AuditSAMLConnectionCreated, targetType: admin.TargetSAMLConnection, targetID: "{saml}", org: "{org}"},
				// Fetched outside a transaction: an unreadable URL fails before any write.
				{args: []string{"saml", "create", "--org", "acme", "--name", "Corp 2", "--metadata-url", "http://127.0.0.1:9/metadata"}, code: 1},
				{args: []string{"saml", "add-domain", "{saml}", "corp.example"},
					typ: admin.AuditSAMLDomainAdded, targetType: admin.TargetSAMLDomain, targetID: "corp.example", org: "{org}"},
				{args: []string{"saml", "add-domain", "{saml}", "Corp.Example"}, code: 1},
				{args: []string{"saml", "verify-domain", "{saml}", "corp.example"}, code: 1}, // no TXT record
				{args: []string{"saml", "add-domain", "{saml}", "verified.example", "--verified"},
					typ: admin.AuditSAMLDomainAdded, targetType: admin.TargetSAMLDomain, targetID: "verified.example", org: "{org}"},
				{args: []string{"saml", "verify-domain", "{saml}", "verified.example"}}, // verified already: no change, no entry
				{args: []string{"saml", "delete", "{saml}"},
					before: func() {
						c, err := store.GetSAMLConnection(ctx, v["saml"])
						if err != nil {
							t.Fatal(err)
						}
						secrets = append(secrets, base64.StdEncoding.EncodeToString(c.SPKey), hex.EncodeToString(c.SPKey))
					},
					typ: admin.AuditSAMLConnectionDeleted, targetType: admin.TargetSAMLConnection, targetID: "{saml}", org: "{org}"},
				{args: []string{"saml", "delete", "{saml}"}, code: 1},

				{args: []string{"clients", "delete", "{client}"},
					before: func() {
						c, err := store.GetClient(ctx, v["client"])
						if err != nil {
							t.Fatal(err)
						}
						secrets = append(secrets, v["secret"], c.SecretHash)
					},
					typ: admin.AuditClientDeleted, targetType: admin.TargetClient, targetID: "{client}"},
				{args: []string{"clients", "delete", "{client}"}, code: 1},

				// Rotation records key.rotated (not admin.…), as before.
				{args: []string{"keys", "rotate", "--force"}, typ: audit.KeyRotated, targetType: "signing_key", targetID: "{active}"},
				{args: []string{"keys", "revoke", "{retired}"},
					before: func() {
						ks, err := store.ListSigningKeys(ctx)
						if err != nil {
							t.Fatal(err)
						}
						for _, k := range ks {
							if k.State == storage.KeyRetired {
								v["retired"] = k.ID
							}
						}
					},
					typ: admin.AuditKeyRevoked, targetType: admin.TargetKey, targetID: "{retired}"},
				{args: []string{"keys", "revoke", "{retired}"}, code: 1},

				{args: []string{"users", "delete", "bob@example.com"},
					typ: admin.AuditUserDeleted, targetType: admin.TargetUser, targetID: "{bob}", user: "{bob}"},
				{args: []string{"users", "delete", "bob@example.com"}, code: 1},
			}

			for _, s := range steps {
				if s.before != nil {
					s.before()
				}
				args := make([]string, len(s.args))
				for i, a := range s.args {
					args[i] = expand(a)
				}
				r := foyer(t, dir, env, append(args, "--json")...)
				if r.code != s.code {
					t.Fatalf("foyer %v: exit %d, stderr %q; want exit %d", args, r.code, r.stderr, s.code)
				}
				if r.code == 0 {
					var out any
					if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
						t.Fatalf("foyer %v printed %q: %v", args, r.stdout, err)
					}
					for name, field := range s.save {
						val, _ := out.(map[string]any)[field].(string)
						if val == "" {
							t.Fatalf("foyer %v printed no %s: %s", args, field, r.stdout)
						}
						v[name] = val
					}
				}
				if args[0] == "keys" && args[1] == "rotate" {
					ks, err := store.ListSigningKeys(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for _, k := range ks {
						if k.State == storage.KeyActive {
							v["active"] = k.ID
						}
					}
				}

				es := newEntries()
				if s.typ == "" {
					if len(es) != 0 {
						t.Errorf("foyer %v (exit %d) recorded %+v; want no entry", args, r.code, es)
					}
					continue
				}
				if len(es) != 1 {
					t.Errorf("foyer %v recorded %d entries %+v; want one", args, len(es), es)
					continue
				}
				e := es[0]
				want := storage.AuditEntry{ID: e.ID, OccurredAt: e.OccurredAt, Type: s.typ, ActorType: storage.ActorCLI,
					TargetType: s.targetType, TargetID: expand(s.targetID), OrgID: expand(s.org), UserID: expand(s.user), Details: e.Details}
				if e.Type != want.Type || e.ActorType != want.ActorType || e.ActorID != "" || e.TargetType != want.TargetType ||
					e.TargetID != want.TargetID || e.OrgID != want.OrgID || e.UserID != want.UserID || want.TargetID == "" {
					t.Errorf("foyer %v recorded\n %+v\nwant\n %+v", args, e, want)
				}
				var details map[string]any
				if err := json.Unmarshal(e.Details, &details); err != nil || (details["before"] == nil && details["after"] == nil && s.typ != audit.KeyRotated) {
					t.Errorf("foyer %v: details %s; want before or after", args, e.Details)
				}
				if s.typ == admin.AuditSAMLConnectionCreated {
					after, _ := details["after"].(map[string]any)
					if after["metadata_sha256"] != hex.EncodeToString(mdSum[:]) || after["name"] != "Corp" {
						t.Errorf("saml create details %s; want the metadata's SHA-256 and the name", e.Details)
					}
				}
			}

			// No entry, of any step, holds a secret.
			alice, err := store.GetUser(ctx, v["alice"])
			if err != nil || alice.PasswordHash == "" {
				t.Fatalf("alice: %+v, %v", alice, err)
			}
			secrets = append(secrets, alice.PasswordHash)
			all, err := store.ListAuditEntries(ctx, storage.AuditQuery{Limit: storage.MaxPageLimit})
			if err != nil {
				t.Fatal(err)
			}
			recorded := 0
			for _, s := range steps {
				if s.typ != "" {
					recorded++
				}
			}
			if len(all) != recorded {
				t.Errorf("%d entries in the log, want %d: one a change", len(all), recorded)
			}
			b, _ := json.Marshal(all)
			logged := string(b)
			for _, s := range slices.Concat(secrets, []string{string(md), "EntityDescriptor", "X509Certificate", "password_hash", "secret_hash"}) {
				if s != "" && strings.Contains(logged, s) {
					t.Errorf("the audit log holds %.40q", s)
				}
			}
			if !strings.Contains(logged, hex.EncodeToString(mdSum[:])) {
				t.Error("the audit log lacks the metadata's SHA-256")
			}
		})
	}
}
