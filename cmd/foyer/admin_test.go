package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	ssosaml "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/storage"
)

// adminEnv is a running Foyer with the clients the admin API tests use.
type adminEnv struct {
	*oidcEnv
	operator *client // client_credentials with foyer:admin
	console  *client // first-party code-flow client that may ask for foyer:admin
	root     string  // an access token of operator
}

func newAdminEnv(t *testing.T, backend string) *adminEnv {
	t.Helper()
	return adminEnvOn(t, newOIDCEnv(t, backend))
}

// adminEnvOn adds the admin API's clients to a running Foyer.
func adminEnvOn(t *testing.T, env *oidcEnv) *adminEnv {
	t.Helper()
	e := &adminEnv{oidcEnv: env}
	reg := testRegistrar(e.store)
	op, secret, err := reg.Create(t.Context(), clients.NewClient{
		Name: "Operator", GrantTypes: []string{"client_credentials"}, Scopes: []string{admin.Scope},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.operator = &client{op.ID, secret}
	con, secret, err := reg.Create(t.Context(), clients.NewClient{
		Name: "Console", RedirectURIs: []string{callback}, FirstParty: true,
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "org", admin.Scope},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.console = &client{con.ID, secret}
	e.root = e.machineToken(t, e.operator, admin.Scope)
	return e
}

func (e *adminEnv) machineToken(t *testing.T, c *client, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: e.issuer + "/oauth2/token", Scopes: scopes}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatalf("client_credentials for %s: %v", c.id, err)
	}
	return tok.AccessToken
}

// personToken signs email in through the console client and returns the
// access token and the ID token.
func (e *adminEnv) personToken(t *testing.T, email, pass string, scopes ...string) (access, id string) {
	t.Helper()
	as := *e.oidcEnv
	as.email, as.pass = email, pass
	conf := oauth2.Config{ClientID: e.console.id, ClientSecret: e.console.secret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize", TokenURL: e.issuer + "/oauth2/token"},
		Scopes:   append([]string{"openid"}, scopes...)}
	verifier := oauth2.GenerateVerifier()
	loc := as.signIn(t, newBrowser(t), conf.AuthCodeURL("state-admin-1", oauth2.S256ChallengeOption(verifier)), false)
	tok, err := conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange for %s: %v", email, err)
	}
	id, _ = tok.Extra("id_token").(string)
	return tok.AccessToken, id
}

// createPerson stores a user with a password, as the CLI would.
func (e *adminEnv) createPerson(t *testing.T, email string) storage.User {
	t.Helper()
	u, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateUser(t.Context(), idp.NewUser{
		Email: email, Password: e.pass, Name: "Person " + email, EmailVerified: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// apiReply is an admin API answer.
type apiReply struct {
	status int
	header http.Header
	body   []byte
}

func (r apiReply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem-details answer, checking its media type and
// that its status matches the response's.
func (r apiReply) problem(t *testing.T) admin.Problem {
	t.Helper()
	var p admin.Problem
	r.decode(t, &p)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || p.Status != r.status || p.Title == "" || p.Type == "" {
		t.Errorf("problem = %s (Content-Type %q, status %d), want an RFC 9457 body", r.body, ct, r.status)
	}
	return p
}

func (r apiReply) String() string { return string(r.body) }

// call sends body (a string is sent as is, anything else as JSON) with
// token as the bearer.
func (e *adminEnv) call(t *testing.T, token, method, path string, body any) apiReply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.issuer+admin.Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return apiReply{status: resp.StatusCode, header: resp.Header, body: []byte(read(t, resp))}
}

// must calls and fails the test unless the status is want.
func (e *adminEnv) must(t *testing.T, want int, token, method, path string, body any) apiReply {
	t.Helper()
	r := e.call(t, token, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r, want)
	}
	return r
}

// TestAdminAD01Authentication: who may call the admin API (SECURITY.md
// AD-01), on both backends.
func TestAdminAD01Authentication(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			alice, err := e.store.GetUserByEmail(ctx, e.email)
			if err != nil {
				t.Fatal(err)
			}
			aliceToken, aliceID := e.personToken(t, e.email, e.pass, admin.Scope)
			aliceNoScope, _ := e.personToken(t, e.email, e.pass)

			revoked := e.machineToken(t, e.operator, admin.Scope)
			req, _ := http.NewRequest("POST", e.issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {revoked}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.operator.id, e.operator.secret)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
				t.Fatalf("revoke = %v, %v", resp, err)
			}

			for _, tc := range []struct {
				name, token string
				want        int
			}{
				{"no token", "", http.StatusUnauthorized},
				{"not a token", "not-a-token", http.StatusUnauthorized},
				{"a forged JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", http.StatusUnauthorized},
				{"an ID token", aliceID, http.StatusUnauthorized},
				{"a revoked token", revoked, http.StatusUnauthorized},
				{"a machine token without foyer:admin", e.machineToken(t, e.machine, "reports:read"), http.StatusForbidden},
				{"a person who is no admin", aliceToken, http.StatusForbidden},
				{"a machine token with foyer:admin", e.root, http.StatusOK},
			} {
				r := e.call(t, tc.token, "GET", "/users", nil)
				if r.status != tc.want {
					t.Errorf("%s: GET /users = %d %s, want %d", tc.name, r.status, r, tc.want)
					continue
				}
				if r.status == http.StatusOK {
					continue
				}
				r.problem(t)
				if r.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", tc.name, r.header.Get("WWW-Authenticate"))
				}
			}

			// Authority is read on every request: made a Foyer admin, alice's
			// token works at once; a token without the scope still does not.
			if _, err := e.store.UpdateUser(ctx, alice.ID, func(u storage.User) (storage.User, error) {
				u.Admin = true
				return u, nil
			}); err != nil {
				t.Fatal(err)
			}
			e.must(t, http.StatusOK, aliceToken, "GET", "/users/"+alice.ID, nil)
			if r := e.call(t, aliceNoScope, "GET", "/users", nil); r.status != http.StatusForbidden {
				t.Errorf("a Foyer admin's token without %s: %d %s, want 403", admin.Scope, r.status, r)
			}
		})
	}
}

