package idp

import (
	"strings"
	"testing"
)

func TestValidateBranding(t *testing.T) {
	for _, ok := range []string{
		"", "https://acme.example/logo.png", "https://cdn.acme.example/l.svg?v=2",
		"http://localhost:8080/logo.png", "http://127.0.0.1/logo.png", "http://[::1]/l.png",
		"https://acme.example/" + strings.Repeat("x", 2048-len("https://acme.example/")),
	} {
		if err := ValidateLogoURL(ok); err != nil {
			t.Errorf("ValidateLogoURL(%.40q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{
		"acme.example/logo.png", "/logo.png", "ftp://acme.example/logo.png", "javascript:alert(1)",
		"http://acme.example/logo.png", "https://user:pw@acme.example/logo.png", "https://acme.example/logo.png#x",
		"https:///logo.png", "https://acme.example/a b.png", " https://acme.example/logo.png",
		"https://acme.example/" + strings.Repeat("x", 2048),
	} {
		wantField(t, "ValidateLogoURL("+bad[:min(len(bad), 40)]+")", ValidateLogoURL(bad), "logo_url")
	}
	for _, ok := range []string{"", "#1a73e8", "#FFFFFF", "#000000"} {
		if err := ValidateBrandColor(ok); err != nil {
			t.Errorf("ValidateBrandColor(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"1a73e8", "#1a73e", "#1a73e80", "#1a73eg", "red", "#fff", " #1a73e8"} {
		wantField(t, "ValidateBrandColor("+bad+")", ValidateBrandColor(bad), "brand_color")
	}
}

func TestOrganizationSettings(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	o, err := d.CreateOrganizationWith(ctx, NewOrganization{
		Slug: "acme", Name: "Acme", LogoURL: "https://acme.example/logo.png", BrandColor: "#1A73E8", RequireMFA: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.LogoURL != "https://acme.example/logo.png" || o.BrandColor != "#1a73e8" || !o.RequireMFA {
		t.Errorf("CreateOrganizationWith = %+v, want the logo, the colour in lowercase and RequireMFA", o)
	}
	_, err = d.CreateOrganizationWith(ctx, NewOrganization{Slug: "globex", Name: "Globex", BrandColor: "blue"})
	wantField(t, "CreateOrganizationWith(bad colour)", err, "brand_color")
	_, err = d.CreateOrganizationWith(ctx, NewOrganization{Slug: "globex", Name: "Globex", LogoURL: "http://globex.example/l.png"})
	wantField(t, "CreateOrganizationWith(http logo)", err, "logo_url")
	if _, err := d.store.GetOrganizationBySlug(ctx, "globex"); err == nil {
		t.Error("a refused organization was stored")
	}

	color, off := "#ABCDEF", false
	got, err := d.UpdateOrganization(ctx, o.ID, OrgChanges{BrandColor: &color, RequireMFA: &off})
	if err != nil {
		t.Fatal(err)
	}
	if got.BrandColor != "#abcdef" || got.RequireMFA || got.LogoURL != o.LogoURL || got.Name != "Acme" {
		t.Errorf("UpdateOrganization(colour, require_mfa) = %+v", got)
	}
	empty, name := "", " Acme Inc "
	got, err = d.UpdateOrganization(ctx, "acme", OrgChanges{LogoURL: &empty, Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if got.LogoURL != "" || got.Name != "Acme Inc" || got.BrandColor != "#abcdef" {
		t.Errorf("UpdateOrganization(logo, name) = %+v", got)
	}
	bad := "ftp://acme.example/l.png"
	_, err = d.UpdateOrganization(ctx, "acme", OrgChanges{LogoURL: &bad})
	wantField(t, "UpdateOrganization(bad logo)", err, "logo_url")
	_, err = d.UpdateOrganization(ctx, "nope", OrgChanges{Name: &name})
	wantField(t, "UpdateOrganization(unknown org)", err, "org")
}
