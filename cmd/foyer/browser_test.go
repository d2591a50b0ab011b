package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/cmd/foyer/internal/browsertest"
)

// TestBrowserSignInPage walks the authorization code flow in headless
// Chromium as a person would: the two sign-in steps, the consent page, and
// back to the relying party with a code. It saves screenshots of the pages and
// checks that they break nothing, Content-Security-Policy included.
func TestBrowserSignInPage(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	provider, err := oidc.NewProvider(t.Context(), e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{
		ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-123", oidc.Nonce("nonce-456"), oauth2.S256ChallengeOption(verifier))

	b := browsertest.New(t)
	b.Navigate(authURL)
	b.WaitVisible("#email")
	if got := b.URL().Path; got != "/login" {
		t.Errorf("authorization went to %s, want the sign-in page /login", got)
	}
	if got := b.Text("main"); !strings.Contains(got, "Sign in") || !strings.Contains(got, "Web App") {
		t.Errorf("sign-in page does not say what it is for:\n%s", got)
	}
	b.Screenshot("sign-in")

	b.Fill("#email", e.email)
	b.Click("button[type=submit]")
	b.WaitVisible("#password")
	if got := b.Text("main"); !strings.Contains(got, e.email) || !strings.Contains(got, "Email me a sign-in link") {
		t.Errorf("password step does not show the email and the other way in:\n%s", got)
	}
	b.Screenshot("sign-in-password")
	b.Fill("#password", e.pass)
	b.Click(`form[action="/login/password"] button`)
	b.WaitVisible("button[value=allow]") // only the consent page has it
	if got := b.Text("main"); !strings.Contains(got, "Web App") || !strings.Contains(got, "See your email address") {
		t.Errorf("consent page does not say who asks for what:\n%s", got)
	}
	b.Screenshot("consent")
	if errs := pageErrors(b); len(errs) > 0 {
		t.Errorf("the pages reported errors:\n%s", strings.Join(errs, "\n"))
	}

	b.Click("button[value=allow]")
	// Nothing listens at the callback, so Chromium shows its error page
	// there; the address it went to is what the relying party would get.
	got := b.WaitURL(callback)
	if state := got.Query().Get("state"); state != "state-123" {
		t.Errorf("callback state = %q, want state-123 (%s)", state, got)
	}
	code := got.Query().Get("code")
	if code == "" {
		t.Fatalf("callback carries no code: %s", got)
	}
	// The code is real: it redeems, with the PKCE verifier, for an ID token.
	tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange the code from the browser: %v", err)
	}
	if _, ok := tok.Extra("id_token").(string); !ok {
		t.Error("token response lacks an id_token")
	}
}

// pageErrors is b.ConsoleErrors without the 404 of /favicon.ico, which
// Chromium requests on its own and Foyer does not serve yet. Drop the filter
// once Foyer has an icon.
func pageErrors(b *browsertest.Browser) []string {
	var errs []string
	for _, e := range b.ConsoleErrors() {
		if !strings.Contains(e, "404") || !strings.Contains(e, "/favicon.ico)") {
			errs = append(errs, e)
		}
	}
	return errs
}

// TestBrowserHarnessTestOnly keeps chromedp and the testing package out of
// the foyer binary: browsertest is for tests.
func TestBrowserHarnessTestOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/cmd/foyer").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/browsertest") || strings.HasPrefix(dep, "github.com/chromedp/") {
			t.Errorf("the foyer binary depends on %s", dep)
		}
	}
}