// TestAdminUsersAndOrganizations drives every resource through its happy
// path and its bad input, on both backends.
func TestAdminUsersAndOrganizations(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.root

			var bob admin.User
			r := e.must(t, http.StatusCreated, tok, "POST", "/users", map[string]any{
				"email": "bob@example.com", "name": "Bob Builder", "password": "a long enough password",
			})
			r.decode(t, &bob)
			if bob.ID == "" || bob.Email != "bob@example.com" || bob.Admin || r.header.Get("Location") != admin.Prefix+"/users/"+bob.ID {
				t.Errorf("created %+v at %q", bob, r.header.Get("Location"))
			}
			if strings.Contains(r.String(), "password") {
				t.Errorf("the user resource shows a password: %s", r)
			}
			e.must(t, http.StatusCreated, tok, "POST", "/users", map[string]any{"email": "carol@other.org", "name": "Carol"})

			// Search, filters, total and MACed cursors.
			var list admin.List[admin.User]
			e.must(t, http.StatusOK, tok, "GET", "/users?q=BUILDER", nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != bob.ID || list.Total == nil || *list.Total != 1 {
				t.Errorf("search by name = %+v", list)
			}
			list = admin.List[admin.User]{}
			e.must(t, http.StatusOK, tok, "GET", "/users?limit=2", nil).decode(t, &list)
			if len(list.Items) != 2 || *list.Total != 3 || list.NextCursor == "" {
				t.Fatalf("first page of 2 = %+v", list)
			}
			var rest admin.List[admin.User]
			e.must(t, http.StatusOK, tok, "GET", "/users?limit=2&cursor="+url.QueryEscape(list.NextCursor), nil).decode(t, &rest)
			if len(rest.Items) != 1 || rest.NextCursor != "" || rest.Items[0].ID <= list.Items[1].ID {
				t.Errorf("second page = %+v after %+v", rest, list)
			}

			e.must(t, http.StatusOK, tok, "GET", "/users/"+bob.ID, nil)
			var patched admin.User
			e.must(t, http.StatusOK, tok, "PATCH", "/users/"+bob.ID, map[string]any{"name": "Robert", "email_verified": true}).decode(t, &patched)
			if patched.Name != "Robert" || !patched.EmailVerified || patched.Email != bob.Email {
				t.Errorf("patched = %+v", patched)
			}

			var org admin.Organization
			e.must(t, http.StatusCreated, tok, "POST", "/organizations", map[string]any{"slug": "acme", "name": "Acme"}).decode(t, &org)
			e.must(t, http.StatusOK, tok, "PATCH", "/organizations/"+org.ID, map[string]any{"name": "Acme Inc"})
			var member admin.Member
			e.must(t, http.StatusCreated, tok, "POST", "/organizations/"+org.ID+"/members", map[string]any{"user_id": bob.ID, "role": "member"}).decode(t, &member)
			if member.Role != "member" || member.UserID != bob.ID || member.OrgID != org.ID {
				t.Errorf("member = %+v", member)
			}
			if r := e.call(t, tok, "POST", "/organizations/"+org.ID+"/members", map[string]any{"user_id": bob.ID, "role": "member"}); r.status != http.StatusConflict {
				t.Errorf("adding a member twice = %d %s, want 409", r.status, r)
			}
			e.must(t, http.StatusOK, tok, "PATCH", "/organizations/"+org.ID+"/members/"+bob.ID, map[string]any{"role": "editor"})
			list = admin.List[admin.User]{}
			e.must(t, http.StatusOK, tok, "GET", "/users?organization="+org.ID+"&role=editor", nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != bob.ID {
				t.Errorf("editors of %s = %+v", org.Slug, list)
			}
			var members admin.List[admin.Member]
			e.must(t, http.StatusOK, tok, "GET", "/organizations/"+org.ID+"/members", nil).decode(t, &members)
			if len(members.Items) != 1 || *members.Total != 1 || members.Items[0].Role != "editor" {
				t.Errorf("members = %+v", members)
			}

			// Custom roles: created, held, refused deletion while held.
			roles := "/organizations/" + org.ID + "/roles"
			var role admin.Role
			e.must(t, http.StatusCreated, tok, "POST", roles, map[string]any{
				"name": "billing", "description": "Reads invoices", "permissions": []string{"org:read", "org:billing:read"},
			}).decode(t, &role)
			if role.Builtin || role.Name != "billing" || len(role.Permissions) != 2 {
				t.Errorf("created role %+v", role)
			}
			e.must(t, http.StatusOK, tok, "PATCH", roles+"/billing", map[string]any{"permissions": []string{"org:billing:read"}}).decode(t, &role)
			if len(role.Permissions) != 1 || role.Description != "Reads invoices" {
				t.Errorf("patched role %+v", role)
			}
			var roleList admin.List[admin.Role]
			e.must(t, http.StatusOK, tok, "GET", roles, nil).decode(t, &roleList)
			if len(roleList.Items) != 4 || !roleList.Items[0].Builtin || roleList.Items[3].Name != "billing" {
				t.Errorf("roles = %+v, want the three built-ins then billing", roleList)
			}
			e.must(t, http.StatusOK, tok, "PATCH", "/organizations/"+org.ID+"/members/"+bob.ID, map[string]any{"role": "billing"})
			e.must(t, http.StatusConflict, tok, "DELETE", roles+"/billing", nil).problem(t)
			e.must(t, http.StatusConflict, tok, "PATCH", roles+"/admin", map[string]any{"description": "mine now"}).problem(t)
			e.must(t, http.StatusConflict, tok, "DELETE", roles+"/member", nil).problem(t)
			e.must(t, http.StatusNoContent, tok, "DELETE", "/organizations/"+org.ID+"/members/"+bob.ID, nil)
			e.must(t, http.StatusNotFound, tok, "DELETE", "/organizations/"+org.ID+"/members/"+bob.ID, nil).problem(t)
			e.must(t, http.StatusNoContent, tok, "DELETE", roles+"/billing", nil)
			e.must(t, http.StatusNotFound, tok, "DELETE", roles+"/billing", nil).problem(t)

			// Bad input: a problem naming the field, never a 500.
			for _, tc := range []struct {
				name, method, path string
				body               any
				field              string
			}{
				{"invalid email", "POST", "/users", map[string]any{"email": "not an email"}, "email"},
				{"taken email", "POST", "/users", map[string]any{"email": "BOB@example.com"}, "email"},
				{"common password", "POST", "/users", map[string]any{"email": "dave@example.com", "password": "password"}, "password"},
				{"unknown field (mass assignment, AD-03)", "PATCH", "/users/" + bob.ID, map[string]any{"org_id": org.ID}, "org_id"},
				{"id is not writable", "PATCH", "/users/" + bob.ID, map[string]any{"id": "usr_x"}, "id"},
				{"wrong type", "PATCH", "/users/" + bob.ID, `{"admin": "yes"}`, "admin"},
				{"name with control characters", "PATCH", "/users/" + bob.ID, map[string]any{"name": "a\x00b"}, "name"},
				{"bad slug", "POST", "/organizations", map[string]any{"slug": "Not A Slug", "name": "X"}, "slug"},
				{"taken slug", "POST", "/organizations", map[string]any{"slug": "acme", "name": "X"}, "slug"},
				{"empty organization name", "PATCH", "/organizations/" + org.ID, map[string]any{"name": " "}, "name"},
				{"unknown role", "POST", "/organizations/" + org.ID + "/members", map[string]any{"user_id": bob.ID, "role": "owner"}, "role"},
				{"unknown user", "POST", "/organizations/" + org.ID + "/members", map[string]any{"user_id": "usr_nobody", "role": "member"}, "user_id"},
				{"missing user", "POST", "/organizations/" + org.ID + "/members", map[string]any{"role": "member"}, "user_id"},
				{"role name taken by a built-in", "POST", "/organizations/" + org.ID + "/roles", map[string]any{"name": "admin", "permissions": []string{}}, "name"},
				{"role name with capitals", "POST", "/organizations/" + org.ID + "/roles", map[string]any{"name": "Billing", "permissions": []string{}}, "name"},
				{"bad permission", "POST", "/organizations/" + org.ID + "/roles", map[string]any{"name": "x", "permissions": []string{"org read"}}, "permissions"},
				{"permissions not a list", "POST", "/organizations/" + org.ID + "/roles", `{"name": "x", "permissions": "org:read"}`, "permissions"},
				{"forged cursor (AD-05)", "GET", "/users?cursor=" + url.QueryEscape(strings.Replace(list.NextCursor+"x.y", ".", "A.", 1)), nil, "cursor"},
				{"limit out of range", "GET", "/users?limit=0", nil, "limit"},
				{"SQL in limit", "GET", "/users?limit=1%3BDROP%20TABLE%20users", nil, "limit"},
			} {
				r := e.call(t, tok, tc.method, tc.path, tc.body)
				if r.status != http.StatusBadRequest {
					t.Errorf("%s: %s %s = %d %s, want 400", tc.name, tc.method, tc.path, r.status, r)
					continue
				}
				p := r.problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "" {
					t.Errorf("%s: errors = %+v, want one naming %q", tc.name, p.Errors, tc.field)
				}
			}
			for _, tc := range []struct {
				name, body, contentType string
				want                    int
			}{
				{"malformed JSON", `{"name":`, "application/json", http.StatusBadRequest},
				{"two values", `{} {}`, "application/json", http.StatusBadRequest},
				{"an array", `[]`, "application/json", http.StatusBadRequest},
				{"empty body", ``, "application/json", http.StatusBadRequest},
				{"not JSON", `name=x`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
				{"too large", `{"name":"` + strings.Repeat("x", 100<<10) + `"}`, "application/json", http.StatusRequestEntityTooLarge},
			} {
				req, _ := http.NewRequestWithContext(t.Context(), "PATCH", e.issuer+admin.Prefix+"/users/"+bob.ID, strings.NewReader(tc.body))
				req.Header.Set("Content-Type", tc.contentType)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				r := apiReply{status: resp.StatusCode, header: resp.Header, body: []byte(read(t, resp))}
				if r.status != tc.want {
					t.Errorf("%s: %d %s, want %d", tc.name, r.status, r, tc.want)
					continue
				}
				r.problem(t)
			}

			e.must(t, http.StatusNoContent, tok, "DELETE", "/organizations/"+org.ID, nil)
			e.must(t, http.StatusNotFound, tok, "GET", "/organizations/"+org.ID, nil).problem(t)
		})
	}
}

