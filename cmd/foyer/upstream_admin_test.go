package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/storage"
)

// TestAdminUpstreamConnections: the admin API creates, lists, reads and
// deletes upstream connections; the client secret is write-only and
// sealed at rest; an organization admin manages their organization's
// connections only and gets 404 for another organization's (AD-02) and
// 403 for a global one's creation.
func TestAdminUpstreamConnections(t *testing.T) {
	e := newAdminEnv(t, "embedded")
	ctx := t.Context()
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	beta, err := dir.CreateOrganization(ctx, "beta", "Beta")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "the-upstream-client-secret"
	var global admin.UpstreamConnection
	r := e.must(t, http.StatusCreated, e.root, "POST", "/upstream-connections", map[string]any{
		"type": "oidc", "name": "Google", "issuer": "https://accounts.google.com/.well-known/openid-configuration",
		"client_id": "g-client", "client_secret": secret, "link_by_email": true,
	})
	r.decode(t, &global)
	if strings.Contains(r.String(), secret) || global.Issuer != "https://accounts.google.com" || !global.LinkByEmail ||
		global.CallbackURL != e.issuer+"/login/upstream/"+global.ID+"/callback" || !strings.HasPrefix(global.ID, "ups_") ||
		!slices.Equal(global.Scopes, []string{"openid", "email", "profile"}) {
		t.Errorf("created %s", r)
	}
	stored, err := e.store.GetUpstreamConnection(ctx, global.ID)
	if err != nil || strings.Contains(string(stored.ClientSecret), secret) {
		t.Errorf("stored secret is not sealed: %v", err)
	}
	if r := e.call(t, e.root, "POST", "/upstream-connections", map[string]any{
		"type": "oidc", "name": "Bad", "issuer": "http://idp.example.com", "client_id": "c", "client_secret": "s",
	}); r.status != http.StatusBadRequest || !strings.Contains(r.String(), `"field":"issuer"`) {
		t.Errorf("http issuer = %d %s", r.status, r)
	}
	if r := e.call(t, e.root, "POST", "/upstream-connections", map[string]any{
		"type": "github", "name": "GitHub", "client_id": "c", "client_secret": "s", "id": "ups_mine",
	}); r.status != http.StatusBadRequest {
		t.Errorf("unknown field id = %d %s", r.status, r)
	}

	mallory := e.createPerson(t, "mallory@example.com")
	if _, err := e.store.CreateMembership(ctx, storage.Membership{OrgID: beta.ID, UserID: mallory.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.personToken(t, mallory.Email, e.pass, admin.Scope)
	var betaConn admin.UpstreamConnection
	e.must(t, http.StatusCreated, tok, "POST", "/organizations/"+beta.ID+"/upstream-connections", map[string]any{
		"type": "github", "name": "Beta GitHub", "client_id": "b", "client_secret": secret,
	}).decode(t, &betaConn)
	if betaConn.OrgID != beta.ID || betaConn.Type != "github" {
		t.Errorf("beta's connection %+v", betaConn)
	}
	var acmeConn admin.UpstreamConnection
	e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+acme.ID+"/upstream-connections", map[string]any{
		"type": "github", "name": "Acme GitHub", "client_id": "a", "client_secret": secret,
	}).decode(t, &acmeConn)

	var list admin.List[admin.UpstreamConnection]
	e.must(t, http.StatusOK, tok, "GET", "/upstream-connections", nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != betaConn.ID {
		t.Errorf("beta's admin lists %+v, want beta's connection only", list.Items)
	}
	e.must(t, http.StatusOK, e.root, "GET", "/upstream-connections", nil).decode(t, &list)
	if len(list.Items) != 3 || strings.Contains(e.must(t, http.StatusOK, e.root, "GET", "/upstream-connections", nil).String(), secret) {
		t.Errorf("Foyer admin lists %+v", list.Items)
	}

	// AD-02: acme's connection and the global one do not exist for beta's admin.
	for _, rt := range []struct{ method, path string }{
		{"GET", "/upstream-connections/" + acmeConn.ID},
		{"DELETE", "/upstream-connections/" + acmeConn.ID},
		{"GET", "/upstream-connections/" + global.ID},
		{"DELETE", "/upstream-connections/" + global.ID},
		{"GET", "/organizations/" + acme.ID + "/upstream-connections"},
		{"POST", "/organizations/" + acme.ID + "/upstream-connections"},
	} {
		if r := e.call(t, tok, rt.method, rt.path, map[string]any{"type": "github", "name": "x", "client_id": "x", "client_secret": "x"}); r.status != http.StatusNotFound {
			t.Errorf("AD-02: %s %s by beta's admin = %d %s, want 404", rt.method, rt.path, r.status, r)
		} else {
			r.problem(t)
		}
	}
	if r := e.call(t, tok, "POST", "/upstream-connections", map[string]any{"type": "github", "name": "x", "client_id": "x", "client_secret": "x"}); r.status != http.StatusForbidden {
		t.Errorf("a global connection by an organization admin = %d %s, want 403", r.status, r)
	}

	ext := storage.ExternalIdentity{ConnectionID: betaConn.ID, Subject: "42", UserID: mallory.ID}
	if err := e.store.CreateExternalIdentity(ctx, ext); err != nil {
		t.Fatal(err)
	}
	e.must(t, http.StatusNoContent, tok, "DELETE", "/upstream-connections/"+betaConn.ID, nil)
	if _, err := e.store.GetExternalIdentity(ctx, ext.ConnectionID, ext.Subject); err == nil {
		t.Error("deleting the connection kept the links to it")
	}
	e.must(t, http.StatusNotFound, e.root, "GET", "/upstream-connections/"+betaConn.ID, nil)
	e.must(t, http.StatusOK, e.root, "GET", "/upstream-connections/"+acmeConn.ID, nil)
}

// TestCLIConnections: `foyer connections create|list|delete` on the
// database of a running server, on both backends; the server opens the
// secret the CLI sealed (a sign-in through the CLI's connection works).
func TestCLIConnections(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := &upstreamEnv{signinEnv: newSigninEnv(t, backend), fake: startFakeOIDC(t)}
			if _, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(t.Context(), "acme", "Acme"); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			env := append(slices.Clone(e.dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey, "FOYER_ISSUER="+e.issuer)
			cli := func(args ...string) result { return foyer(t, dir, env, append([]string{"connections"}, args...)...) }

			if r := cli("create", "--type", "oidc", "--name", "Bad", "--issuer", "ftp://x", "--client-id", "c", "--client-secret", "s"); r.code != 1 ||
				!strings.Contains(r.stderr, "issuer: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("bad issuer: exit %d, stderr %q", r.code, r.stderr)
			}
			r := cli("create", "--type", "oidc", "--name", "Fake IdP", "--issuer", e.fake.srv.URL, "--client-id", e.fake.clientID,
				"--client-secret", e.fake.secret, "--json")
			var conn admin.UpstreamConnection
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &conn) != nil || strings.Contains(r.stdout, e.fake.secret) ||
				conn.CallbackURL != e.issuer+"/login/upstream/"+conn.ID+"/callback" {
				t.Fatalf("connections create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = cli("create", "--type", "github", "--name", "Acme GitHub", "--org", "acme", "--client-id", "g", "--client-secret", "gh-cli-secret-value")
			if r.code != 0 || !strings.Contains(r.stdout, "callback URL:") {
				t.Errorf("connections create --org: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			var list []admin.UpstreamConnection
			if r := cli("list", "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 2 {
				t.Errorf("connections list: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}

			e.fake.as("sub-cli", "cli@example.com", true)
			if resp, page := e.upstreamSignIn(t, newBrowser(t), conn.ID); resp.Request.URL.Path != "/account" {
				t.Errorf("sign-in through the CLI's connection ended at %s:\n%s", resp.Request.URL, page)
			}

			if r := cli("delete", conn.ID); r.code != 0 {
				t.Errorf("connections delete: exit %d, stderr %q", r.code, r.stderr)
			}
			if r := cli("delete", conn.ID); r.code != 1 || !strings.Contains(r.stderr, "connection: ") {
				t.Errorf("connections delete again: exit %d, stderr %q", r.code, r.stderr)
			}
			// AD-07: both creations and the deletion, by the CLI, without the
			// secrets; the failed commands recorded nothing.
			for typ, n := range map[string]int{admin.AuditUpstreamConnectionCreated: 2, admin.AuditUpstreamConnectionDeleted: 1} {
				got, err := e.store.ListAuditEntries(t.Context(), storage.AuditQuery{Type: typ})
				if err != nil || len(got) != n || got[0].ActorType != storage.ActorCLI || got[0].TargetType != admin.TargetUpstream {
					t.Errorf("%s entries = %+v, %v; want %d by the CLI", typ, got, err, n)
				}
				for _, en := range got {
					if strings.Contains(string(en.Details), e.fake.secret) || strings.Contains(string(en.Details), "gh-cli-secret-value") {
						t.Errorf("%s entry holds a client secret: %s", typ, en.Details)
					}
				}
			}
		})
	}
}

// gitHubStandIn is a local stand-in for github.com's OAuth endpoints and
// API (the real service cannot be reached here).
type gitHubStandIn struct {
	srv    *httptest.Server
	mu     sync.Mutex
	id     int64
	emails string // the JSON of GET /user/emails
	// verifiers are the PKCE verifiers the token endpoint received.
	verifiers []string
	state     map[string]string // code -> redirect_uri
}

func startGitHub(t *testing.T) *gitHubStandIn {
	t.Helper()
	g := &gitHubStandIn{state: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "gh-client" || q.Get("code_challenge") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.state["code-1"] = q.Get("redirect_uri")
		g.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=code-1&state="+q.Get("state"), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.verifiers = append(g.verifiers, r.PostFormValue("code_verifier"))
		if r.PostFormValue("client_id") != "gh-client" || r.PostFormValue("client_secret") != "gh-secret" || g.state[r.PostFormValue("code")] == "" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"error":"bad_verification_code"}`))
			return
		}
		delete(g.state, r.PostFormValue("code"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"gho_token","token_type":"bearer","scope":"read:user,user:email"}`))
	})
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gho_token" {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/user", auth(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"id": g.id, "login": "octocat", "name": "The Octocat", "email": nil})
	}))
	mux.HandleFunc("GET /api/user/emails", auth(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		w.Write([]byte(g.emails))
	}))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gitHubStandIn) as(id int64, emails string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.id, g.emails = id, emails
}

