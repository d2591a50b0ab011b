package upstream

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var claimsCases = []struct {
	name    string
	raw     string
	mapping Mapping
	want    person
	wantErr bool
}{
	{"standard claims", `{"sub":"248289761001","email":"Jane@Example.com","email_verified":true,"name":"Jane Doe"}`, Mapping{},
		person{Subject: "248289761001", Email: "Jane@Example.com", EmailVerified: true, Name: "Jane Doe"}, false},
	{"verified as a string", `{"sub":"a","email":"a@example.com","email_verified":"true"}`, Mapping{},
		person{Subject: "a", Email: "a@example.com", EmailVerified: true}, false},
	{"unverified", `{"sub":"a","email":"a@example.com","email_verified":false}`, Mapping{},
		person{Subject: "a", Email: "a@example.com"}, false},
	{"no verified flag means unverified", `{"sub":"a","email":"a@example.com"}`, Mapping{},
		person{Subject: "a", Email: "a@example.com"}, false},
	{"verified flag without an address means nothing", `{"sub":"a","email_verified":true}`, Mapping{},
		person{Subject: "a"}, false},
	{"given and family name", `{"sub":"a","given_name":"Ada","family_name":"Lovelace"}`, Mapping{},
		person{Subject: "a", Name: "Ada Lovelace"}, false},
	{"mapped claims, verified flag from the mapped claim", `{"sub":"a","upn":"a@corp.example","upn_ok":true,"email":"x@example.com","email_verified":true,"cn":"A"}`,
		Mapping{EmailClaim: "upn", EmailVerifiedClaim: "upn_ok", NameClaim: "cn"},
		person{Subject: "a", Email: "a@corp.example", EmailVerified: true, Name: "A"}, false},
	{"mapped address without its verified claim is unverified", `{"sub":"a","upn":"a@corp.example","email_verified":true}`,
		Mapping{EmailClaim: "upn"}, person{Subject: "a", Email: "a@corp.example"}, false},
	{"an address with a display name is dropped", `{"sub":"a","email":"Eve <eve@example.com>","email_verified":true}`, Mapping{},
		person{Subject: "a"}, false},
	{"an address that is a number is dropped", `{"sub":"a","email":42}`, Mapping{}, person{Subject: "a"}, false},
	{"no subject", `{"email":"a@example.com"}`, Mapping{}, person{}, true},
	{"subject too long", `{"sub":"` + strings.Repeat("s", 256) + `"}`, Mapping{}, person{}, true},
	{"not an object", `["sub"]`, Mapping{}, person{}, true},
	{"not JSON", `{`, Mapping{}, person{}, true},
}

