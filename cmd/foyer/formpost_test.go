package main

import (
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestFormPostResponseMode: response_mode=form_post answers with a page that
// posts code and state to the registered redirect URI, and whose CSP allows
// exactly its own submit script.
func TestFormPostResponseMode(t *testing.T) {
	e := newOIDCEnv(t, "embedded")
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{"openid", "email"}}
	pkce := oauth2.GenerateVerifier()
	b := newBrowser(t)
	e.signIn(t, b, conf.AuthCodeURL("state-first", oauth2.S256ChallengeOption(pkce)), true)

	resp, err := b.Get(conf.AuthCodeURL("state-form-post", oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("response_mode", "form_post")))
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(page, `action="`+callback+`"`) || !strings.Contains(page, `name="code"`) ||
		!strings.Contains(page, `value="state-form-post"`) || !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(page, "onload") {
		t.Errorf("form_post response: %d, CSP %q\n%s", resp.StatusCode, csp, page)
	}
}
