package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSecurityPagesRefuseFraming covers SC-05: every page a person acts on
// (sign-in, both of its steps, sign-up, reset, the account page, consent,
// the account chooser, link confirmation) forbids framing with
// Content-Security-Policy frame-ancestors 'none' and X-Frame-Options DENY,
// and runs no script.
func TestSecurityPagesRefuseFraming(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	e.createUser(t, "ada@example.com", "correct horse battery", true)
	b := newBrowser(t)
	authPage, challenge := e.authorize(t, b)
	pages := map[string]reply{
		"sign-in with a challenge": e.fetch(t, b, http.MethodGet, "/login?challenge="+url.QueryEscape(challenge), nil),
		"sign-in":                  e.fetch(t, b, http.MethodGet, "/login", nil),
		"password step":            e.post(t, b, "/login", authPage, url.Values{"email": {"ada@example.com"}}),
		"sign-up":                  e.fetch(t, b, http.MethodGet, "/signup", nil),
		"forgot password":          e.fetch(t, b, http.MethodGet, "/forgot-password", nil),
		"link with a bad token":    e.fetch(t, b, http.MethodGet, "/login/link?token=nope", nil),
	}
	passwordPage := pages["password step"].body
	r := e.post(t, b, "/login/password", passwordPage, url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign-in = %v", r)
	}
	consent := e.fetch(t, b, http.MethodGet, r.header.Get("Location"), nil)
	for consent.status == http.StatusSeeOther || consent.status == http.StatusFound {
		consent = e.fetch(t, b, http.MethodGet, consent.header.Get("Location"), nil)
	}
	pages["consent"] = consent
	pages["account"] = e.fetch(t, b, http.MethodGet, "/account", nil)
	for name, r := range pages {
		if r.status >= 300 && r.status < 400 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s, want an HTML page", name, r.status, r.header.Get("Content-Type"))
			continue
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" || strings.Contains(csp, "script-src") {
			t.Errorf("SC-05 %s: CSP %q, X-Frame-Options %q; want frame-ancestors 'none', DENY and no script", name, csp, r.header.Get("X-Frame-Options"))
		}
	}
}

// TestSecurityForwardedForIsNotTrusted covers LG-05: with no trusted proxy
// configured, a client that rotates X-Forwarded-For is still one client
// address to the per-IP limits. Ten emailed links per address per 15
// minutes: eleven requests for eleven accounts, each claiming another
// address, send ten.
func TestSecurityForwardedForIsNotTrusted(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	const accounts = 11
	for i := range accounts {
		e.createUser(t, fmt.Sprintf("user%d@example.com", i), "correct horse battery", true)
	}
	b := newBrowser(t)
	page := e.loginPage(t, b)
	for i := range accounts {
		step := e.passwordStep(t, b, page, fmt.Sprintf("user%d@example.com", i))
		form := hidden(step)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+"/login/email-link", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		req.Header.Set("X-Real-IP", fmt.Sprintf("198.51.100.%d", i+1))
		r, err := do(stay(b), req)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") {
			t.Fatalf("request %d = %v, want the same check-your-email page", i, r)
		}
	}
	e.mail.Wait(t, 10)
	e.mail.Quiet(t, 10, 2*time.Second)
}
