package main

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

var (
	totpSecretRE   = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)
	totpQRRE       = regexp.MustCompile(`<img src="data:image/png;base64,([A-Za-z0-9+/=&#;]+)"`)
	recoveryCodeRE = regexp.MustCompile(`<li><code>([a-z2-7]{6}-[a-z2-7]{6}-[a-z2-7]{6}-[a-z2-7]{6})</code></li>`)
)

// totpCode is what an authenticator app shows for secret at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP sets up an authenticator app from the security page of a
// signed-in browser and returns its secret and the recovery codes shown.
func (e *signinEnv) enrolTOTP(t *testing.T, b *http.Client) (secret string, codes []string) {
	t.Helper()
	page := e.fetch(t, b, "GET", "/account/security", nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Set up") {
		t.Fatalf("security page = %v", page)
	}
	r := e.post(t, b, "/account/security/totp", page.body, nil)
	m := totpSecretRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		t.Fatalf("set up = %v", r)
	}
	secret = m[1]
	q := totpQRRE.FindStringSubmatch(r.body)
	if q == nil {
		t.Fatalf("the setup page has no QR code image:\n%s", r.body)
	}
	raw, _ := base64.StdEncoding.DecodeString(html.UnescapeString(q[1]))
	if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 200 {
		t.Errorf("QR code is not a PNG of at least 200 px: %v", err)
	}
	if len(secret) < 32 {
		t.Errorf("TO-04: secret %q is under 160 bits", secret)
	}
	// TO-04: the factor is off until a code proves the app has it.
	wrong := e.post(t, b, "/account/security/totp/confirm", r.body, url.Values{"code": {"000000"}})
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, "That code is not right") ||
		!strings.Contains(wrong.body, secret) {
		t.Errorf("a wrong first code = %v, want 401 with the same secret", wrong)
	}
	if f, err := e.store.GetTOTPFactor(t.Context(), e.user(t, e.email).ID); err != nil || !f.ConfirmedAt.IsZero() {
		t.Errorf("TO-04: factor after a wrong first code = %+v, %v; want unconfirmed", f, err)
	}
	done := e.post(t, b, "/account/security/totp/confirm", r.body, url.Values{"code": {totpCode(t, secret, e.clock.Now())}})
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(done.body, -1) {
		codes = append(codes, m[1])
	}
	if done.status != http.StatusOK || len(codes) != 10 || done.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("TO-06: confirming = %v with %d recovery codes, want 10, not cached", done, len(codes))
	}
	return secret, codes
}