// TestAdminDeleteUserRevokesTokens: deleting a person revokes their grants
// (AD-07), so their access token stops working even where the user record
// is not consulted (introspection by a resource server).
func TestAdminDeleteUserRevokesTokens(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			bob := e.createPerson(t, "bob@example.com")
			bobToken, _ := e.personToken(t, bob.Email, e.pass, admin.Scope)
			if got := introspect(t, e.issuer, bobToken, e.machine); got["active"] != true {
				t.Fatalf("bob's token before deletion introspects as %v", got)
			}
			e.must(t, http.StatusNoContent, e.root, "DELETE", "/users/"+bob.ID, nil)
			e.must(t, http.StatusNotFound, e.root, "GET", "/users/"+bob.ID, nil)
			// The revocation reaches the provider's in-memory list with its
			// next reload (authz revocationRefresh, one second), as a
			// revocation on another instance does.
			deadline := time.Now().Add(5 * time.Second)
			for got := introspect(t, e.issuer, bobToken, e.machine); got["active"] != false; got = introspect(t, e.issuer, bobToken, e.machine) {
				if time.Now().After(deadline) {
					t.Fatalf("bob's token after deletion introspects as %v, want inactive", got)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if r := e.call(t, bobToken, "GET", "/users", nil); r.status != http.StatusUnauthorized {
				t.Errorf("a deleted person's token = %d %s, want 401", r.status, r)
			}
			if ss, err := e.store.ListBrowserSessions(t.Context(), bob.ID); err != nil || len(ss) != 0 {
				t.Errorf("bob's browser sessions after deletion = %v, %v", ss, err)
			}
		})
	}
}

