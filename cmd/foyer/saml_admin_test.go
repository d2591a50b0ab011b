package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// fakeDNS answers the admin API's TXT lookups.
type fakeDNS struct {
	mu  sync.Mutex
	txt map[string][]string
}

func (d *fakeDNS) set(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.txt[name] = values
}

func (d *fakeDNS) lookup(_ context.Context, name string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.txt[name]; ok {
		return v, nil
	}
	return nil, &netDNSError{name}
}

type netDNSError struct{ name string }

func (e *netDNSError) Error() string { return "lookup " + e.name + ": no such host" }

// newSAMLAdminEnv is a running Foyer (with sign-in pages) whose admin API
// looks TXT records up in the returned fake DNS, and a SAML IdP.
func newSAMLAdminEnv(t *testing.T, backend string) (*samlEnv, *adminEnv, *fakeDNS) {
	t.Helper()
	dns := &fakeDNS{txt: map[string][]string{}}
	se := &signinEnv{clock: new(testClock), mail: startMailbox(t, "127.0.0.1:0")}
	se.oidcEnv = newOIDCEnvAt(t, backend, "127.0.0.1", se.mail.URL(), seams{now: se.clock.Now, lookupTXT: dns.lookup})
	return &samlEnv{signinEnv: se, idp: startSAMLIdP(t)}, adminEnvOn(t, se.oidcEnv), dns
}

