package main

import (
	"testing"

	"golang.org/x/oauth2"

	ssosaml "github.com/foyerdev/foyer/idp/saml"
)

// TestBrowserSAML: single sign-on in headless Chromium, from an
// application's sign-in through identifier-first routing, the IdP's own
// login form and its auto-posting response, back to the application with
// a code whose tokens carry the organization role the IdP group maps to.
func TestBrowserSAML(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{GroupRoles: []ssosaml.GroupRole{{Group: "engineering", Role: "editor"}}}, true)
	a := newOrgApp(t, e.oidcEnv, "openid", "email", "org")
	pkce := oauth2.GenerateVerifier()
	p := newPerson(t, e.issuer)
	p.open(a.conf.AuthCodeURL("state-browser-saml", oauth2.S256ChallengeOption(pkce)), "#email")
	p.Fill("#email", "ada@corp.example")
	p.Click(continueButton)
	p.WaitURL(e.idp.base + "/sso")
	p.WaitVisible("#user")
	p.Screenshot("saml-idp-login")
	p.Fill("#user", "ada")
	p.Fill("#password", "idp password")
	p.Click("#idp-login")
	loc := p.WaitURL(callback)
	if loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-browser-saml" {
		t.Fatalf("the application got %s", loc)
	}
	tok, err := a.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	wantOrg(t, "SAML in the browser", a.claims(t, tok), e.acme, "editor", editorPerms...)
}
