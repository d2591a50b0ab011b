package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/admin"
)

// TestAdminClients drives /clients: a client registered through the API
// works with the secret of the creation answer, which no later answer
// shows; bad input is a 400 naming the field. Both backends.
func TestAdminClients(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.root

			var created admin.Client
			r := e.must(t, http.StatusCreated, tok, "POST", "/clients", map[string]any{
				"name": "Reports job", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"},
			})
			r.decode(t, &created)
			if created.ID == "" || len(created.ClientSecret) < 32 || r.header.Get("Location") != admin.Prefix+"/clients/"+created.ID {
				t.Fatalf("created %s (Location %q)", r, r.header.Get("Location"))
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("creation answer Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
			}
			// The returned secret works at the token endpoint.
			if at := e.machineToken(t, &client{created.ID, created.ClientSecret}, "reports:read"); at == "" {
				t.Fatal("no access token for the new client")
			}
			stored, err := e.store.GetClient(t.Context(), created.ID)
			if err != nil || stored.SecretHash == "" {
				t.Fatalf("stored client %+v, %v", stored, err)
			}
			// Never again: not in GET, not in the list; never the hash.
			get := e.must(t, http.StatusOK, tok, "GET", "/clients/"+created.ID, nil)
			list := e.must(t, http.StatusOK, tok, "GET", "/clients?limit=200", nil)
			for _, body := range []string{get.String(), list.String()} {
				if strings.Contains(body, created.ClientSecret) || strings.Contains(body, `"client_secret":`) ||
					strings.Contains(body, stored.SecretHash) {
					t.Errorf("a secret or its hash in %s", body)
				}
			}
			var page admin.List[admin.Client]
			list.decode(t, &page)
			if !slices.ContainsFunc(page.Items, func(c admin.Client) bool { return c.ID == created.ID }) {
				t.Errorf("list %s lacks %s", list, created.ID)
			}
			// Pagination: limit 1 walks every client once.
			seen := map[string]bool{}
			for cursor, n := "", 0; ; n++ {
				var p admin.List[admin.Client]
				e.must(t, http.StatusOK, tok, "GET", "/clients?limit=1&cursor="+cursor, nil).decode(t, &p)
				for _, c := range p.Items {
					seen[c.ID] = true
				}
				if p.NextCursor == "" || n > 10 {
					break
				}
				cursor = p.NextCursor
			}
			if len(seen) != len(page.Items) {
				t.Errorf("paging saw %d clients, the list has %d", len(seen), len(page.Items))
			}

			// Bad input names the field, on create and on update.
			for _, tc := range []struct {
				method, path string
				body         any
				field        string
			}{
				{"POST", "/clients", map[string]any{"name": "Bad", "grant_types": []string{"authorization_code"},
					"redirect_uris": []string{"javascript:alert(1)"}}, "redirect_uris"},
				{"POST", "/clients", map[string]any{"name": "Bad", "grant_types": []string{"authorization_code"},
					"redirect_uris": []string{"https://app.example.com/cb#frag"}}, "redirect_uris"},
				{"POST", "/clients", map[string]any{"name": "", "grant_types": []string{"client_credentials"}}, "name"},
				{"POST", "/clients", map[string]any{"name": "Bad", "grant_types": []string{"password"}}, "grant_types"},
				{"POST", "/clients", map[string]any{"name": "Bad", "grant_types": []string{"client_credentials"}, "secret": "short"}, "secret"},
				{"POST", "/clients", map[string]any{"name": "Bad", "grant_types": []string{"client_credentials"}, "secret_hash": "x"}, "secret_hash"},
				{"PATCH", "/clients/" + created.ID, map[string]any{"grant_types": []string{"authorization_code"}}, "redirect_uris"},
				{"PATCH", "/clients/" + created.ID, map[string]any{"redirect_uris": []string{"not a uri"}}, "redirect_uris"},
				{"PATCH", "/clients/" + created.ID, map[string]any{"post_logout_redirect_uris": []string{"ftp://x.example/"}}, "post_logout_redirect_uris"},
				{"PATCH", "/clients/" + created.ID, map[string]any{"scopes": []string{"a b"}}, "scopes"},
				{"PATCH", "/clients/" + created.ID, map[string]any{"secret": strings.Repeat("s", 40)}, "secret"},
			} {
				r := e.must(t, http.StatusBadRequest, tok, tc.method, tc.path, tc.body)
				if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("%s %s %v: %s, want the field %s", tc.method, tc.path, tc.body, r, tc.field)
				}
			}
			e.must(t, http.StatusConflict, tok, "POST", "/clients", map[string]any{
				"client_id": created.ID, "name": "Twin", "grant_types": []string{"client_credentials"},
			}).problem(t)

			// An update keeps the secret and validates like create.
			var web admin.Client
			e.must(t, http.StatusOK, tok, "PATCH", "/clients/"+created.ID, map[string]any{
				"name": "Web now", "grant_types": []string{"authorization_code", "refresh_token", "client_credentials"},
				"redirect_uris": []string{"https://app.example.com/cb"}, "post_logout_redirect_uris": []string{"https://app.example.com/"},
				"scopes": []string{"openid", "reports:read"},
			}).decode(t, &web)
			if web.Name != "Web now" || len(web.GrantTypes) != 3 || web.RedirectURIs[0] != "https://app.example.com/cb" ||
				web.PostLogoutRedirectURIs[0] != "https://app.example.com/" || len(web.Scopes) != 2 || web.ClientSecret != "" {
				t.Errorf("updated client %+v", web)
			}
			e.machineToken(t, &client{created.ID, created.ClientSecret}, "reports:read")

			// A public client has no secret to show.
			var spa admin.Client
			e.must(t, http.StatusCreated, tok, "POST", "/clients", map[string]any{
				"name": "SPA", "public": true, "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://spa.example.com/cb"},
			}).decode(t, &spa)
			if spa.ClientSecret != "" || !spa.Public || spa.TokenEndpointAuthMethod != "none" {
				t.Errorf("public client %+v", spa)
			}

			e.must(t, http.StatusNoContent, tok, "DELETE", "/clients/"+created.ID, nil)
			e.must(t, http.StatusNotFound, tok, "GET", "/clients/"+created.ID, nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "DELETE", "/clients/"+created.ID, nil).problem(t)
			e.must(t, http.StatusNotFound, tok, "PATCH", "/clients/"+created.ID, map[string]any{"name": "X"}).problem(t)
		})
	}
}

