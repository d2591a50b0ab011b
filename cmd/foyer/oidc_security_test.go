package main

// Negative end-to-end tests of the OAuth 2.0 / OpenID Connect endpoints,
// one case per item of shared/SECURITY.md (AZ authorization endpoint, TK
// token endpoint, TJ tokens and JWKS, DB storage races) and the OpenID
// conformance checks of its §3.2. Every case runs real HTTP against a
// running Foyer (newOIDCEnv) and asserts the RFC error code and the status.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
)

// Redirect URIs of the extra clients; like callback, never dialled.
const (
	httpsCallback  = "https://app.example.com/callback"
	httpsOther     = "https://app.example.com/other"
	nativeCallback = "http://127.0.0.1/cb"
)

// secEnv is a running Foyer (newOIDCEnv) with the extra clients the
// negative tests need.
type secEnv struct {
	*oidcEnv
	other  *client // confidential web client, same redirect URI as web
	pub    *client // public web client (PKCE required), redirect URI callback
	native *client // public native client, loopback nativeCallback
	https  *client // confidential web client with two https redirect URIs
	postCl *client // client_credentials client using client_secret_post
}

func newSecEnv(t *testing.T, backend string) *secEnv {
	t.Helper()
	e := &secEnv{oidcEnv: newOIDCEnv(t, backend)}
	reg := testRegistrar(e.store)
	create := func(in clients.NewClient) *client {
		t.Helper()
		c, secret, err := reg.Create(t.Context(), in)
		if err != nil {
			t.Fatalf("create client %q: %v", in.Name, err)
		}
		return &client{c.ID, secret}
	}
	codeAndRefresh := []string{"authorization_code", "refresh_token"}
	e.other = create(clients.NewClient{Name: "Other App", RedirectURIs: []string{callback}, GrantTypes: codeAndRefresh})
	e.pub = create(clients.NewClient{Name: "Public App", Public: true, RedirectURIs: []string{callback}, GrantTypes: codeAndRefresh})
	e.native = create(clients.NewClient{Name: "Native App", Public: true, ApplicationType: clients.ApplicationNative,
		RedirectURIs: []string{nativeCallback}, GrantTypes: []string{"authorization_code"}})
	e.https = create(clients.NewClient{Name: "HTTPS App", RedirectURIs: []string{httpsCallback, httpsOther},
		GrantTypes: []string{"authorization_code"}})
	e.postCl = create(clients.NewClient{Name: "Post Machine", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"reports:read"}, TokenEndpointAuthMethod: clients.AuthClientSecretPost})
	return e
}

// noFollow sends one request and never follows a redirect, like a client
// that inspects Foyer's answer itself.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// browser keeps cookies, follows redirects within Foyer and stops at the
// first redirect that leaves it (to any client, registered or not).
func (e *secEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), e.issuer+"/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// authParams are the parameters of a valid authorization request of c
// with PKCE S256, and the PKCE verifier. The state has characters that
// need encoding, to check it is echoed byte for byte (AZ-13).
func authParams(c *client, redirectURI string) (url.Values, string) {
	verifier := oauth2.GenerateVerifier()
	return url.Values{
		"client_id":             {c.id},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid email offline_access"},
		"state":                 {"st+/ &=?" + rand.Text()},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}, verifier
}

func (e *secEnv) authorizeURL(v url.Values) string {
	return e.issuer + "/oauth2/authorize?" + v.Encode()
}

// reply is one HTTP answer, read in full.
type reply struct {
	status int
	header http.Header
	body   string
	json   map[string]any // the body, when it is a JSON object
	basic  bool           // the request used HTTP Basic authentication
}

func (r reply) errorCode() string { s, _ := r.json["error"].(string); return s }

func (r reply) String() string {
	return fmt.Sprintf("%d %s %s", r.status, r.header.Get("Location"), strings.TrimSpace(r.body))
}

// do sends req with c and checks what every answer must satisfy: no Go
// stack trace or source position in the body, and a JSON error body is
// valid JSON with an "error" member. It is safe to call from goroutines.
func do(c *http.Client, req *http.Request) (reply, error) {
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	_, _, basic := req.BasicAuth()
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(body), basic: basic}
	if strings.Contains(r.header.Get("Content-Type"), "json") {
		json.Unmarshal([]byte(r.body), &r.json)
	}
	return r, nil
}

// checkReply reports the failures of do's universal checks.
func checkReply(t *testing.T, what string, r reply) {
	t.Helper()
	if strings.Contains(r.body, "goroutine ") || strings.Contains(r.body, ".go:") {
		t.Errorf("%s: the body shows a Go stack trace or source position:\n%s", what, r.body)
	}
	if r.status >= 400 && strings.Contains(r.header.Get("Content-Type"), "json") {
		var v map[string]any
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Errorf("%s: JSON error body is not valid JSON (%v): %q", what, err, r.body)
		} else if s, _ := v["error"].(string); s == "" {
			t.Errorf("%s: JSON error body has no \"error\" member: %s", what, r.body)
		}
	}
}

