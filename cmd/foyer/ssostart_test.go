package main

import (
	"net/http"
	"testing"

	ssosaml "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/idp/upstream"
)

// TestSSOStartFlood: anyone may start a single sign-on, and each start
// stores its state (the AuthnRequest's ID, PKCE verifier and nonce), so
// starts are limited per client IP: 300 per 15 minutes, then 429 with
// Retry-After, for SAML and upstream connections alike.
func TestSSOStartFlood(t *testing.T) {
	saml := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	up := newUpstreamEnv(t, "embedded", nil)
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ name, url string }{
		{"saml", saml.issuer + "/sso/" + saml.conn.ID + "/start"},
		{"upstream", up.issuer + upstream.StartPath(up.conn.ID, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			get := func() *http.Response {
				resp, err := noRedirects.Get(tc.url)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}
			for i := range 300 {
				if resp := get(); resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("start %d = %d, want a redirect to the provider", i+1, resp.StatusCode)
				}
			}
			if resp := get(); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("start 301 = %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
}
