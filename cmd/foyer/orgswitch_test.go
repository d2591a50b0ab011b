package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// orgApp is a first-party client asking for scopes, signed in to by e's
// person, with helpers that read the org claims of all three views of a
// token.
type orgApp struct {
	e        *oidcEnv
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	keys     *oidc.RemoteKeySet
}

func newOrgApp(t *testing.T, e *oidcEnv, scopes ...string) *orgApp {
	t.Helper()
	ctx := t.Context()
	app, secret, err := testRegistrar(e.store).Create(ctx, clients.NewClient{
		Name: "Org Switch App", RedirectURIs: []string{callback}, FirstParty: true,
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
	return &orgApp{e: e,
		conf: oauth2.Config{ClientID: app.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
			Scopes: scopes},
		verifier: provider.Verifier(&oidc.Config{ClientID: app.ID}),
		keys:     oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json"),
	}
}

// signIn runs the code flow with the extra authorization parameters.
func (a *orgApp) signIn(t *testing.T, params ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	pkce := oauth2.GenerateVerifier()
	loc := a.e.signIn(t, newBrowser(t), a.conf.AuthCodeURL("state-orgswitch", append(params, oauth2.S256ChallengeOption(pkce))...), false)
	tok, err := a.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// refresh is the refresh_token grant with extra form parameters, which
// x/oauth2's TokenSource cannot send. A refused request is an
// *oauth2.RetrieveError, as from x/oauth2.
func (a *orgApp) refresh(t *testing.T, refreshToken string, extra url.Values) (*oauth2.Token, error) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	for k, vs := range extra {
		form[k] = vs
	}
	req, _ := http.NewRequest("POST", a.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.conf.ClientID), url.QueryEscape(a.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
		Error        string `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("token response %d: %s", resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &oauth2.RetrieveError{Response: resp, Body: body, ErrorCode: out.Error}
	}
	tok := &oauth2.Token{AccessToken: out.AccessToken, RefreshToken: out.RefreshToken, Expiry: time.Now().Add(time.Minute)}
	return tok.WithExtra(map[string]any{"id_token": out.IDToken}), nil
}

// switchTo refreshes into the organization ref (ID or slug).
func (a *orgApp) switchTo(t *testing.T, tok *oauth2.Token, ref string) (*oauth2.Token, error) {
	t.Helper()
	return a.refresh(t, tok.RefreshToken, url.Values{"organization": {ref}})
}

// claims returns the ID token's org claims after checking that the access
// token and its introspection carry exactly the same ones (the README's
// contract: the same claims in all three).
func (a *orgApp) claims(t *testing.T, tok *oauth2.Token) orgClaims {
	t.Helper()
	ctx := t.Context()
	idt, err := a.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var fromID, fromAccess map[string]any
	if err := idt.Claims(&fromID); err != nil {
		t.Fatal(err)
	}
	payload, err := a.keys.VerifySignature(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &fromAccess); err != nil {
		t.Fatal(err)
	}
	in := introspect(t, a.e.issuer, tok.AccessToken, a.e.machine)
	if in["active"] != true {
		t.Fatalf("introspection of a fresh access token: %v", in)
	}
	for _, k := range []string{"org_id", "org_slug", "org_role", "org_permissions", "orgs"} {
		if !reflect.DeepEqual(fromID[k], fromAccess[k]) || !reflect.DeepEqual(in[k], fromAccess[k]) {
			t.Errorf("%s: ID token %v, access token %v, introspection %v", k, fromID[k], fromAccess[k], in[k])
		}
	}
	var c orgClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantOrg checks the claims name org with role and the role's permissions.
func wantOrg(t *testing.T, what string, got orgClaims, org storage.Organization, role string, perms ...string) {
	t.Helper()
	if got.OrgID != org.ID || got.OrgSlug != org.Slug || got.OrgRole != role || !slices.Equal(got.OrgPermissions, perms) {
		t.Errorf("%s: claims %+v, want %s (%s) as %s with %v", what, got, org.Slug, org.ID, role, perms)
	}
}

func wantNoOrg(t *testing.T, what string, got orgClaims) {
	t.Helper()
	if got.OrgID != "" || got.OrgSlug != "" || got.OrgRole != "" || got.OrgPermissions != nil {
		t.Errorf("%s: claims %+v, want no organization claims", what, got)
	}
}

// orgSwitchFixture makes acme (the person is an editor), globex (member)
// and initech (not a member).
func orgSwitchFixture(t *testing.T, e *oidcEnv) (acme, globex, initech storage.Organization) {
	t.Helper()
	ctx := t.Context()
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	var err error
	if acme, err = dir.CreateOrganization(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if globex, err = dir.CreateOrganization(ctx, "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	if initech, err = dir.CreateOrganization(ctx, "initech", "Initech"); err != nil {
		t.Fatal(err)
	}
	for slug, role := range map[string]string{"acme": "editor", "globex": "member"} {
		if _, err := dir.AddMember(ctx, slug, e.email, role); err != nil {
			t.Fatal(err)
		}
	}
	return acme, globex, initech
}

var (
	editorPerms = []string{"org:read", "org:update", "org:members:read"}
	memberPerms = []string{"org:read", "org:members:read"}
)

// TestOrgSwitchByRefresh_MT01_MT02_MT03_MT04: the refresh grant's
// organization parameter switches the tokens to another organization the
// person belongs to, without a new sign-in, and later refreshes stay there.
// An organization the person is outside, or that does not exist, is refused
// with invalid_grant and never swapped for another (MT-01, MT-02); the
// refused refresh token stays usable. Claims are only the chosen
// organization's, with no orgs claim without scope orgs (MT-03), and follow
// role changes and removals at the next refresh (MT-04).
func TestOrgSwitchByRefresh_MT01_MT02_MT03_MT04(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			ctx := t.Context()
			acme, globex, initech := orgSwitchFixture(t, e)
			a := newOrgApp(t, e, "openid", "offline_access", "org")

			tok := a.signIn(t, oauth2.SetAuthURLParam("organization", "acme"))
			got := a.claims(t, tok)
			wantOrg(t, "signed in to acme", got, acme, "editor", editorPerms...)
			if got.Orgs != nil {
				t.Errorf("orgs claim without scope orgs (MT-03): %v", got.Orgs)
			}

			// acme → globex by slug: globex's role only, no union (MT-03).
			tok, err := a.switchTo(t, tok, "globex")
			if err != nil {
				t.Fatalf("switch to globex: %v", err)
			}
			wantOrg(t, "switched to globex", a.claims(t, tok), globex, "member", memberPerms...)

			// The switch is stored with the new refresh token: a plain
			// refresh stays on globex, and shows a role change (MT-04).
			if _, err := e.store.UpdateMembership(ctx, globex.ID, mustUserID(t, e), func(m storage.Membership) (storage.Membership, error) {
				m.Role = storage.RoleAdmin
				return m, nil
			}); err != nil {
				t.Fatal(err)
			}
			if tok, err = a.refresh(t, tok.RefreshToken, nil); err != nil {
				t.Fatal(err)
			}
			if got := a.claims(t, tok); got.OrgID != globex.ID || got.OrgRole != "admin" || !slices.Contains(got.OrgPermissions, "org:members:manage") {
				t.Errorf("plain refresh after switching to globex and promotion: %+v", got)
			}

			// ...and back to acme, by ID this time.
			if tok, err = a.switchTo(t, tok, acme.ID); err != nil {
				t.Fatalf("switch back to acme: %v", err)
			}
			wantOrg(t, "switched back to acme", a.claims(t, tok), acme, "editor", editorPerms...)

			// Refused switches (MT-01, MT-02): not a member, unknown slug,
			// unknown ID, all invalid_grant and alike, so they do not tell
			// which organizations exist; no tokens, nothing rotated.
			for _, ref := range []string{"initech", initech.ID, "no-such-org", storage.PrefixOrganization + "nosuchorg"} {
				if bad, err := a.switchTo(t, tok, ref); !isOAuthError(err, "invalid_grant") || bad != nil {
					t.Errorf("switch to %s = %v, %v; want invalid_grant", ref, bad, err)
				}
			}
			// Empty or repeated, the parameter is malformed.
			for _, v := range []url.Values{{"organization": {""}}, {"organization": {"globex", "acme"}}} {
				if _, err := a.refresh(t, tok.RefreshToken, v); !isOAuthError(err, "invalid_request") {
					t.Errorf("refresh with %v = %v, want invalid_request", v, err)
				}
			}
			// The refresh token refused above is still the live one: it
			// works, still on acme (a reuse would have been invalid_grant
			// and revoked the grant).
			if tok, err = a.refresh(t, tok.RefreshToken, nil); err != nil {
				t.Fatalf("refresh after the refused switches: %v", err)
			}
			wantOrg(t, "after refused switches", a.claims(t, tok), acme, "editor", editorPerms...)

			// A removed member's refresh succeeds without that
			// organization's claims (MT-04, issue 5), and stays without:
			// coming back into acme does not silently switch back (MT-02)...
			if err := e.store.DeleteMembership(ctx, acme.ID, mustUserID(t, e)); err != nil {
				t.Fatal(err)
			}
			if tok, err = a.refresh(t, tok.RefreshToken, nil); err != nil {
				t.Fatalf("refresh after removal from acme: %v", err)
			}
			wantNoOrg(t, "after removal from acme", a.claims(t, tok))
			// ...nor to the other organization: a switch to acme, now
			// outside it, is refused.
			if _, err := a.switchTo(t, tok, "acme"); !isOAuthError(err, "invalid_grant") {
				t.Errorf("switch to acme after removal = %v, want invalid_grant", err)
			}
			if _, err := idp.NewDirectory(idp.Options{Store: e.store}).AddMember(ctx, "acme", e.email, "member"); err != nil {
				t.Fatal(err)
			}
			if tok, err = a.refresh(t, tok.RefreshToken, nil); err != nil {
				t.Fatal(err)
			}
			wantNoOrg(t, "plain refresh after rejoining acme", a.claims(t, tok))
			// An explicit switch is how to get back.
			if tok, err = a.switchTo(t, tok, "acme"); err != nil {
				t.Fatalf("switch to acme after rejoining: %v", err)
			}
			wantOrg(t, "switched to acme after rejoining", a.claims(t, tok), acme, "member", memberPerms...)
		})
	}
}

// TestOrgSwitchNeedsOrgScope_MT02_MT03: without the org scope granted, the
// organization parameter of a refresh is refused with invalid_scope rather
// than ignored or widening the grant, and the refresh token stays usable;
// at the code exchange, where it means nothing, it is invalid_request.
func TestOrgSwitchNeedsOrgScope_MT02_MT03(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	orgSwitchFixture(t, e)
	a := newOrgApp(t, e, "openid", "offline_access")

	tok := a.signIn(t)
	wantNoOrg(t, "without scope org", a.claims(t, tok))
	if _, err := a.switchTo(t, tok, "acme"); !isOAuthError(err, "invalid_scope") {
		t.Errorf("switch without scope org = %v, want invalid_scope", err)
	}
	tok, err := a.refresh(t, tok.RefreshToken, nil)
	if err != nil {
		t.Fatalf("refresh after the refused switch: %v", err)
	}
	wantNoOrg(t, "refresh without scope org", a.claims(t, tok))

	a.conf.Scopes = []string{"openid", "offline_access", "org"}
	pkce := oauth2.GenerateVerifier()
	loc := e.signIn(t, newBrowser(t), a.conf.AuthCodeURL("state-orgswitch", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("organization", "acme")), false)
	if _, err := a.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(pkce),
		oauth2.SetAuthURLParam("organization", "globex")); !isOAuthError(err, "invalid_request") {
		t.Errorf("code exchange with organization=globex = %v, want invalid_request", err)
	}
}

// TestOrgClaimsWithoutMembership_MT03: a person who belongs to no
// organization signs in with scopes org and orgs and gets tokens without
// org claims and an empty orgs list, at sign-in and refresh; a switch into
// an organization they are outside is refused.
func TestOrgClaimsWithoutMembership_MT03(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	if _, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(t.Context(), "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	a := newOrgApp(t, e, "openid", "offline_access", "org", "orgs")

	tok := a.signIn(t)
	got := a.claims(t, tok)
	wantNoOrg(t, "no membership", got)
	if got.Orgs == nil || len(got.Orgs) != 0 {
		t.Errorf("orgs claim with no membership: %v, want []", got.Orgs)
	}
	tok, err := a.refresh(t, tok.RefreshToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantNoOrg(t, "no membership, refreshed", a.claims(t, tok))
	if _, err := a.switchTo(t, tok, "acme"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("switch into acme with no membership = %v, want invalid_grant", err)
	}
}