// TestAdminSAMLConnections: a SAML connection made, verified and changed
// through the admin API, on both backends, works for sign-in: created
// from the IdP's metadata URL, a domain claimed and verified by its DNS
// TXT record, then a person of that domain signs in through it with the
// role their group maps to. Bad input is a 400 naming the field; a domain
// claimed twice is a 409; an organization admin may not assert a domain
// verified. Deleting the domain and the connection ends the claim.
func TestAdminSAMLConnections(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			s, e, dns := newSAMLAdminEnv(t, backend)
			ctx := t.Context()
			dir := idp.NewDirectory(idp.Options{Store: e.store})
			acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			beta, err := dir.CreateOrganization(ctx, "beta", "Beta")
			if err != nil {
				t.Fatal(err)
			}
			path := "/organizations/" + acme.ID + "/saml-connections"
			metadataURL := s.idp.base + "/metadata"

			for _, tc := range []struct {
				body  any
				field string
			}{
				{map[string]any{"name": "Corp"}, "metadata"},
				{map[string]any{"name": "Corp", "metadata": "<not metadata/>"}, "metadata"},
				{map[string]any{"name": "Corp", "metadata": "x", "metadata_url": metadataURL}, "metadata"},
				{map[string]any{"name": "", "metadata_url": metadataURL}, "name"},
				{map[string]any{"name": "Corp", "metadata_url": "ftp://idp.example/metadata"}, "metadata_url"},
				{map[string]any{"name": "Corp", "metadata_url": metadataURL, "mapping": map[string]any{
					"group_roles": []any{map[string]any{"group": "engineering", "role": "owner"}}}}, "mapping.group_roles"},
				{map[string]any{"name": "Corp", "metadata_url": metadataURL, "mapping": map[string]any{"default_role": "nope"}}, "mapping.default_role"},
				{map[string]any{"name": "Corp", "metadata_url": metadataURL, "allow_idp_initiated": "yes"}, "allow_idp_initiated"},
				{map[string]any{"name": "Corp", "metadata_url": metadataURL, "sp_key": "x"}, "sp_key"},
			} {
				p := e.must(t, http.StatusBadRequest, e.root, "POST", path, tc.body).problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("POST %v = %+v, want a problem naming %q", tc.body, p, tc.field)
				}
			}

			var conn admin.SAMLConnection
			r := e.must(t, http.StatusCreated, e.root, "POST", path, map[string]any{
				"name": "Corp IdP", "metadata_url": metadataURL,
				"mapping": map[string]any{"group_roles": []any{map[string]any{"group": "engineering", "role": "editor"}}},
			})
			r.decode(t, &conn)
			sso := e.issuer + "/sso/" + conn.ID
			if conn.OrgID != acme.ID || conn.Name != "Corp IdP" || conn.MetadataURL != metadataURL || conn.MetadataFetchedAt == nil ||
				conn.SPEntityID != sso+"/metadata" || conn.SPMetadataURL != sso+"/metadata" || conn.SPACSURL != sso+"/acs" ||
				len(conn.Mapping.GroupRoles) != 1 || conn.Mapping.GroupRoles[0] != (admin.SAMLGroupRole{Group: "engineering", Role: "editor"}) ||
				conn.Domains == nil || r.header.Get("Location") != admin.Prefix+path+"/"+conn.ID {
				t.Errorf("created connection = %s (Location %q)", r, r.header.Get("Location"))
			}
			if strings.Contains(strings.ToLower(r.String()), "key") || strings.Contains(r.String(), "PRIVATE") {
				t.Errorf("the connection shows its SP key: %s", r)
			}
			cpath := path + "/" + conn.ID

			// Domains: bad names, a claim, a failed and a good verification.
			for _, bad := range []string{"", "https://corp.example", "ada@corp.example", "localhost", "corp..example", "10.0.0.1", strings.Repeat("a", 250) + ".com"} {
				p := e.must(t, http.StatusBadRequest, e.root, "POST", cpath+"/domains", map[string]any{"domain": bad}).problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != "domain" {
					t.Errorf("domain %q = %+v, want a problem naming domain", bad, p)
				}
			}
			var d admin.SAMLDomain
			r = e.must(t, http.StatusCreated, e.root, "POST", cpath+"/domains", map[string]any{"domain": "Corp.Example"})
			r.decode(t, &d)
			rec := d.VerificationRecord
			if d.Domain != "corp.example" || d.Verified || rec.Name != "_foyer-verification.corp.example" || rec.Type != "TXT" ||
				!strings.HasPrefix(rec.Value, "foyer-verification=") || len(rec.Value) < len("foyer-verification=")+20 {
				t.Errorf("claimed domain = %s", r)
			}
			p := e.must(t, http.StatusConflict, e.root, "POST", cpath+"/domains/corp.example/verify", nil).problem(t)
			if !strings.Contains(p.Detail, "not found") || !strings.Contains(p.Detail, rec.Value) {
				t.Errorf("verify without the record = %+v", p)
			}
			dns.set(rec.Name, "v=spf1 -all", "foyer-verification=wrong")
			e.must(t, http.StatusConflict, e.root, "POST", cpath+"/domains/corp.example/verify", nil).problem(t)
			dns.set(rec.Name, "v=spf1 -all", rec.Value)
			e.must(t, http.StatusOK, e.root, "POST", cpath+"/domains/corp.example/verify", nil).decode(t, &d)
			if !d.Verified || d.VerifiedAt == nil {
				t.Errorf("verified domain = %+v", d)
			}

			// A domain is claimed once across Foyer.
			e.must(t, http.StatusConflict, e.root, "POST", cpath+"/domains", map[string]any{"domain": "corp.example"}).problem(t)
			var other admin.SAMLConnection
			e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+beta.ID+"/saml-connections", map[string]any{
				"name": "Beta IdP", "metadata": string(s.idp.metadata(t)),
			}).decode(t, &other)
			if other.MetadataURL != "" || other.MetadataFetchedAt != nil {
				t.Errorf("a connection from XML: %+v", other)
			}
			opath := "/organizations/" + beta.ID + "/saml-connections/" + other.ID
			e.must(t, http.StatusConflict, e.root, "POST", opath+"/domains", map[string]any{"domain": "CORP.example"}).problem(t)

			// Changes.
			e.must(t, http.StatusOK, e.root, "PATCH", cpath, map[string]any{"name": "Corp SSO", "allow_idp_initiated": true}).decode(t, &conn)
			if conn.Name != "Corp SSO" || !conn.AllowIDPInitiated || len(conn.Mapping.GroupRoles) != 1 || len(conn.Domains) != 1 || !conn.Domains[0].Verified {
				t.Errorf("after PATCH: %+v", conn)
			}
			for _, tc := range []struct {
				body  any
				field string
			}{
				{map[string]any{"mapping": map[string]any{"default_role": "nope"}}, "mapping.default_role"},
				{map[string]any{"metadata": "<nope/>"}, "metadata"},
				{map[string]any{"metadata_url": "http://idp.example/metadata"}, "metadata_url"},
				{map[string]any{"name": " "}, "name"},
			} {
				p := e.must(t, http.StatusBadRequest, e.root, "PATCH", cpath, tc.body).problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
					t.Errorf("PATCH %v = %+v, want a problem naming %q", tc.body, p, tc.field)
				}
			}
			conn = admin.SAMLConnection{}
			e.must(t, http.StatusOK, e.root, "PATCH", cpath, map[string]any{"metadata": string(s.idp.metadata(t))}).decode(t, &conn)
			if conn.MetadataURL != "" || conn.MetadataFetchedAt != nil {
				t.Errorf("after PATCH metadata: %+v", conn)
			}
			conn = admin.SAMLConnection{}
			e.must(t, http.StatusOK, e.root, "PATCH", cpath, map[string]any{"metadata_url": metadataURL, "allow_idp_initiated": false}).decode(t, &conn)
			if conn.MetadataURL != metadataURL || conn.MetadataFetchedAt == nil || conn.AllowIDPInitiated {
				t.Errorf("after PATCH metadata_url: %+v", conn)
			}
			var list admin.List[admin.SAMLConnection]
			e.must(t, http.StatusOK, e.root, "GET", path, nil).decode(t, &list)
			if len(list.Items) != 1 || list.Items[0].ID != conn.ID || list.Total == nil || *list.Total != 1 || list.Items[0].Domains[0].Domain != "corp.example" {
				t.Errorf("list = %+v", list)
			}

			// The connection made through the API signs people in.
			s.idp.trust(t, conn.SPMetadataURL, true)
			s.idp.addUser(t, "ada", "ada@corp.example", "Ada", "Lovelace", "engineering")
			a := newOrgApp(t, e.oidcEnv, "openid", "email", "org")
			pkce := oauth2.GenerateVerifier()
			b := newBrowser(t)
			resp, err := b.Get(a.conf.AuthCodeURL("state-saml", oauth2.S256ChallengeOption(pkce)))
			if err != nil {
				t.Fatal(err)
			}
			form := formFields(t, read(t, resp))
			form.Set("email", "ada@corp.example")
			if resp, err = b.PostForm(e.issuer+"/login", form); err != nil {
				t.Fatal(err)
			}
			acs, response := s.toIdP(t, b, resp, "ada")
			if acs != conn.SPACSURL {
				t.Fatalf("the IdP posts to %s, want %s", acs, conn.SPACSURL)
			}
			if resp, err = b.PostForm(acs, response); err != nil {
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
			wantOrg(t, "sign-in through the API's connection", a.claims(t, tok), acme, "editor", editorPerms...)

			// An organization admin of acme manages its connections, but
			// may not assert a domain verified.
			boss := e.createPerson(t, "boss@example.com")
			if _, err := e.store.CreateMembership(ctx, storage.Membership{OrgID: acme.ID, UserID: boss.ID, Role: "admin"}); err != nil {
				t.Fatal(err)
			}
			bossToken, _ := e.personToken(t, boss.Email, e.pass, admin.Scope)
			e.must(t, http.StatusOK, bossToken, "GET", cpath, nil)
			e.must(t, http.StatusForbidden, bossToken, "POST", cpath+"/domains", map[string]any{"domain": "acme.example", "verified": true}).problem(t)
			e.must(t, http.StatusCreated, bossToken, "POST", cpath+"/domains", map[string]any{"domain": "acme.example"}).decode(t, &d)
			if d.Verified {
				t.Error("an org admin's domain is verified without DNS")
			}
			if got, _ := e.store.GetSAMLDomain(ctx, "acme.example"); !got.VerifiedAt.IsZero() {
				t.Error("an org admin's domain is stored verified")
			}

			// Removing the domain and the connection.
			e.must(t, http.StatusNoContent, e.root, "DELETE", cpath+"/domains/acme.example", nil)
			e.must(t, http.StatusNotFound, e.root, "DELETE", cpath+"/domains/acme.example", nil).problem(t)
			e.must(t, http.StatusNotFound, e.root, "POST", cpath+"/domains/acme.example/verify", nil).problem(t)
			e.must(t, http.StatusNotFound, e.root, "DELETE", opath+"/domains/corp.example", nil).problem(t)
			e.must(t, http.StatusNoContent, e.root, "DELETE", cpath, nil)
			e.must(t, http.StatusNotFound, e.root, "GET", cpath, nil).problem(t)
			if _, err := e.store.GetSAMLDomain(ctx, "corp.example"); err == nil {
				t.Error("the deleted connection's domain is still claimed")
			}
			e.must(t, http.StatusCreated, e.root, "POST", opath+"/domains", map[string]any{"domain": "corp.example", "verified": true})
		})
	}
}