func (e *secEnv) send(t *testing.T, c *http.Client, req *http.Request) reply {
	t.Helper()
	r, err := do(c, req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	checkReply(t, req.Method+" "+req.URL.Path, r)
	return r
}

// post sends a form to path, with HTTP Basic authentication when user is
// not empty (RFC 6749 §2.3.1: both parts form-encoded).
func (e *secEnv) post(t *testing.T, path string, form url.Values, user, pass string) reply {
	t.Helper()
	return e.send(t, noFollow, e.postRequest(t, path, form, user, pass))
}

func (e *secEnv) postRequest(t *testing.T, path string, form url.Values, user, pass string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return req
}

func (e *secEnv) get(t *testing.T, c *http.Client, rawURL string, header ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.send(t, c, req)
}

// drive follows an authorization request in browser b through sign-in and
// consent, as a person would, and returns Foyer's last answer: a redirect
// that leaves Foyer, or a page that is neither sign-in nor consent.
func (e *secEnv) drive(t *testing.T, b *http.Client, authURL string) reply {
	t.Helper()
	resp, err := b.Get(authURL)
	for range 4 {
		if err != nil {
			t.Fatal(err)
		}
		path := resp.Request.URL.Path
		if resp.StatusCode != http.StatusOK || path != "/login" && path != "/consent" {
			break
		}
		if path == "/login" {
			resp = signInWithPassword(t, b, e.issuer, read(t, resp), e.email, e.pass)
			continue
		}
		form := formFields(t, read(t, resp))
		form.Set("decision", "allow")
		resp, err = b.PostForm(e.issuer+path, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: read(t, resp)}
	checkReply(t, "authorization flow", r)
	return r
}

// code runs an authorization of c in browser b (signing in and consenting
// when asked) and returns the code and PKCE verifier; mod may change the
// request first.
func (e *secEnv) code(t *testing.T, b *http.Client, c *client, mod func(url.Values)) (code, verifier string) {
	t.Helper()
	v, verifier := authParams(c, callback)
	if mod != nil {
		mod(v)
	}
	r := e.drive(t, b, e.authorizeURL(v))
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("code") == "" {
		t.Fatalf("authorization of %s ended with %v; want a code at the callback", c.id, r)
	}
	return loc.Query().Get("code"), verifier
}

// codeForm is a token request redeeming code.
func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {callback}}
}

// tokens runs the code flow for confidential client c in the signed-in
// browser b and returns the token response.
func (e *secEnv) tokens(t *testing.T, b *http.Client, c *client) map[string]any {
	t.Helper()
	code, verifier := e.code(t, b, c, nil)
	r := e.post(t, "/oauth2/token", codeForm(code, verifier), c.id, c.secret)
	if r.status != http.StatusOK || r.json["access_token"] == nil || r.json["id_token"] == nil || r.json["refresh_token"] == nil {
		t.Fatalf("code exchange = %v, want access, ID and refresh tokens", r)
	}
	return r.json
}

// signedIn returns a browser signed in as alice that has consented to the
// web client's default scopes.
func (e *secEnv) signedIn(t *testing.T) *http.Client {
	t.Helper()
	b := e.browser()
	e.code(t, b, e.web, nil)
	return b
}

// authorizeResponse reads the parameters of an authorization response
// redirect, from the query or the fragment.
func authorizeResponse(loc *url.URL) url.Values {
	if loc.Fragment != "" {
		if v, err := url.ParseQuery(loc.Fragment); err == nil && (v.Has("error") || v.Has("code")) {
			return v
		}
	}
	return loc.Query()
}

// TestSecurityAuthorizeRedirectURI covers AZ-01…AZ-06 and AZ-10: a
// redirect_uri that is not exactly a registered one, or an unknown client,
// gets an HTML error page with status 400 from Foyer and never a redirect
// [RFC 6749 §4.1.2.1, KC-RT, CS oidcc-ensure-registered-redirect-uri,
// oidcc-redirect-uri-query-added/-mismatch].
func TestSecurityAuthorizeRedirectURI(t *testing.T) {
	e := newSecEnv(t, "embedded")
	redirect := func(u string) func(url.Values) { return func(v url.Values) { v.Set("redirect_uri", u) } }
	for _, tc := range []struct {
		name   string
		client *client
		mod    func(url.Values)
		want   string // the RFC error code the page names; "" for a control case that must not fail
	}{
		{"control: registered loopback URI", e.web, nil, ""},
		{"control: registered https URI", e.https, redirect(httpsOther), ""},
		{"control: native loopback URI on any port (RFC 8252 §7.3)", e.native, redirect("http://127.0.0.1:5000/cb"), ""},

		{"AZ-01 unregistered path", e.web, redirect("http://127.0.0.1:9/elsewhere"), "invalid_request"},
		{"AZ-01 unregistered host", e.web, redirect("https://evil.example/callback"), "invalid_request"},
		{"AZ-01 other port on an https URI", e.https, redirect("https://app.example.com:8443/callback"), "invalid_request"},
		{"AZ-01 other port on a web client's loopback URI", e.web, redirect("http://127.0.0.1:10/callback"), "invalid_request"},
		{"AZ-01 trailing slash", e.https, redirect(httpsCallback + "/"), "invalid_request"},
		{"AZ-01 registered URI of another client", e.web, redirect(httpsCallback), "invalid_request"},
		{"AZ-04 query added", e.web, redirect(callback + "?x=1"), "invalid_request"},
		{"AZ-04 query added to an https URI", e.https, redirect(httpsCallback + "?next=https://evil.example"), "invalid_request"},
		{"AZ-04 empty query added", e.https, redirect(httpsCallback + "?"), "invalid_request"},
		{"RFC6749-3.1.2 fragment", e.web, redirect(callback + "#frag"), "invalid_request"},
		{"RFC6749-3.1.2 fragment on an https URI", e.https, redirect(httpsCallback + "#x"), "invalid_request"},
		{"AZ-03 path in another case", e.web, redirect("http://127.0.0.1:9/CALLBACK"), "invalid_request"},
		{"AZ-03 scheme in another case on loopback", e.web, redirect("HTTP://127.0.0.1:9/callback"), "invalid_request"},
		{"AZ-03 scheme in another case", e.https, redirect("HTTPS://app.example.com/callback"), "invalid_request"},
		{"AZ-03 host in another case", e.https, redirect("https://APP.example.com/callback"), "invalid_request"},
		{"AZ-03 dot-dot segment", e.https, redirect("https://app.example.com/callback/../evil"), "invalid_request"},
		{"AZ-03 encoded dot-dot", e.https, redirect("https://app.example.com/evil/%2E%2E/callback"), "invalid_request"},
		{"AZ-03 encoded slash", e.https, redirect("https://app.example.com/evil%2F..%2Fcallback"), "invalid_request"},
		{"AZ-03 matrix parameter", e.https, redirect("https://app.example.com/callback;x=1"), "invalid_request"},
		{"AZ-02 look-alike host suffix", e.https, redirect("https://app.example.com.evil.tld/callback"), "invalid_request"},
		{"AZ-02 userinfo", e.https, redirect("https://app.example.com@evil.tld/callback"), "invalid_request"},
		{"AZ-02 backslash userinfo", e.https, redirect(`https://app.example.com\@evil.tld/callback`), "invalid_request"},
		{"AZ-02 two at signs", e.https, redirect("https://a@app.example.com@evil.tld/callback"), "invalid_request"},
		{"AZ-05 native: localhost instead of 127.0.0.1", e.native, redirect("http://localhost:5000/cb"), "invalid_request"},
		{"AZ-05 native: [::1] instead of 127.0.0.1", e.native, redirect("http://[::1]:5000/cb"), "invalid_request"},
		{"AZ-05 native: non-loopback host", e.native, redirect("http://evil.example:5000/cb"), "invalid_request"},
		{"AZ-05 native: other path", e.native, redirect("http://127.0.0.1:5000/other"), "invalid_request"},
		{"AZ-05 native: query added", e.native, redirect("http://127.0.0.1:5000/cb?x=1"), "invalid_request"},
		{"AZ-05 native: https instead of http", e.native, redirect("https://127.0.0.1:5000/cb"), "invalid_request"},
		{"AZ-06 javascript: URI", e.web, redirect("javascript:alert(1)//"), "invalid_request"},
		{"AZ-06 data: URI", e.web, redirect("data:text/html,<script>alert(1)</script>"), "invalid_request"},
		{"AZ-06 file: URI", e.web, redirect("file:///etc/passwd"), "invalid_request"},
		{"AZ-06 redirect_uri omitted while several are registered", e.https, func(v url.Values) { v.Del("redirect_uri") }, "invalid_request"},
		{"AZ-06 unknown client_id", &client{id: "cli_unknown"}, nil, "invalid_client"},
		{"AZ-06 client_id missing", e.web, func(v url.Values) { v.Del("client_id") }, "invalid_client"},
		{"AZ-10 redirect_uri repeated", e.web, func(v url.Values) { v.Add("redirect_uri", "https://evil.example/callback") }, "invalid_request"},
		{"AZ-10 client_id repeated", e.web, func(v url.Values) { v.Add("client_id", e.other.id) }, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := authParams(tc.client, callback)
			if tc.client == e.https {
				v.Set("redirect_uri", httpsCallback)
			}
			if tc.client == e.native {
				v.Set("redirect_uri", nativeCallback)
			}
			if tc.mod != nil {
				tc.mod(v)
			}
			r := e.get(t, noFollow, e.authorizeURL(v))
			if tc.want == "" {
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?") {
					t.Fatalf("GET /oauth2/authorize?%s = %v, want 303 to the sign-in page", v.Encode(), r)
				}
				return
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("GET /oauth2/authorize with redirect_uri %q redirects to %q; want no redirect at all", v.Get("redirect_uri"), loc)
			}
			if r.status != http.StatusBadRequest || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				t.Errorf("GET /oauth2/authorize with redirect_uri %q = %d %s, want a 400 HTML error page",
					v.Get("redirect_uri"), r.status, r.header.Get("Content-Type"))
			}
			if !strings.Contains(r.body, tc.want) {
				t.Errorf("error page does not name %s:\n%s", tc.want, r.body)
			}
		})
	}
}

