package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/storage"
)

// TestManageCLI runs users list/delete, orgs list/members/set-role/
// remove-member, roles and invitations list/revoke through the binary on
// both backends: each command's happy path and its refusals.
func TestManageCLI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir, env := t.TempDir(), b.env(t)
			ok := func(v any, args ...string) {
				t.Helper()
				r := foyer(t, dir, env, append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
					t.Fatalf("foyer %v printed no JSON: %v\n%s", args, err, r.stdout)
				}
			}
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := foyer(t, dir, env, args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q",
						args, r.code, r.stdout, r.stderr, code, want)
				}
			}
			ids := func(list []map[string]any, key string) []string {
				var out []string
				for _, v := range list {
					out = append(out, v[key].(string))
				}
				return out
			}

			var alice, bob, acme, globex map[string]any
			ok(&alice, "users", "create", "--email", "alice@example.com", "--name", "Alice Liddell")
			ok(&bob, "users", "create", "--email", "bob@example.com", "--name", "Bob")
			ok(&acme, "orgs", "create", "--slug", "acme", "--name", "Acme")
			ok(&globex, "orgs", "create", "--slug", "globex", "--name", "Globex")
			var m map[string]any
			ok(&m, "orgs", "add-member", "--org", "acme", "--email", "alice@example.com", "--role", "admin")
			ok(&m, "orgs", "add-member", "--org", "acme", "--email", "bob@example.com", "--role", "member")

			// users list
			var users []map[string]any
			if ok(&users, "users", "list"); len(users) != 2 {
				t.Errorf("users list = %v, want alice and bob", users)
			}
			if ok(&users, "users", "list", "--q", "LIDDELL"); len(users) != 1 || users[0]["id"] != alice["id"] {
				t.Errorf("users list --q LIDDELL = %v, want alice", users)
			}
			if ok(&users, "users", "list", "--org", acme["id"].(string)); len(users) != 2 {
				t.Errorf("users list --org acme = %v, want both", users)
			}
			if ok(&users, "users", "list", "--org", "globex", "--q", "alice"); len(users) != 0 {
				t.Errorf("users list --org globex = %v, want none", users)
			}
			if r := foyer(t, dir, env, "users", "list", "--q", "bob"); r.code != 0 || !strings.HasPrefix(r.stdout, bob["id"].(string)) ||
				strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("users list --q bob without --json: exit %d, stdout %q", r.code, r.stdout)
			}
			fails(1, `org: no organization "nope"`, "users", "list", "--org", "nope")
			fails(2, `unknown command "bob"`, "users", "list", "bob")

			// orgs list, members
			var orgs []map[string]any
			if ok(&orgs, "orgs", "list"); len(orgs) != 2 || !jsonEqual(ids(orgs, "slug"), []string{"acme", "globex"}) &&
				!jsonEqual(ids(orgs, "slug"), []string{"globex", "acme"}) {
				t.Errorf("orgs list = %v", orgs)
			}
			var members []map[string]any
			ok(&members, "orgs", "members", "acme")
			if len(members) != 2 {
				t.Fatalf("orgs members acme = %v", members)
			}
			for _, mm := range members {
				if mm["org_slug"] != "acme" || (mm["email"] == "alice@example.com") != (mm["role"] == "admin") {
					t.Errorf("orgs members acme: %v", mm)
				}
			}
			fails(1, `org: no organization "org_nope"`, "orgs", "members", "org_nope")
			fails(2, "accepts 1 arg(s)", "orgs", "members")

			// roles
			var role map[string]any
			ok(&role, "roles", "create", "--org", "acme", "--name", "billing", "--permission", "org:billing:read",
				"--permission", "org:billing:manage", "--description", "Pays the bills")
			if role["name"] != "billing" || role["org_id"] != acme["id"] || role["builtin"] != false ||
				!jsonEqual(role["permissions"], []any{"org:billing:read", "org:billing:manage"}) {
				t.Errorf("roles create = %v", role)
			}
			var roles []map[string]any
			if ok(&roles, "roles", "list", "--org", "acme"); !jsonEqual(ids(roles, "name"), []string{"admin", "editor", "member", "billing"}) ||
				roles[0]["builtin"] != true {
				t.Errorf("roles list --org acme = %v", roles)
			}
			if ok(&roles, "roles", "list", "--org", "globex"); len(roles) != 3 {
				t.Errorf("roles list --org globex = %v, want the built-ins only", roles)
			}
			fails(1, `name: "billing" is already a role of acme`, "roles", "create", "--org", "acme", "--name", "billing", "--permission", "x")
			fails(1, `name: "admin" is already a role of acme`, "roles", "create", "--org", "acme", "--name", "admin", "--permission", "x")
			fails(1, `name: may contain only lowercase letters`, "roles", "create", "--org", "acme", "--name", "Billing Admin", "--permission", "x")
			fails(1, "permissions: lists a permission twice", "roles", "create", "--org", "acme", "--name", "twice", "--permission", "a", "--permission", "a")
			fails(1, `org: no organization "nope"`, "roles", "list", "--org", "nope")
			fails(2, "missing --permission", "roles", "create", "--org", "acme", "--name", "x")
			fails(2, "missing --org", "roles", "list")

			// orgs set-role
			ok(&m, "orgs", "set-role", "acme", "bob@example.com", "billing")
			if m["role"] != "billing" || m["user_id"] != bob["id"] || m["org_id"] != acme["id"] {
				t.Errorf("orgs set-role = %v", m)
			}
			fails(1, `role: "owner" is not a role of acme`, "orgs", "set-role", "acme", bob["id"].(string), "owner")
			fails(1, "user: bob@example.com is not a member of globex", "orgs", "set-role", "globex", "bob@example.com", "member")
			fails(1, `user: no user "carol@example.com"`, "orgs", "set-role", "acme", "carol@example.com", "member")
			fails(2, "accepts 3 arg(s)", "orgs", "set-role", "acme", "bob@example.com")

			// roles delete: built-in and in use are refused, with the reason.
			fails(1, `role: "admin" is a built-in role and cannot be deleted`, "roles", "delete", "--org", "acme", "admin")
			fails(1, `role: "billing" is still held by members of acme`, "roles", "delete", "--org", "acme", "billing")
			fails(1, `role: "billing" is not a custom role of globex`, "roles", "delete", "--org", "globex", "billing")

			// orgs remove-member, then the role can go.
			ok(&m, "orgs", "remove-member", "acme", "bob@example.com")
			if m["removed"] != true || m["user_id"] != bob["id"] {
				t.Errorf("orgs remove-member = %v", m)
			}
			fails(1, "user: bob@example.com is not a member of acme", "orgs", "remove-member", "acme", "bob@example.com")
			ok(&m, "roles", "delete", "--org", "acme", "billing")
			if m["deleted"] != true || m["name"] != "billing" {
				t.Errorf("roles delete = %v", m)
			}
			if ok(&roles, "roles", "list", "--org", "acme"); len(roles) != 3 {
				t.Errorf("roles list after delete = %v", roles)
			}

			// invitations list, revoke: one is stored directly (create and
			// resend are TestCLIInvitations', next to a running server).
			var invs []map[string]any
			if ok(&invs, "invitations", "list", "--org", "acme"); len(invs) != 0 {
				t.Errorf("invitations list (none) = %v", invs)
			}
			inv := storeInvitation(t, dir, env, acme["id"].(string), "dora@example.com")
			ok(&invs, "invitations", "list", "--org", "acme")
			if len(invs) != 1 || invs[0]["id"] != inv || invs[0]["status"] != "pending" || invs[0]["email"] != "dora@example.com" {
				t.Errorf("invitations list = %v", invs)
			}
			if _, leaked := invs[0]["token_hash"]; leaked {
				t.Error("invitations list prints the token hash")
			}
			fails(1, `invitation: no invitation "`+inv+`" to globex`, "invitations", "revoke", "--org", "globex", inv)
			var revoked map[string]any
			ok(&revoked, "invitations", "revoke", "--org", "acme", inv)
			if revoked["id"] != inv || revoked["status"] != "revoked" || revoked["revoked_at"] == nil {
				t.Errorf("invitations revoke = %v", revoked)
			}
			fails(1, "invitation: "+inv+" was already accepted or revoked", "invitations", "revoke", "--org", "acme", inv)
			fails(2, "missing --org", "invitations", "revoke", inv)

			// users delete
			ok(&m, "users", "delete", "bob@example.com")
			if m["id"] != bob["id"] || m["deleted"] != true {
				t.Errorf("users delete = %v", m)
			}
			if ok(&users, "users", "list"); len(users) != 1 || users[0]["id"] != alice["id"] {
				t.Errorf("users list after delete = %v", users)
			}
			fails(1, `user: no user "bob@example.com"`, "users", "delete", "bob@example.com")
			fails(2, "accepts 1 arg(s)", "users", "delete")
			// By ID; their membership goes with them.
			ok(&m, "users", "delete", alice["id"].(string))
			if ok(&members, "orgs", "members", "acme"); len(members) != 0 {
				t.Errorf("orgs members after deleting everyone = %v", members)
			}
		})
	}
}

// storeInvitation stores an open invitation in the database the binary
// uses in dir with env, and returns its ID.
func storeInvitation(t *testing.T, dir string, env []string, orgID, email string) string {
	t.Helper()
	db := config.Database{DataDir: filepath.Join(dir, "foyer-data")}
	for _, kv := range env {
		if url, ok := strings.CutPrefix(kv, "FOYER_DATABASE_URL="); ok {
			db.URL = url
		}
	}
	store, _, err := openStore(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	inv, err := store.CreateInvitation(t.Context(), storage.Invitation{
		ID: storage.NewID(storage.PrefixInvitation), OrgID: orgID, Email: email, Role: storage.RoleMember,
		TokenHash: storage.NewID("hash_"), InvitedBy: "test", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv.ID
}
