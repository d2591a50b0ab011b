package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestManageOrgSettings runs orgs create with a logo, a brand colour and
// the second-factor requirement, and orgs update, on both backends: the
// JSON view carries the three settings, only the flags given change, and
// bad values are refused naming their field.
func TestManageOrgSettings(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir, env := t.TempDir(), b.env(t)
			ok := func(args ...string) map[string]any {
				t.Helper()
				r := foyer(t, dir, env, append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatalf("foyer %v printed no JSON object: %v\n%s", args, err, r.stdout)
				}
				return v
			}
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := foyer(t, dir, env, args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q",
						args, r.code, r.stdout, r.stderr, code, want)
				}
			}
			settings := func(what string, o map[string]any, name, logo, color string, mfa bool) {
				t.Helper()
				if o["name"] != name || o["logo_url"] != logo || o["brand_color"] != color || o["require_mfa"] != mfa {
					t.Errorf("%s = %v; want name %q, logo_url %q, brand_color %q, require_mfa %t", what, o, name, logo, color, mfa)
				}
			}

			acme := ok("orgs", "create", "--slug", "acme", "--name", "Acme",
				"--logo-url", "https://acme.example/logo.png", "--brand-color", "#1A73E8", "--require-mfa")
			settings("orgs create with settings", acme, "Acme", "https://acme.example/logo.png", "#1a73e8", true)
			plain := ok("orgs", "create", "--slug", "plain", "--name", "Plain")
			settings("orgs create without settings", plain, "Plain", "", "", false)

			// Only the flags given change; by slug or by ID.
			got := ok("orgs", "update", "acme", "--brand-color", "#00ff00", "--require-mfa=false")
			settings("orgs update colour, require_mfa", got, "Acme", "https://acme.example/logo.png", "#00ff00", false)
			if got["id"] != acme["id"] {
				t.Errorf("orgs update acme = %v, want %v", got["id"], acme["id"])
			}
			got = ok("orgs", "update", plain["id"].(string), "--name", "Plain Co", "--logo-url", "http://localhost:8080/l.png", "--require-mfa")
			settings("orgs update by ID", got, "Plain Co", "http://localhost:8080/l.png", "", true)
			got = ok("orgs", "update", "acme", "--logo-url", "", "--brand-color", "")
			settings("orgs update clearing", got, "Acme", "", "", false)

			var orgs []map[string]any
			r := foyer(t, dir, env, "orgs", "list", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &orgs); err != nil || len(orgs) != 2 {
				t.Fatalf("orgs list: exit %d, %v, %s", r.code, err, r.stdout)
			}
			for _, o := range orgs {
				if _, ok := o["require_mfa"]; !ok || o["logo_url"] == nil || o["brand_color"] == nil {
					t.Errorf("orgs list item %v lacks logo_url, brand_color or require_mfa", o)
				}
			}

			fails(1, "brand_color: ", "orgs", "update", "acme", "--brand-color", "blue")
			fails(1, "logo_url: ", "orgs", "update", "acme", "--logo-url", "http://acme.example/logo.png")
			fails(1, "brand_color: ", "orgs", "create", "--slug", "globex", "--name", "Globex", "--brand-color", "#12345")
			fails(1, "logo_url: ", "orgs", "create", "--slug", "globex", "--name", "Globex", "--logo-url", "https://u:p@globex.example/l.png")
			fails(1, `org: no organization "nope"`, "orgs", "update", "nope", "--name", "Nope")
			fails(2, "nothing to change", "orgs", "update", "acme")
			fails(2, "accepts 1 arg(s)", "orgs", "update", "--name", "X")
			if r := foyer(t, dir, env, "orgs", "list", "--json"); strings.Contains(r.stdout, "globex") {
				t.Errorf("a refused organization was created: %s", r.stdout)
			}
		})
	}
}