// TestSecurityAuthorizeErrors covers AZ-07, AZ-08, AZ-09, AZ-11, AZ-14 and
// the state rules: with a valid client and redirect URI, a bad request is
// answered by a redirect to the registered URI with error=X and the state
// echoed byte for byte, and never with a code [RFC 6749 §4.1.2.1, OIDC
// §3.1.2.6, CS oidcc-response-type-missing, oidcc-prompt-none-not-logged-in].
func TestSecurityAuthorizeErrors(t *testing.T) {
	e := newSecEnv(t, "embedded")
	anonymous := e.browser()
	consented := e.signedIn(t)
	e.code(t, consented, e.pub, nil) // consent to the public client too

	// noConsent has signed in but stopped at the consent page of the other
	// client, which alice therefore never allowed (consent is per person
	// and client, not per browser).
	noConsent := e.browser()
	v, _ := authParams(e.other, callback)
	resp, err := noConsent.Get(e.authorizeURL(v))
	if err != nil {
		t.Fatal(err)
	}
	resp = signInWithPassword(t, noConsent, e.issuer, read(t, resp), e.email, e.pass)
	if page := read(t, resp); resp.Request.URL.Path != "/consent" {
		t.Fatalf("after sign-in the browser is at %s, want the consent page:\n%s", resp.Request.URL, page)
	}

	set := func(k, val string) func(url.Values) { return func(v url.Values) { v.Set(k, val) } }
	for _, tc := range []struct {
		name    string
		client  *client
		browser *http.Client
		mod     func(url.Values)
		want    []string // accepted RFC error codes
	}{
		{"AZ-09 response_type=token (implicit)", e.web, anonymous, set("response_type", "token"), []string{"unsupported_response_type", "unauthorized_client"}},
		{"AZ-09 response_type=id_token token", e.web, anonymous, set("response_type", "id_token token"), []string{"unsupported_response_type", "unauthorized_client"}},
		{"AZ-09 response_type=code id_token (hybrid)", e.web, anonymous, set("response_type", "code id_token"), []string{"unsupported_response_type", "unauthorized_client"}},
		{"AZ-09 response_type=id_token", e.web, anonymous, set("response_type", "id_token"), []string{"unsupported_response_type", "unauthorized_client"}},
		{"CS response_type missing", e.web, anonymous, func(v url.Values) { v.Del("response_type") }, []string{"invalid_request", "unsupported_response_type"}},
		{"AZ-07 public client without code_challenge", e.pub, anonymous,
			func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, []string{"invalid_request"}},
		{"AZ-08 code_challenge_method=plain", e.web, consented, func(v url.Values) {
			v.Set("code_challenge", oauth2.GenerateVerifier())
			v.Set("code_challenge_method", "plain")
		}, []string{"invalid_request"}},
		{"AZ-08 code_challenge_method=plain, public client", e.pub, consented, func(v url.Values) {
			v.Set("code_challenge", oauth2.GenerateVerifier())
			v.Set("code_challenge_method", "plain")
		}, []string{"invalid_request"}},
		{"AZ-08 code_challenge_method missing (means plain)", e.web, consented, func(v url.Values) { v.Del("code_challenge_method") }, []string{"invalid_request"}},
		{"AZ-08 code_challenge_method unknown", e.web, consented, set("code_challenge_method", "S512"), []string{"invalid_request"}},
		{"RFC6819-4.4.1.8 state shorter than 8 characters", e.web, anonymous, set("state", "abc1234"), []string{"invalid_state"}},
		{"AZ-14 scope the client may not have", e.web, anonymous, set("scope", "openid admin"), []string{"invalid_scope"}},
		{"AZ-11 prompt=none without a session", e.web, anonymous, set("prompt", "none"), []string{"login_required"}},
		{"AZ-11 prompt=none with a session but no consent", e.other, noConsent, set("prompt", "none"), []string{"consent_required"}},
		{"AZ-11 prompt=none, consent for fewer scopes", e.web, consented, func(v url.Values) {
			v.Set("prompt", "none")
			v.Set("scope", "openid email profile")
		}, []string{"consent_required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := authParams(tc.client, callback)
			tc.mod(v)
			// One request: the answer must be the error redirect itself,
			// with no sign-in or consent page on the way (AZ-11).
			r := e.get(t, tc.browser, e.authorizeURL(v))
			loc, err := url.Parse(r.header.Get("Location"))
			if (r.status != http.StatusSeeOther && r.status != http.StatusFound) || err != nil || !strings.HasPrefix(loc.String(), callback) {
				t.Fatalf("GET /oauth2/authorize?%s = %v; want a redirect to %s with error %v", v.Encode(), r, callback, tc.want)
			}
			got := authorizeResponse(loc)
			if !slices.Contains(tc.want, got.Get("error")) {
				t.Errorf("error = %q (%s), want one of %v", got.Get("error"), got.Get("error_description"), tc.want)
			}
			if got.Get("state") != v.Get("state") {
				t.Errorf("state = %q, want %q echoed byte for byte", got.Get("state"), v.Get("state"))
			}
			if got.Has("code") || got.Has("access_token") || got.Has("id_token") {
				t.Errorf("error redirect %s carries a code or token", loc)
			}
		})
	}
}