// TestAdminSAMLAD02: an organization admin of another organization gets
// 404 on every SAML route, whether the path names the other organization
// or their own with the other's connection; nothing changes.
func TestAdminSAMLAD02(t *testing.T) {
	s, e, dns := newSAMLAdminEnv(t, "embedded")
	ctx := t.Context()
	dir := idp.NewDirectory(idp.Options{Store: e.store})
	acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	beta, err := dir.CreateOrganization(ctx, "beta", "Beta")
	if err != nil {
		t.Fatal(err)
	}
	var conn admin.SAMLConnection
	e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+acme.ID+"/saml-connections",
		map[string]any{"name": "Corp", "metadata": string(s.idp.metadata(t))}).decode(t, &conn)
	var d admin.SAMLDomain
	e.must(t, http.StatusCreated, e.root, "POST", "/organizations/"+acme.ID+"/saml-connections/"+conn.ID+"/domains",
		map[string]any{"domain": "corp.example"}).decode(t, &d)
	dns.set(d.VerificationRecord.Name, d.VerificationRecord.Value)

	mallory := e.createPerson(t, "mallory@example.com")
	if _, err := e.store.CreateMembership(ctx, storage.Membership{OrgID: beta.ID, UserID: mallory.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	tok, _ := e.personToken(t, mallory.Email, e.pass, admin.Scope)
	e.must(t, http.StatusOK, tok, "GET", "/organizations/"+beta.ID+"/saml-connections", nil)

	for _, org := range []string{acme.ID, beta.ID} {
		base := "/organizations/" + org + "/saml-connections"
		c := base + "/" + conn.ID
		for _, rt := range []struct {
			method, path string
			body         any
		}{
			{"GET", base, nil},
			{"POST", base, map[string]any{"name": "Evil", "metadata": string(s.idp.metadata(t))}},
			{"GET", c, nil},
			{"PATCH", c, map[string]any{"name": "Evil"}},
			{"DELETE", c, nil},
			{"POST", c + "/domains", map[string]any{"domain": "evil.example"}},
			{"POST", c + "/domains/corp.example/verify", nil},
			{"DELETE", c + "/domains/corp.example", nil},
		} {
			if org == beta.ID && (rt.path == base) {
				continue // their own organization's collection
			}
			if r := e.call(t, tok, rt.method, rt.path, rt.body); r.status != http.StatusNotFound {
				t.Errorf("AD-02: %s %s by another organization's admin = %d %s, want 404", rt.method, rt.path, r.status, r)
			} else {
				r.problem(t)
			}
		}
	}
	got, err := e.store.GetSAMLConnection(ctx, conn.ID)
	if err != nil || got.Name != "Corp" {
		t.Errorf("the connection after the attempts: %+v, %v", got, err)
	}
	if sd, err := e.store.GetSAMLDomain(ctx, "corp.example"); err != nil || !sd.VerifiedAt.IsZero() {
		t.Errorf("the domain after the attempts: %+v, %v", sd, err)
	}
	if _, err := e.store.GetSAMLDomain(ctx, "evil.example"); err == nil {
		t.Error("another organization's admin claimed a domain for acme's connection")
	}
}

// TestCLISAML: `foyer saml` on the database of a running server, on both
// backends: create from a metadata file (the server then serves the SP
// metadata, so both seal the SP key with one key), list, get, add-domain
// --verified, delete. A bad metadata file fails naming metadata.
func TestCLISAML(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			ctx := t.Context()
			acme, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			env := append(slices.Clone(e.dbEnv), "FOYER_ENCRYPTION_KEY="+testEncryptionKey, "FOYER_ISSUER="+e.issuer)
			cli := func(args ...string) result { return foyer(t, dir, env, append([]string{"saml"}, args...)...) }
			good, bad := filepath.Join(dir, "idp.xml"), filepath.Join(dir, "bad.xml")
			if err := os.WriteFile(good, startSAMLIdP(t).metadata(t), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`), 0o600); err != nil {
				t.Fatal(err)
			}

			for _, args := range [][]string{
				{"create", "--org", "acme", "--name", "Corp", "--metadata-file", bad},
				{"create", "--org", "acme", "--name", "Corp", "--metadata-file", filepath.Join(dir, "missing.xml")},
			} {
				if r := cli(args...); r.code != 1 || !strings.Contains(r.stderr, "metadata: ") || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line naming metadata", args, r.code, r.stderr)
				}
			}
			if r := cli("create", "--org", "acme", "--name", "Corp", "--metadata-file", good, "--group-role", "engineering=owner"); r.code != 1 ||
				!strings.Contains(r.stderr, "mapping.group_roles: ") {
				t.Errorf("create with an unknown role: exit %d, stderr %q", r.code, r.stderr)
			}

			r := cli("create", "--org", "acme", "--name", "Corp IdP", "--metadata-file", good,
				"--group-role", "cn=eng,ou=groups=editor", "--default-role", "member", "--allow-idp-initiated", "--json")
			var conn admin.SAMLConnection
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &conn) != nil || conn.OrgID != acme.ID || !conn.AllowIDPInitiated ||
				conn.SPEntityID != e.issuer+"/sso/"+conn.ID+"/metadata" || conn.Mapping.DefaultRole != "member" ||
				len(conn.Mapping.GroupRoles) != 1 || conn.Mapping.GroupRoles[0] != (admin.SAMLGroupRole{Group: "cn=eng,ou=groups", Role: "editor"}) {
				t.Fatalf("saml create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			// The server opens the SP key the CLI sealed.
			resp, err := http.Get(conn.SPMetadataURL)
			if err != nil {
				t.Fatal(err)
			}
			if md := read(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(md, conn.SPACSURL) {
				t.Errorf("the server's SP metadata of the CLI's connection = %d:\n%s", resp.StatusCode, md)
			}

			var list []admin.SAMLConnection
			if r := cli("list", "--org", "acme", "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 || list[0].ID != conn.ID {
				t.Errorf("saml list: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			var d admin.SAMLDomain
			if r := cli("add-domain", conn.ID, "Corp.Example", "--verified", "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &d) != nil ||
				d.Domain != "corp.example" || !d.Verified {
				t.Errorf("saml add-domain: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := cli("add-domain", conn.ID, "corp.example"); r.code != 1 || !strings.Contains(r.stderr, "domain: ") {
				t.Errorf("saml add-domain twice: exit %d, stderr %q", r.code, r.stderr)
			}
			if r := cli("add-domain", conn.ID, "https://x.example"); r.code != 1 || !strings.Contains(r.stderr, "domain: ") {
				t.Errorf("saml add-domain of a URL: exit %d, stderr %q", r.code, r.stderr)
			}
			if r := cli("get", conn.ID, "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &conn) != nil ||
				len(conn.Domains) != 1 || !conn.Domains[0].Verified {
				t.Errorf("saml get: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := cli("get", conn.ID); r.code != 0 || !strings.Contains(r.stdout, "corp.example: verified") || !strings.Contains(r.stdout, conn.SPACSURL) {
				t.Errorf("saml get (text): exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := cli("delete", conn.ID); r.code != 0 || !strings.Contains(r.stdout, conn.ID) {
				t.Errorf("saml delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := cli("get", conn.ID); r.code != 1 || !strings.Contains(r.stderr, "no SAML connection") {
				t.Errorf("saml get after delete: exit %d, stderr %q", r.code, r.stderr)
			}
			if _, err := e.store.GetSAMLDomain(ctx, "corp.example"); err == nil {
				t.Error("the deleted connection's domain is still claimed")
			}
		})
	}
}
