package main

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
)

// requireOrgApp registers a first-party client that requires an
// organization and returns an orgApp for it.
func requireOrgApp(t *testing.T, e *oidcEnv, scopes ...string) *orgApp {
	t.Helper()
	ctx := t.Context()
	app, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Members Only", RedirectURIs: []string{callback}, FirstParty: true,
		GrantTypes:          []string{"authorization_code", "refresh_token"},
		Scopes:              []string{"openid", "email", "offline_access", "org", "orgs"},
		RequireOrganization: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !app.RequireOrganization {
		t.Fatalf("created client %+v, want RequireOrganization", app)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &orgApp{e: e,
		conf: oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
			Scopes: scopes},
		verifier: provider.Verifier(&oidc.Config{ClientID: app.ID}),
		keys:     oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json"),
	}
}

var anotherAccountLink = regexp.MustCompile(`<a href="([^"]*)">Sign in with another account</a>`)

// TestRequireOrganization: a client with require_organization gives a
// member a code with the organization's claims, and shows a person who
// belongs to no organization a page saying so (403), never a code; under
// prompt=none that person gets access_denied at the redirect URI. The page
// links to a fresh sign-in that resumes the same authorization. A member
// who leaves their last organization can no longer refresh (MT-01).
func TestRequireOrganization(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			ctx := t.Context()
			dir := idp.NewDirectory(idp.Options{Store: e.store})
			acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			const bob = "bob@example.com"
			if _, err := dir.CreateUser(ctx, idp.NewUser{Email: bob, Password: e.pass, Name: "Bob", EmailVerified: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := dir.AddMember(ctx, "acme", bob, "editor"); err != nil {
				t.Fatal(err)
			}
			a := requireOrgApp(t, e, "openid", "offline_access", "org")
			pkce := oauth2.GenerateVerifier()

			// Alice belongs to no organization: the page, no code.
			b := newBrowser(t)
			resp, err := b.Get(a.conf.AuthCodeURL("state-none", oauth2.S256ChallengeOption(pkce)))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Request.URL.Path != "/login" {
				t.Fatalf("first visit ended at %s, want /login", resp.Request.URL)
			}
			resp = signInWithPassword(t, b, e.issuer, read(t, resp), e.email, e.pass)
			page := read(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("non-member: %d at %s, want 403:\n%s", resp.StatusCode, resp.Request.URL, page)
			}
			if loc := resp.Header.Get("Location"); loc != "" || strings.Contains(page, "code=") {
				t.Errorf("non-member got a redirect %q or a code:\n%s", loc, page)
			}
			want := "You need to belong to an organization to use Members Only. Ask an administrator of your organization to invite you."
			if !strings.Contains(html.UnescapeString(page), want) {
				t.Errorf("page does not say %q:\n%s", want, page)
			}
			m := anotherAccountLink.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("page lacks the Sign in with another account link:\n%s", page)
			}
			another := html.UnescapeString(m[1])

			// The same without the org scope: the flag asks for a
			// membership, not for the scope.
			noScope := a.conf
			noScope.Scopes = []string{"openid"}
			resp, err = b.Get(noScope.AuthCodeURL("state-noscope", oauth2.S256ChallengeOption(pkce)))
			if err != nil {
				t.Fatal(err)
			}
			if page := read(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(html.UnescapeString(page), want) {
				t.Errorf("non-member without scope org: %d at %s, want the 403 page:\n%s", resp.StatusCode, resp.Request.URL, page)
			}

			// prompt=none: no page may be shown, so access_denied.
			resp, err = b.Get(a.conf.AuthCodeURL("state-silent", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), callback) {
				t.Fatalf("prompt=none for a non-member: %d at %s, want a redirect to the callback", resp.StatusCode, resp.Request.URL)
			}
			if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "state-silent" {
				t.Errorf("prompt=none for a non-member: %s, want error=access_denied and no code", loc)
			}

			// "Sign in with another account" asks for a fresh sign-in and
			// resumes the refused authorization as bob, a member.
			resp, err = b.Get(e.issuer + another)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Request.URL.Path != "/login" {
				t.Fatalf("another account link ended at %s, want /login", resp.Request.URL)
			}
			resp = signInWithPassword(t, b, e.issuer, read(t, resp), bob, e.pass)
			resp.Body.Close()
			loc, err = resp.Location()
			if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-none" {
				t.Fatalf("after signing in as a member: %d at %s (%v), want a code for state-none", resp.StatusCode, resp.Request.URL, loc)
			}
			tok, err := a.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
			if err != nil {
				t.Fatal(err)
			}
			wantOrg(t, "member via another account", a.claims(t, tok), acme, "editor", editorPerms...)

			// MT-01 on refresh: while bob is a member, his refresh works; once
			// he belongs to no organization, it is refused.
			if tok, err = a.refresh(t, tok.RefreshToken, nil); err != nil {
				t.Fatalf("member's refresh: %v", err)
			}
			bobUser, err := e.store.GetUserByEmail(ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.store.DeleteMembership(ctx, acme.ID, bobUser.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := a.refresh(t, tok.RefreshToken, nil); !isOAuthError(err, "invalid_grant") {
				t.Errorf("MT-01: refresh after leaving the last organization = %v, want invalid_grant", err)
			}

			// Alice joins: the flow gives her a code with the org claims.
			if _, err := dir.AddMember(ctx, "acme", e.email, "member"); err != nil {
				t.Fatal(err)
			}
			wantOrg(t, "member", a.claims(t, a.signIn(t)), acme, "member", memberPerms...)
		})
	}
}