// TestAdminSessions: a Foyer admin lists a person's browser sessions and
// ends one or all; an ended session really signs that browser out.
func TestAdminSessions(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			ctx := t.Context()
			alice, err := e.store.GetUserByEmail(ctx, e.email)
			if err != nil {
				t.Fatal(err)
			}
			conf := oauth2.Config{ClientID: e.console.id, ClientSecret: e.console.secret, RedirectURL: callback,
				Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize", TokenURL: e.issuer + "/oauth2/token"},
				Scopes:   []string{"openid"}}
			authURL := conf.AuthCodeURL("state-sessions-1", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			first, second := newBrowser(t), newBrowser(t)
			e.signIn(t, first, authURL, false)
			e.signIn(t, second, authURL, false)
			// signedIn reports whether b still has a session: the authorization
			// request goes straight back to the client instead of to /login.
			signedIn := func(b *http.Client) bool {
				t.Helper()
				resp, err := b.Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				return resp.Request.URL.Path != "/login"
			}
			if !signedIn(first) || !signedIn(second) {
				t.Fatal("the browsers are not signed in")
			}

			path := "/users/" + alice.ID + "/sessions"
			var list admin.List[admin.Session]
			r := e.must(t, http.StatusOK, e.root, "GET", path, nil)
			r.decode(t, &list)
			stored, err := e.store.ListBrowserSessions(ctx, alice.ID)
			if err != nil || len(stored) != 2 || len(list.Items) != 2 || *list.Total != 2 {
				t.Fatalf("sessions %s; stored %d, %v", r, len(stored), err)
			}
			for _, s := range stored {
				if strings.Contains(r.String(), s.ID) {
					t.Errorf("the session's stored ID (a hash) is in %s", r)
				}
			}
			var raw struct{ Items []map[string]any }
			r.decode(t, &raw)
			for _, f := range raw.Items {
				for _, k := range []string{"sid", "created_at", "last_seen_at", "ip", "user_agent", "expires_at"} {
					if _, ok := f[k]; !ok {
						t.Errorf("session %v lacks %s", f, k)
					}
				}
			}
			if list.Items[0].SID != stored[0].SID || list.Items[0].UserAgent == "" || list.Items[0].IP == "" {
				t.Errorf("session view %+v, stored %+v", list.Items[0], stored[0])
			}

			// Newest first: the second browser's session. End it alone.
			e.must(t, http.StatusNoContent, e.root, "DELETE", path+"/"+list.Items[0].SID, nil)
			if signedIn(second) {
				t.Error("the ended session still signs the second browser in")
			}
			if !signedIn(first) {
				t.Error("ending one session signed the other browser out")
			}
			e.must(t, http.StatusNotFound, e.root, "DELETE", path+"/"+list.Items[0].SID, nil).problem(t)
			e.must(t, http.StatusNotFound, e.root, "DELETE", path+"/no-such-sid", nil).problem(t)
			e.must(t, http.StatusNotFound, e.root, "GET", "/users/usr_nobody/sessions", nil).problem(t)

			e.must(t, http.StatusNoContent, e.root, "DELETE", path, nil)
			if signedIn(first) {
				t.Error("ending every session left the first browser signed in")
			}
			e.must(t, http.StatusOK, e.root, "GET", path, nil).decode(t, &list)
			if len(list.Items) != 0 {
				t.Errorf("sessions after ending all: %+v", list)
			}
		})
	}
}