// TestAdminMTIsolation: an admin of organization A reaches nothing of
// organization B through any route: B's organization, members and people
// answer 404, as if they did not exist (AD-02, MT); A's own things work.
// Every route of the API must appear here.
func TestAdminMTIsolation(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			dir := idp.NewDirectory(idp.Options{Store: e.store})
			orgA, err := dir.CreateOrganization(ctx, "org-a", "Org A")
			if err != nil {
				t.Fatal(err)
			}
			orgB, err := dir.CreateOrganization(ctx, "org-b", "Org B")
			if err != nil {
				t.Fatal(err)
			}
			adminA, memberA := e.createPerson(t, "admin-a@example.com"), e.createPerson(t, "member-a@example.com")
			memberB := e.createPerson(t, "member-b@example.com")
			for _, m := range []struct{ org, user, role string }{
				{orgA.ID, adminA.ID, "admin"}, {orgA.ID, memberA.ID, "member"}, {orgB.ID, memberB.ID, "member"},
			} {
				if _, err := e.store.CreateMembership(ctx, storage.Membership{OrgID: m.org, UserID: m.user, Role: m.role}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.store.CreateRole(ctx, storage.Role{ID: storage.NewID(storage.PrefixRole), OrgID: orgB.ID, Name: "billing-b"}); err != nil {
				t.Fatal(err)
			}
			tok, _ := e.personToken(t, adminA.Email, e.pass, admin.Scope)
			// memberB and memberA are signed in somewhere.
			e.personToken(t, memberB.Email, e.pass)
			e.personToken(t, memberA.Email, e.pass)
			sessB, err := e.store.ListBrowserSessions(ctx, memberB.ID)
			if err != nil || len(sessB) != 1 {
				t.Fatalf("member B's sessions: %v, %v", sessB, err)
			}
			sidB := sessB[0].SID
			invB, err := e.store.CreateInvitation(ctx, storage.Invitation{
				ID: storage.NewID(storage.PrefixInvitation), OrgID: orgB.ID, Email: "guest-b@example.com", Role: "member",
				TokenHash: "hash-of-b", InvitedBy: memberB.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			ssoB, err := e.srv.saml.CreateConnection(ctx, ssosaml.NewConnection{OrgID: orgB.ID, Name: "B IdP", Metadata: startSAMLIdP(t).metadata(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.AddSAMLDomain(ctx, storage.SAMLDomain{Domain: "b.example", ConnectionID: ssoB.ID, VerificationToken: "t", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			stored, err := e.store.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Webhook endpoints: B's, and a global one (Foyer admins').
			hookB, err := e.store.CreateWebhookEndpoint(ctx, storage.WebhookEndpoint{ID: storage.NewID(storage.PrefixWebhookEndpoint),
				OrgID: orgB.ID, URL: "https://hooks.example.test/b", Secret: []byte("sealed"), Disabled: true, CreatedAt: time.Now(), UpdatedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			hookAll, err := e.store.CreateWebhookEndpoint(ctx, storage.WebhookEndpoint{ID: storage.NewID(storage.PrefixWebhookEndpoint),
				URL: "https://hooks.example.test/all", Secret: []byte("sealed"), Disabled: true, CreatedAt: time.Now(), UpdatedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			// Upstream connections: B's, and a global one (Foyer admins').
			upB, err := e.srv.upstream.CreateConnection(ctx, upstream.NewConnection{OrgID: orgB.ID, Type: storage.UpstreamGitHub,
				Name: "B GitHub", ClientID: "b", ClientSecret: "b-secret"})
			if err != nil {
				t.Fatal(err)
			}
			upAll, err := e.srv.upstream.CreateConnection(ctx, upstream.NewConnection{Type: storage.UpstreamGitHub,
				Name: "GitHub", ClientID: "g", ClientSecret: "g-secret"})
			if err != nil {
				t.Fatal(err)
			}
			activeKID := ""
			for _, k := range stored {
				if k.State == storage.KeyActive {
					activeKID = k.ID
				}
			}

			a, b := "/organizations/"+orgA.ID, "/organizations/"+orgB.ID
			cases := []struct {
				method, route string // route in gin syntax, to check coverage
				path          string
				body          any
				want          int
			}{
				{"GET", "/users", "/users?organization=" + orgB.ID, nil, http.StatusNotFound},
				{"GET", "/users/:id", "/users/" + memberB.ID, nil, http.StatusNotFound},
				{"PATCH", "/users/:id", "/users/" + memberB.ID, map[string]any{"name": "X"}, http.StatusNotFound},
				{"DELETE", "/users/:id", "/users/" + memberB.ID, nil, http.StatusNotFound},
				{"GET", "/organizations/:id", b, nil, http.StatusNotFound},
				{"PATCH", "/organizations/:id", b, map[string]any{"name": "X"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id", b, nil, http.StatusNotFound},
				{"GET", "/organizations/:id/members", b + "/members", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/members", b + "/members", map[string]any{"user_id": adminA.ID, "role": "admin"}, http.StatusNotFound},
				{"PATCH", "/organizations/:id/members/:user_id", b + "/members/" + memberB.ID, map[string]any{"role": "admin"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id/members/:user_id", b + "/members/" + memberB.ID, nil, http.StatusNotFound},
				{"GET", "/organizations/:id/roles", b + "/roles", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/roles", b + "/roles", map[string]any{"name": "spy", "permissions": []string{}}, http.StatusNotFound},
				{"PATCH", "/organizations/:id/roles/:name", b + "/roles/billing-b", map[string]any{"description": "X"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id/roles/:name", b + "/roles/billing-b", nil, http.StatusNotFound},
				// Instance-wide actions are refused outright.
				{"POST", "/users", "/users", map[string]any{"email": "new@example.com"}, http.StatusForbidden},
				{"POST", "/organizations", "/organizations", map[string]any{"slug": "org-c", "name": "C"}, http.StatusForbidden},
				// A person's sessions span organizations: another tenant's person
				// does not exist (their own members' answer 403, below).
				{"GET", "/users/:id/sessions", "/users/" + memberB.ID + "/sessions", nil, http.StatusNotFound},
				{"DELETE", "/users/:id/sessions", "/users/" + memberB.ID + "/sessions", nil, http.StatusNotFound},
				{"DELETE", "/users/:id/sessions/:sid", "/users/" + memberB.ID + "/sessions/" + sidB, nil, http.StatusNotFound},
				// Clients and signing keys are the instance's.
				{"GET", "/clients", "/clients", nil, http.StatusForbidden},
				{"POST", "/clients", "/clients", map[string]any{"name": "Spy", "grant_types": []string{"client_credentials"}}, http.StatusForbidden},
				{"GET", "/clients/:id", "/clients/" + e.web.id, nil, http.StatusForbidden},
				{"PATCH", "/clients/:id", "/clients/" + e.web.id, map[string]any{"redirect_uris": []string{"https://evil.example/cb"}}, http.StatusForbidden},
				{"DELETE", "/clients/:id", "/clients/" + e.web.id, nil, http.StatusForbidden},
				{"GET", "/keys", "/keys", nil, http.StatusForbidden},
				{"POST", "/keys/rotate", "/keys/rotate", map[string]any{"force": true}, http.StatusForbidden},
				{"POST", "/keys/:kid/revoke", "/keys/" + activeKID + "/revoke", nil, http.StatusForbidden},
				// Invitations (AD-02: nobody is invited into B by A's admin).
				{"GET", "/organizations/:id/invitations", b + "/invitations", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/invitations", b + "/invitations", map[string]any{"email": "spy@example.com", "role": "admin"}, http.StatusNotFound},
				{"POST", "/organizations/:id/invitations/:invitation_id/resend", b + "/invitations/" + invB.ID + "/resend", nil, http.StatusNotFound},
				{"DELETE", "/organizations/:id/invitations/:invitation_id", b + "/invitations/" + invB.ID, nil, http.StatusNotFound},
				// B's invitation through A's path is not there either.
				{"DELETE", "/organizations/:id/invitations/:invitation_id", a + "/invitations/" + invB.ID, nil, http.StatusNotFound},
				// SAML connections: B's, through B's path and through A's.
				{"GET", "/organizations/:id/saml-connections", b + "/saml-connections", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/saml-connections", b + "/saml-connections", map[string]any{"name": "Spy", "metadata": "x"}, http.StatusNotFound},
				{"GET", "/organizations/:id/saml-connections/:connection_id", b + "/saml-connections/" + ssoB.ID, nil, http.StatusNotFound},
				{"PATCH", "/organizations/:id/saml-connections/:connection_id", b + "/saml-connections/" + ssoB.ID, map[string]any{"name": "X"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id/saml-connections/:connection_id", b + "/saml-connections/" + ssoB.ID, nil, http.StatusNotFound},
				{"POST", "/organizations/:id/saml-connections/:connection_id/domains", b + "/saml-connections/" + ssoB.ID + "/domains", map[string]any{"domain": "spy.example"}, http.StatusNotFound},
				{"POST", "/organizations/:id/saml-connections/:connection_id/domains/:domain/verify", b + "/saml-connections/" + ssoB.ID + "/domains/b.example/verify", nil, http.StatusNotFound},
				{"DELETE", "/organizations/:id/saml-connections/:connection_id/domains/:domain", b + "/saml-connections/" + ssoB.ID + "/domains/b.example", nil, http.StatusNotFound},
				{"GET", "/organizations/:id/saml-connections/:connection_id", a + "/saml-connections/" + ssoB.ID, nil, http.StatusNotFound},
				{"PATCH", "/organizations/:id/saml-connections/:connection_id", a + "/saml-connections/" + ssoB.ID, map[string]any{"name": "X"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id/saml-connections/:connection_id", a + "/saml-connections/" + ssoB.ID, nil, http.StatusNotFound},
				{"POST", "/organizations/:id/saml-connections/:connection_id/domains", a + "/saml-connections/" + ssoB.ID + "/domains", map[string]any{"domain": "spy.example"}, http.StatusNotFound},
				{"DELETE", "/organizations/:id/saml-connections/:connection_id/domains/:domain", a + "/saml-connections/" + ssoB.ID + "/domains/b.example", nil, http.StatusNotFound},
				// The audit log: the whole of it is the instance's; B's is not
				// there (AD-02).
				{"GET", "/audit-events", "/audit-events", nil, http.StatusForbidden},
				{"GET", "/organizations/:id/audit-events", b + "/audit-events", nil, http.StatusNotFound},
				// Webhook endpoints: B's and the global ones are not there.
				{"GET", "/webhooks", "/webhooks?organization=" + orgB.ID, nil, http.StatusNotFound},
				{"POST", "/webhooks", "/webhooks", map[string]any{"url": "https://evil.example/all"}, http.StatusForbidden},
				{"GET", "/organizations/:id/webhooks", b + "/webhooks", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/webhooks", b + "/webhooks", map[string]any{"url": "https://evil.example/b"}, http.StatusNotFound},
				{"GET", "/webhooks/:id", "/webhooks/" + hookB.ID, nil, http.StatusNotFound},
				{"PATCH", "/webhooks/:id", "/webhooks/" + hookB.ID, map[string]any{"url": "https://evil.example/b"}, http.StatusNotFound},
				{"DELETE", "/webhooks/:id", "/webhooks/" + hookAll.ID, nil, http.StatusNotFound},
				{"GET", "/webhooks/:id/deliveries", "/webhooks/" + hookB.ID + "/deliveries", nil, http.StatusNotFound},
				{"POST", "/webhooks/:id/deliveries/:delivery_id/replay", "/webhooks/" + hookAll.ID + "/deliveries/dlv_x/replay", nil, http.StatusNotFound},
				// Upstream connections: B's and the global ones are not there;
				// A's admin lists A's only (TestAdminUpstreamConnections).
				{"GET", "/upstream-connections", "/upstream-connections", nil, http.StatusOK},
				{"POST", "/upstream-connections", "/upstream-connections", map[string]any{"type": "github", "name": "Spy", "client_id": "x", "client_secret": "x"}, http.StatusForbidden},
				{"GET", "/upstream-connections/:connection_id", "/upstream-connections/" + upB.ID, nil, http.StatusNotFound},
				{"DELETE", "/upstream-connections/:connection_id", "/upstream-connections/" + upAll.ID, nil, http.StatusNotFound},
				{"GET", "/organizations/:id/upstream-connections", b + "/upstream-connections", nil, http.StatusNotFound},
				{"POST", "/organizations/:id/upstream-connections", b + "/upstream-connections", map[string]any{"type": "github", "name": "Spy", "client_id": "x", "client_secret": "x"}, http.StatusNotFound},
				// The list of organizations holds A only.
				{"GET", "/organizations", "/organizations", nil, http.StatusOK},
			}
			covered := map[string]bool{"GET " + admin.Prefix + "/openapi.json": true}
			for _, tc := range cases {
				covered[tc.method+" "+admin.Prefix+tc.route] = true
				r := e.call(t, tok, tc.method, tc.path, tc.body)
				if r.status != tc.want {
					t.Errorf("org A's admin: %s %s = %d %s, want %d", tc.method, tc.path, r.status, r, tc.want)
					continue
				}
				if r.status >= 400 {
					r.problem(t)
				}
			}
			for _, op := range admin.OperationPaths() {
				if !covered[op] {
					t.Errorf("route %s has no isolation case", op)
				}
			}
			var orgs admin.List[admin.Organization]
			e.must(t, http.StatusOK, tok, "GET", "/organizations", nil).decode(t, &orgs)
			if len(orgs.Items) != 1 || orgs.Items[0].ID != orgA.ID {
				t.Errorf("org A's admin lists organizations %+v, want A only", orgs)
			}
			// B is untouched.
			if m, err := e.store.GetMembership(ctx, orgB.ID, memberB.ID); err != nil || m.Role != "member" {
				t.Errorf("B's membership after the attempts = %+v, %v", m, err)
			}
			if _, err := e.store.GetMembership(ctx, orgB.ID, adminA.ID); err == nil {
				t.Error("org A's admin joined B")
			}
			if r, err := e.store.GetRole(ctx, orgB.ID, "billing-b"); err != nil || r.Description != "" {
				t.Errorf("B's role after the attempts = %+v, %v", r, err)
			}
			if _, err := e.store.GetRole(ctx, orgB.ID, "spy"); err == nil {
				t.Error("org A's admin made a role in B")
			}
			if is, err := e.store.ListInvitations(ctx, orgB.ID); err != nil || len(is) != 1 || !is[0].Pending(time.Now()) || is[0].TokenHash != "hash-of-b" {
				t.Errorf("B's invitations after the attempts = %+v, %v", is, err)
			}
			for _, h := range []storage.WebhookEndpoint{hookB, hookAll} {
				if got, err := e.store.GetWebhookEndpoint(ctx, h.ID); err != nil || got.URL != h.URL {
					t.Errorf("webhook %s after the attempts = %+v, %v", h.ID, got, err)
				}
			}
			if c, err := e.store.GetSAMLConnection(ctx, ssoB.ID); err != nil || c.Name != "B IdP" {
				t.Errorf("B's SAML connection after the attempts = %+v, %v", c, err)
			}
			if ds, err := e.store.ListSAMLDomains(ctx, ssoB.ID); err != nil || len(ds) != 1 || ds[0].Domain != "b.example" || !ds[0].VerifiedAt.IsZero() {
				t.Errorf("B's SAML domains after the attempts = %+v, %v", ds, err)
			}
			if ss, err := e.store.ListBrowserSessions(ctx, memberB.ID); err != nil || len(ss) != 1 {
				t.Errorf("B's member's sessions after the attempts = %v, %v", ss, err)
			}
			if c, err := e.store.GetClient(ctx, e.web.id); err != nil || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != callback {
				t.Errorf("the web client after the attempts = %+v, %v", c, err)
			}
			if after, err := e.store.ListSigningKeys(ctx); err != nil || len(after) != len(stored) || after[0].ID != stored[0].ID {
				t.Errorf("signing keys after the attempts = %v, %v", after, err)
			}

			// Within A: their own members, without becoming an instance admin.
			var users admin.List[admin.User]
			e.must(t, http.StatusOK, tok, "GET", "/users", nil).decode(t, &users)
			if len(users.Items) != 2 || *users.Total != 2 {
				t.Errorf("org A's admin lists users %+v, want A's two members", users)
			}
			e.must(t, http.StatusOK, tok, "GET", "/users/"+memberA.ID, nil)
			e.must(t, http.StatusOK, tok, "PATCH", a, map[string]any{"name": "Org A renamed"})
			e.must(t, http.StatusOK, tok, "PATCH", a+"/members/"+memberA.ID, map[string]any{"role": "editor"})
			e.must(t, http.StatusOK, tok, "GET", a+"/members", nil)
			e.must(t, http.StatusCreated, tok, "POST", a+"/roles", map[string]any{"name": "billing", "permissions": []string{"org:billing:read"}})
			e.must(t, http.StatusNoContent, tok, "DELETE", a+"/roles/billing", nil)
			// AD-03: a person's record is not the organization's to change:
			// no renaming, no minting of instance admins, no vouching for
			// emails.
			for _, body := range []map[string]any{{"admin": true}, {"email_verified": true}, {"name": "Renamed"}} {
				e.must(t, http.StatusForbidden, tok, "PATCH", "/users/"+memberA.ID, body).problem(t)
				e.must(t, http.StatusForbidden, tok, "PATCH", "/users/"+adminA.ID, body).problem(t)
			}
			e.must(t, http.StatusForbidden, tok, "DELETE", "/users/"+memberA.ID, nil)
			// Nor are their sessions, which span organizations.
			sessA, err := e.store.ListBrowserSessions(ctx, memberA.ID)
			if err != nil || len(sessA) != 1 {
				t.Fatalf("member A's sessions: %v, %v", sessA, err)
			}
			e.must(t, http.StatusForbidden, tok, "GET", "/users/"+memberA.ID+"/sessions", nil).problem(t)
			e.must(t, http.StatusForbidden, tok, "DELETE", "/users/"+memberA.ID+"/sessions", nil).problem(t)
			e.must(t, http.StatusForbidden, tok, "DELETE", "/users/"+memberA.ID+"/sessions/"+sessA[0].SID, nil).problem(t)
			if ss, err := e.store.ListBrowserSessions(ctx, memberA.ID); err != nil || len(ss) != 1 {
				t.Errorf("A's member's sessions after the attempts = %v, %v", ss, err)
			}
			e.must(t, http.StatusForbidden, tok, "DELETE", a, nil)
			e.must(t, http.StatusForbidden, tok, "POST", a+"/members", map[string]any{"user_id": memberB.ID, "role": "member"})
			e.must(t, http.StatusNoContent, tok, "DELETE", a+"/members/"+memberA.ID, nil)
			// Once memberA left A, they are another tenant's person: 404.
			e.must(t, http.StatusNotFound, tok, "GET", "/users/"+memberA.ID, nil)
		})
	}
}

// TestAdminOpenAPIMatchesRouter walks every route the engine serves under
// /admin/v1 and checks the OpenAPI document describes exactly those.
func TestAdminOpenAPIMatchesRouter(t *testing.T) {
	store, _ := openTestStore(t, "embedded")
	cfg := testConfig(t)
	cfg.Secrets.EncryptionKey = testEncryptionKey
	s, err := newServer(cfg, discard(), store)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range s.engine.Routes() {
		if strings.HasPrefix(r.Path, admin.Prefix+"/") {
			served[r.Method+" "+r.Path] = true
		}
	}

	req := httptest.NewRequestWithContext(t.Context(), "GET", admin.Prefix+"/openapi.json", nil)
	rec := httptest.NewRecorder()
	s.engine.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET openapi.json = %d %s", rec.Code, rec.Body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != admin.Prefix {
		t.Errorf("openapi %q servers %+v", doc.OpenAPI, doc.Servers)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			gin := strings.NewReplacer("{", ":", "}", "").Replace(path)
			documented[strings.ToUpper(method)+" "+admin.Prefix+gin] = true
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not in openapi.json", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in openapi.json but not served", op)
		}
	}
	if len(served) < 10 {
		t.Errorf("only %d admin routes served: %v", len(served), served)
	}
}
