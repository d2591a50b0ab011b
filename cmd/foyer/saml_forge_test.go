package main

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"

	ssosaml "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/storage"
)

// tweakingMaker is the IdP's own assertion maker with a change made
// before the IdP signs: assertions that are validly signed by the trusted
// key and wrong in one way each.
type tweakingMaker struct{ tweak func(*crewsaml.Assertion) }

func (m tweakingMaker) MakeAssertion(req *crewsaml.IdpAuthnRequest, s *crewsaml.Session) error {
	if err := (crewsaml.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	m.tweak(req.Assertion)
	return nil
}

// TestSAMLSignedButWrong: responses signed by the trusted IdP that still
// must be refused: another issuer (SP-07), an audience that is not Foyer's
// or none at all (SP-08), an expired assertion (SP-09), a status other
// than Success (SP-14). Nobody is signed in or provisioned.
func TestSAMLSignedButWrong(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		tweak func(*crewsaml.Assertion)
	}{
		{"SP-07 another issuer", func(a *crewsaml.Assertion) { a.Issuer.Value = "https://evil-idp.example/metadata" }},
		{"SP-08 another audience", func(a *crewsaml.Assertion) {
			a.Conditions.AudienceRestrictions = []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: "https://other-sp.example/metadata"}}}
		}},
		{"SP-08 no audience", func(a *crewsaml.Assertion) { a.Conditions.AudienceRestrictions = nil }},
		{"SP-09 expired", func(a *crewsaml.Assertion) {
			past := time.Now().Add(-20 * time.Minute)
			a.IssueInstant, a.Conditions.NotBefore, a.Conditions.NotOnOrAfter = past, past, past.Add(5*time.Minute)
			for i := range a.Subject.SubjectConfirmations {
				a.Subject.SubjectConfirmations[i].SubjectConfirmationData.NotOnOrAfter = past.Add(5 * time.Minute)
			}
		}},
		{"SP-09 not yet valid", func(a *crewsaml.Assertion) {
			a.Conditions.NotBefore = time.Now().Add(30 * time.Minute)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.idp.idp.IDP.AssertionMaker = tweakingMaker{tc.tweak}
			defer func() { e.idp.idp.IDP.AssertionMaker = nil }()
			b := newBrowser(t)
			resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
			if err != nil {
				t.Fatal(err)
			}
			acs, form := e.toIdP(t, b, resp, "ada")
			resp, err = b.PostForm(acs, form)
			if err != nil {
				t.Fatal(err)
			}
			page := html.UnescapeString(read(t, resp))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "response is not valid") {
				t.Errorf("%d, want 400 saying the response is not valid:\n%s", resp.StatusCode, page)
			}
		})
	}
	if _, err := e.store.GetUserByEmail(ctx, "ada@corp.example"); err == nil {
		t.Error("a refused assertion provisioned its person")
	}

	// SP-14: a response whose status is not Success.
	b := newBrowser(t)
	resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	acs, form := e.toIdP(t, b, resp, "ada")
	raw := decodeSAML(t, form)
	denied := strings.Replace(raw, "urn:oasis:names:tc:SAML:2.0:status:Success", "urn:oasis:names:tc:SAML:2.0:status:Requester", 1)
	if denied == raw {
		t.Fatal("no Success status in the response")
	}
	form.Set("SAMLResponse", encodeSAML(denied))
	resp, err = b.PostForm(acs, form)
	if err != nil {
		t.Fatal(err)
	}
	if page := read(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("SP-14: a Requester status = %d, want 400:\n%s", resp.StatusCode, page)
	}

	// The control: the same IdP, untouched, signs ada in.
	b = newBrowser(t)
	if resp, err = b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, "")); err != nil {
		t.Fatal(err)
	}
	acs, form = e.toIdP(t, b, resp, "ada")
	if resp, err = b.PostForm(acs, form); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/account" {
		t.Errorf("an untouched response ended at %s (%d), want the account page", resp.Request.URL, resp.StatusCode)
	}
}