// signInAsAlice signs browser b in as alice from the sign-in page, with
// no authorization pending, following the redirects.
func (e *signinEnv) signInAsAlice(t *testing.T, b *http.Client) *http.Response {
	t.Helper()
	form := hidden(e.passwordStep(t, b, e.loginPage(t, b), e.email))
	form.Set("email", e.email)
	form.Set("password", e.pass)
	resp, err := b.PostForm(e.issuer+"/login/password", form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// secondFactor signs browser b in with the password and returns the
// second-factor page it lands on.
func (e *signinEnv) secondFactor(t *testing.T, b *http.Client) string {
	t.Helper()
	resp := e.signInAsAlice(t, b)
	page := read(t, resp)
	if resp.Request.URL.Path != "/login/second-factor" || !strings.Contains(html.UnescapeString(page), "Confirm it's you") {
		t.Fatalf("password with a second factor ended at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	return page
}

// TestTOTP: an authenticator app end to end on both backends. Enrolment
// shows a QR code and the secret and turns on only with a valid code
// (TO-04); the secret is sealed at rest (TO-05); sign-in then asks for a
// code, refuses a replayed one (TO-01) and wrong ones beyond the limit
// (TO-02); a recovery code works once and says how many are left
// (TO-06); the tokens carry amr otp and mfa and the multi-factor acr;
// turning the app off needs a recent sign-in.
func TestTOTP(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			ctx := t.Context()
			e.clock.Stop()
			defer e.clock.Start()
			b := newBrowser(t)
			if resp := e.signInAsAlice(t, b); resp.Request.URL.Path != "/account" {
				t.Fatalf("first sign-in ended at %s", resp.Request.URL)
			}
			secret, codes := e.enrolTOTP(t, b)
			alice := e.user(t, e.email)
			f, err := e.store.GetTOTPFactor(ctx, alice.ID)
			if err != nil || f.ConfirmedAt.IsZero() || bytes.Contains(f.SealedSecret, []byte(secret)) {
				t.Errorf("TO-05: stored factor %+v (%v) keeps the secret in clear or is not confirmed", f, err)
			}
			// The code used to confirm may not sign in (TO-01).
			used := totpCode(t, secret, e.clock.Now())

			b2 := newBrowser(t)
			page := e.secondFactor(t, b2)
			if bs, _ := e.store.ListBrowserSessions(ctx, alice.ID); len(bs) != 1 {
				t.Errorf("a session started before the second factor: %d sessions", len(bs))
			}
			r := e.post(t, b2, "/login/second-factor", page, url.Values{"code": {used}})
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "That code is not right") {
				t.Errorf("TO-01: the confirming code replayed = %v, want 401", r)
			}
			e.clock.Advance(30 * time.Second)
			r = e.post(t, b2, "/login/second-factor", page, url.Values{"code": {totpCode(t, secret, e.clock.Now())}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
				t.Fatalf("a fresh code = %v, want 303 to /account", r)
			}
			if r := e.post(t, b2, "/login/second-factor", page, url.Values{"code": {totpCode(t, secret, e.clock.Now())}}); r.status != http.StatusBadRequest {
				t.Errorf("the finished sign-in's form again = %v, want 400 (expired)", r)
			}

			// The tokens say how the person signed in.
			claims := e.mfaClaims(t, b2)
			if !slices.Contains(claims.AMR, "otp") || !slices.Contains(claims.AMR, "mfa") || !slices.Contains(claims.AMR, "pwd") ||
				claims.ACR != "http://schemas.openid.net/pape/policies/2007/06/multi-factor" {
				t.Errorf("ID token after password and code: amr %v acr %q", claims.AMR, claims.ACR)
			}

			// TO-02: 5 wrong codes per sign-in attempt.
			b3 := newBrowser(t)
			page = e.secondFactor(t, b3)
			for i := range 5 {
				if r := e.post(t, b3, "/login/second-factor", page, url.Values{"code": {"123456"}}); r.status != http.StatusUnauthorized {
					t.Errorf("wrong code %d = %d, want 401", i, r.status)
				}
			}
			right := totpCode(t, secret, e.clock.Now().Add(30*time.Second))
			e.clock.Advance(30 * time.Second)
			if r := e.post(t, b3, "/login/second-factor", page, url.Values{"code": {right}}); r.status != http.StatusTooManyRequests ||
				!strings.Contains(r.body, "Too many attempts") {
				t.Errorf("TO-02: a right code after 5 wrong ones = %d, want 429", r.status)
			}

			// A recovery code works once; the page says how many are left.
			b4 := newBrowser(t)
			e.secondFactor(t, b4)
			rec := e.fetch(t, b4, "GET", "/login/second-factor?method=recovery", nil)
			if !strings.Contains(rec.body, `name="method" value="recovery"`) {
				t.Fatalf("recovery form:\n%s", rec.body)
			}
			if r := e.post(t, b4, "/login/second-factor", rec.body, url.Values{"code": {strings.ToUpper(codes[3])}}); r.status != http.StatusOK ||
				!strings.Contains(r.body, "You have 9 unused recovery codes left") || !strings.Contains(r.body, `href="/account"`) {
				t.Fatalf("TO-06: a recovery code = %v, want the count of codes left and a link on", r)
			}
			if s := e.fetch(t, b4, "GET", "/account/security", nil); !strings.Contains(s.body, "9 unused recovery codes left") {
				t.Errorf("TO-06: security page after using a code:\n%s", s.body)
			}
			b5 := newBrowser(t)
			e.secondFactor(t, b5)
			rec = e.fetch(t, b5, "GET", "/login/second-factor?method=recovery", nil)
			if r := e.post(t, b5, "/login/second-factor", rec.body, url.Values{"code": {codes[3]}}); r.status != http.StatusUnauthorized {
				t.Errorf("TO-06: a used recovery code = %d, want 401", r.status)
			}

			// Turning the app off works right after signing in, and needs a
			// sign-in within the last 10 minutes (sessions keep the real
			// clock, the security pages the test's).
			b6 := newBrowser(t)
			page = e.secondFactor(t, b6)
			e.clock.Advance(30 * time.Second)
			e.post(t, b6, "/login/second-factor", page, url.Values{"code": {totpCode(t, secret, e.clock.Now())}})
			s := e.fetch(t, b6, "GET", "/account/security", nil)
			if r := e.post(t, b6, "/account/security/totp/delete", s.body, nil); r.status != http.StatusSeeOther {
				t.Fatalf("turning off after signing in = %v", r)
			}
			if n, _ := e.store.CountRecoveryCodes(ctx, alice.ID); n != 0 {
				t.Errorf("%d recovery codes left with no factor", n)
			}
			e.clock.Advance(11 * time.Minute)
			s = e.fetch(t, b6, "GET", "/account/security", nil)
			if r := e.post(t, b6, "/account/security/totp", s.body, nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "sign in again") {
				t.Errorf("TO-04: setting up 11 minutes after signing in = %v, want 403", r)
			}
			b7 := newBrowser(t)
			if resp := e.signInAsAlice(t, b7); resp.Request.URL.Path != "/account" {
				t.Errorf("sign-in without a factor ended at %s", resp.Request.URL)
			}
		})
	}
}

type mfaIDClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

// mfaClaims runs the code flow for a first-party client in browser b,
// which is signed in, with extra authorization parameters, and returns
// the ID token's amr and acr. The browser must not need to sign in.
func (e *signinEnv) mfaClaims(t *testing.T, b *http.Client, params ...oauth2.AuthCodeOption) mfaIDClaims {
	t.Helper()
	a := newOrgApp(t, e.oidcEnv, "openid", "email")
	pkce := oauth2.GenerateVerifier()
	resp, err := b.Get(a.conf.AuthCodeURL("state-mfa", append(params, oauth2.S256ChallengeOption(pkce))...))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorization ended at %s (%d) → %v, want a code", resp.Request.URL, resp.StatusCode, loc)
	}
	tok, err := a.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := a.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c mfaIDClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMFAPolicy: a member of an organization that requires MFA, without a
// factor, sets up an app in the middle of signing in and only then gets a
// session; the authorization resumes (the challenge survives).
func TestMFAPolicy(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	ctx := t.Context()
	e.clock.Stop()
	defer e.clock.Start()
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.AddMember(ctx, "acme", e.email, "member"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.UpdateOrganization(ctx, acme.ID, func(o storage.Organization) (storage.Organization, error) {
		o.RequireMFA = true
		return o, nil
	}); err != nil {
		t.Fatal(err)
	}
	a := newOrgApp(t, e.oidcEnv, "openid", "email")
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t)
	resp, err := b.Get(a.conf.AuthCodeURL("state-policy", oauth2.S256ChallengeOption(pkce)))
	if err != nil {
		t.Fatal(err)
	}
	resp = signInWithPassword(t, b, e.issuer, read(t, resp), e.email, e.pass)
	page := read(t, resp)
	if resp.Request.URL.Path != "/login/enrol" || !strings.Contains(page, "Your organization requires a second factor") {
		t.Fatalf("policy: password ended at %s:\n%s", resp.Request.URL, page)
	}
	if bs, _ := e.store.ListBrowserSessions(ctx, e.user(t, e.email).ID); len(bs) != 0 {
		t.Errorf("policy: %d sessions before the factor is set up", len(bs))
	}
	secret := totpSecretRE.FindStringSubmatch(page)[1]
	if r := e.post(t, b, "/login/enrol", page, url.Values{"code": {"000000"}}); r.status != http.StatusUnauthorized || !strings.Contains(r.body, secret) {
		t.Errorf("policy: a wrong first code = %d, want 401 showing the same secret", r.status)
	}
	r := e.post(t, b, "/login/enrol", page, url.Values{"code": {totpCode(t, secret, e.clock.Now())}})
	if r.status != http.StatusOK || len(recoveryCodeRE.FindAllString(r.body, -1)) != 10 {
		t.Fatalf("policy: first code = %v, want the recovery codes", r)
	}
	r = e.post(t, b, "/login/enrol/done", r.body, nil)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/oauth2/authorize/continue") {
		t.Fatalf("policy: continue = %v, want the authorization resumed", r)
	}
	resp, err = b.Get(e.issuer + r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("policy: the resumed authorization ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
}

// TestStepUp: acr_values asking for multi-factor makes a session that
// signed in with a password alone sign in again, with the second factor;
// the ID token then says multi-factor. max_age and prompt=login already
// force a sign-in (TestOIDC…); this is the acr path.
func TestStepUp(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	e.clock.Stop()
	defer e.clock.Start()
	b := newBrowser(t)
	e.signInAsAlice(t, b)
	if c := e.mfaClaims(t, b); c.ACR != "urn:foyer:acr:single-factor" || slices.Contains(c.AMR, "mfa") {
		t.Errorf("password only: amr %v acr %q", c.AMR, c.ACR)
	}
	secret, _ := e.enrolTOTP(t, b)
	e.clock.Advance(30 * time.Second)

	a := newOrgApp(t, e.oidcEnv, "openid", "email")
	pkce := oauth2.GenerateVerifier()
	resp, err := b.Get(a.conf.AuthCodeURL("state-stepup", oauth2.S256ChallengeOption(pkce),
		oauth2.SetAuthURLParam("acr_values", "http://schemas.openid.net/pape/policies/2007/06/multi-factor")))
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("step-up: a password-only session went to %s, want a new sign-in", resp.Request.URL)
	}
	resp = signInWithPassword(t, b, e.issuer, page, e.email, e.pass)
	page = read(t, resp)
	if resp.Request.URL.Path != "/login/second-factor" {
		t.Fatalf("step-up: password ended at %s", resp.Request.URL)
	}
	r := e.post(t, b, "/login/second-factor", page, url.Values{"code": {totpCode(t, secret, e.clock.Now())}})
	resp, err = b.Get(e.issuer + r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("step-up ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	tok, err := a.conf.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := a.verifier.Verify(t.Context(), tok.Extra("id_token").(string))
	var c mfaIDClaims
	idt.Claims(&c)
	if c.ACR != "http://schemas.openid.net/pape/policies/2007/06/multi-factor" {
		t.Errorf("step-up: acr %q amr %v", c.ACR, c.AMR)
	}
	// Now satisfied: no new sign-in.
	if c := e.mfaClaims(t, b, oauth2.SetAuthURLParam("acr_values", "http://schemas.openid.net/pape/policies/2007/06/multi-factor")); !slices.Contains(c.AMR, "otp") {
		t.Errorf("after step-up: amr %v", c.AMR)
	}
}
