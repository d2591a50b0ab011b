package main

import (
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// The device authorization grant (RFC 8628) end to end: x/oauth2's device
// flow as the CLI, a cookie-keeping HTTP client as the person's browser.

var userCodeRE = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// deviceEnv is a running Foyer with a public CLI client that may use the
// device grant, a confidential one, and a web client that may not.
type deviceEnv struct {
	*signinEnv
	cli  oauth2.Config // public, as foyer login
	conf *client       // confidential, device grant
	app  *orgApp       // reads the CLI's tokens' claims
}

func newDeviceEnv(t *testing.T, backend string) *deviceEnv {
	t.Helper()
	ctx := t.Context()
	e := &deviceEnv{signinEnv: newSigninEnv(t, backend)}
	reg := testRegistrar(e.store)
	cli, _, err := reg.Create(ctx, clients.NewClient{
		Name: "Terminal", Public: true, GrantTypes: []string{clients.GrantDeviceCode, "refresh_token"},
		Scopes: []string{"openid", "email", "offline_access", "org", "orgs"},
	})
	if err != nil {
		t.Fatal(err)
	}
	conf, secret, err := reg.Create(ctx, clients.NewClient{
		Name: "Smart TV", GrantTypes: []string{clients.GrantDeviceCode}, Scopes: []string{"openid", "email"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.conf = &client{conf.ID, secret}
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	e.cli = oauth2.Config{ClientID: cli.ID, Endpoint: provider.Endpoint(), Scopes: []string{"openid", "email", "offline_access", "org"}}
	e.app = &orgApp{e: e.oidcEnv, conf: e.cli, verifier: provider.Verifier(&oidc.Config{ClientID: cli.ID}),
		keys: oidc.NewRemoteKeySet(ctx, e.issuer+"/.well-known/jwks.json")}
	return e
}

// start asks for a device code as the CLI.
func (e *deviceEnv) start(t *testing.T) *oauth2.DeviceAuthResponse {
	t.Helper()
	da, err := e.cli.DeviceAuth(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return da
}

// poll is one token request with the device code, as clientID (with
// secret, when set). It returns the status and the JSON answer.
func (e *deviceEnv) poll(t *testing.T, clientID, secret, deviceCode string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {clients.GrantDeviceCode}, "device_code": {deviceCode}}
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(read(t, resp)), &out); err != nil {
		t.Fatalf("poll answered no JSON (%d): %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// deviceAuthorization asks for a device code as clientID, with HTTP Basic
// when secret is set.
func (e *deviceEnv) deviceAuthorization(t *testing.T, clientID, secret, scope string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"scope": {scope}}
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.issuer+"/oauth2/device_authorization", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(read(t, resp)), &out); err != nil {
		t.Fatalf("device authorization answered no JSON (%d): %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// wantPoll checks that a poll answers the error code (400).
func (e *deviceEnv) wantPoll(t *testing.T, what, deviceCode, code string) {
	t.Helper()
	status, out := e.poll(t, e.cli.ClientID, "", deviceCode)
	if status != http.StatusBadRequest || out["error"] != code {
		t.Errorf("%s: poll = %d %v, want 400 %s", what, status, out, code)
	}
}

// enter types code at /device in browser b (signed in or not) and returns
// the page it ends at: the confirmation page after signing in as email
// when needed.
func (e *deviceEnv) enter(t *testing.T, b *http.Client, code, email string) (*http.Response, string) {
	t.Helper()
	r := e.fetch(t, b, "GET", "/device", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /device = %v", r)
	}
	form := hidden(r.body)
	form.Set("user_code", code)
	resp, err := b.PostForm(e.issuer+"/device", form)
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if resp.Request.URL.Path == "/login" {
		resp = signInWithPassword(t, b, e.issuer, page, email, e.pass)
		page = read(t, resp)
	}
	return resp, page
}

// decide presses Allow or Deny on the confirmation page.
func (e *deviceEnv) decide(t *testing.T, b *http.Client, page, decision string, extra url.Values) (*http.Response, string) {
	t.Helper()
	form := hidden(page)
	form.Set("decision", decision)
	for k, v := range extra {
		form[k] = v
	}
	resp, err := b.PostForm(e.issuer+"/device/confirm", form)
	if err != nil {
		t.Fatal(err)
	}
	return resp, read(t, resp)
}

// approve signs a new browser in as email and allows code.
func (e *deviceEnv) approve(t *testing.T, code, email string) {
	t.Helper()
	b := newBrowser(t)
	resp, page := e.enter(t, b, code, email)
	if resp.Request.URL.Path != "/device/confirm" {
		t.Fatalf("entering %s ended at %s (%d):\n%s", code, resp.Request.URL, resp.StatusCode, page)
	}
	if resp, page := e.decide(t, b, page, "allow", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Your device is signed in") {
		t.Fatalf("Allow = %d:\n%s", resp.StatusCode, page)
	}
}

// TestDeviceGrant: the whole flow on both backends. The CLI's code typed
// at /device (any case, spaces, no dash), the person signs in and allows;
// the CLI, polling with x/oauth2, gets an ID token, an access token with
// the organization's claims and a refresh token that works; the code then
// answers invalid_grant (DV-05). The codes are stored hashed (DV-03).
func TestDeviceGrant(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newDeviceEnv(t, backend)
			ctx := t.Context()
			dir := idp.NewDirectory(idp.Options{Store: e.store})
			acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dir.AddMember(ctx, "acme", e.email, "editor"); err != nil {
				t.Fatal(err)
			}

			da := e.start(t)
			if !userCodeRE.MatchString(da.UserCode) || da.VerificationURI != e.issuer+"/device" ||
				da.VerificationURIComplete != e.issuer+"/device?user_code="+da.UserCode || da.Interval != 5 ||
				time.Until(da.Expiry) < 590*time.Second || time.Until(da.Expiry) > 610*time.Second || len(da.DeviceCode) < 43 {
				t.Fatalf("DV-01: device authorization = %+v", da)
			}
			e.wantPoll(t, "DV-05 before approval", da.DeviceCode, "authorization_pending")

			// DV-07: the complete URI pre-fills the code and changes nothing.
			b := newBrowser(t)
			r := e.fetch(t, b, "GET", linkPath(t, da.VerificationURIComplete), nil)
			if r.status != http.StatusOK || !strings.Contains(r.body, `value="`+da.UserCode+`"`) {
				t.Errorf("verification_uri_complete: %d, code not pre-filled:\n%s", r.status, r.body)
			}
			typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", " "))
			resp, page := e.enter(t, b, typed, e.email)
			if resp.Request.URL.Path != "/device/confirm" || resp.StatusCode != http.StatusOK {
				t.Fatalf("after signing in: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
			}
			text := html.UnescapeString(page)
			for _, want := range []string{"Sign in Terminal on your device?", "Only continue if you started this yourself",
				da.UserCode, "Sign you in", "See your email address", "Organization: <b>Acme</b>", "Signed in as " + e.email} {
				if !strings.Contains(text, want) {
					t.Errorf("DV-07: the confirmation page lacks %q:\n%s", want, page)
				}
			}
			// Opening the page approves nothing.
			e.clock.Advance(6 * time.Second)
			e.wantPoll(t, "after opening the confirmation page", da.DeviceCode, "authorization_pending")

			if resp, page := e.decide(t, b, page, "allow", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Your device is signed in") {
				t.Fatalf("Allow = %d:\n%s", resp.StatusCode, page)
			}
			tok, err := e.cli.DeviceAccessToken(ctx, da)
			if err != nil {
				t.Fatalf("the CLI's poll after approval: %v", err)
			}
			if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
				t.Fatalf("tokens lack a refresh or ID token: %+v", tok)
			}
			wantOrg(t, "device tokens", e.app.claims(t, tok), acme, "editor", editorPerms...)
			idt, _ := e.app.verifier.Verify(ctx, tok.Extra("id_token").(string))
			if idt.Subject != mustUserID(t, e.oidcEnv) {
				t.Errorf("ID token subject %q", idt.Subject)
			}
			e.wantPoll(t, "DV-05 after the tokens", da.DeviceCode, "invalid_grant")

			refreshed, err := e.cli.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatalf("refresh with the device grant's refresh token: %v", err)
			}
			wantOrg(t, "refreshed device tokens", e.app.claims(t, refreshed), acme, "editor", editorPerms...)

			// DV-03: neither code is stored, only hashes.
			if _, err := e.store.GetDeviceCodeByUserCode(ctx, strings.ReplaceAll(da.UserCode, "-", "")); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DV-03: the user code is stored as is (%v)", err)
			}
			_, err = e.store.UpdateDeviceCode(ctx, da.DeviceCode, func(d storage.DeviceCode) (storage.DeviceCode, error) { return d, nil })
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DV-03: the device code is stored as is (%v)", err)
			}
		})
	}
}

// TestDevicePolling: slow_down raises the interval by 5 s each time
// (DV-04); Deny answers access_denied; expiry answers expired_token, and
// the page refuses the code (DV-05); a code polled by another client is
// invalid_grant and stays usable by its own (DV-06); a client without the
// grant is unauthorized_client at both endpoints (DV-08).
func TestDevicePolling(t *testing.T) {
	e := newDeviceEnv(t, "embedded")

	// DV-04, with the test's clock.
	e.clock.Stop()
	defer e.clock.Start()
	da := e.start(t)
	e.wantPoll(t, "first poll", da.DeviceCode, "authorization_pending")
	e.wantPoll(t, "DV-04 at once", da.DeviceCode, "slow_down")
	e.clock.Advance(6 * time.Second)
	e.wantPoll(t, "DV-04 after 6 s, the interval being 10 s", da.DeviceCode, "slow_down")
	e.clock.Advance(15 * time.Second)
	e.wantPoll(t, "DV-04 after 15 s, the interval being 15 s", da.DeviceCode, "authorization_pending")

	// DV-06: another client's poll is refused and changes nothing.
	status, out := e.poll(t, e.conf.id, e.conf.secret, da.DeviceCode)
	if status != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Errorf("DV-06: another client's poll = %d %v, want invalid_grant", status, out)
	}
	e.clock.Advance(20 * time.Second)
	e.wantPoll(t, "DV-06 the code still works for its client", da.DeviceCode, "authorization_pending")

	// Deny.
	b := newBrowser(t)
	resp, page := e.enter(t, b, da.UserCode, e.email)
	if resp.Request.URL.Path != "/device/confirm" {
		t.Fatalf("entering the code ended at %s:\n%s", resp.Request.URL, page)
	}
	if resp, page := e.decide(t, b, page, "deny", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Request denied") {
		t.Fatalf("Deny = %d:\n%s", resp.StatusCode, page)
	}
	e.clock.Advance(20 * time.Second)
	e.wantPoll(t, "DV-05 after Deny", da.DeviceCode, "access_denied")
	if resp, _ := e.decide(t, b, page, "allow", nil); resp.StatusCode != http.StatusGone && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Allow after Deny = %d, want the code gone", resp.StatusCode)
	}

	// Expiry: 10 minutes.
	da = e.start(t)
	e.clock.Advance(601 * time.Second)
	e.wantPoll(t, "DV-05 after expiry", da.DeviceCode, "expired_token")
	if _, page := e.enter(t, newBrowser(t), da.UserCode, e.email); !strings.Contains(page, "That code is not valid or has expired") {
		t.Errorf("an expired code at /device:\n%s", page)
	}

	// A confidential client authenticates (x/oauth2's DeviceAuth sends no
	// secret, so these are plain requests); a wrong secret is invalid_client.
	if status, out := e.deviceAuthorization(t, e.conf.id, "wrong-"+e.conf.secret, "openid"); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("device authorization with a wrong secret = %d %v, want 401 invalid_client", status, out)
	}
	if status, out := e.deviceAuthorization(t, e.conf.id, e.conf.secret, "openid"); status != http.StatusOK || out["device_code"] == nil {
		t.Errorf("confidential client's device authorization = %d %v", status, out)
	}
	if status, out := e.deviceAuthorization(t, e.conf.id, "", "openid"); status != http.StatusUnauthorized {
		t.Errorf("confidential client without its secret = %d %v, want 401", status, out)
	}
	if status, out := e.deviceAuthorization(t, e.conf.id, e.conf.secret, "openid offline_access"); status != http.StatusBadRequest || out["error"] != "invalid_scope" {
		t.Errorf("a scope the client may not ask for = %d %v, want invalid_scope", status, out)
	}

	// DV-08: the web client has no device grant.
	if status, out := e.deviceAuthorization(t, e.web.id, e.web.secret, "openid"); status != http.StatusBadRequest || out["error"] != "unauthorized_client" {
		t.Errorf("DV-08: device authorization by a client without the grant = %d %v, want unauthorized_client", status, out)
	}
	status, out = e.poll(t, e.web.id, e.web.secret, da.DeviceCode)
	if status != http.StatusBadRequest || out["error"] != "unauthorized_client" {
		t.Errorf("DV-08: token request by a client without the grant = %d %v, want unauthorized_client", status, out)
	}
	e.wantPoll(t, "an unknown device code", "not-a-device-code", "invalid_grant")
}