func decodeSAML(t *testing.T, form url.Values) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func encodeSAML(xml string) string { return base64.StdEncoding.EncodeToString([]byte(xml)) }

// TestSAMLXMLAttacks: responses changed after the IdP signed them, in the
// ways XML signature attacks do, are refused: a second, unsigned assertion
// beside the signed one (SP-03); XML that changes when re-serialized
// (SP-05); a comment inside the NameID, which
// canonicalization drops from the digest (SP-04: the full text is used
// or the response refused, never "ada@corp" for "ada@corp.example"); a
// response signed by another key that carries its own certificate in
// KeyInfo (SP-06: only the metadata's certificate is trusted).
func TestSAMLXMLAttacks(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	respond := func(tamper func(string) string) (int, string) {
		t.Helper()
		b := newBrowser(t)
		resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		acs, form := e.toIdP(t, b, resp, "ada")
		form.Set("SAMLResponse", encodeSAML(tamper(decodeSAML(t, form))))
		resp, err = b.PostForm(acs, form)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, html.UnescapeString(read(t, resp))
	}
	assertionRE := regexp.MustCompile(`(?s)<saml:Assertion .*?</saml:Assertion>`)

	// SP-03: an unsigned copy, with another subject, before the signed one.
	st, page := respond(func(x string) string {
		a := assertionRE.FindString(x)
		forged := regexp.MustCompile(`(?s)<ds:Signature.*?</ds:Signature>`).ReplaceAllString(a, "")
		forged = strings.ReplaceAll(strings.ReplaceAll(forged, "ada@corp.example", "boss@corp.example"), `ID="`, `ID="forged`)
		return strings.Replace(x, a, forged+a, 1)
	})
	if st != http.StatusBadRequest {
		t.Errorf("SP-03: two assertions = %d, want 400:\n%s", st, page)
	}

	// SP-04: ada@corp.example becomes ada@corp<!---->.example.
	st, page = respond(func(x string) string {
		return strings.Replace(x, ">ada@corp.example</saml:NameID>", ">ada@corp<!---->.example</saml:NameID>", 1)
	})
	// Accepted here (the comment is not part of the signed value), so the
	// subject must be the full text.
	if st != http.StatusOK || !strings.Contains(page, "ada@corp.example") {
		t.Errorf("SP-04: %d, want signed in as the full ada@corp.example:\n%s", st, page)
	}
	if id, _ := e.store.GetExternalIdentity(ctx, e.conn.ID, "ada@corp"); id.UserID != "" {
		t.Error("SP-04: the NameID was truncated at the comment")
	}
	if id, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "ada@corp.example"); err != nil || id.UserID == "" {
		t.Errorf("SP-04: no identity for the full NameID: %v", err)
	}

	// SP-05: XML that encoding/xml would change when re-serialized (a
	// name with two colons) is refused by the round-trip validation.
	st, page = respond(func(x string) string {
		return strings.Replace(x, "</saml:Issuer>", "</saml:Issuer><x::Extra></x::Extra>", 1)
	})
	if st != http.StatusBadRequest {
		t.Errorf("SP-05: XML that does not survive a round trip = %d, want 400:\n%s", st, page)
	}

	// SP-06: an attacker's IdP that claims the trusted IdP's entity ID
	// signs with its own key and puts its own certificate in KeyInfo.
	// Issuer, audience, destination and request all match, so only the
	// signature can refuse it: KeyInfo is not trusted, the metadata is.
	other := startSAMLIdP(t)
	other.idp.IDP.MetadataURL = e.idp.idp.IDP.MetadataURL // its entity ID
	other.idp.IDP.SSOURL = e.idp.idp.IDP.SSOURL           // the AuthnRequest's Destination
	other.trust(t, e.issuer+"/sso/"+e.conn.ID+"/metadata", false)
	other.addUser(t, "ada", "ada@corp.example", "Ada", "Lovelace")
	b := newBrowser(t)
	resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = b.Get(other.base + "/sso?" + resp.Request.URL.RawQuery); err != nil {
		t.Fatal(err)
	}
	action, login := idpFields(t, read(t, resp))
	login.Set("user", "ada")
	login.Set("password", "idp password")
	if resp, err = b.PostForm(action, login); err != nil {
		t.Fatal(err)
	}
	acs, form := idpFields(t, read(t, resp))
	if !strings.Contains(decodeSAML(t, form), "<ds:X509Certificate>") {
		t.Fatal("SP-06: the attacker's signature carries no certificate in KeyInfo")
	}
	if resp, err = b.PostForm(acs, form); err != nil {
		t.Fatal(err)
	}
	if page := html.UnescapeString(read(t, resp)); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "response is not valid") {
		t.Errorf("SP-06: a response signed by a key only its KeyInfo vouches for = %d, want 400:\n%s", resp.StatusCode, page)
	}
	if _, err := e.store.GetUserByEmail(ctx, "boss@corp.example"); err == nil {
		t.Error("SP-03: the unsigned assertion's subject got an account")
	}
}

