package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// testSP is a service provider trusting an IdP whose metadata this test
// made, as the ACS builds one.
func testSP(t testing.TB) *saml.ServiceProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	md := []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/metadata">` +
		`<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>` +
		`</IDPSSODescriptor></EntityDescriptor>`)
	idp, err := parseIDPMetadata(md)
	if err != nil {
		t.Fatal(err)
	}
	acs, _ := url.Parse("https://id.example.com/sso/sso_1/acs")
	md2, _ := url.Parse("https://id.example.com/sso/sso_1/metadata")
	return &saml.ServiceProvider{EntityID: md2.String(), MetadataURL: *md2, AcsURL: *acs, IDPMetadata: idp}
}

// FuzzACSResponse: whatever an attacker posts as a SAMLResponse, the ACS
// parser returns an error (nothing is signed by the trusted IdP here),
// never a panic and never an assertion.
func FuzzACSResponse(f *testing.F) {
	sp := testSP(f)
	for _, s := range []string{
		"", "<", "<Response/>",
		`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"/></samlp:Response>`,
		`<!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>`,
		`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := parseResponse(sp, raw, []string{"id-1"})
		if err == nil || a != nil {
			t.Fatalf("an unsigned response was accepted: %+v", a)
		}
	})
}

// FuzzParseIDPMetadata: metadata an admin gives never panics the parser,
// and what it accepts has an entity ID, a signing certificate and a
// redirect SSO endpoint.
func FuzzParseIDPMetadata(f *testing.F) {
	f.Add([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"/>`))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"></EntitiesDescriptor>`))
	f.Fuzz(func(t *testing.T, md []byte) {
		ed, err := parseIDPMetadata(md)
		if err != nil {
			return
		}
		if ed.EntityID == "" || len(ed.IDPSSODescriptors) != 1 {
			t.Fatalf("accepted metadata without an entity ID or IdP: %+v", ed)
		}
	})
}