// TestDeviceConcurrentPolls: of two polls at once of an approved code,
// exactly one gets tokens (DV-05).
func TestDeviceConcurrentPolls(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newDeviceEnv(t, backend)
			da := e.start(t)
			e.approve(t, da.UserCode, e.email)
			var wg sync.WaitGroup
			results := make(chan map[string]any, 2)
			for range 2 {
				wg.Go(func() {
					_, out := e.poll(t, e.cli.ClientID, "", da.DeviceCode)
					results <- out
				})
			}
			wg.Wait()
			close(results)
			var tokens, refused int
			for out := range results {
				switch {
				case out["access_token"] != nil:
					tokens++
				case out["error"] == "invalid_grant":
					refused++
				default:
					t.Errorf("concurrent poll: %v", out)
				}
			}
			if tokens != 1 || refused != 1 {
				t.Errorf("concurrent polls: %d got tokens, %d invalid_grant; want 1 and 1", tokens, refused)
			}
		})
	}
}

// TestDeviceUserCodeGuessing (DV-02): wrong codes get one answer whether
// they are unknown, malformed, expired or used; after 5 tries a browser
// is refused (429), a correct code included, so a burst cannot find
// pending codes; a fresh browser on the same IP gets 20 tries in all.
func TestDeviceUserCodeGuessing(t *testing.T) {
	e := newDeviceEnv(t, "embedded")
	da := e.start(t)
	b := newBrowser(t)
	const generic = "That code is not valid or has expired. Check the code on your device and try again."
	for i, guess := range []string{"BCDF-GHJK", "hello", "", "BCDFGHJKL", "AAAA-AAAA"} {
		_, page := e.enter(t, b, guess, e.email)
		if !strings.Contains(page, generic) {
			t.Errorf("guess %d %q: page lacks the generic answer:\n%s", i, guess, page)
		}
	}
	r := e.fetch(t, b, "GET", "/device", nil)
	form := hidden(r.body)
	form.Set("user_code", da.UserCode)
	r = e.fetch(t, b, "POST", "/device", form)
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many codes tried") || r.header.Get("Retry-After") == "" {
		t.Errorf("DV-02: 6th code in one browser = %d (Retry-After %q), want 429 even for the right code:\n%s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// Per IP: 20 in 15 minutes, across browsers.
	refused := false
	for i := range 20 {
		_, page := e.enter(t, newBrowser(t), "BCDF-GHJK", e.email)
		if strings.Contains(page, "Too many codes tried") {
			refused = i >= 14 // 6 already counted for this IP
			break
		}
	}
	if !refused {
		t.Error("DV-02: 20 more codes from one IP were all checked, want the IP limit (20 per 15 minutes) to refuse")
	}
	e.clock.Advance(16 * time.Minute)
	e.wantPoll(t, "the guessed-at code", da.DeviceCode, "expired_token")
}

// TestDeviceRequiresOrganization (MT-01): a client that requires an
// organization refuses, on the confirmation page, a person who belongs to
// none; the device keeps waiting.
func TestDeviceRequiresOrganization(t *testing.T) {
	e := newDeviceEnv(t, "embedded")
	ctx := t.Context()
	if _, err := testRegistrar(e.store).Update(ctx, e.cli.ClientID, clients.Changes{RequireOrganization: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Second) // past the client cache
	da := e.start(t)
	resp, page := e.enter(t, newBrowser(t), da.UserCode, e.email)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "You need to belong to an organization to use Terminal") {
		t.Errorf("MT-01: a person without an organization at the confirmation = %d:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `value="allow"`) {
		t.Error("MT-01: the refusal offers Allow")
	}
	e.wantPoll(t, "MT-01", da.DeviceCode, "authorization_pending")
}

func ptr[T any](v T) *T { return &v }

// TestDeviceAuthorizationFlood: anyone may ask for device codes with a
// public client's ID, and each asking stores one, so one address gets 60
// in 15 minutes; then 429 with Retry-After, and nothing more is stored.
func TestDeviceAuthorizationFlood(t *testing.T) {
	e := newDeviceEnv(t, "embedded")
	for i := range 60 {
		if st, out := e.deviceAuthorization(t, e.cli.ClientID, "", "openid"); st != http.StatusOK {
			t.Fatalf("request %d = %d %v", i+1, st, out)
		}
	}
	form := url.Values{"client_id": {e.cli.ClientID}, "scope": {"openid"}}
	resp, err := http.PostForm(e.issuer+"/oauth2/device_authorization", form)
	if err != nil {
		t.Fatal(err)
	}
	body := read(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "temporarily_unavailable") {
		t.Errorf("the 61st request = %d (Retry-After %q): %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
