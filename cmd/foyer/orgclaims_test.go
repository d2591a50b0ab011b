package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

type orgClaims struct {
	OrgID          string              `json:"org_id"`
	OrgSlug        string              `json:"org_slug"`
	OrgRole        string              `json:"org_role"`
	OrgPermissions []string            `json:"org_permissions"`
	Orgs           []map[string]string `json:"orgs"`
}

// TestOrganizationClaims: the org scope carries the chosen organization's
// role and permissions, computed from the current membership at every
// issuance (MT-01, MT-03, MT-04).
func TestOrganizationClaims(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateOrganization(ctx, "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateOrganization(ctx, "initech", "Initech"); err != nil {
		t.Fatal(err)
	}
	for slug, role := range map[string]string{"acme": "editor", "globex": "member"} {
		if _, err := dir.AddMember(ctx, slug, e.email, role); err != nil {
			t.Fatal(err)
		}
	}
	reg := testRegistrar(e.store)
	app, secret, err := reg.Create(ctx, clients.NewClient{
		Name: "Org App", RedirectURIs: []string{callback}, FirstParty: true,
		GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes:     []string{"openid", "email", "offline_access", "org", "orgs"},
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{"openid", "offline_access", "org", "orgs"}}
	idVerifier := provider.Verifier(&oidc.Config{ClientID: app.ID})
	pkce := oauth2.GenerateVerifier()
	claimsOf := func(tok *oauth2.Token) orgClaims {
		t.Helper()
		idt, err := idVerifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c orgClaims
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		// The access token carries the same claims (PRODUCT.md contract).
		payload, err := oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json").VerifySignature(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"org_id":"` + c.OrgID + `"`; c.OrgID != "" && !strings.Contains(string(payload), want) {
			t.Errorf("access token %s lacks %s", payload, want)
		}
		// ...and so does its introspection, claim for claim.
		var access map[string]any
		if err := json.Unmarshal(payload, &access); err != nil {
			t.Fatal(err)
		}
		in := introspect(t, e.issuer, tok.AccessToken, e.machine)
		for _, k := range []string{"org_id", "org_slug", "org_role", "org_permissions", "orgs", "sub", "client_id", "scope"} {
			if !reflect.DeepEqual(in[k], access[k]) {
				t.Errorf("introspection %s = %v, access token %s = %v", k, in[k], k, access[k])
			}
		}
		return c
	}

	b := newBrowser(t)
	loc := e.signIn(t, b, conf.AuthCodeURL("state-acme", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("organization", "acme")), false)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	got := claimsOf(tok)
	if got.OrgID != acme.ID || got.OrgSlug != "acme" || got.OrgRole != "editor" ||
		!slices.Equal(got.OrgPermissions, []string{"org:read", "org:update", "org:members:read"}) || len(got.Orgs) != 2 {
		t.Errorf("claims for organization=acme: %+v", got)
	}

	// A role change shows in the next refresh (MT-04)...
	if _, err := e.store.UpdateMembership(ctx, acme.ID, mustUserID(t, e), func(m storage.Membership) (storage.Membership, error) {
		m.Role = storage.RoleAdmin
		return m, nil
	}); err != nil {
		t.Fatal(err)
	}
	tok, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(tok); got.OrgRole != "admin" || !slices.Contains(got.OrgPermissions, "org:members:manage") {
		t.Errorf("after promotion to admin, refreshed claims: %+v", got)
	}
	// ...and a removed member's refresh yields no org claims for that
	// organization (issue 5), while orgs lists the ones left.
	if err := e.store.DeleteMembership(ctx, acme.ID, mustUserID(t, e)); err != nil {
		t.Fatal(err)
	}
	tok, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh after leaving the organization: %v", err)
	}
	if got := claimsOf(tok); got.OrgID != "" || got.OrgRole != "" || got.OrgPermissions != nil || len(got.Orgs) != 1 || got.Orgs[0]["slug"] != "globex" {
		t.Errorf("refresh after leaving acme: %+v, want no org claims and orgs [globex]", got)
	}

	// MT-01/02: an organization the person does not belong to is refused,
	// never silently swapped for another.
	loc = e.signIn(t, b, conf.AuthCodeURL("state-initech", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("organization", "initech")), false)
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
		t.Errorf("organization=initech (not a member): %s, want error=access_denied", loc)
	}

	// With no organization parameter and two memberships, the picker asks.
	if _, err := dir.AddMember(ctx, "acme", e.email, "member"); err != nil {
		t.Fatal(err)
	}
	resp, err := b.Get(conf.AuthCodeURL("state-picker", oauth2.S256ChallengeOption(pkce)))
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if resp.Request.URL.Path != "/select-organization" || !strings.Contains(page, "Globex") || !strings.Contains(page, "Acme") {
		t.Fatalf("without organization=: ended at %s\n%s", resp.Request.URL, page)
	}
	form := formFields(t, page)
	globex, err := e.store.GetOrganizationBySlug(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	form.Set("organization", globex.ID)
	resp, err = b.PostForm(e.issuer+"/select-organization", form)
	if err != nil {
		t.Fatal(err)
	}
	loc, err = resp.Location()
	resp.Body.Close()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("after picking Globex: %v %v", loc, err)
	}
	tok, err = conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(tok); got.OrgSlug != "globex" || got.OrgRole != "member" {
		t.Errorf("claims after picking Globex: %+v", got)
	}
}

func mustUserID(t *testing.T, e *oidcEnv) string {
	t.Helper()
	u, err := e.store.GetUserByEmail(t.Context(), e.email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