// TestUpstreamGitHub: sign-in through a GitHub connection against a local
// stand-in of GitHub's endpoints: the numeric user ID is the subject, the
// primary verified address is the account's, unverified addresses are
// ignored, and a GitHub account with no verified address is refused.
func TestUpstreamGitHub(t *testing.T) {
	e := &upstreamEnv{signinEnv: newSigninEnv(t, "embedded")}
	ctx := t.Context()
	gh := startGitHub(t)
	conn, err := e.srv.upstream.CreateConnection(ctx, upstream.NewConnection{
		Type: storage.UpstreamGitHub, Name: "GitHub", ClientID: "gh-client", ClientSecret: "gh-secret",
		AuthURL: gh.srv.URL + "/login/oauth/authorize", TokenURL: gh.srv.URL + "/login/oauth/access_token", APIURL: gh.srv.URL + "/api",
	})
	if err != nil {
		t.Fatal(err)
	}

	gh.as(583231, `[{"email":"unverified@example.com","primary":false,"verified":false},
		{"email":"octo@example.com","primary":true,"verified":true},
		{"email":"old@example.com","primary":false,"verified":true}]`)
	b := newBrowser(t)
	resp, page := e.upstreamSignIn(t, b, conn.ID)
	if resp.Request.URL.Path != "/account" || e.signedInAs(t, b) != "octo@example.com" {
		t.Fatalf("GitHub sign-in ended at %s:\n%s", resp.Request.URL, page)
	}
	u, err := e.store.GetUserByEmail(ctx, "octo@example.com")
	if err != nil || !u.EmailVerified || u.Name != "The Octocat" {
		t.Errorf("user %+v, %v", u, err)
	}
	if id, err := e.store.GetExternalIdentity(ctx, conn.ID, "583231"); err != nil || id.UserID != u.ID {
		t.Errorf("identity %+v, %v", id, err)
	}
	for _, email := range []string{"unverified@example.com", "old@example.com"} {
		if _, err := e.store.GetUserByEmail(ctx, email); err == nil {
			t.Errorf("an account for %s", email)
		}
	}
	if len(gh.verifiers) != 1 || len(gh.verifiers[0]) < 43 {
		t.Errorf("PKCE verifiers %q", gh.verifiers)
	}

	// A primary address GitHub has not verified is not used.
	gh.as(99, `[{"email":"claimed@example.com","primary":true,"verified":false}]`)
	resp, page = e.upstreamSignIn(t, newBrowser(t), conn.ID)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "did not share a verified email address") {
		t.Errorf("no verified address: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if _, err := e.store.GetUserByEmail(ctx, "claimed@example.com"); err == nil {
		t.Error("an account for an unverified GitHub address")
	}
}
