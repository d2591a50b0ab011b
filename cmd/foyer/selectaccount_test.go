package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/idp"
)

// TestPromptSelectAccount: prompt=select_account shows the account chooser
// to a signed-in person (OIDC Core §3.1.2.1). "Continue as …" keeps the
// session's person; "Use another account" signs someone else in; and
// prompt=none cannot show it (§3.1.2.6).
func TestPromptSelectAccount(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	const bobEmail, bobPass = "bob@example.com", "another horse battery"
	bob, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateUser(ctx, idp.NewUser{
		Email: bobEmail, Password: bobPass, Name: "Bob", EmailVerified: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email"}}
	pkce := oauth2.GenerateVerifier()
	authURL := func(state, prompt string) string {
		return conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", prompt))
	}
	// idToken redeems the code of a callback and returns its ID token's
	// claims.
	type claims struct {
		Sub      string `json:"sub"`
		Email    string `json:"email"`
		AuthTime int64  `json:"auth_time"`
	}
	idToken := func(loc *url.URL) claims {
		t.Helper()
		if loc.Query().Get("code") == "" {
			t.Fatalf("callback %s has no code", loc)
		}
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: e.web.id}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c claims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// post sends the chooser's form with decision and returns where the
	// browser ended.
	post := func(b *http.Client, page, path, decision string) *http.Response {
		t.Helper()
		form := formFields(t, page)
		form.Set("decision", decision)
		resp, err := b.PostForm(e.issuer+path, form)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// chooser starts an authorization that must stop at the chooser.
	chooser := func(b *http.Client, state, email string) string {
		t.Helper()
		resp, err := b.Get(authURL(state, "select_account"))
		if err != nil {
			t.Fatal(err)
		}
		page := read(t, resp)
		if resp.Request.URL.Path != "/select-account" || resp.StatusCode != http.StatusOK {
			t.Fatalf("prompt=select_account ended at %s (%d), want the account chooser:\n%s", resp.Request.URL, resp.StatusCode, page)
		}
		for _, s := range []string{"Choose an account", "Web App", ">Continue as " + email + "</button>", ">Use another account</button>"} {
			if !strings.Contains(page, s) {
				t.Errorf("account chooser lacks %q:\n%s", s, page)
			}
		}
		return page
	}

	// Without a session, select_account is just the sign-in page, and the
	// sign-in is the choice: no chooser after it.
	b := newBrowser(t)
	resp, err := b.Get(authURL("state-anon", "select_account"))
	if err != nil {
		t.Fatal(err)
	}
	if page := read(t, resp); resp.Request.URL.Path != "/login" {
		t.Fatalf("select_account without a session ended at %s, want the sign-in page:\n%s", resp.Request.URL, page)
	}
	first := idToken(e.signIn(t, b, authURL("state-anon", "select_account"), true))
	aliceSub := first.Sub

	// Continue: a code for the same person, without signing in again.
	page := chooser(b, "state-continue", e.email)
	resp = post(b, page, "/select-account", "continue")
	loc, err := resp.Location()
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("state") != "state-continue" {
		t.Fatalf("after Continue: %v %v, want the callback with the state", loc, err)
	}
	if got := idToken(loc); got.Sub != aliceSub || got.AuthTime != first.AuthTime {
		t.Errorf("after Continue: sub %q auth_time %d, want %q and the first sign-in's %d", got.Sub, got.AuthTime, aliceSub, first.AuthTime)
	}

	// The form needs the CSRF token.
	page = chooser(b, "state-csrf", e.email)
	form := formFields(t, page)
	form.Set("csrf_token", strings.Repeat("x", 43))
	form.Set("decision", "continue")
	if resp, err = b.PostForm(e.issuer+"/select-account", form); err != nil {
		t.Fatal(err)
	}
	if read(t, resp); resp.StatusCode != http.StatusForbidden {
		t.Errorf("chooser posted with a wrong CSRF token = %d, want 403", resp.StatusCode)
	}

	// Use another account: the sign-in page, which the flow keeps asking
	// for until someone signs in.
	page = chooser(b, "state-another", e.email)
	resp = post(b, page, "/select-account", "another")
	page = read(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("after Use another account: at %s, want the sign-in page:\n%s", resp.Request.URL, page)
	}
	challenge := formFields(t, page).Get("challenge")
	resp, err = b.Get(e.issuer + "/oauth2/authorize/continue?challenge=" + url.QueryEscape(challenge))
	if err != nil {
		t.Fatal(err)
	}
	if read(t, resp); resp.Request.URL.Path != "/login" {
		t.Errorf("continuing without signing in ended at %s, want the sign-in page", resp.Request.URL)
	}
	// Bob signs in (replacing alice's session) and, new to the client,
	// consents.
	resp = signInWithPassword(t, b, e.issuer, page, bobEmail, bobPass)
	page = read(t, resp)
	if resp.Request.URL.Path != "/consent" || !strings.Contains(page, "Signed in as "+bobEmail) {
		t.Fatalf("after bob signs in: at %s, want bob's consent page:\n%s", resp.Request.URL, page)
	}
	resp = post(b, page, "/consent", "allow")
	loc, err = resp.Location()
	resp.Body.Close()
	if err != nil || !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("state") != "state-another" {
		t.Fatalf("after bob consents: %v %v, want the callback with the state", loc, err)
	}
	if got := idToken(loc); got.Sub != bob.ID || got.Sub == aliceSub || got.Email != bobEmail {
		t.Errorf("after Use another account: sub %q email %q, want bob (%s)", got.Sub, got.Email, bob.ID)
	}
	// The browser is bob's now.
	chooser(b, "state-bob", bobEmail)

	// prompt=none cannot show the chooser: account_selection_required for
	// a signed-in browser, login_required for one that is not (fosite's
	// refusal of none with other values comes later, at code issuance, and
	// is never reached).
	for _, tc := range []struct {
		name    string
		browser *http.Client
		want    string
	}{
		{"signed in", b, "account_selection_required"},
		{"signed out", newBrowser(t), "login_required"},
	} {
		resp, err := tc.browser.Get(authURL("state-none", "none select_account"))
		if err != nil {
			t.Fatal(err)
		}
		loc, err := resp.Location()
		resp.Body.Close()
		if err != nil || !strings.HasPrefix(loc.String(), callback) {
			t.Errorf("%s: prompt=none select_account ended at %s (%d), want a redirect to the callback", tc.name, resp.Request.URL, resp.StatusCode)
			continue
		}
		if q := loc.Query(); q.Get("error") != tc.want || q.Get("state") != "state-none" || q.Has("code") || q.Get("iss") != e.issuer {
			t.Errorf("%s: prompt=none select_account = %s, want error=%s with the state and iss", tc.name, loc, tc.want)
		}
	}
}
