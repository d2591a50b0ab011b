package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// TestAdminInvitations: create, list, resend and revoke through the admin
// API, on both backends. The email goes to the SMTP server with a link
// built from the issuer (LG-09) whose token is stored only as a hash
// (ML-01); resending replaces the link; revoking ends it (410). Bad input
// is a 400 naming the field; an org admin invites into their own
// organization, with a custom role too.
func TestAdminInvitations(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			se := newSigninEnv(t, backend)
			e := adminEnvOn(t, se.oidcEnv)
			ctx := t.Context()
			acme, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			path := "/organizations/" + acme.ID + "/invitations"

			for _, tc := range []struct {
				body  map[string]any
				field string
			}{
				{map[string]any{"email": "new@example.com", "role": "owner"}, "role"},
				{map[string]any{"email": "new@example.com"}, "role"},
				{map[string]any{"email": "not an email", "role": "editor"}, "email"},
				{map[string]any{"email": "", "role": "editor"}, "email"},
			} {
				p := e.must(t, http.StatusBadRequest, e.root, "POST", path, tc.body).problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("POST %v = %+v, want a problem naming %q", tc.body, p, tc.field)
				}
			}

			var inv admin.Invitation
			r := e.must(t, http.StatusCreated, e.root, "POST", path, map[string]any{"email": "new@example.com", "role": "editor"})
			r.decode(t, &inv)
			if inv.Status != "pending" || inv.Email != "new@example.com" || inv.Role != "editor" || inv.OrgID != acme.ID ||
				r.header.Get("Location") != admin.Prefix+path+"/"+inv.ID || strings.Contains(r.String(), "token") {
				t.Errorf("created invitation = %s (Location %q)", r, r.header.Get("Location"))
			}
			m := se.mail.Wait(t, 1)[0]
			link := m.Link(t)
			if m.To != "new@example.com" || !strings.HasPrefix(link, e.issuer+"/invitations/accept?token=") || !strings.Contains(m.Text, "Acme") {
				t.Fatalf("LG-09: invitation email to %s with link %s:\n%s", m.To, link, m.Text)
			}
			token := strings.TrimPrefix(link, e.issuer+"/invitations/accept?token=")
			stored, err := e.store.GetInvitation(ctx, inv.ID)
			if err != nil || stored.TokenHash == "" || strings.Contains(stored.TokenHash, token) {
				t.Errorf("ML-01: stored invitation %+v keeps the token %q", stored, token)
			}

			var list admin.List[admin.Invitation]
			e.must(t, http.StatusOK, e.root, "GET", path, nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != inv.ID || list.Total == nil || *list.Total != 1 {
				t.Errorf("list = %+v", list)
			}

			b := newBrowser(t)
			if r := se.fetch(t, b, "GET", linkPath(t, link), nil); r.status != http.StatusOK {
				t.Errorf("GET the link = %v", r)
			}
			e.must(t, http.StatusOK, e.root, "POST", path+"/"+inv.ID+"/resend", nil)
			newLink := se.mail.Wait(t, 2)[1].Link(t)
			if newLink == link {
				t.Error("resend sent the same link")
			}
			if r := se.fetch(t, b, "GET", linkPath(t, link), nil); r.status != http.StatusBadRequest {
				t.Errorf("the old link after a resend = %d, want 400", r.status)
			}
			if r := se.fetch(t, b, "GET", linkPath(t, newLink), nil); r.status != http.StatusOK {
				t.Errorf("the new link = %d, want 200", r.status)
			}

			e.must(t, http.StatusNoContent, e.root, "DELETE", path+"/"+inv.ID, nil)
			e.must(t, http.StatusConflict, e.root, "DELETE", path+"/"+inv.ID, nil).problem(t)
			e.must(t, http.StatusConflict, e.root, "POST", path+"/"+inv.ID+"/resend", nil).problem(t)
			e.must(t, http.StatusNotFound, e.root, "DELETE", path+"/inv_unknown", nil).problem(t)
			if r := se.fetch(t, b, "GET", linkPath(t, newLink), nil); r.status != http.StatusGone {
				t.Errorf("the link after revoking = %d, want 410", r.status)
			}

			// An org admin invites into their organization, with a custom role.
			boss := e.createPerson(t, "boss@example.com")
			if _, err := e.store.CreateMembership(ctx, storage.Membership{OrgID: acme.ID, UserID: boss.ID, Role: "admin"}); err != nil {
				t.Fatal(err)
			}
			tok, _ := e.personToken(t, boss.Email, e.pass, admin.Scope)
			e.must(t, http.StatusCreated, tok, "POST", "/organizations/"+acme.ID+"/roles", map[string]any{"name": "billing", "permissions": []string{"org:billing:read"}})
			e.must(t, http.StatusCreated, tok, "POST", path, map[string]any{"email": "Clerk@example.com", "role": "billing"}).decode(t, &inv)
			if inv.InvitedBy != boss.ID {
				t.Errorf("invited_by = %q, want the org admin %q", inv.InvitedBy, boss.ID)
			}
			if m := se.mail.Wait(t, 3)[2]; m.To != "Clerk@example.com" || !strings.Contains(m.Text, boss.Name) {
				t.Errorf("the org admin's invitation email to %s:\n%s", m.To, m.Text)
			}
			e.must(t, http.StatusOK, tok, "GET", path, nil).decode(t, &list)
			if len(list.Items) != 2 || list.Items[0].Status != "pending" || list.Items[1].Status != "revoked" {
				t.Errorf("list: want the open invitation first, then the revoked one: %+v", list.Items)
			}
		})
	}
}

