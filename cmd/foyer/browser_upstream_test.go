package main

import (
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/storage"
)

// TestBrowserUpstreamFoyer: sign-in with another Foyer as the upstream
// OpenID provider, in headless Chromium, with real discovery, real tokens
// and its real sign-in pages. Foyer A (127.0.0.1) has a global connection
// to Foyer B (localhost: another host, so the two keep their cookies
// apart), which registered A's callback as a first-party client.
//
//   - zoe, unknown to A, continues with Foyer B: her account is created
//     (address verified by B) and she is signed in, amr ext;
//   - signed out of A and back, she continues with Foyer B again and is
//     the same account, without signing in at B again;
//   - alice has accounts at both, and the connection does not link by
//     email: A asks her to sign in to her A account first; she does, with
//     her A password, and links B from her account page; the next
//     "Continue with Foyer B" signs her in to that account at once.
func TestBrowserUpstreamFoyer(t *testing.T) {
	a := newSigninEnvAt(t, "embedded", "127.0.0.1")
	b := newSigninEnvAt(t, "embedded", "localhost")
	ctx := t.Context()
	const secret = "foyer-a-client-secret-at-foyer-b-0123456789"
	conn, err := a.srv.upstream.CreateConnection(ctx, upstream.NewConnection{
		Type: storage.UpstreamOIDC, Name: "Foyer B", Issuer: b.issuer, ClientID: "foyer-a", ClientSecret: secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := testRegistrar(b.store).Create(ctx, clients.NewClient{
		ID: "foyer-a", Secret: secret, Name: "Foyer A", RedirectURIs: []string{a.srv.upstream.CallbackURL(conn.ID)},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "email", "profile"}, FirstParty: true,
	}); err != nil {
		t.Fatal(err)
	}
	const zoePass = "zoe's upstream password"
	if _, err := idp.NewDirectory(idp.Options{Store: b.store}).CreateUser(ctx, idp.NewUser{
		Email: "zoe@example.com", Password: zoePass, Name: "Zoe", EmailVerified: true,
	}); err != nil {
		t.Fatal(err)
	}
	continueWithB := `form[action="/login/upstream/` + conn.ID + `/start"] button`

	p := newPerson(t, a.issuer)
	page := p.open("/login", continueWithB)
	if !strings.Contains(page, "Continue with Foyer B") {
		t.Fatalf("sign-in page:\n%s", page)
	}
	p.Screenshot("upstream-buttons")
	p.Click(continueWithB)
	p.WaitURL(b.issuer + "/login")
	p.WaitVisible("#email")
	p.Fill("#email", "zoe@example.com")
	p.Click(continueButton)
	p.WaitVisible("#password")
	p.Fill("#password", zoePass)
	p.Click(signInButton)
	if page := p.at("/account", signOutButton); !strings.Contains(page, "zoe@example.com") {
		t.Fatalf("after the upstream sign-in:\n%s", page)
	}
	zoe, err := a.store.GetUserByEmail(ctx, "zoe@example.com")
	if err != nil || !zoe.EmailVerified || zoe.PasswordHash != "" {
		t.Fatalf("zoe at A: %+v, %v", zoe, err)
	}
	bZoe, _ := b.store.GetUserByEmail(ctx, "zoe@example.com")
	if id, err := a.store.GetExternalIdentity(ctx, conn.ID, bZoe.ID); err != nil || id.UserID != zoe.ID {
		t.Errorf("zoe's identity at A: %+v, %v; want (connection, B's subject)", id, err)
	}

	// Signed out of A, she comes back through B's session: same account.
	p.Click(signOutButton)
	p.at("/account/signed-out", "h1")
	p.open("/login", continueWithB)
	p.Click(continueWithB)
	if page := p.at("/account", signOutButton); !strings.Contains(page, "zoe@example.com") {
		t.Fatalf("second upstream sign-in:\n%s", page)
	}
	if users, _ := a.store.ListUsers(ctx, storage.Page{Limit: 100}); len(users) != 2 {
		t.Errorf("A has %d users after two sign-ins, want alice and zoe", len(users))
	}

	// alice: an account at A with her address, not linked by email.
	q := newPerson(t, a.issuer)
	q.open("/login", continueWithB)
	q.Click(continueWithB)
	q.WaitURL(b.issuer + "/login")
	q.WaitVisible("#email")
	q.Fill("#email", b.email)
	q.Click(continueButton)
	q.WaitVisible("#password")
	q.Fill("#password", b.pass)
	q.Click(signInButton)
	if page := q.at("/login/upstream/link", "main"); !strings.Contains(page, "already exists") {
		t.Fatalf("alice's first upstream sign-in:\n%s", page)
	}
	q.Screenshot("upstream-link-sign-in-first")
	q.Click(`form[action="/login"] button`)
	q.at("/login", "#email")
	q.continueAs(a.email)
	q.Fill("#password", a.pass)
	q.Click(signInButton)
	if page := q.at("/account", `form[action="/login/upstream/link"] button`); !strings.Contains(page, "Link your Foyer B account") {
		t.Fatalf("account page after signing in:\n%s", page)
	}
	q.Screenshot("upstream-link-offer")
	q.Click(`form[action="/login/upstream/link"] button`)
	loc := q.WaitURL(a.issuer + "/account?done=linked")
	if page := q.at("", `form[action="/account/connections/remove"] button`); !strings.Contains(page, "Foyer B") {
		t.Fatalf("account page at %s after linking:\n%s", loc, page)
	}
	q.Screenshot("upstream-linked")
	aliceAtA, _ := a.store.GetUserByEmail(ctx, a.email)
	aliceAtB, _ := b.store.GetUserByEmail(ctx, b.email)
	if id, err := a.store.GetExternalIdentity(ctx, conn.ID, aliceAtB.ID); err != nil || id.UserID != aliceAtA.ID {
		t.Errorf("alice's link: %+v, %v", id, err)
	}
	q.Click(signOutButton)
	q.at("/account/signed-out", "h1")
	q.open("/login", continueWithB)
	q.Click(continueWithB)
	if page := q.at("/account", signOutButton); !strings.Contains(page, a.email) {
		t.Fatalf("alice's upstream sign-in after linking:\n%s", page)
	}
}

// TestBrowserUpstreamRefusal: in Chromium, an upstream answer whose ID
// token is for another audience, or signed by a key the provider does not
// publish, ends on a clear "Sign-in failed" page, with nobody signed in.
// (A real Foyer cannot be made to send such tokens: the stand-in
// provider of the HTTP-level tests does.)
func TestBrowserUpstreamRefusal(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", nil)
	button := `form[action="/login/upstream/` + e.conn.ID + `/start"] button`
	for _, tc := range []struct {
		name    string
		tamper  func(map[string]any)
		unknown bool
	}{
		{name: "wrong audience", tamper: func(c map[string]any) { c["aud"] = "someone-else" }},
		{name: "unknown signing key", unknown: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.fake.as("sub-browser-"+strings.ReplaceAll(tc.name, " ", "-"), "browser@example.com", true)
			var key *rsa.PrivateKey
			if tc.unknown {
				key = e.fake.unknown
			}
			e.fake.set(tc.tamper, key)
			p := newPerson(t, e.issuer)
			p.open("/login", button)
			p.expectStatus(http.StatusBadRequest)
			p.Click(button)
			page := p.at("/login/upstream/"+e.conn.ID+"/callback", "main")
			if !strings.Contains(page, "Sign-in failed") || !strings.Contains(page, "could not be verified") {
				t.Fatalf("after a refused answer:\n%s", page)
			}
			p.Screenshot("upstream-refused-" + strings.ReplaceAll(tc.name, " ", "-"))
			if _, err := e.store.GetUserByEmail(t.Context(), "browser@example.com"); err == nil {
				t.Error("an account was made")
			}
		})
	}
}