// TestSecurityAuthorizeIssuerParameter covers AZ-13: every authorization
// response carries iss, and discovery says so [RFC 9207].
func TestSecurityAuthorizeIssuerParameter(t *testing.T) {
	e := newSecEnv(t, "embedded")
	r := e.get(t, noFollow, e.issuer+"/.well-known/openid-configuration")
	if r.json["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery authorization_response_iss_parameter_supported = %v, want true", r.json["authorization_response_iss_parameter_supported"])
	}
	for _, tc := range []struct {
		name string
		mod  func(url.Values)
	}{
		{"AZ-13 error response", func(v url.Values) { v.Set("prompt", "none") }},
		{"AZ-13 error response before sign-in", func(v url.Values) { v.Set("response_type", "token") }},
		{"AZ-13 code response", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := authParams(e.web, callback)
			if tc.mod != nil {
				tc.mod(v)
			}
			r := e.drive(t, e.browser(), e.authorizeURL(v))
			loc, err := url.Parse(r.header.Get("Location"))
			if err != nil || !strings.HasPrefix(loc.String(), callback) {
				t.Fatalf("authorization = %v, want a redirect to the callback", r)
			}
			if got := authorizeResponse(loc).Get("iss"); got != e.issuer {
				t.Errorf("authorization response %s: iss = %q, want %q", loc, got, e.issuer)
			}
		})
	}
}

// ageCode makes an issued code look issued by ago earlier: the stored
// code, PKCE and OpenID sessions and every time inside them move back.
// This stands in for waiting out the code's one-minute lifetime (TK-05).
func ageCode(t *testing.T, store storage.Store, code string, ago time.Duration) {
	t.Helper()
	ctx := t.Context()
	sig := code[strings.LastIndexByte(code, '.')+1:]
	found := false
	for _, kind := range []storage.GrantKind{storage.KindAuthorizeCode, storage.KindPKCE, storage.KindOpenID} {
		row, err := store.GetOAuthSession(ctx, kind, sig)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found = found || kind == storage.KindAuthorizeCode
		var doc any
		if err := json.Unmarshal(row.Request, &doc); err != nil {
			t.Fatal(err)
		}
		if row.Request, err = json.Marshal(shiftTimes(doc, -ago)); err != nil {
			t.Fatal(err)
		}
		row.RequestedAt, row.ExpiresAt = row.RequestedAt.Add(-ago), row.ExpiresAt.Add(-ago)
		if err := store.DeleteOAuthSession(ctx, kind, sig); err != nil {
			t.Fatal(err)
		}
		if err := store.CreateOAuthSession(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("no stored authorization code with signature %q", sig)
	}
}

// shiftTimes moves every RFC 3339 time in a JSON document by d, leaving
// zero times (Go's year 1) alone.
func shiftTimes(v any, d time.Duration) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = shiftTimes(x, d)
		}
	case []any:
		for i, x := range v {
			v[i] = shiftTimes(x, d)
		}
	case string:
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil && tm.Year() > 1 {
			return tm.Add(d).Format(time.RFC3339Nano)
		}
	}
	return v
}

