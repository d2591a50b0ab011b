package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Connection is an upstream identity provider people sign in with
// (`connections:` in the file, a list; the environment cannot set it).
// Foyer keeps these in memory: they are not stored, and the admin API
// lists them but cannot delete them.
type Connection struct {
	// ID is how Foyer knows the connection forever: ups_ and lowercase
	// letters, digits or _. Links of people to it are keyed by it.
	ID   string `yaml:"id"`
	Type string `yaml:"type"` // "oidc" or "github"
	Name string `yaml:"name"` // shown as "Continue with <name>"
	// Organization is the slug of the organization the connection belongs
	// to; empty for a global connection.
	Organization string `yaml:"organization"`
	// Issuer is the OpenID provider's issuer or discovery URL (oidc).
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"` // never logged
	Scopes       []string `yaml:"scopes"`
	// AuthURL, TokenURL and APIURL replace github.com's endpoints (github).
	AuthURL  string `yaml:"auth_url"`
	TokenURL string `yaml:"token_url"`
	APIURL   string `yaml:"api_url"`
	// Claim names, when not the standard ones (oidc).
	EmailClaim         string `yaml:"email_claim"`
	EmailVerifiedClaim string `yaml:"email_verified_claim"`
	NameClaim          string `yaml:"name_claim"`
	// MultiFactor: the provider enforces multi-factor sign-in itself.
	MultiFactor bool `yaml:"multi_factor"`
	// LinkByEmail links a first sign-in to the account with the same
	// address when both sides verified it.
	LinkByEmail bool `yaml:"link_by_email"`
}

// connectionFields maps the keys of one connection to its fields.
func connectionFields(c *Connection) map[string]any {
	return map[string]any{
		"id": &c.ID, "type": &c.Type, "name": &c.Name, "organization": &c.Organization,
		"issuer": &c.Issuer, "client_id": &c.ClientID, "client_secret": &c.ClientSecret, "scopes": &c.Scopes,
		"auth_url": &c.AuthURL, "token_url": &c.TokenURL, "api_url": &c.APIURL,
		"email_claim": &c.EmailClaim, "email_verified_claim": &c.EmailVerifiedClaim, "name_claim": &c.NameClaim,
		"multi_factor": &c.MultiFactor, "link_by_email": &c.LinkByEmail,
	}
}

// connections applies `connections:`, a list of mappings; each problem
// names its key as connections[i].key.
func (l *loader) connections(v *yaml.Node) {
	if isNull(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		l.add("connections", "", fmt.Sprintf("must be a list of connections, each with id, type, name, client_id and client_secret (line %d)", v.Line))
		return
	}
	l.cfg.Connections = nil
	for i, item := range v.Content {
		item = deref(item)
		prefix := fmt.Sprintf("connections[%d]", i)
		if item.Kind != yaml.MappingNode {
			l.add(prefix, "", fmt.Sprintf("must be a mapping with id, type, name, client_id and client_secret (line %d)", item.Line))
			continue
		}
		var c Connection
		fields := connectionFields(&c)
		seen := map[string]bool{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := deref(item.Content[j]), deref(item.Content[j+1])
			key := prefix + "." + k.Value
			dst, ok := fields[k.Value]
			switch {
			case !ok:
				l.add(key, "", fmt.Sprintf("unknown key (line %d)", k.Line))
			case seen[k.Value]:
				l.add(key, key, fmt.Sprintf("set twice (line %d)", k.Line))
			case isNull(val):
			default:
				if msg := decodeNode(val, dst); msg != "" {
					if k.Value == "client_secret" {
						msg = "must be a string" // never echo a secret
					}
					l.add(key, key, fmt.Sprintf("%s (line %d)", msg, val.Line))
				}
			}
			seen[k.Value] = true
		}
		l.cfg.Connections = append(l.cfg.Connections, c)
	}
}

// connectionProblems checks what config can check of each connection;
// cmd/foyer checks the rest (idp/upstream) at start. Messages never repeat
// a client secret.
func connectionProblems(cs []Connection, dev bool) []*Problem {
	var ps []*Problem
	ids := map[string]int{}
	for i, c := range cs {
		key := func(k string) string { return fmt.Sprintf("connections[%d].%s", i, k) }
		add := func(k, msg string) { ps = append(ps, &Problem{Key: key(k), Message: msg}) }
		rest, ok := strings.CutPrefix(c.ID, "ups_")
		switch {
		case !ok || rest == "" || len(rest) > 60 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") != "":
			add("id", "must be ups_ followed by 1 to 60 lowercase letters, digits or _, such as ups_google, got "+quoted(c.ID))
		default:
			if first, dup := ids[c.ID]; dup {
				add("id", fmt.Sprintf("is also the id of connections[%d]", first))
			}
			ids[c.ID] = i
		}
		if c.Type != "oidc" && c.Type != "github" {
			add("type", "must be oidc or github, got "+quoted(c.Type))
		}
		if n := strings.TrimSpace(c.Name); n == "" || len(n) > 100 {
			add("name", "must be 1 to 100 characters")
		}
		if c.ClientID == "" {
			add("client_id", "must be set")
		}
		if c.ClientSecret == "" {
			add("client_secret", "must be set")
		}
		if c.Type == "oidc" {
			if msg := connectionURLProblem(c.Issuer, true, dev); msg != "" {
				add("issuer", msg)
			}
		}
		for k, v := range map[string]string{"auth_url": c.AuthURL, "token_url": c.TokenURL, "api_url": c.APIURL} {
			if c.Type == "oidc" && v != "" {
				add(k, "is for github connections; an OpenID provider's endpoints come from discovery")
			} else if msg := connectionURLProblem(v, false, dev); msg != "" {
				add(k, msg)
			}
		}
	}
	return ps
}

// connectionURLProblem wants an https URL (http on loopback hosts).
func connectionURLProblem(raw string, required, dev bool) string {
	if raw == "" {
		if required {
			return "must be set to the provider's issuer, such as https://accounts.google.com"
		}
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an https URL, got " + quoted(raw)
	}
	h := u.Hostname()
	if u.Scheme == "https" || (u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1")) {
		return ""
	}
	return "must be an https URL (http only on localhost), got " + quoted(raw)
}

// LogValue shows a connection without its client secret.
func (c Connection) LogValue() slog.Value {
	secret := ""
	if c.ClientSecret != "" {
		secret = redacted
	}
	return slog.GroupValue(
		slog.String("id", c.ID), slog.String("type", c.Type), slog.String("name", c.Name),
		slog.String("organization", c.Organization), slog.String("issuer", c.Issuer),
		slog.String("client_id", c.ClientID), slog.String("client_secret", secret), slog.Any("scopes", c.Scopes),
		slog.String("auth_url", c.AuthURL), slog.String("token_url", c.TokenURL), slog.String("api_url", c.APIURL),
		slog.Bool("multi_factor", c.MultiFactor), slog.Bool("link_by_email", c.LinkByEmail),
	)
}

// connectionsLogValue lists the connections, secrets redacted.
func connectionsLogValue(cs []Connection) slog.Value {
	attrs := make([]slog.Attr, len(cs))
	for i, c := range cs {
		attrs[i] = slog.Attr{Key: fmt.Sprint(i), Value: c.LogValue()}
	}
	return slog.GroupValue(attrs...)
}
