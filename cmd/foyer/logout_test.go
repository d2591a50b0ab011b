package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
)

const afterLogout = "http://127.0.0.1:9/signed-out"

// TestRPInitiatedLogout: a valid id_token_hint ends the session and returns
// to the registered address with state; a modified hint or an unregistered
// address never redirects (CS oidcc-rp-initiated-logout-*).
func TestRPInitiatedLogout(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	app, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Logout App", FirstParty: true, RedirectURIs: []string{callback}, PostLogoutRedirectURIs: []string{afterLogout},
		GrantTypes: []string{"authorization_code"},
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{"openid"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t)
	signIn := func() string {
		loc := e.signIn(t, b, conf.AuthCodeURL("state-login", oauth2.S256ChallengeOption(pkce)), false)
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Extra("id_token").(string)
	}
	noRedirect := func(name string, q url.Values) {
		t.Helper()
		resp, err := b.Get(e.issuer + "/oauth2/logout?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body := read(t, resp)
		if resp.StatusCode != http.StatusBadRequest || strings.HasPrefix(resp.Request.URL.String(), afterLogout) {
			t.Errorf("%s: %d at %s, want a 400 page and no redirect\n%s", name, resp.StatusCode, resp.Request.URL, body)
		}
	}
	silentAuth := func() url.Values {
		t.Helper()
		resp, err := b.Get(conf.AuthCodeURL("state-silent", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("prompt", "none")))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("prompt=none did not redirect: %d at %s", resp.StatusCode, resp.Request.URL)
		}
		return loc.Query()
	}

	hint := signIn()
	modified := hint[:len(hint)-4] + "AAAA"
	// SC-06: no redirect to anything but a registered URI, for a hint Foyer signed.
	noRedirect("SC-06 modified id_token_hint", url.Values{"id_token_hint": {modified}, "post_logout_redirect_uri": {afterLogout}})
	noRedirect("SC-06 unregistered post_logout_redirect_uri", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {afterLogout + "/evil"}})
	noRedirect("SC-06 registered post_logout_redirect_uri with a query appended", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {afterLogout + "?next=https://evil.example/"}})
	noRedirect("SC-06 redirect without hint or client_id", url.Values{"post_logout_redirect_uri": {afterLogout}})
	noRedirect("SC-06 alg=none hint", url.Values{"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, "post_logout_redirect_uri": {afterLogout}})
	if q := silentAuth(); q.Get("code") == "" {
		t.Fatalf("refused logouts ended the session: prompt=none gave %v", q)
	}

	resp, err := b.Get(e.issuer + "/oauth2/logout?" + url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {afterLogout}, "state": {"bye-123"},
	}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), afterLogout) || loc.Query().Get("state") != "bye-123" {
		t.Fatalf("logout with a valid hint: %d, Location %v", resp.StatusCode, loc)
	}
	// The person is really signed out (CS: prompt=none must now fail).
	if q := silentAuth(); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after logout = %v, want error=login_required", q)
	}

	// Without a hint the person is asked, and only their confirmation ends
	// the session.
	signIn()
	resp, err = b.Get(e.issuer + "/oauth2/logout")
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if !strings.Contains(page, "Sign out") || silentAuth().Get("code") == "" {
		t.Fatalf("logout without a hint did not ask first:\n%s", page)
	}
	form := formFields(t, page)
	resp, err = b.PostForm(e.issuer+"/oauth2/logout", form)
	if err != nil {
		t.Fatal(err)
	}
	if body := read(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "signed out") {
		t.Errorf("confirmed logout: %d\n%s", resp.StatusCode, body)
	}
	if q := silentAuth(); q.Get("error") != "login_required" {
		t.Errorf("prompt=none after confirmed logout = %v, want login_required", q)
	}
}