// errorDescriptionOK reports whether s keeps to RFC 6749 §5.2's error_description alphabet:
// %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash, no control).
func errorDescriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// TestSecurityTokenErrors covers TK-02…TK-06, TK-10, TK-11, TK-12 and
// malformed requests at the token endpoint on both backends: each bad
// request gets its RFC 6749 §5.2 error code and status, never a 5xx.
// TK-01 (code reuse) is in TestOIDCCodeFlow.
func TestSecurityTokenErrors(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSecEnv(t, backend)
			b := e.signedIn(t)
			cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}
			with := func(v url.Values, kv ...string) url.Values {
				out := url.Values{}
				for k, vs := range v {
					out[k] = slices.Clone(vs)
				}
				for i := 0; i+1 < len(kv); i += 2 {
					if kv[i+1] == "" {
						out.Del(kv[i])
					} else {
						out.Set(kv[i], kv[i+1])
					}
				}
				return out
			}
			// redeem redeems a fresh code of the web client, changed by kv,
			// with the credentials of c.
			redeem := func(t *testing.T, c *client, kv ...string) reply {
				code, verifier := e.code(t, b, e.web, nil)
				return e.post(t, "/oauth2/token", with(codeForm(code, verifier), kv...), c.id, c.secret)
			}
			refresh := func(t *testing.T, c *client, kv ...string) reply {
				tok := e.tokens(t, b, e.web)
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}
				return e.post(t, "/oauth2/token", with(form, kv...), c.id, c.secret)
			}
			for _, tc := range []struct {
				name   string
				send   func(t *testing.T) reply
				status int
				want   []string
			}{
				{"TK-02 code of one client redeemed by another", func(t *testing.T) reply { return redeem(t, e.other) },
					400, []string{"invalid_grant"}},
				{"TK-02 redirect_uri missing at /token", func(t *testing.T) reply { return redeem(t, e.web, "redirect_uri", "") },
					400, []string{"invalid_grant"}},
				{"TK-02 redirect_uri different at /token", func(t *testing.T) reply { return redeem(t, e.web, "redirect_uri", callback+"/other") },
					400, []string{"invalid_grant"}},
				{"TK-02 code never issued", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", codeForm("ory_ac_"+rand.Text()+"."+rand.Text(), oauth2.GenerateVerifier()), e.web.id, e.web.secret)
				}, 400, []string{"invalid_grant"}},
				{"TK-03 wrong code_verifier", func(t *testing.T) reply { return redeem(t, e.web, "code_verifier", oauth2.GenerateVerifier()) },
					400, []string{"invalid_grant"}},
				{"TK-03 code_verifier shorter than 43", func(t *testing.T) reply { return redeem(t, e.web, "code_verifier", strings.Repeat("a", 42)) },
					400, []string{"invalid_grant"}},
				{"TK-03 code_verifier longer than 128", func(t *testing.T) reply { return redeem(t, e.web, "code_verifier", strings.Repeat("a", 129)) },
					400, []string{"invalid_grant"}},
				{"TK-03 code_verifier outside the unreserved set", func(t *testing.T) reply {
					return redeem(t, e.web, "code_verifier", strings.Repeat("a", 42)+"!")
				}, 400, []string{"invalid_grant"}},
				{"TK-03 code_verifier missing", func(t *testing.T) reply { return redeem(t, e.web, "code_verifier", "") },
					400, []string{"invalid_grant"}},
				{"TK-03 code of a public client without code_verifier", func(t *testing.T) reply {
					code, _ := e.code(t, b, e.pub, nil)
					return e.post(t, "/oauth2/token", with(codeForm(code, ""), "code_verifier", "", "client_id", e.pub.id), "", "")
				}, 400, []string{"invalid_grant"}},
				{"TK-04 code_verifier without code_challenge at /authorize", func(t *testing.T) reply {
					code, _ := e.code(t, b, e.web, func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") })
					return e.post(t, "/oauth2/token", codeForm(code, oauth2.GenerateVerifier()), e.web.id, e.web.secret)
				}, 400, []string{"invalid_grant"}},
				{"TK-05 code older than its one-minute lifetime", func(t *testing.T) reply {
					code, verifier := e.code(t, b, e.web, nil)
					ageCode(t, e.store, code, 2*time.Minute)
					return e.post(t, "/oauth2/token", codeForm(code, verifier), e.web.id, e.web.secret)
				}, 400, []string{"invalid_grant"}},

				{"TK-06 wrong secret, client_secret_basic", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", cc, e.machine.id, strings.Repeat("x", 43))
				}, 401, []string{"invalid_client"}},
				{"TK-06 empty secret, client_secret_basic", func(t *testing.T) reply {
					req := e.postRequest(t, "/oauth2/token", cc, "", "")
					req.SetBasicAuth(e.machine.id, "")
					return e.send(t, noFollow, req)
				}, 401, []string{"invalid_client"}},
				{"TK-06 unknown client, client_secret_basic", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", cc, "cli_unknown", strings.Repeat("x", 43))
				}, 401, []string{"invalid_client"}},
				{"TK-06 another client's secret, client_secret_basic", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", cc, e.machine.id, e.web.secret)
				}, 401, []string{"invalid_client"}},
				{"TK-06 confidential client without authentication", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", with(cc, "client_id", e.machine.id), "", "")
				}, 401, []string{"invalid_client"}},
				{"TK-06 wrong secret, client_secret_post", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", with(cc, "client_id", e.postCl.id, "client_secret", strings.Repeat("x", 43)), "", "")
				}, 401, []string{"invalid_client"}},
				{"TK-06 unknown client, client_secret_post", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", with(cc, "client_id", "cli_unknown", "client_secret", strings.Repeat("x", 43)), "", "")
				}, 401, []string{"invalid_client"}},

				{"TK-10 client_credentials with a scope the client lacks", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", with(cc, "scope", "reports:read admin"), e.machine.id, e.machine.secret)
				}, 400, []string{"invalid_scope"}},
				{"TK-10 refresh token presented by another client", func(t *testing.T) reply { return refresh(t, e.other) },
					400, []string{"invalid_grant"}},
				{"TK-10 refresh with a wider scope", func(t *testing.T) reply { return refresh(t, e.web, "scope", "openid email offline_access profile") },
					400, []string{"invalid_scope", "invalid_grant"}},

				{"TK-11 grant_type=password", func(t *testing.T) reply {
					form := url.Values{"grant_type": {"password"}, "username": {e.email}, "password": {e.pass}, "scope": {"openid"}}
					return e.post(t, "/oauth2/token", form, e.web.id, e.web.secret)
				}, 400, []string{"unsupported_grant_type"}},
				{"TK-11 grant_type unknown", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", with(cc, "grant_type", "urn:example:nope"), e.machine.id, e.machine.secret)
				}, 400, []string{"unsupported_grant_type"}},
				{"TK-11 client_credentials by a public client", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {e.pub.id}}, "", "")
				}, 400, []string{"unauthorized_client", "unsupported_grant_type"}},
				{"TK-11 authorization_code by a client without that grant", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", codeForm("ory_ac_"+rand.Text()+"."+rand.Text(), oauth2.GenerateVerifier()), e.machine.id, e.machine.secret)
				}, 400, []string{"unauthorized_client"}},

				{"malformed: grant_type missing", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", url.Values{"scope": {"reports:read"}}, e.machine.id, e.machine.secret)
				}, 400, []string{"invalid_request"}},
				{"malformed: empty body", func(t *testing.T) reply {
					return e.post(t, "/oauth2/token", url.Values{}, e.machine.id, e.machine.secret)
				}, 400, []string{"invalid_request"}},
				{"malformed: JSON body", func(t *testing.T) reply {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.issuer+"/oauth2/token",
						strings.NewReader(`{"grant_type":"client_credentials"}`))
					req.Header.Set("Content-Type", "application/json")
					req.SetBasicAuth(e.machine.id, e.machine.secret)
					return e.send(t, noFollow, req)
				}, 400, []string{"invalid_request"}},
				{"malformed: GET instead of POST", func(t *testing.T) reply {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.issuer+"/oauth2/token?"+cc.Encode(), nil)
					req.SetBasicAuth(e.machine.id, e.machine.secret)
					return e.send(t, noFollow, req)
				}, 400, []string{"invalid_request"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := tc.send(t)
					if r.status >= 500 {
						t.Fatalf("token request = %v, want %d %v and never a 5xx", r, tc.status, tc.want)
					}
					if r.status != tc.status || !slices.Contains(tc.want, r.errorCode()) {
						t.Errorf("token request = %v; want %d with error %v", r, tc.status, tc.want)
					}
					if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
						t.Errorf("Content-Type = %q, want application/json", ct)
					}
					if r.status == http.StatusUnauthorized && r.basic {
						t.Run("TK-06 WWW-Authenticate after Basic", func(t *testing.T) {
							if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic") {
								t.Errorf("401 after Basic authentication has WWW-Authenticate %q, want the Basic scheme (RFC 6749 §5.2)", h)
							}
						})
					}
					t.Run("TK-12 no-store and error_description alphabet", func(t *testing.T) {
						if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
							t.Errorf("Cache-Control = %q, want no-store", cc)
						}
						if d, _ := r.json["error_description"].(string); !errorDescriptionOK(d) {
							t.Errorf("error_description %q has characters outside RFC 6749 §5.2's set (quote, backslash or control)", d)
						}
					})
				})
			}
		})
	}
}