// TestRequireOrganizationSettings: the flag is set with `foyer clients
// create --require-organization` and through the admin API (POST, PATCH,
// GET), and is off by default.
func TestRequireOrganizationSettings(t *testing.T) {
	e := newAdminEnv(t, "embedded")
	tok := e.root
	var created admin.Client
	e.must(t, http.StatusCreated, tok, "POST", "/clients", map[string]any{
		"name": "Org App", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{callback},
		"require_organization": true,
	}).decode(t, &created)
	if !created.RequireOrganization {
		t.Errorf("POST /clients with require_organization: %+v", created)
	}
	var got admin.Client
	e.must(t, http.StatusOK, tok, "PATCH", "/clients/"+created.ID, map[string]any{"require_organization": false}).decode(t, &got)
	if got.RequireOrganization {
		t.Errorf("PATCH require_organization=false: %+v", got)
	}
	// An absent field keeps the value.
	e.must(t, http.StatusOK, tok, "PATCH", "/clients/"+created.ID, map[string]any{"require_organization": true}).decode(t, &got)
	e.must(t, http.StatusOK, tok, "PATCH", "/clients/"+created.ID, map[string]any{"name": "Renamed"}).decode(t, &got)
	if !got.RequireOrganization || got.Name != "Renamed" {
		t.Errorf("PATCH name only after require_organization=true: %+v", got)
	}
	r := e.must(t, http.StatusOK, tok, "GET", "/clients/"+e.web.id, nil)
	if !strings.Contains(r.String(), `"require_organization":false`) {
		t.Errorf("GET of a client without the flag: %s, want require_organization false", r)
	}

	dir := t.TempDir()
	env := append(slices.Clone(e.dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey)
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--require-organization"}, true},
		{nil, false},
	} {
		args := append([]string{"clients", "create", "--name", "CLI App", "--grant-type", "authorization_code",
			"--redirect-uri", callback, "--json"}, tc.args...)
		res := foyer(t, dir, env, args...)
		if res.code != 0 {
			t.Fatalf("foyer %v: exit %d, stderr %q", args, res.code, res.stderr)
		}
		var out struct {
			ClientID            string `json:"client_id"`
			RequireOrganization *bool  `json:"require_organization"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
			t.Fatalf("foyer %v printed %s: %v", args, res.stdout, err)
		}
		if out.RequireOrganization == nil || *out.RequireOrganization != tc.want {
			t.Errorf("foyer %v: require_organization %v, want %v", args, out.RequireOrganization, tc.want)
		}
		c, err := e.store.GetClient(t.Context(), out.ClientID)
		if err != nil || c.RequireOrganization != tc.want {
			t.Errorf("stored client after foyer %v: %+v %v, want RequireOrganization %v", args, c, err, tc.want)
		}
	}
}
