package main

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
)

const acceptSignUpButton = `form[action="/invitations/accept/signup"] button`

// TestBrowserInvitationSignUpOrgRole: a machine with foyer:admin invites
// new@example.com into Acme as editor; the email arrives at the SMTP
// server with a link built from the issuer (LG-09); in Chromium the link
// shows who invites and as what and consumes nothing (ML-04); "Accept and
// create an account" signs the person up and in; an application then gets,
// through the code flow with the org scope, an ID token that carries Acme
// and the role editor (MT-01). The link then works no more (ML-02).
func TestBrowserInvitationSignUpOrgRole(t *testing.T) {
	se := newSigninEnv(t, "embedded")
	e := adminEnvOn(t, se.oidcEnv)
	ctx := t.Context()
	acme, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	const email, name, pass = "new@example.com", "New Editor", "a long invited pass phrase"
	e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+acme.ID+"/invitations",
		map[string]any{"email": email, "role": "editor"})

	m := se.mail.Wait(t, 1)[0]
	link := m.Link(t)
	if m.To != email || !strings.HasPrefix(link, e.issuer+"/invitations/accept?token=") {
		t.Fatalf("LG-09: invitation email to %s with the link %s", m.To, link)
	}
	b := newPerson(t, e.issuer)
	text := b.open(link, acceptSignUpButton)
	if !strings.Contains(text, "Acme invited you as editor") || !strings.Contains(text, email) {
		t.Errorf("invitation page:\n%s", text)
	}
	if is, err := e.store.ListInvitations(ctx, acme.ID); err != nil || len(is) != 1 || !is[0].Open() {
		t.Fatalf("ML-04: opening the link changed the invitation: %+v, %v", is, err)
	}
	b.Screenshot("invitation-signup")
	b.Fill("#name", name)
	b.Fill("#password", pass)
	b.Click(acceptSignUpButton)
	text = b.at("/account", signOutButton)
	if !strings.Contains(text, email) || !strings.Contains(text, name) {
		t.Errorf("account page after accepting:\n%s", text)
	}
	b.Screenshot("invitation-accepted")

	app, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Org App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "email", "org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "email", "org"}}
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	b.Navigate(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	// Signed in already: no password, only the consent (the callback's
	// address is what the application gets; nothing listens there).
	if text := b.at("/consent", allowButton); !strings.Contains(text, "Org App") || !strings.Contains(text, email) {
		t.Errorf("consent page:\n%s", text)
	}
	b.Click(allowButton)
	at := b.WaitURL(callback)
	if at.Query().Get("state") != state || at.Query().Get("code") == "" {
		t.Fatalf("callback = %s", at)
	}
	tok, err := conf.Exchange(ctx, at.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: app.ID}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
		orgClaims
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != email || claims.OrgID != acme.ID || claims.OrgSlug != "acme" || claims.OrgRole != "editor" {
		t.Errorf("MT-01: ID token claims %+v, want %s in acme as editor", claims, email)
	}

	b.expectStatus(http.StatusGone)
	b.open(link, "h1")
	if text := b.Text("main"); !strings.Contains(text, "no longer valid") {
		t.Errorf("ML-02: the used link shows:\n%s", text)
	}
}