// TestSecurityDB01ConcurrentCodeRedemption covers DB-01: 20 concurrent
// redemptions of one code give exactly one 200 and 19 invalid_grant (400),
// never a 5xx, on both backends.
func TestSecurityDB01ConcurrentCodeRedemption(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSecEnv(t, backend)
			b := e.signedIn(t)
			for round := range 5 {
				code, verifier := e.code(t, b, e.web, nil)
				const n = 20
				replies := make([]reply, n)
				errs := make([]error, n)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range n {
					req := e.postRequest(t, "/oauth2/token", codeForm(code, verifier), e.web.id, e.web.secret)
					wg.Go(func() {
						<-start
						replies[i], errs[i] = do(http.DefaultClient, req)
					})
				}
				close(start)
				wg.Wait()
				counts := map[string]int{}
				for i, r := range replies {
					if errs[i] != nil {
						t.Fatalf("round %d: request %d: %v", round, i, errs[i])
					}
					checkReply(t, fmt.Sprintf("round %d: request %d", round, i), r)
					counts[fmt.Sprintf("%d %s", r.status, r.errorCode())]++
					if r.status >= 500 {
						t.Errorf("round %d: request %d = %v, want never a 5xx", round, i, r)
					}
				}
				if want := map[string]int{"200 ": 1, "400 invalid_grant": n - 1}; !cmp.Equal(counts, want) {
					t.Errorf("round %d: %d concurrent redemptions of one code = %v, want %v", round, n, counts, want)
				}
			}
		})
	}
}

// tokenFixtures are live and dead tokens of one signed-in person.
type tokenFixtures struct {
	access, id, refresh string // live, from one code exchange of the web client
	revoked             string // an access token revoked at /oauth2/revoke
	machine             string // a live client_credentials access token
	kid                 string // Foyer's active signing key
	publicPEM           []byte // its public key, PEM-encoded
}

func (e *secEnv) fixtures(t *testing.T) tokenFixtures {
	t.Helper()
	b := e.signedIn(t)
	tok := e.tokens(t, b, e.web)
	f := tokenFixtures{access: tok["access_token"].(string), id: tok["id_token"].(string), refresh: tok["refresh_token"].(string)}
	dead := e.tokens(t, b, e.web)
	f.revoked = dead["access_token"].(string)
	if r := e.post(t, "/oauth2/revoke", url.Values{"token": {f.revoked}}, e.web.id, e.web.secret); r.status != http.StatusOK {
		t.Fatalf("revoke = %v", r)
	}
	r := e.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}, e.machine.id, e.machine.secret)
	if r.status != http.StatusOK {
		t.Fatalf("client_credentials = %v", r)
	}
	f.machine = r.json["access_token"].(string)

	var header struct {
		KID string `json:"kid"`
	}
	json.Unmarshal([]byte(decodeSegment(t, strings.Split(f.access, ".")[0])), &header)
	f.kid = header.KID
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(e.get(t, noFollow, e.issuer+"/.well-known/jwks.json").body), &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(f.kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q, want 1", len(keys), f.kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	f.publicPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return f
}

