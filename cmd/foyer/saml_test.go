package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"html"
	htmltemplate "html/template"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/idp"
	ssosaml "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates"
)

// samlIdP is a real SAML identity provider in the test process:
// crewjam/saml's samlidp, with its users and its login form.
type samlIdP struct {
	srv  *httptest.Server
	idp  *samlidp.Server
	base string
}

func startSAMLIdP(t *testing.T) *samlIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Corp IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &samlIdP{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.idp.ServeHTTP(w, r) }))
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	p.base = p.srv.URL
	u, _ := url.Parse(p.base)
	p.idp, err = samlidp.New(samlidp.Options{URL: *u, Key: key, Signer: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		LoginFormTemplate: idpLoginForm(p.base + "/sso")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *samlIdP) put(t *testing.T, path, contentType string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, p.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s at the IdP = %d", path, resp.StatusCode)
	}
}

// addUser gives the IdP a person.
func (p *samlIdP) addUser(t *testing.T, name, email, given, surname string, groups ...string) {
	t.Helper()
	pass := "idp password"
	body, _ := json.Marshal(samlidp.User{Name: name, PlaintextPassword: &pass, Email: email, GivenName: given, Surname: surname, Groups: groups})
	p.put(t, "/users/"+name, "application/json", body)
}

// trust registers Foyer's SP metadata, read from its metadata endpoint.
// Without encrypt, the IdP is given the metadata without Foyer's
// encryption key, so it sends the assertion in clear, for tests that
// tamper with it.
func (p *samlIdP) trust(t *testing.T, spMetadataURL string, encrypt bool) {
	t.Helper()
	resp, err := http.Get(spMetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	md := read(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(md, "AssertionConsumerService") || !strings.Contains(md, "X509Certificate") {
		t.Fatalf("SP metadata = %d:\n%s", resp.StatusCode, md)
	}
	if !encrypt {
		md = regexp.MustCompile(`(?s)<KeyDescriptor use="encryption">.*?</KeyDescriptor>`).ReplaceAllString(md, "")
	}
	p.put(t, "/services/foyer", "application/samlmetadata+xml", []byte(md))
}

func (p *samlIdP) metadata(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(p.base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(read(t, resp))
}

// idpLoginForm is samlidp's login form posting back to its SSO endpoint
// with the request (its default posts to /login, which only starts the
// IdP's session), with labels a browser test can fill.
func idpLoginForm(sso string) *htmltemplate.Template {
	return htmltemplate.Must(htmltemplate.New("idp-login").Parse(`<html><body><p>{{.Toast}}</p>` +
		`<form method="post" action="` + sso + `">` +
		`<label for="user">User</label><input id="user" type="text" name="user">` +
		`<label for="password">Password</label><input id="password" type="password" name="password">` +
		`<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">` +
		`<input type="hidden" name="RelayState" value="{{.RelayState}}">` +
		`<button type="submit" id="idp-login">Log in</button></form></body></html>`))
}

var (
	idpFormAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	idpField      = regexp.MustCompile(`<input type="hidden" name="(SAMLRequest|SAMLResponse|RelayState)" value="([^"]*)"`)
)

// idpFields reads the hidden fields and action of an IdP page's form.
func idpFields(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	m := idpFormAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on the IdP page:\n%s", page)
	}
	v := url.Values{}
	for _, f := range idpField.FindAllStringSubmatch(page, -1) {
		v.Set(f[1], html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), v
}

// samlEnv is a running Foyer with an organization whose SAML connection
// trusts a running IdP, the connection claiming corp.example.
type samlEnv struct {
	*signinEnv
	idp  *samlIdP
	acme storage.Organization
	conn storage.SAMLConnection
}

func newSAMLEnv(t *testing.T, backend string, mapping ssosaml.Mapping, encrypt bool) *samlEnv {
	t.Helper()
	ctx := t.Context()
	e := &samlEnv{signinEnv: newSigninEnv(t, backend), idp: startSAMLIdP(t)}
	var err error
	if e.acme, err = idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	e.conn, err = e.srv.saml.CreateConnection(ctx, ssosaml.NewConnection{
		OrgID: e.acme.ID, Name: "Corp IdP", Metadata: e.idp.metadata(t), Mapping: mapping,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddSAMLDomain(ctx, storage.SAMLDomain{Domain: "corp.example", ConnectionID: e.conn.ID,
		VerificationToken: "t", VerifiedAt: time.Now(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	e.idp.trust(t, e.issuer+"/sso/"+e.conn.ID+"/metadata", encrypt)
	e.idp.addUser(t, "ada", "ada@corp.example", "Ada", "Lovelace", "engineering")
	return e
}

// toIdP follows Foyer's redirect to the IdP, signs in there as name and
// returns the IdP's answer: the form that posts the response to Foyer.
func (e *samlEnv) toIdP(t *testing.T, b *http.Client, resp *http.Response, name string) (acs string, form url.Values) {
	t.Helper()
	page := read(t, resp)
	if !strings.HasPrefix(resp.Request.URL.String(), e.idp.base+"/sso") {
		t.Fatalf("sign-in ended at %s, want the IdP:\n%s", resp.Request.URL, page)
	}
	if q := resp.Request.URL.Query(); q.Get("Signature") == "" || q.Get("SigAlg") == "" || q.Get("RelayState") == "" {
		t.Errorf("the AuthnRequest is not signed or carries no RelayState: %s", resp.Request.URL)
	}
	action, login := idpFields(t, page)
	login.Set("user", name)
	login.Set("password", "idp password")
	resp, err := b.PostForm(action, login)
	if err != nil {
		t.Fatal(err)
	}
	return idpFields(t, read(t, resp))
}

// TestSAMLSignIn: SP-initiated single sign-on with a real SAML IdP, on
// both backends. The email's domain sends the sign-in to the IdP with a
// signed AuthnRequest; the response comes back by HTTP-POST; the person
// is created (email verified, found afterwards by connection and NameID:
// MT-05), joins the connection's organization with the role its group
// maps to, and the relying party gets tokens with amr ext and that
// organization's claims. The same response again is refused (SP-10,
// SP-11).
func TestSAMLSignIn(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSAMLEnv(t, backend, ssosaml.Mapping{GroupRoles: []ssosaml.GroupRole{{Group: "engineering", Role: "editor"}}}, true)
			ctx := t.Context()
			a := newOrgApp(t, e.oidcEnv, "openid", "email", "org")
			pkce := oauth2.GenerateVerifier()
			b := newBrowser(t)
			resp, err := b.Get(a.conf.AuthCodeURL("state-saml", oauth2.S256ChallengeOption(pkce)))
			if err != nil {
				t.Fatal(err)
			}
			form := formFields(t, read(t, resp))
			form.Set("email", "Ada@Corp.Example")
			if resp, err = b.PostForm(e.issuer+"/login", form); err != nil {
				t.Fatal(err)
			}
			acs, response := e.toIdP(t, b, resp, "ada")
			if acs != e.issuer+"/sso/"+e.conn.ID+"/acs" || response.Get("SAMLResponse") == "" {
				t.Fatalf("the IdP posts to %s: %v", acs, response)
			}
			resp, err = b.PostForm(acs, response)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil || loc.Query().Get("code") == "" {
				t.Fatalf("after the ACS: %d at %s (%v)", resp.StatusCode, resp.Request.URL, loc)
			}
			tok, err := a.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				AMR   []string `json:"amr"`
				Email string   `json:"email"`
			}
			idt, err := a.verifier.Verify(ctx, tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			idt.Claims(&claims)
			if !slices.Equal(claims.AMR, []string{"ext"}) || claims.Email != "ada@corp.example" {
				t.Errorf("ID token: amr %v, email %q", claims.AMR, claims.Email)
			}
			wantOrg(t, "SAML sign-in", a.claims(t, tok), e.acme, "editor", editorPerms...)
			u, err := e.store.GetUserByEmail(ctx, "ada@corp.example")
			if err != nil || !u.EmailVerified || u.Name != "Ada Lovelace" {
				t.Errorf("provisioned user %+v, %v", u, err)
			}
			if ids, _ := e.store.ListExternalIdentities(ctx, u.ID); len(ids) != 1 || ids[0].ConnectionID != e.conn.ID || ids[0].Subject != "ada@corp.example" {
				t.Errorf("external identities %+v", ids)
			}

			// SP-10/SP-11: the same response again is refused.
			resp, err = b.PostForm(acs, response)
			if err != nil {
				t.Fatal(err)
			}
			if page := read(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Single sign-on failed") {
				t.Errorf("the response posted again = %d:\n%s", resp.StatusCode, page)
			}
		})
	}
}

// TestSAMLRefusals: what the service provider refuses, each answered with
// a page and no session: an unsigned response (SP-01), a tampered one
// (SP-02), a response for another browser's request (SP-10), an
// IdP-initiated response while that is off (SP-12), an oversized one
// (SP-13), a person of a domain the connection has not claimed (MT-07).
func TestSAMLRefusals(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	e.idp.addUser(t, "eve", "eve@elsewhere.example", "Eve", "Outsider")

	// startAt begins a sign-in through the connection in browser b and
	// returns the IdP's response for name.
	startAt := func(b *http.Client, name string) (string, url.Values) {
		resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		return e.toIdP(t, b, resp, name)
	}
	refused := func(what string, b *http.Client, acs string, form url.Values, want string) {
		t.Helper()
		resp, err := b.PostForm(acs, form)
		if err != nil {
			t.Fatal(err)
		}
		page := html.UnescapeString(read(t, resp))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, want) {
			t.Errorf("%s: %d, want 400 saying %q:\n%s", what, resp.StatusCode, want, page)
		}
	}
	decoded := func(form url.Values) string {
		raw, _ := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
		return string(raw)
	}
	with := func(form url.Values, xml string) url.Values {
		out := url.Values{}
		for k, v := range form {
			out[k] = v
		}
		out.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(xml)))
		return out
	}

	b := newBrowser(t)
	acs, form := startAt(b, "ada")
	// SP-01: the signatures taken out.
	unsigned := regexp.MustCompile(`(?s)<ds:Signature.*?</ds:Signature>`).ReplaceAllString(decoded(form), "")
	refused("SP-01 unsigned", b, acs, with(form, unsigned), "response is not valid")

	b = newBrowser(t)
	acs, form = startAt(b, "ada")
	// SP-02/04: the NameID changed after signing.
	tampered := strings.Replace(decoded(form), "ada@corp.example", "admin@corp.example", -1)
	refused("SP-02 tampered", b, acs, with(form, tampered), "response is not valid")

	// SP-10: a response to another browser's request.
	b1, b2 := newBrowser(t), newBrowser(t)
	acs, form = startAt(b1, "ada")
	refused("SP-10 another browser", b2, acs, form, "does not answer a sign-in started in this browser")

	// SP-12: no RelayState (IdP-initiated) while the connection does not
	// allow it.
	acs, form = startAt(newBrowser(t), "ada")
	form.Del("RelayState")
	refused("SP-12 IdP-initiated", newBrowser(t), acs, form, "does not answer a sign-in started in this browser")

	// SP-13: over 256 KiB.
	big := url.Values{"SAMLResponse": {strings.Repeat("A", 300<<10)}}
	refused("SP-13 oversized", newBrowser(t), e.issuer+"/sso/"+e.conn.ID+"/acs", big, "response is missing or too large")

	// MT-07: a person of a domain this connection did not claim.
	b = newBrowser(t)
	acs, form = startAt(b, "eve")
	refused("MT-07 unclaimed domain", b, acs, form, "addresses of elsewhere.example do not sign in through this connection")
	if _, err := e.store.GetUserByEmail(ctx, "eve@elsewhere.example"); err == nil {
		t.Error("MT-07: an account was made for an unclaimed domain")
	}
	if _, err := e.store.GetUserByEmail(ctx, "admin@corp.example"); err == nil {
		t.Error("SP-02: the tampered NameID got an account")
	}
}

// TestSAMLMetadataURL (F7): a connection made from the IdP's metadata URL
// is fetched with a timeout and refreshed in the background; a failed
// refresh keeps the last good copy (sign-in keeps working, signatures
// still checked against it) and records the error. Outside development a
// URL of an internal address is refused (SSRF).
func TestSAMLMetadataURL(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	conn, err := e.srv.saml.CreateConnection(ctx, ssosaml.NewConnection{OrgID: e.acme.ID, Name: "By URL", MetadataURL: e.idp.base + "/metadata"})
	if err != nil || len(conn.Metadata) == 0 || conn.MetadataFetchedAt.IsZero() {
		t.Fatalf("connection from a metadata URL: %+v, %v", conn, err)
	}
	good := conn.Metadata

	strict, err := ssosaml.New(ssosaml.Options{Issuer: e.issuer, Store: e.store, Sealer: testSealer(t), Sessions: e.srv.sessions,
		Authorizations: e.srv.provider, Templates: templates.FS, HandleKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.CreateConnection(ctx, ssosaml.NewConnection{OrgID: e.acme.ID, Name: "Internal", MetadataURL: e.idp.base + "/metadata"})
	if err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Errorf("F7: a metadata URL on 127.0.0.1 outside development = %v, want refused", err)
	}

	// The IdP's metadata goes away; the refresh an hour later fails.
	handler := e.idp.srv.Config.Handler
	e.idp.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metadata" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		handler.ServeHTTP(w, r)
	})
	e.clock.Advance(2 * time.Hour)
	if _, err := e.srv.saml.RefreshMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := e.store.GetSAMLConnection(ctx, conn.ID)
	if err != nil || !bytes.Equal(after.Metadata, good) || !strings.Contains(after.MetadataError, "500") {
		t.Errorf("F7: after a failed refresh: metadata kept %v, error %q (%v)", bytes.Equal(after.Metadata, good), after.MetadataError, err)
	}
	e.idp.srv.Config.Handler = handler
	e.clock.Advance(2 * time.Hour)
	if n, err := e.srv.saml.RefreshMetadata(ctx); err != nil || n != 1 {
		t.Errorf("refresh once the IdP is back: %d, %v", n, err)
	}
	if after, _ = e.store.GetSAMLConnection(ctx, conn.ID); after.MetadataError != "" {
		t.Errorf("the error stays after a good refresh: %q", after.MetadataError)
	}
}

// testSealer seals with a fresh key: enough for a service the test makes
// itself.
func testSealer(t *testing.T) *keys.Cipher {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	c, err := keys.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
