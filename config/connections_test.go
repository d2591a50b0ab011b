package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

const connectionsYAML = `
issuer: https://id.example.com
secrets:
  encryption_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
connections:
  - id: ups_google
    type: oidc
    name: Google
    issuer: https://accounts.google.com/.well-known/openid-configuration
    client_id: 1234.apps.googleusercontent.com
    client_secret: s3cret-google
    link_by_email: true
  - id: ups_github
    type: github
    name: GitHub
    organization: acme
    client_id: Iv1.abc
    client_secret: s3cret-github
    scopes: [read:user, user:email]
    api_url: https://github.example.com/api/v3
    multi_factor: true
`

func TestLoadConnections(t *testing.T) {
	cfg, err := Load(writeFile(t, []byte(connectionsYAML)), nil, false)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := []Connection{
		{ID: "ups_google", Type: "oidc", Name: "Google", Issuer: "https://accounts.google.com/.well-known/openid-configuration",
			ClientID: "1234.apps.googleusercontent.com", ClientSecret: "s3cret-google", LinkByEmail: true},
		{ID: "ups_github", Type: "github", Name: "GitHub", Organization: "acme", ClientID: "Iv1.abc", ClientSecret: "s3cret-github",
			Scopes: []string{"read:user", "user:email"}, APIURL: "https://github.example.com/api/v3", MultiFactor: true},
	}
	if diff := cmp.Diff(want, cfg.Connections, equateEmpty); diff != "" {
		t.Errorf("Connections mismatch (-want +got):\n%s", diff)
	}

	// Written back as YAML, it loads the same.
	text, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Load(writeFile(t, text), nil, false)
	if err != nil {
		t.Fatalf("Load(marshalled) error = %v", err)
	}
	if diff := cmp.Diff(cfg, again, equateEmpty); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadConnectionProblems(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"not a list", "connections: google\n", []string{"connections: must be a list of connections, each with id, type, name, client_id and client_secret (line 1)"}},
		{"unknown key, wrong types", `
connections:
  - id: ups_x
    type: oidc
    name: X
    issuer: https://x.example.com
    client_id: x
    client_secret: [not, a, string]
    secret: typo
    multi_factor: maybe
`, []string{
			"connections[0].client_secret: must be a string (line 8)",
			"connections[0].secret: unknown key (line 9)",
			"connections[0].multi_factor: must be true or false, got \"maybe\" (line 10)",
		}},
		{"every field wrong", `
connections:
  - id: Google
    type: saml
    issuer: http://idp.example.com
  - id: ups_a
    type: oidc
    name: A
    client_id: a
    client_secret: a
    auth_url: https://a.example.com/authorize
  - id: ups_a
    type: github
    name: B
    client_id: b
    client_secret: b
    token_url: ftp://b.example.com/token
`, []string{
			`connections[0].id: must be ups_ followed by 1 to 60 lowercase letters, digits or _, such as ups_google, got "Google"`,
			`connections[0].type: must be oidc or github, got "saml"`,
			"connections[0].name: must be 1 to 100 characters",
			"connections[0].client_id: must be set",
			"connections[0].client_secret: must be set",
			"connections[1].issuer: must be set to the provider's issuer, such as https://accounts.google.com",
			"connections[1].auth_url: is for github connections; an OpenID provider's endpoints come from discovery",
			"connections[2].id: is also the id of connections[1]",
			`connections[2].token_url: must be an https URL (http only on localhost), got "ftp://b.example.com/token"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, []byte(tc.yaml))
			_, err := Load(path, nil, true)
			if diff := cmp.Diff(tc.want, lines(err, path)); diff != "" {
				t.Errorf("Load() problems mismatch (-want +got):\n%s", diff)
			}
			if err != nil {
				checkProblems(t, err)
			}
		})
	}
}

// TestConnectionSecretsStayHidden: neither the log nor a problem shows a
// connection's client secret.
func TestConnectionSecretsStayHidden(t *testing.T) {
	cfg, err := Load(writeFile(t, []byte(connectionsYAML)), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg)
	for _, secret := range []string{"s3cret-google", "s3cret-github"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log shows the client secret %q:\n%s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "config.connections.0.client_secret=xxxxx") || !strings.Contains(buf.String(), "config.connections.1.client_id=Iv1.abc") {
		t.Errorf("log lacks the redacted connections:\n%s", buf.String())
	}
	path := writeFile(t, []byte("connections:\n  - id: ups_x\n    client_secret: {s3cret: 1}\n"))
	_, err = Load(path, nil, true)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Load() = %v, want problems that never show the secret", err)
	}
}
