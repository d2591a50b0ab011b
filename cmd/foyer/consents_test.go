package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/idp"
)

// TestConsentsCLI: consents list shows what a person allowed through the
// flow, and after consents revoke the client's next authorization asks
// again. The binary runs against the database of the running server.
func TestConsentsCLI(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			dir := t.TempDir()
			run := func(args ...string) result {
				t.Helper()
				return foyer(t, dir, e.dbEnv, append([]string{"consents"}, args...)...)
			}
			ok := func(v any, args ...string) {
				t.Helper()
				r := run(append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer consents %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
					t.Fatalf("foyer consents %v printed no JSON: %v\n%s", args, err, r.stdout)
				}
			}
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := run(args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer consents %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q",
						args, r.code, r.stdout, r.stderr, code, want)
				}
			}

			conf := oauth2.Config{ClientID: e.web.id, RedirectURL: callback, Scopes: []string{"openid", "email"},
				Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize"}}
			authURL := conf.AuthCodeURL("state-consents", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			b := newBrowser(t)
			e.signIn(t, b, authURL, true)
			aliceID := mustUserID(t, e)

			var list []map[string]any
			ok(&list, "list", "--user", e.email)
			if len(list) != 1 || list[0]["user_id"] != aliceID || list[0]["client_id"] != e.web.id ||
				list[0]["client_name"] != "Web App" || !jsonEqual(list[0]["scopes"], []any{"openid", "email"}) || list[0]["granted_at"] == "" {
				t.Errorf("consents list after allowing Web App = %v", list)
			}
			// By ID too, and one human line without --json.
			if r := run("list", "--user", aliceID); r.code != 0 || !strings.HasPrefix(r.stdout, e.web.id) ||
				!strings.Contains(r.stdout, "Web App") || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("consents list --user %s: exit %d, stdout %q, stderr %q", aliceID, r.code, r.stdout, r.stderr)
			}

			var revoked map[string]any
			ok(&revoked, "revoke", "--user", e.email, "--client", e.web.id)
			if revoked["user_id"] != aliceID || revoked["client_id"] != e.web.id || revoked["revoked"] != true {
				t.Errorf("consents revoke = %v", revoked)
			}
			if ok(&list, "list", "--user", e.email); len(list) != 0 {
				t.Errorf("consents list after revoke = %v, want []", list)
			}
			if r := run("list", "--user", e.email); r.code != 0 || r.stdout != "no consents for "+e.email+"\n" {
				t.Errorf("consents list (none) without --json: exit %d, stdout %q", r.code, r.stdout)
			}

			fails(1, `client: `+e.email+` has no consent to client "`+e.web.id+`"`, "revoke", "--user", e.email, "--client", e.web.id)
			fails(1, `client: `+e.email+` has no consent to client "nope"`, "revoke", "--user", aliceID, "--client", "nope")
			fails(1, `user: no user "carol@example.com"`, "revoke", "--user", "carol@example.com", "--client", e.web.id)
			fails(1, `user: no user "usr_nope"`, "list", "--user", "usr_nope")
			fails(2, "missing --client", "revoke", "--user", e.email)
			fails(2, "missing --user", "list")

			// The signed-in browser's next authorization asks again.
			resp, err := b.Get(authURL)
			if err != nil {
				t.Fatal(err)
			}
			if page := read(t, resp); resp.Request.URL.Path != "/consent" || !strings.Contains(page, "Web App") {
				t.Fatalf("authorization after revocation ended at %s (%d), want the consent page:\n%s", resp.Request.URL, resp.StatusCode, page)
			}
		})
	}
}

// TestSecurityConsentBelongsToItsUser covers SC-04: a consent given on a
// pending authorization is that person's alone. Alice allows, but before
// the flow resumes the browser signs in as Bob; resuming Alice's
// authorization must ask Bob, not hand him a code on Alice's consent.
func TestSecurityConsentBelongsToItsUser(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	const bobEmail, bobPass = "bob@example.com", "another horse battery"
	if _, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateUser(ctx, idp.NewUser{
		Email: bobEmail, Password: bobPass, Name: "Bob", EmailVerified: true,
	}); err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize"}, Scopes: []string{"openid", "email"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t)
	stay := &http.Client{Jar: b.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signInAs := func(authURL, email, pass string) (page string) {
		t.Helper()
		resp, err := b.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		resp = signInWithPassword(t, b, e.issuer, read(t, resp), email, pass)
		page = read(t, resp)
		if resp.Request.URL.Path != "/consent" || !strings.Contains(page, "Signed in as "+email) {
			t.Fatalf("after %s signs in: at %s, want the consent page:\n%s", email, resp.Request.URL, page)
		}
		return page
	}

	// Alice allows; the browser does not resume yet.
	page := signInAs(conf.AuthCodeURL("state-alice", oauth2.S256ChallengeOption(pkce)), e.email, e.pass)
	form := formFields(t, page)
	form.Set("decision", "allow")
	resp, err := stay.PostForm(e.issuer+"/consent", form)
	if err != nil {
		t.Fatal(err)
	}
	resume, err := resp.Location()
	resp.Body.Close()
	if err != nil || resume.Path != "/oauth2/authorize/continue" {
		t.Fatalf("Allow = %d %v, want a redirect to resume the flow", resp.StatusCode, resume)
	}

	// Bob signs in in the same browser (another flow), then Alice's resumes.
	signInAs(conf.AuthCodeURL("state-bob", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "login")), bobEmail, bobPass)
	if resp, err = b.Get(resume.String()); err != nil {
		t.Fatal(err)
	}
	page = read(t, resp)
	if resp.Request.URL.Path != "/consent" || !strings.Contains(page, "Signed in as "+bobEmail) {
		t.Errorf("resuming Alice's consented flow as Bob ended at %s, want Bob's own consent page:\n%s", resp.Request.URL, page)
	}
}