// forgeries are tokens an attacker can make, each paired with its
// SECURITY.md ID; every one must be refused.
func (e *secEnv) forgeries(t *testing.T, f tokenFixtures) []struct{ name, token string } {
	t.Helper()
	parts := strings.Split(f.access, ".")
	var claims map[string]any
	if err := json.Unmarshal([]byte(decodeSegment(t, parts[1])), &claims); err != nil {
		t.Fatal(err)
	}
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64URL.EncodeToString(b)
	}
	signRS256 := func(kid string) string {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: "RS256"}},
			(&jose.SignerOptions{}).WithType("at+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		obj, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		out, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hs256 := func() string {
		signing := seg(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": f.kid}) + "." + parts[1]
		mac := hmac.New(sha256.New, f.publicPEM)
		mac.Write([]byte(signing))
		return signing + "." + base64URL.EncodeToString(mac.Sum(nil))
	}
	later := map[string]any{}
	for k, v := range claims {
		later[k] = v
	}
	later["exp"] = time.Now().Add(24 * time.Hour).Unix()
	later["sub"] = "usr_someone_else"
	none := seg(map[string]any{"alg": "none", "typ": "at+jwt"})
	big := strings.Repeat("A", 9<<10)
	// The JWS JSON serialization carries an unprotected header beside the
	// signed one: an ID token whose signature still holds, dressed as at+jwt.
	idParts := strings.Split(f.id, ".")
	dressed, err := json.Marshal(map[string]any{
		"protected": idParts[0], "header": map[string]any{"typ": "at+jwt"},
		"payload": idParts[1], "signature": idParts[2],
	})
	if err != nil {
		t.Fatal(err)
	}
	return []struct{ name, token string }{
		{"TJ-09 garbage", "garbage"},
		{"TJ-09 garbage with two dots", "a.b.c"},
		{"TJ-09 opaque-looking garbage", "ory_at_" + rand.Text() + "." + rand.Text()},
		{"TJ-09 JWT signed by an unknown key and kid", signRS256("unknown-kid")},
		{"TJ-09 JWT signed by an unknown key under Foyer's kid", signRS256(f.kid)},
		{"TJ-02 HS256 keyed with Foyer's public key", hs256()},
		{"TJ-01 alg=none without signature", none + "." + parts[1] + "."},
		{"TJ-01 alg=none with a live token's signature", none + "." + parts[1] + "." + parts[2]},
		{"TJ-02 tampered claims with a live token's signature", parts[0] + "." + seg(later) + "." + parts[2]},
		{"TJ-09 unknown kid with a live token's signature", seg(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "nope"}) + "." + parts[1] + "." + parts[2]},
		{"TJ-06 ID token", f.id},
		{"TJ-06 ID token in JSON serialization with an unprotected typ at+jwt", string(dressed)},
		{"TJ-06 refresh token", f.refresh},
		{"TJ-09 revoked access token", f.revoked},
		{"TJ-07 9 KB token", big + "." + big[:10] + "." + big[:10]},
		{"TJ-07 9 KB token with a live token's signature", parts[0] + "." + parts[1] + big + "." + parts[2]},
		{"TJ-07 thousands of dots", strings.Repeat(".", 5000)},
	}
}

// TestSecurityUserinfo covers TJ-01, TJ-02, TJ-06, TJ-07 and TJ-09 at the
// UserInfo endpoint: every token that is not a live access token gets 401
// with WWW-Authenticate: Bearer … error="invalid_token" [RFC 6750 §3.1].
func TestSecurityUserinfo(t *testing.T) {
	e := newSecEnv(t, "embedded")
	f := e.fixtures(t)
	userinfo := func(t *testing.T, token string) reply {
		return e.get(t, noFollow, e.issuer+"/userinfo", "Authorization", "Bearer "+token)
	}
	if r := userinfo(t, f.access); r.status != http.StatusOK || r.json["sub"] == nil {
		t.Fatalf("control: userinfo with a live access token = %v, want 200 with sub", r)
	}
	for _, tc := range e.forgeries(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			r := userinfo(t, tc.token)
			h := r.header.Get("WWW-Authenticate")
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(h, "Bearer") || !strings.Contains(h, `error="invalid_token"`) {
				t.Errorf("userinfo = %v, WWW-Authenticate %q; want 401 with Bearer error=\"invalid_token\"", r, h)
			}
			if r.json["sub"] != nil || strings.Contains(r.body, e.email) {
				t.Errorf("userinfo with a bad token released claims: %s", r.body)
			}
		})
	}
	t.Run("TJ-09 no token", func(t *testing.T) {
		r := e.get(t, noFollow, e.issuer+"/userinfo")
		if h := r.header.Get("WWW-Authenticate"); r.status != http.StatusUnauthorized || !strings.HasPrefix(h, "Bearer") {
			t.Errorf("userinfo without a token = %v, WWW-Authenticate %q; want 401 with a Bearer challenge", r, h)
		}
	})
}

// TestSecurityIntrospection covers TJ-06 and TJ-09 at the introspection
// endpoint: an authenticated caller learns only {"active":false} about a
// token that is not live; a caller that does not authenticate gets 401
// invalid_client [RFC 7662 §2.2, §2.3; RFC 6749 §5.2].
func TestSecurityIntrospection(t *testing.T) {
	e := newSecEnv(t, "embedded")
	f := e.fixtures(t)
	introspect := func(t *testing.T, token, user, pass string) reply {
		return e.post(t, "/oauth2/introspect", url.Values{"token": {token}}, user, pass)
	}
	if r := introspect(t, f.access, e.machine.id, e.machine.secret); r.status != http.StatusOK || r.json["active"] != true {
		t.Fatalf("control: introspection of a live access token = %v, want active", r)
	}
	for _, tc := range e.forgeries(t, f) {
		if tc.name == "TJ-06 refresh token" {
			continue // a live refresh token is active at introspection (RFC 7662 §2.1)
		}
		t.Run(tc.name, func(t *testing.T) {
			r := introspect(t, tc.token, e.machine.id, e.machine.secret)
			if r.status != http.StatusOK || !cmp.Equal(r.json, map[string]any{"active": false}) {
				t.Errorf("introspection = %v, want 200 and exactly {\"active\":false}", r)
			}
		})
	}
	for _, tc := range []struct {
		name       string
		user, pass string
	}{
		{"TJ-09 caller without credentials", "", ""},
		{"TJ-09 caller with a wrong secret", e.machine.id, strings.Repeat("x", 43)},
		{"TJ-09 unknown caller", "cli_unknown", strings.Repeat("x", 43)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := introspect(t, f.access, tc.user, tc.pass)
			if r.status != http.StatusUnauthorized || r.errorCode() != "invalid_client" {
				t.Errorf("introspection = %v, want 401 invalid_client", r)
			}
			if r.json["active"] == true || r.json["sub"] != nil {
				t.Errorf("unauthenticated introspection revealed the token: %s", r.body)
			}
		})
	}
}