// TestAdminKeys: list, rotate (409 inside the pre-publication window
// without force) and revoke, each visible in the JWKS at once.
func TestAdminKeys(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			tok := e.root
			jwks := func() []string {
				t.Helper()
				resp, err := http.Get(e.issuer + "/.well-known/jwks.json")
				if err != nil {
					t.Fatal(err)
				}
				var set struct{ Keys []struct{ Kid string } }
				if err := json.Unmarshal([]byte(read(t, resp)), &set); err != nil {
					t.Fatal(err)
				}
				var kids []string
				for _, k := range set.Keys {
					kids = append(kids, k.Kid)
				}
				return kids
			}
			byState := func(l admin.List[admin.SigningKey], state string) string {
				for _, k := range l.Items {
					if k.State == state {
						return k.KID
					}
				}
				return ""
			}

			var before admin.List[admin.SigningKey]
			r := e.must(t, http.StatusOK, tok, "GET", "/keys", nil)
			r.decode(t, &before)
			active, next := byState(before, "active"), byState(before, "next")
			if active == "" || next == "" || before.Items[0].Algorithm == "" {
				t.Fatalf("keys %s, want an active and a next key", r)
			}
			var items struct{ Items []map[string]any }
			r.decode(t, &items)
			for _, k := range items.Items {
				for f := range k {
					if !slices.Contains([]string{"kid", "alg", "state", "created_at", "activated_at", "retired_at", "remove_after"}, f) {
						t.Errorf("key field %q in %s", f, r)
					}
				}
			}
			if strings.Contains(r.String(), `"d"`) || strings.Contains(strings.ToLower(r.String()), "sealed") {
				t.Errorf("private material in %s", r)
			}

			// The next key was published a moment ago: refuse without force.
			if p := e.must(t, http.StatusConflict, tok, "POST", "/keys/rotate", map[string]any{}).problem(t); !strings.Contains(p.Detail, "force") {
				t.Errorf("409 detail %q does not mention force", p.Detail)
			}
			var after admin.List[admin.SigningKey]
			e.must(t, http.StatusOK, tok, "POST", "/keys/rotate", map[string]any{"force": true}).decode(t, &after)
			if byState(after, "active") != next || byState(after, "retired") != active || byState(after, "next") == "" {
				t.Fatalf("after rotation %+v; was active %s next %s", after, active, next)
			}
			kids := jwks()
			if !slices.Contains(kids, active) || !slices.Contains(kids, next) || !slices.Contains(kids, byState(after, "next")) {
				t.Errorf("JWKS after rotation %v", kids)
			}

			// Revoking the retired key drops it from the JWKS at once.
			e.must(t, http.StatusOK, tok, "POST", "/keys/"+active+"/revoke", nil).decode(t, &after)
			if slices.ContainsFunc(after.Items, func(k admin.SigningKey) bool { return k.KID == active }) {
				t.Errorf("revoked key still listed: %+v", after)
			}
			if kids := jwks(); slices.Contains(kids, active) || !slices.Contains(kids, next) {
				t.Errorf("JWKS after revocation %v; revoked %s", kids, active)
			}
			// The token it signed stops working; one the new key signs works.
			e.must(t, http.StatusUnauthorized, tok, "GET", "/keys", nil).problem(t)
			tok = e.machineToken(t, e.operator, admin.Scope)
			e.must(t, http.StatusNotFound, tok, "POST", "/keys/"+active+"/revoke", nil).problem(t)
			e.must(t, http.StatusBadRequest, tok, "POST", "/keys/rotate", map[string]any{"force": "yes"}).problem(t)
		})
	}
}