func TestClaimsPerson(t *testing.T) {
	for _, tc := range claimsCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := claimsPerson([]byte(tc.raw), tc.mapping)
			if (err != nil) != tc.wantErr {
				t.Fatalf("claimsPerson(%q) error = %v, want error %v", tc.raw, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claimsPerson(%q) mismatch (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
}

func FuzzClaimsPerson(f *testing.F) {
	for _, tc := range claimsCases {
		f.Add([]byte(tc.raw), tc.mapping.EmailClaim)
	}
	f.Fuzz(func(t *testing.T, raw []byte, emailClaim string) {
		p, err := claimsPerson(raw, Mapping{EmailClaim: emailClaim})
		if err != nil {
			return
		}
		if p.Subject == "" || len(p.Subject) > maxSubject {
			t.Errorf("claimsPerson(%q) subject %q", raw, p.Subject)
		}
		if p.EmailVerified && p.Email == "" {
			t.Errorf("claimsPerson(%q) verified without an address", raw)
		}
		if p.Email != "" && cleanEmail(p.Email) != p.Email {
			t.Errorf("claimsPerson(%q) address %q is not clean", raw, p.Email)
		}
	})
}

var gitHubEmailCases = []struct {
	name, raw, want string
	wantErr         bool
}{
	{"primary verified chosen", `[{"email":"old@example.com","primary":false,"verified":true},{"email":"me@example.com","primary":true,"verified":true}]`, "me@example.com", false},
	{"unverified primary ignored", `[{"email":"me@example.com","primary":true,"verified":false},{"email":"work@example.com","primary":false,"verified":true}]`, "work@example.com", false},
	{"none verified", `[{"email":"me@example.com","primary":true,"verified":false}]`, "", false},
	{"no addresses", `[]`, "", false},
	{"bad address skipped", `[{"email":"not an address","primary":true,"verified":true},{"email":"b@example.com","verified":true}]`, "b@example.com", false},
	{"not a list", `{"email":"me@example.com"}`, "", true},
}

func TestGitHubEmail(t *testing.T) {
	for _, tc := range gitHubEmailCases {
		got, err := gitHubEmail([]byte(tc.raw))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s: gitHubEmail(%q) = %q, %v; want %q (error %v)", tc.name, tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzGitHubEmail(f *testing.F) {
	for _, tc := range gitHubEmailCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := gitHubEmail(raw)
		if err == nil && got != "" && cleanEmail(got) != got {
			t.Errorf("gitHubEmail(%q) = %q, not a clean address", raw, got)
		}
	})
}

var gitHubUserCases = []struct {
	name, raw string
	want      person
	wantErr   bool
}{
	{"numeric id is the subject", `{"id":4242,"login":"octocat","name":"The Octocat"}`, person{Subject: "4242", Name: "The Octocat"}, false},
	{"login when no name", `{"id":1,"login":"octocat","name":null}`, person{Subject: "1", Name: "octocat"}, false},
	{"id as a string refused", `{"id":"4242","login":"octocat"}`, person{}, true},
	{"no id", `{"login":"octocat"}`, person{}, true},
	{"negative id", `{"id":-1}`, person{}, true},
	{"fractional id", `{"id":1.5}`, person{}, true},
	{"not JSON", `<html>`, person{}, true},
}

func TestGitHubUser(t *testing.T) {
	for _, tc := range gitHubUserCases {
		got, err := gitHubUser([]byte(tc.raw))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: gitHubUser(%q) = %+v, %v; want %+v (error %v)", tc.name, tc.raw, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzGitHubUser(f *testing.F) {
	for _, tc := range gitHubUserCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := gitHubUser(raw)
		if err == nil && (p.Subject == "" || strings.Trim(p.Subject, "0123456789") != "") {
			t.Errorf("gitHubUser(%q) subject %q", raw, p.Subject)
		}
	})
}

var connectionCases = []struct {
	name  string
	in    NewConnection
	field string // "" when valid
}{
	{"oidc", NewConnection{Type: "oidc", Name: "Google", Issuer: "https://accounts.google.com/.well-known/openid-configuration", ClientID: "c", ClientSecret: "s"}, ""},
	{"github defaults", NewConnection{Type: "github", Name: "GitHub", ClientID: "c", ClientSecret: "s"}, ""},
	{"loopback http", NewConnection{Type: "oidc", Name: "Dev", Issuer: "http://127.0.0.1:5556/dex", ClientID: "c", ClientSecret: "s"}, ""},
	{"http issuer", NewConnection{Type: "oidc", Name: "X", Issuer: "http://idp.example.com", ClientID: "c", ClientSecret: "s"}, "issuer"},
	{"user info in issuer", NewConnection{Type: "oidc", Name: "X", Issuer: "https://u:p@idp.example.com", ClientID: "c", ClientSecret: "s"}, "issuer"},
	{"no openid scope", NewConnection{Type: "oidc", Name: "X", Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s", Scopes: []string{"email"}}, "scopes"},
	{"bad scope", NewConnection{Type: "github", Name: "X", ClientID: "c", ClientSecret: "s", Scopes: []string{"a b"}}, "scopes"},
	{"github endpoint not https", NewConnection{Type: "github", Name: "X", ClientID: "c", ClientSecret: "s", TokenURL: "ftp://x"}, "token_url"},
	{"endpoints for oidc", NewConnection{Type: "oidc", Name: "X", Issuer: "https://idp.example.com", ClientID: "c", ClientSecret: "s", AuthURL: "https://x"}, "auth_url"},
	{"unknown type", NewConnection{Type: "saml", Name: "X", ClientID: "c", ClientSecret: "s"}, "type"},
	{"no secret", NewConnection{Type: "github", Name: "X", ClientID: "c"}, "client_secret"},
	{"bad id", NewConnection{ID: "sso_google", Type: "github", Name: "X", ClientID: "c", ClientSecret: "s"}, "id"},
}

func TestCheck(t *testing.T) {
	for _, tc := range connectionCases {
		err := Check(tc.in)
		field := ""
		if fe, ok := err.(*FieldError); ok {
			field = fe.Field
		} else if err != nil {
			t.Errorf("%s: Check() = %v, not a *FieldError", tc.name, err)
		}
		if field != tc.field {
			t.Errorf("%s: Check() = %v, want a problem with %q", tc.name, err, tc.field)
		}
	}
}

func FuzzCheck(f *testing.F) {
	for _, tc := range connectionCases {
		f.Add(tc.in.Type, tc.in.Issuer, tc.in.AuthURL, strings.Join(tc.in.Scopes, " "))
	}
	f.Fuzz(func(t *testing.T, typ, issuer, authURL, scopes string) {
		in := NewConnection{Type: typ, Name: "X", Issuer: issuer, AuthURL: authURL, ClientID: "c", ClientSecret: "s", Scopes: strings.Fields(scopes)}
		if err := Check(in); err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Errorf("Check(%+v) = %v, not a *FieldError", in, err)
			}
		}
	})
}
