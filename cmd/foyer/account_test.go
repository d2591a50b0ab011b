package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The account pages through the wired server, on both backends, with the
// email read from a real SMTP server. Package signin's tests cover each
// rule (LG-06…09, SC-03, SC-07, ML-02…04) on the embedded database; this
// one walks a person's whole story, so the transactions also run on
// Postgres.

// TestAccountLifecycle: sign up; the emailed link (from the issuer) opens a
// Verify page that consumes nothing; Verify signs in. A second browser
// signs in with the password; changing it on the account page ends that
// session (SC-07). A reset from a third browser ends every session
// (SC-07), and only the newest password signs in.
func TestAccountLifecycle(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			const email = "ada@example.com"
			const first, second, third = "first pass phrase", "second pass phrase", "third pass phrase"

			laptop := newBrowser(t)
			signup := e.fetch(t, laptop, http.MethodGet, "/signup", nil)
			r := e.post(t, laptop, "/signup", signup.body, url.Values{"email": {email}, "name": {"Ada"}, "password": {first}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signup/sent?email=ada%40example.com" {
				t.Fatalf("POST /signup = %d to %q", r.status, r.header.Get("Location"))
			}
			verifyMail := e.mail.Wait(t, 1)[0]
			link := verifyMail.Link(t)
			if verifyMail.To != email || !strings.HasPrefix(link, e.issuer+"/verify-email?token=") {
				t.Fatalf("verification email to %s with link %s", verifyMail.To, link)
			}
			verify := e.fetch(t, laptop, http.MethodGet, linkPath(t, link), nil)
			if verify.status != http.StatusOK || e.user(t, email).EmailVerified {
				t.Fatalf("GET the verification link = %d, verified %v: want the Verify page, nothing changed", verify.status, e.user(t, email).EmailVerified)
			}
			if r := e.post(t, laptop, "/verify-email", verify.body, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
				t.Fatalf("Verify = %d to %q, want 303 to /account", r.status, r.header.Get("Location"))
			}
			ada := e.user(t, email)
			if !ada.EmailVerified {
				t.Fatal("the address is not verified")
			}
			account := e.fetch(t, laptop, http.MethodGet, "/account", nil)
			if account.status != http.StatusOK || !strings.Contains(account.body, email) {
				t.Fatalf("GET /account = %d:\n%s", account.status, account.body)
			}

			phone := newBrowser(t)
			if r := e.passwordSignIn(t, phone, email, first); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
				t.Fatalf("password sign-in = %d to %q, want 303 to /account", r.status, r.header.Get("Location"))
			}
			if n := e.sessions(t, ada.ID); n != 2 {
				t.Fatalf("ada has %d sessions, want 2", n)
			}
			// Verified a moment ago: the current password is not asked for.
			r = e.post(t, laptop, "/account/password", account.body, url.Values{"new_password": {second}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account?done=password" {
				t.Fatalf("change password = %d to %q", r.status, r.header.Get("Location"))
			}
			if r := e.fetch(t, phone, http.MethodGet, "/account", nil); r.status != http.StatusSeeOther {
				t.Errorf("SC-07: the phone's session survived the password change (%d)", r.status)
			}
			if m := e.mail.Wait(t, 2)[1]; m.To != email || !strings.Contains(m.Subject, "password was changed") {
				t.Errorf("second email %q to %s, want the password-changed notice", m.Subject, m.To)
			}

			tablet := newBrowser(t)
			forgot := e.fetch(t, tablet, http.MethodGet, "/forgot-password", nil)
			if r := e.post(t, tablet, "/forgot-password", forgot.body, url.Values{"email": {email}}); r.status != http.StatusSeeOther {
				t.Fatalf("POST /forgot-password = %d", r.status)
			}
			resetLink := e.mail.Wait(t, 3)[2].Link(t)
			if !strings.HasPrefix(resetLink, e.issuer+"/reset-password?token=") {
				t.Fatalf("reset email link %s", resetLink)
			}
			reset := e.fetch(t, tablet, http.MethodGet, linkPath(t, resetLink), nil)
			r = e.post(t, tablet, "/reset-password", reset.body, url.Values{"password": {third}})
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account?done=reset" {
				t.Fatalf("POST /reset-password = %d to %q", r.status, r.header.Get("Location"))
			}
			if r := e.fetch(t, laptop, http.MethodGet, "/account", nil); r.status != http.StatusSeeOther {
				t.Errorf("SC-07: the laptop's session survived the reset (%d)", r.status)
			}
			if n := e.sessions(t, ada.ID); n != 1 {
				t.Errorf("ada has %d sessions after the reset, want 1 (the tablet's)", n)
			}
			e.mail.Wait(t, 4) // the password-changed notice

			for pw, want := range map[string]int{second: http.StatusUnauthorized, third: http.StatusSeeOther} {
				if r := e.passwordSignIn(t, newBrowser(t), email, pw); r.status != want {
					t.Errorf("sign-in with the password %q = %d, want %d", pw, r.status, want)
				}
			}

			signedIn := e.fetch(t, tablet, http.MethodGet, "/account", nil)
			if r := e.post(t, tablet, "/account/sign-out", signedIn.body, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account/signed-out" {
				t.Errorf("sign out = %d to %q", r.status, r.header.Get("Location"))
			}
			if r := e.fetch(t, tablet, http.MethodGet, "/account", nil); r.status != http.StatusSeeOther {
				t.Errorf("still signed in after signing out (%d)", r.status)
			}
		})
	}
}

// passwordSignIn walks the two sign-in steps without an authorization and
// returns Foyer's answer to the password.
func (e *signinEnv) passwordSignIn(t *testing.T, b *http.Client, email, password string) reply {
	t.Helper()
	step := e.passwordStep(t, b, e.loginPage(t, b), email)
	return e.post(t, b, "/login/password", step, url.Values{"password": {password}})
}

// TestPasswordResetRevokesTokens covers SC-07 for applications: a reset
// (the way back from a stolen password) ends the person's refresh tokens
// and access tokens too, not only their browser sessions.
func TestPasswordResetRevokesTokens(t *testing.T) {
	e := newSigninEnv(t, "postgres")
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
	pkce := oauth2.GenerateVerifier()
	loc := e.signIn(t, newBrowser(t), conf.AuthCodeURL("state-reset", oauth2.S256ChallengeOption(pkce)), true)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}

	b := newBrowser(t)
	forgot := e.fetch(t, b, http.MethodGet, "/forgot-password", nil)
	if r := e.post(t, b, "/forgot-password", forgot.body, url.Values{"email": {e.email}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST /forgot-password = %d", r.status)
	}
	reset := e.fetch(t, b, http.MethodGet, linkPath(t, e.mail.Wait(t, 1)[0].Link(t)), nil)
	if r := e.post(t, b, "/reset-password", reset.body, url.Values{"password": {"a brand new pass phrase"}}); r.status != http.StatusSeeOther {
		t.Fatalf("POST /reset-password = %d", r.status)
	}

	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Errorf("refresh after the reset = %v, want invalid_grant", err)
	}
	// The instance reloads its revocation list every second.
	waitFor(t, "the access token to be refused", func() bool {
		return introspect(t, e.issuer, tok.AccessToken, e.machine)["active"] == false
	})
}