// TestCLIInvitations: `foyer invitations create` and `resend` work on the
// database of a running server, on both backends. The email is queued in
// the outbox and the server's mail worker sends it; the server accepts the
// link, so both hash link tokens with one key. Bad input fails naming the
// field, and nothing is queued for it.
func TestCLIInvitations(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			se := newSigninEnv(t, backend)
			ctx := t.Context()
			if _, err := idp.NewDirectory(idp.Options{Store: se.store}).CreateOrganization(ctx, "acme", "Acme"); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			env := append(slices.Clone(se.dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey, "FOYER_ISSUER="+se.issuer)
			cli := func(args ...string) result { return foyer(t, dir, env, append([]string{"invitations"}, args...)...) }

			for _, tc := range []struct{ email, role, field string }{
				{"new@example.com", "owner", "role"},
				{"not an email", "editor", "email"},
			} {
				r := cli("create", "--org", "acme", "--email", tc.email, "--role", tc.role)
				if r.code != 1 || !strings.Contains(r.stderr, tc.field+": ") || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("invitations create %+v: exit %d, stderr %q; want exit 1 and one line naming %s", tc, r.code, r.stderr, tc.field)
				}
			}

			r := cli("create", "--org", "acme", "--email", "new@example.com", "--role", "editor", "--json")
			var inv admin.Invitation
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &inv) != nil || inv.Status != "pending" || inv.Role != "editor" ||
				inv.InvitedBy != "cli" || strings.Contains(r.stdout, "token") {
				t.Fatalf("invitations create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			m := se.mail.Wait(t, 1)[0]
			link := m.Link(t)
			if m.To != "new@example.com" || !strings.HasPrefix(link, se.issuer+"/invitations/accept?token=") || !strings.Contains(m.Text, "Acme") {
				t.Fatalf("invitation email to %s with link %s:\n%s", m.To, link, m.Text)
			}
			b := newBrowser(t)
			if r := se.fetch(t, b, "GET", linkPath(t, link), nil); r.status != http.StatusOK || !strings.Contains(r.body, "Acme") {
				t.Errorf("the server opens the CLI's link: %d\n%s", r.status, r.body)
			}

			if r := cli("resend", "--org", "acme", inv.ID); r.code != 0 || !strings.Contains(r.stdout, inv.ID) {
				t.Fatalf("invitations resend: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			newLink := se.mail.Wait(t, 2)[1].Link(t)
			if r := se.fetch(t, b, "GET", linkPath(t, link), nil); r.status != http.StatusBadRequest {
				t.Errorf("the old link after a resend = %d, want 400", r.status)
			}
			if r := se.fetch(t, b, "GET", linkPath(t, newLink), nil); r.status != http.StatusOK {
				t.Errorf("the resent link = %d, want 200", r.status)
			}
			if r := cli("resend", "--org", "acme", "inv_unknown"); r.code != 1 || !strings.Contains(r.stderr, `no invitation "inv_unknown" to acme`) {
				t.Errorf("resend of an unknown invitation: exit %d, stderr %q", r.code, r.stderr)
			}
			if got := len(se.mail.Messages()); got != 2 {
				t.Errorf("%d emails sent, want 2 (none for the refused invitations)", got)
			}
		})
	}
}