// TestSecurityRevocation covers TJ-09 at the revocation endpoint: an
// unknown or already revoked token is 200 for an authenticated client; an
// unauthenticated one is 401 invalid_client; a client cannot revoke
// another client's token [RFC 7009 §2.1, §2.2].
func TestSecurityRevocation(t *testing.T) {
	e := newSecEnv(t, "embedded")
	f := e.fixtures(t)
	revoke := func(t *testing.T, token, user, pass string) reply {
		return e.post(t, "/oauth2/revoke", url.Values{"token": {token}}, user, pass)
	}
	for _, tc := range []struct {
		name       string
		token      string
		user, pass string
		status     int
		want       string
	}{
		{"TJ-09 unknown token", "ory_at_" + rand.Text() + "." + rand.Text(), e.web.id, e.web.secret, 200, ""},
		{"TJ-09 garbage token", "garbage", e.web.id, e.web.secret, 200, ""},
		{"TJ-09 unknown refresh token hint", rand.Text(), e.web.id, e.web.secret, 200, ""},
		{"TJ-09 already revoked token", f.revoked, e.web.id, e.web.secret, 200, ""},
		{"TJ-09 caller without credentials", f.access, "", "", 401, "invalid_client"},
		{"TJ-09 caller with a wrong secret", f.access, e.web.id, strings.Repeat("x", 43), 401, "invalid_client"},
		{"TJ-09 unknown caller", f.access, "cli_unknown", strings.Repeat("x", 43), 401, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := revoke(t, tc.token, tc.user, tc.pass)
			if r.status != tc.status || r.errorCode() != tc.want {
				t.Errorf("revocation = %v, want %d %q", r, tc.status, tc.want)
			}
		})
	}
	t.Run("RFC7009-2.1 another client's token stays live", func(t *testing.T) {
		r := revoke(t, f.access, e.other.id, e.other.secret)
		if r.status >= 500 {
			t.Errorf("revocation by another client = %v, want no 5xx", r)
		}
		in := e.post(t, "/oauth2/introspect", url.Values{"token": {f.access}}, e.machine.id, e.machine.secret)
		if in.json["active"] != true {
			t.Errorf("after another client asked to revoke it, the web client's token is %v, want still active", in)
		}
	})
}

// TestSecurityJWKS covers TJ-03: the JWKS holds only public keys, each
// with a distinct kid, use=sig and an alg [CS OIDCCServerRotateKeys].
func TestSecurityJWKS(t *testing.T) {
	e := newSecEnv(t, "embedded")
	r := e.get(t, noFollow, e.issuer+"/.well-known/jwks.json")
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); r.status != http.StatusOK || err != nil || len(doc.Keys) == 0 {
		t.Fatalf("GET jwks = %v (%v), want a JWK Set with keys", r, err)
	}
	kids := map[string]bool{}
	for i, k := range doc.Keys {
		kid, _ := k["kid"].(string)
		t.Run(fmt.Sprintf("TJ-03 key %d %s", i, kid), func(t *testing.T) {
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"} {
				if _, ok := k[private]; ok {
					t.Errorf("key has private or symmetric member %q", private)
				}
			}
			if kty := k["kty"]; kty != "RSA" && kty != "EC" && kty != "OKP" {
				t.Errorf("kty = %v, want an asymmetric key type", kty)
			}
			if kid == "" || kids[kid] {
				t.Errorf("kid %q is empty or used twice", kid)
			}
			kids[kid] = true
			if k["use"] != "sig" {
				t.Errorf("use = %v, want sig", k["use"])
			}
			if alg, _ := k["alg"].(string); alg == "" || alg == "none" || strings.HasPrefix(alg, "HS") {
				t.Errorf("alg = %v, want an asymmetric signing algorithm", k["alg"])
			}
			raw, _ := json.Marshal(k)
			var jwk jose.JSONWebKey
			if err := jwk.UnmarshalJSON(raw); err != nil || !jwk.IsPublic() || !jwk.Valid() {
				t.Errorf("key does not parse as a valid public JWK: %v", err)
			}
		})
	}
}

// TestSecurityDiscovery: the discovery documents name the issuer exactly,
// put every endpoint on it, and advertise only the code flow, S256 and no
// alg=none [OIDC Discovery §3, §4.3; RFC 8414 §3.3; AZ-08, AZ-09, TJ-01].
func TestSecurityDiscovery(t *testing.T) {
	e := newSecEnv(t, "embedded")
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			r := e.get(t, noFollow, e.issuer+path)
			if r.status != http.StatusOK || r.json == nil {
				t.Fatalf("GET %s = %v", path, r)
			}
			if r.json["issuer"] != e.issuer {
				t.Errorf("issuer = %v, want exactly %q", r.json["issuer"], e.issuer)
			}
			for k, v := range r.json {
				if !strings.HasSuffix(k, "_endpoint") && k != "jwks_uri" {
					continue
				}
				s, _ := v.(string)
				if u, err := url.Parse(s); err != nil || !u.IsAbs() || !strings.HasPrefix(s, e.issuer+"/") {
					t.Errorf("%s = %v, want an absolute URL on %s", k, v, e.issuer)
				}
			}
			list := func(k string) []string {
				var out []string
				items, _ := r.json[k].([]any)
				for _, x := range items {
					s, _ := x.(string)
					out = append(out, s)
				}
				return out
			}
			if got := list("response_types_supported"); !cmp.Equal(got, []string{"code"}) {
				t.Errorf("AZ-09 response_types_supported = %q, want exactly [code]", got)
			}
			if got := list("code_challenge_methods_supported"); !cmp.Equal(got, []string{"S256"}) {
				t.Errorf("AZ-08 code_challenge_methods_supported = %q, want exactly [S256]", got)
			}
			if got := list("grant_types_supported"); slices.Contains(got, "implicit") || slices.Contains(got, "password") {
				t.Errorf("TK-11 grant_types_supported = %q advertises implicit or password", got)
			}
			if got := list("id_token_signing_alg_values_supported"); len(got) == 0 || slices.Contains(got, "none") {
				t.Errorf("TJ-01 id_token_signing_alg_values_supported = %q, want algorithms and never none", got)
			}
		})
	}
}
