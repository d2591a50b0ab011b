package main

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"

	ssosaml "github.com/foyerdev/foyer/idp/saml"
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
