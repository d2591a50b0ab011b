package main

import (
	"net/http"
	"testing"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/storage"
)

// TestAdminOrganizationSettings: an organization's logo, brand colour and
// second-factor requirement through the admin API, on both backends. A
// Foyer admin sets them on create and PATCH; an organization admin may
// change their own organization's but gets 404 for another's (AD-02); bad
// values are 400 naming the field; the view always carries all three.
func TestAdminOrganizationSettings(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newAdminEnv(t, backend)
			root := e.root
			// view decodes an organization and checks that the three
			// settings are present even when empty or false.
			view := func(r apiReply) admin.Organization {
				t.Helper()
				var raw map[string]any
				r.decode(t, &raw)
				for _, k := range []string{"logo_url", "brand_color", "require_mfa"} {
					if _, ok := raw[k]; !ok {
						t.Errorf("organization %s lacks %q", r, k)
					}
				}
				var o admin.Organization
				r.decode(t, &o)
				return o
			}
			want := func(what string, o admin.Organization, logo, color string, mfa bool) {
				t.Helper()
				if o.LogoURL != logo || o.BrandColor != color || o.RequireMFA != mfa {
					t.Errorf("%s = %+v; want logo_url %q, brand_color %q, require_mfa %t", what, o, logo, color, mfa)
				}
			}

			acme := view(e.must(t, http.StatusCreated, root, "POST", "/organizations", map[string]any{
				"slug": "acme", "name": "Acme", "logo_url": "https://acme.example/logo.png", "brand_color": "#1A73E8",
			}))
			want("created acme", acme, "https://acme.example/logo.png", "#1a73e8", false)
			globex := view(e.must(t, http.StatusCreated, root, "POST", "/organizations", map[string]any{
				"slug": "globex", "name": "Globex", "require_mfa": true,
			}))
			want("created globex", globex, "", "", true)

			// Each field given changes; the others stay.
			o := view(e.must(t, http.StatusOK, root, "PATCH", "/organizations/"+acme.ID, map[string]any{
				"logo_url": "https://cdn.acme.example/logo.svg", "brand_color": "#00FF00",
			}))
			want("patched acme", o, "https://cdn.acme.example/logo.svg", "#00ff00", false)
			if o.Name != "Acme" || o.Slug != "acme" {
				t.Errorf("patching the branding changed %+v", o)
			}
			o = view(e.must(t, http.StatusOK, root, "PATCH", "/organizations/"+globex.ID, map[string]any{"require_mfa": false, "name": "Globex Corp"}))
			want("patched globex", o, "", "", false)
			want("got acme", view(e.must(t, http.StatusOK, root, "GET", "/organizations/"+acme.ID, nil)),
				"https://cdn.acme.example/logo.svg", "#00ff00", false)
			r := e.must(t, http.StatusOK, root, "GET", "/organizations", nil)
			var raw struct{ Items []map[string]any }
			r.decode(t, &raw)
			if len(raw.Items) != 2 {
				t.Fatalf("organizations = %s", r)
			}
			for _, item := range raw.Items {
				for _, k := range []string{"logo_url", "brand_color", "require_mfa"} {
					if _, ok := item[k]; !ok {
						t.Errorf("listed organization %v lacks %q", item, k)
					}
				}
			}

			// An admin of acme manages acme's settings, not globex's.
			orgAdmin := e.createPerson(t, "admin@acme.example")
			if _, err := e.store.CreateMembership(t.Context(), storage.Membership{OrgID: acme.ID, UserID: orgAdmin.ID, Role: "admin"}); err != nil {
				t.Fatal(err)
			}
			tok, _ := e.personToken(t, orgAdmin.Email, e.pass, admin.Scope)
			o = view(e.must(t, http.StatusOK, tok, "PATCH", "/organizations/"+acme.ID, map[string]any{
				"require_mfa": true, "logo_url": "", "brand_color": "#abcdef",
			}))
			want("acme patched by its admin", o, "", "#abcdef", true)
			e.must(t, http.StatusNotFound, tok, "PATCH", "/organizations/"+globex.ID, map[string]any{"require_mfa": true}).problem(t)
			e.must(t, http.StatusNotFound, tok, "PATCH", "/organizations/"+globex.ID, map[string]any{"brand_color": "#000000"}).problem(t)
			want("globex after the refused PATCH", view(e.must(t, http.StatusOK, root, "GET", "/organizations/"+globex.ID, nil)), "", "", false)

			for _, tc := range []struct {
				name, token, method, path string
				body                      map[string]any
				field                     string
			}{
				{"colour without #", root, "POST", "/organizations", map[string]any{"slug": "initech", "name": "Initech", "brand_color": "1a73e8"}, "brand_color"},
				{"short colour", root, "PATCH", "/organizations/" + acme.ID, map[string]any{"brand_color": "#fff"}, "brand_color"},
				{"colour name", tok, "PATCH", "/organizations/" + acme.ID, map[string]any{"brand_color": "red"}, "brand_color"},
				{"http logo", root, "POST", "/organizations", map[string]any{"slug": "initech", "name": "Initech", "logo_url": "http://initech.example/l.png"}, "logo_url"},
				{"relative logo", root, "PATCH", "/organizations/" + acme.ID, map[string]any{"logo_url": "/logo.png"}, "logo_url"},
				{"logo with user info", tok, "PATCH", "/organizations/" + acme.ID, map[string]any{"logo_url": "https://u:p@acme.example/l.png"}, "logo_url"},
				{"logo with fragment", root, "PATCH", "/organizations/" + acme.ID, map[string]any{"logo_url": "https://acme.example/l.png#x"}, "logo_url"},
				{"javascript logo", root, "PATCH", "/organizations/" + acme.ID, map[string]any{"logo_url": "javascript:alert(1)"}, "logo_url"},
				{"require_mfa not a boolean", root, "PATCH", "/organizations/" + acme.ID, map[string]any{"require_mfa": "yes"}, "require_mfa"},
			} {
				r := e.call(t, tc.token, tc.method, tc.path, tc.body)
				if r.status != http.StatusBadRequest {
					t.Errorf("%s: %s %s = %d %s, want 400", tc.name, tc.method, tc.path, r.status, r)
					continue
				}
				p := r.problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "" {
					t.Errorf("%s: errors = %+v, want one naming %q", tc.name, p.Errors, tc.field)
				}
			}
			// Nothing refused was stored.
			want("acme after refusals", view(e.must(t, http.StatusOK, root, "GET", "/organizations/"+acme.ID, nil)), "", "#abcdef", true)
			if _, err := e.store.GetOrganizationBySlug(t.Context(), "initech"); err == nil {
				t.Error("a refused organization was created")
			}
		})
	}
}