// TestSAMLLinking: MT-05 and MT-06. A local account with the same email
// as the IdP's person is linked only when its address was verified; an
// unverified one is refused (whoever registered it may not own the
// address). Once linked, the person is found by (connection, NameID).
func TestSAMLLinking(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	signIn := func(name string) (int, string) {
		t.Helper()
		b := newBrowser(t)
		resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		acs, form := e.toIdP(t, b, resp, name)
		if resp, err = b.PostForm(acs, form); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, html.UnescapeString(read(t, resp))
	}
	// An unverified local account for ada's address (pre-registered).
	squatter := e.createUser(t, "ada@corp.example", "squatter password!", false)
	if st, page := signIn("ada"); st != http.StatusBadRequest || !strings.Contains(page, "never verified") {
		t.Errorf("MT-06: linking to an unverified account = %d:\n%s", st, page)
	}
	if ids, _ := e.store.ListExternalIdentities(ctx, squatter.ID); len(ids) != 0 {
		t.Errorf("MT-06: the unverified account was linked: %+v", ids)
	}
	// Verified: linked, and found by NameID from then on.
	if _, err := e.store.UpdateUser(ctx, squatter.ID, func(u storage.User) (storage.User, error) {
		u.EmailVerified = true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := signIn("ada"); st != http.StatusOK {
		t.Errorf("linking to the verified account = %d", st)
	}
	id, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "ada@corp.example")
	if err != nil || id.UserID != squatter.ID {
		t.Fatalf("MT-05: identity %+v, %v; want linked to %s", id, err, squatter.ID)
	}
	// MT-05: the local account's email changes; the IdP's person still
	// signs in to the same account, by NameID, not by email.
	if _, err := e.store.UpdateUser(ctx, squatter.ID, func(u storage.User) (storage.User, error) {
		u.Email = "renamed@example.com"
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := signIn("ada"); st != http.StatusOK {
		t.Errorf("MT-05: signing in after the account's email changed = %d", st)
	}
	if _, err := e.store.GetUserByEmail(ctx, "ada@corp.example"); err == nil {
		t.Error("MT-05: a second account was made for the same NameID")
	}
}

// TestSAMLCertificateRollover (F10): while an IdP rolls its signing key
// over, its metadata lists both certificates and responses signed with
// either are accepted; metadata listing only another certificate refuses
// the IdP's responses.
func TestSAMLCertificateRollover(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	keyRE := regexp.MustCompile(`(?s)<KeyDescriptor use="signing">.*?</KeyDescriptor>`)
	current := string(e.idp.metadata(t))
	next := keyRE.FindString(string(startSAMLIdP(t).metadata(t)))
	if next == "" || keyRE.FindString(current) == "" {
		t.Fatalf("no signing KeyDescriptor in the metadata:\n%s", current)
	}
	signIn := func(conn storage.SAMLConnection) (int, string) {
		t.Helper()
		e.idp.trust(t, e.issuer+"/sso/"+conn.ID+"/metadata", false)
		b := newBrowser(t)
		resp, err := b.Get(e.issuer + ssosaml.StartPath(conn.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		acs, form := e.toIdP(t, b, resp, "ada")
		if resp, err = b.PostForm(acs, form); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, html.UnescapeString(read(t, resp))
	}
	both := strings.Replace(current, keyRE.FindString(current), next+keyRE.FindString(current), 1)
	conn, err := e.srv.saml.CreateConnection(ctx, ssosaml.NewConnection{OrgID: e.acme.ID, Name: "Rolling over", Metadata: []byte(both)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteSAMLDomain(ctx, e.conn.ID, "corp.example"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddSAMLDomain(ctx, storage.SAMLDomain{Domain: "corp.example", ConnectionID: conn.ID, VerificationToken: "t",
		VerifiedAt: time.Now(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if st, _ := signIn(conn); st != http.StatusOK {
		t.Errorf("F10: metadata with the new and the current certificate = %d, want signed in", st)
	}
	onlyOther := keyRE.ReplaceAllString(current, next)
	stranger, err := e.srv.saml.CreateConnection(ctx, ssosaml.NewConnection{OrgID: e.acme.ID, Name: "Unknown key", Metadata: []byte(onlyOther)})
	if err != nil {
		t.Fatal(err)
	}
	if st, page := signIn(stranger); st != http.StatusBadRequest || !strings.Contains(page, "response is not valid") {
		t.Errorf("F10: a response signed by a certificate the metadata does not list = %d, want 400 (not valid):\n%s", st, page)
	}
}

// TestSAMLIdPInitiated (SP-12): a connection that enables IdP-initiated
// sign-in shows the person who they would sign in as and waits for
// Continue, with this browser's CSRF token: the response alone starts no
// session (login CSRF), a post without the token does nothing, and
// Continue signs in. A connection that does not enable it refuses the
// same response (TestSAMLRefusals).
func TestSAMLIdPInitiated(t *testing.T) {
	e := newSAMLEnv(t, "embedded", ssosaml.Mapping{}, false)
	ctx := t.Context()
	if _, err := e.store.UpdateSAMLConnection(ctx, e.conn.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
		c.AllowIDPInitiated = true
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(samlidp.Shortcut{Name: "foyer", ServiceProviderID: e.issuer + "/sso/" + e.conn.ID + "/metadata"})
	e.idp.put(t, "/shortcuts/foyer", "application/json", body)

	b := newBrowser(t)
	login := url.Values{"user": {"ada"}, "password": {"idp password"}}
	resp, err := b.PostForm(e.idp.base+"/login", login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err = b.Get(e.idp.base + "/login/foyer"); err != nil {
		t.Fatal(err)
	}
	acs, form := idpFields(t, read(t, resp))
	if form.Get("RelayState") != "" {
		t.Fatalf("IdP-initiated response carries a RelayState: %v", form)
	}
	resp, err = b.PostForm(acs, form)
	if err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(read(t, resp))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Corp IdP is signing you in to Foyer as <b>ada@corp.example</b>") {
		t.Fatalf("SP-12: the response = %d, want the confirmation:\n%s", resp.StatusCode, page)
	}
	if u, err := e.store.GetUserByEmail(ctx, "ada@corp.example"); err == nil {
		if s, _ := e.store.ListBrowserSessions(ctx, u.ID); len(s) != 0 {
			t.Error("SP-12: a session started before Continue")
		}
	}
	fields := hidden(page)
	if r, err := b.PostForm(e.issuer+"/sso/"+e.conn.ID+"/confirm", url.Values{}); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("SP-12: Continue without the CSRF token = %v, %v; want 403", r.StatusCode, err)
	}
	resp, err = b.PostForm(e.issuer+"/sso/"+e.conn.ID+"/confirm", fields)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/account" {
		t.Errorf("SP-12: Continue ended at %s (%d), want the account page", resp.Request.URL, resp.StatusCode)
	}
}
