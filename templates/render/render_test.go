package render_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.html from the current templates")

// pageFiles are the files New requires.
var pageFiles = []string{
	"layout.html", "consent.html", "select_org.html", "select_account.html",
	"error.html", "logout.html", "logged_out.html",
	"device.html", "device_confirm.html", "device_done.html",
}

// common is the Page every case uses, so the checks below know what to
// look for.
var common = render.Page{CSRFToken: "csrf-tok-123", Nonce: "n0nce-abc"}

// pageCase renders one page with fixed data.
type pageCase struct {
	name   string // also the golden file's name
	form   bool   // the page has a form (and so the CSRF field)
	render func(*render.Renderer, io.Writer) error
}

func cases() []pageCase {
	return []pageCase{
		{"consent", true, func(r *render.Renderer, w io.Writer) error {
			return r.Consent(w, render.ConsentPage{
				Page: common, Challenge: "cc_456", ClientName: "Acme Notes",
				Scopes: []render.Scope{
					{Name: "openid", Description: "Confirm who you are"},
					{Name: "email", Description: "See your email address"},
					{Name: "custom:read"},
				},
				Organization: "Acme Inc.", Email: "ada@example.com",
			})
		}},
		{"consent_no_org", true, func(r *render.Renderer, w io.Writer) error {
			return r.Consent(w, render.ConsentPage{
				Page: common, Challenge: "cc_456", ClientName: "Acme Notes",
				Scopes: []render.Scope{{Name: "openid", Description: "Confirm who you are"}},
				Email:  "ada@example.com",
			})
		}},
		{"select_org", true, func(r *render.Renderer, w io.Writer) error {
			return r.SelectOrg(w, render.SelectOrgPage{
				Page: common, Challenge: "lc_123", ClientName: "Acme Notes",
				Organizations: []render.Organization{
					{ID: "org_1", Name: "Acme Inc.", Role: "admin"},
					{ID: "org_2", Name: "Globex", Role: "member"},
				},
				Selected: "org_2",
			})
		}},
		{"select_org_error", true, func(r *render.Renderer, w io.Writer) error {
			return r.SelectOrg(w, render.SelectOrgPage{
				Page: common, Challenge: "lc_123",
				Organizations: []render.Organization{
					{ID: "org_1", Name: "Acme Inc.", Role: "admin"},
					{ID: "org_2", Name: "Globex"},
				},
				Error: "Choose an organization to continue.",
			})
		}},
		{"select_account", true, func(r *render.Renderer, w io.Writer) error {
			return r.SelectAccount(w, render.SelectAccountPage{
				Page: common, Challenge: "lc_123", Action: "/select-account", ClientName: "Acme Notes", Email: "ada@example.com",
			})
		}},
		{"error", false, func(r *render.Renderer, w io.Writer) error {
			return r.Error(w, render.ErrorPage{
				Page:      render.Page{Nonce: common.Nonce, Title: "This sign-in link has expired"},
				Message:   "Go back to the application and sign in again.",
				RequestID: "req_7f3a",
			})
		}},
		{"error_default", false, func(r *render.Renderer, w io.Writer) error {
			return r.Error(w, render.ErrorPage{Page: render.Page{Nonce: common.Nonce}})
		}},
		{"logout", true, func(r *render.Renderer, w io.Writer) error {
			return r.Logout(w, render.LogoutPage{Page: common, Challenge: "lo_789", Email: "ada@example.com"})
		}},
		{"logged_out", false, func(r *render.Renderer, w io.Writer) error {
			return r.LoggedOut(w, render.LoggedOutPage{Page: render.Page{Nonce: common.Nonce}})
		}},
		{"device", true, func(r *render.Renderer, w io.Writer) error {
			return r.Device(w, render.DevicePage{Page: common, UserCode: "BCDF-GHJK"})
		}},
		{"device_error", true, func(r *render.Renderer, w io.Writer) error {
			return r.Device(w, render.DevicePage{Page: common, UserCode: "BCDF-GHJX", Error: "That code is not valid or has expired. Check the code on your device and try again."})
		}},
		{"device_confirm", true, func(r *render.Renderer, w io.Writer) error {
			return r.DeviceConfirm(w, render.DeviceConfirmPage{
				Page: common, Challenge: "dc_123", ClientName: "Foyer CLI", UserCode: "BCDF-GHJK",
				Scopes:        []render.Scope{{Name: "openid", Description: "Sign you in"}, {Name: "offline_access", Description: "Stay signed in when you are away"}},
				Organizations: []render.Organization{{ID: "org_1", Name: "Acme", Role: "admin"}, {ID: "org_2", Name: "Globex", Role: "member"}},
				Email:         "ada@example.com",
			})
		}},
		{"device_confirm_one_org", true, func(r *render.Renderer, w io.Writer) error {
			return r.DeviceConfirm(w, render.DeviceConfirmPage{
				Page: common, Challenge: "dc_123", ClientName: "Foyer CLI", UserCode: "BCDF-GHJK",
				Scopes: []render.Scope{{Name: "openid", Description: "Sign you in"}}, Organization: "Acme", Email: "ada@example.com",
			})
		}},
		{"device_approved", false, func(r *render.Renderer, w io.Writer) error {
			return r.DeviceDone(w, render.DeviceDonePage{Page: render.Page{Nonce: common.Nonce}, ClientName: "Foyer CLI", Approved: true})
		}},
		{"device_denied", false, func(r *render.Renderer, w io.Writer) error {
			return r.DeviceDone(w, render.DeviceDonePage{Page: render.Page{Nonce: common.Nonce}, ClientName: "Foyer CLI"})
		}},
	}
}

func caseNamed(t *testing.T, name string) pageCase {
	t.Helper()
	for _, c := range cases() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no case %q", name)
	return pageCase{}
}

func newRenderer(t *testing.T) *render.Renderer {
	t.Helper()
	r, err := render.New(templates.FS)
	if err != nil {
		t.Fatalf("New(templates.FS) = %v", err)
	}
	return r
}

func renderCase(t *testing.T, r *render.Renderer, c pageCase) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.render(r, &buf); err != nil {
		t.Fatalf("render %s: %v", c.name, err)
	}
	return buf.String()
}

func TestGolden(t *testing.T) {
	r := newRenderer(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			got := renderCase(t, r, c)
			path := filepath.Join("testdata", c.name+".golden.html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./templates/render -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s differs from %s (-want +got; -update rewrites it):\n%s", c.name, path, diff)
			}
		})
	}
}

// mapFS copies the real templates into a MapFS that a test can break.
func mapFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range pageFiles {
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			t.Fatalf("templates.FS: %v", err)
		}
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestNew(t *testing.T) {
	if _, err := render.New(mapFS(t)); err != nil {
		t.Fatalf("New(copy of templates.FS) = %v, want nil", err)
	}
}

func TestNewFails(t *testing.T) {
	tests := []struct {
		name   string
		change func(fstest.MapFS)
		want   []string // substrings of the error
	}{
		{
			name:   "layout missing",
			change: func(m fstest.MapFS) { delete(m, "layout.html") },
			want:   []string{"layout.html"},
		},
		{
			name:   "template does not parse",
			change: func(m fstest.MapFS) { m["consent.html"] = file(`{{define "content"}}{{.ClientName}`) },
			want:   []string{"consent.html"},
		},
		{
			name:   "layout does not parse",
			change: func(m fstest.MapFS) { m["layout.html"] = file(`<html>{{template "content" .}</html>`) },
			want:   []string{"layout.html"},
		},
		{
			name:   "page does not define content",
			change: func(m fstest.MapFS) { m["logout.html"] = file(`<h1>Sign out</h1>`) },
			want:   []string{"logout.html", `"content"`},
		},
		{
			name:   "page uses a field its data lacks",
			change: func(m fstest.MapFS) { m["error.html"] = file(`{{define "content"}}{{.StackTrace}}{{end}}`) },
			want:   []string{"error.html", "StackTrace"},
		},
		{
			name:   "page ends inside an attribute",
			change: func(m fstest.MapFS) { m["logged_out.html"] = file(`{{define "content"}}<a href="{{.Title}}{{end}}`) },
			want:   []string{"logged_out.html"},
		},
		{
			name: "every broken page is reported",
			change: func(m fstest.MapFS) {
				delete(m, "consent.html")
				m["select_org.html"] = file(`{{define "content"}}{{range .Organizations}}{{end}`)
			},
			want: []string{"consent.html", "select_org.html"},
		},
	}
	// One case per page: a missing page stops start-up.
	for _, name := range pageFiles[1:] {
		tests = append(tests, struct {
			name   string
			change func(fstest.MapFS)
			want   []string
		}{"missing " + name, func(m fstest.MapFS) { delete(m, name) }, []string{name}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mapFS(t)
			tt.change(m)
			r, err := render.New(m)
			if err == nil {
				t.Fatalf("New = %v, nil; want an error", r)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("New error = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestNoHalfPage(t *testing.T) {
	m := mapFS(t)
	// Executes fine with no scopes (as New checks it) but fails halfway
	// through once there is one.
	m["consent.html"] = file(`{{define "content"}}<p>start</p>{{range .Scopes}}{{index $.Scopes 9}}{{end}}{{end}}`)
	r, err := render.New(m)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	var buf bytes.Buffer
	err = r.Consent(&buf, render.ConsentPage{Scopes: []render.Scope{{Name: "openid"}}})
	if err == nil {
		t.Fatal("Consent = nil, want an error")
	}
	if !strings.Contains(err.Error(), "consent.html") {
		t.Errorf("Consent error = %q, want it to name consent.html", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Consent wrote %d bytes on error, want none:\n%s", buf.Len(), buf.String())
	}
}

type failWriter struct{}

var errWrite = errors.New("connection reset")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteError(t *testing.T) {
	r := newRenderer(t)
	if err := r.LoggedOut(failWriter{}, render.LoggedOutPage{}); !errors.Is(err, errWrite) {
		t.Errorf("LoggedOut(failing writer) = %v, want %v", err, errWrite)
	}
}

const evil = `<script>alert(1)</script>`

func TestEscapesUserValues(t *testing.T) {
	r := newRenderer(t)
	page := render.Page{CSRFToken: evil, Nonce: evil, Title: evil}
	tests := []struct {
		name   string
		render func(io.Writer) error
		// min is how many places the value must appear, escaped: the
		// title and the nonce, then each field as the page shows it.
		min int
	}{
		{"consent", func(w io.Writer) error {
			return r.Consent(w, render.ConsentPage{
				Page: page, Challenge: evil, ClientName: evil,
				Scopes:       []render.Scope{{Name: evil, Description: evil}, {Name: evil}},
				Organization: evil, Email: evil,
			})
		}, 10},
		{"select_org", func(w io.Writer) error {
			return r.SelectOrg(w, render.SelectOrgPage{
				Page: page, Challenge: evil, ClientName: evil, Error: evil, Selected: evil,
				Organizations: []render.Organization{{ID: evil, Name: evil, Role: evil}},
			})
		}, 9},
		{"select_account", func(w io.Writer) error {
			return r.SelectAccount(w, render.SelectAccountPage{Page: page, Challenge: evil, ClientName: evil, Email: evil})
		}, 5},
		{"error", func(w io.Writer) error {
			return r.Error(w, render.ErrorPage{Page: page, Message: evil, RequestID: evil})
		}, 5},
		{"logout", func(w io.Writer) error {
			return r.Logout(w, render.LogoutPage{Page: page, Challenge: evil, Email: evil})
		}, 5},
		{"logged_out", func(w io.Writer) error {
			return r.LoggedOut(w, render.LoggedOutPage{Page: page})
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.render(&buf); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if strings.Contains(strings.ToLower(out), "<script") {
				t.Errorf("output contains a <script> element:\n%s", body(out))
			}
			escaped := `&lt;script&gt;alert(1)&lt;/script&gt;`
			if n := strings.Count(out, escaped); n < tt.min {
				t.Errorf("output has %d escaped copies of %q, want at least %d:\n%s", n, evil, tt.min, body(out))
			}
		})
	}
}

func TestUnsafeActionURL(t *testing.T) {
	r := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Consent(&buf, render.ConsentPage{Action: "javascript:alert(1)"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "javascript:") {
		t.Errorf("form action kept a javascript: URL:\n%s", buf.String())
	}
}

var (
	inputRE  = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE   = regexp.MustCompile(`(?is)([a-z][a-z0-9-]*)(?:\s*=\s*"([^"]*)")?`)
	labelRE  = regexp.MustCompile(`(?is)<label\b([^>]*)>(.*?)</label>`)
	buttonRE = regexp.MustCompile(`(?is)<button\b[^>]*>(.*?)</button>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
	idRE     = regexp.MustCompile(`(?is)\sid="([^"]*)"`)
	styleRE  = regexp.MustCompile(`(?is)<style\b([^>]*)>`)
	formRE   = regexp.MustCompile(`(?is)<form\b.*?</form>`)
)

// attrs parses the attributes of one start tag (no entity decoding; the
// values checked here are plain).
func attrs(tag string) map[string]string {
	tag = strings.TrimPrefix(strings.TrimSuffix(tag, ">"), "<")
	_, tag, _ = strings.Cut(tag, " ") // drop the element name
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = a[2]
	}
	return m
}

// body drops the document head, to keep failure messages short.
func body(html string) string {
	if _, b, ok := strings.Cut(html, "<body>"); ok {
		return b
	}
	return html
}

func text(html string) string {
	return strings.Join(strings.Fields(tagRE.ReplaceAllString(html, " ")), " ")
}

func TestFormControlsHaveLabels(t *testing.T) {
	r := newRenderer(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			out := renderCase(t, r, c)
			labels := map[string]string{} // for -> visible text
			for _, l := range labelRE.FindAllStringSubmatch(out, -1) {
				labels[attrs("<label " + l[1] + ">")["for"]] = text(l[2])
			}
			ids := map[string]int{}
			for _, m := range idRE.FindAllStringSubmatch(out, -1) {
				ids[m[1]]++
			}
			for id, n := range ids {
				if n > 1 {
					t.Errorf("id %q appears %d times", id, n)
				}
			}
			for _, tag := range inputRE.FindAllString(out, -1) {
				a := attrs(tag)
				if strings.EqualFold(a["type"], "hidden") {
					continue
				}
				id, ok := a["id"]
				if !ok || id == "" {
					t.Errorf("%s has no id, so no <label for> can name it", tag)
					continue
				}
				if txt, ok := labels[id]; !ok {
					t.Errorf("%s has no <label for=%q>", tag, id)
				} else if txt == "" {
					t.Errorf("<label for=%q> has no visible text", id)
				}
				if d, ok := a["aria-describedby"]; ok && ids[d] == 0 {
					t.Errorf("%s: aria-describedby=%q names no element", tag, d)
				}
			}
			for _, tag := range []string{"<select", "<textarea"} {
				if strings.Contains(out, tag) {
					t.Errorf("page has a %s>; extend this check to cover it", tag)
				}
			}
		})
	}
}

func TestButtonsSayWhatTheyDo(t *testing.T) {
	allowed := []string{"Sign in", "Continue", "Allow", "Deny", "Sign out", "Use another account"}
	want := map[string][]string{
		"consent": {"Deny", "Allow"}, "consent_no_org": {"Deny", "Allow"},
		"select_org": {"Continue"}, "select_org_error": {"Continue"},
		"logout": {"Sign out"},
		// "Continue as <email>" says which account it continues with.
		"select_account": {"Continue as ada@example.com", "Use another account"},
		"device":         {"Continue"}, "device_error": {"Continue"},
		"device_confirm": {"Deny", "Allow"}, "device_confirm_one_org": {"Deny", "Allow"},
	}
	r := newRenderer(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			out := renderCase(t, r, c)
			var got []string
			for _, b := range buttonRE.FindAllStringSubmatch(out, -1) {
				txt := text(b[1])
				if !slices.Contains(allowed, txt) && !strings.HasPrefix(txt, "Continue as ") {
					t.Errorf("button %q is not one of %q", txt, allowed)
				}
				got = append(got, txt)
			}
			if diff := cmp.Diff(want[c.name], got); diff != "" {
				t.Errorf("buttons (-want +got):\n%s", diff)
			}
			for _, tag := range inputRE.FindAllString(out, -1) {
				switch strings.ToLower(attrs(tag)["type"]) {
				case "submit", "button", "reset", "image":
					t.Errorf("%s: use a <button> whose text says what it does", tag)
				}
			}
		})
	}
}

func TestConsentDecisions(t *testing.T) {
	r := newRenderer(t)
	out := renderCase(t, r, caseNamed(t, "consent"))
	for _, s := range []string{
		`<button type="submit" name="decision" value="allow">Allow</button>`,
		`<button type="submit" name="decision" value="deny" class="secondary">Deny</button>`,
		`<h1>Acme Notes wants to:</h1>`,
		`Signed in as ada@example.com`,
		`<b>Acme Inc.</b>`,
		`See your email address <code>email</code>`,
		`<li>custom:read</li>`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("consent page lacks %s", s)
		}
	}
}

func TestSelectAccountChoices(t *testing.T) {
	r := newRenderer(t)
	out := renderCase(t, r, caseNamed(t, "select_account"))
	for _, s := range []string{
		`<h1>Choose an account</h1>`,
		`to continue to <b>Acme Notes</b>`,
		`<form method="post" action="/select-account">`,
		`<button type="submit" name="decision" value="continue">Continue as ada@example.com</button>`,
		`<button type="submit" name="decision" value="another" class="secondary">Use another account</button>`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("account chooser lacks %s", s)
		}
	}
}

func TestLayout(t *testing.T) {
	r := newRenderer(t)
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			out := renderCase(t, r, c)
			styles := styleRE.FindAllStringSubmatch(out, -1)
			if len(styles) != 1 {
				t.Fatalf("page has %d <style> elements, want 1", len(styles))
			}
			if got := attrs("<style " + styles[0][1] + ">")["nonce"]; got != common.Nonce {
				t.Errorf("<style nonce=%q>, want %q", got, common.Nonce)
			}
			for _, s := range []string{
				"<!DOCTYPE html>\n", `<html lang="en">`,
				`<meta name="viewport" content="width=device-width, initial-scale=1">`,
				"<main>", "</main>", "</html>",
			} {
				if !strings.Contains(out, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			// The empty data: icon is the one <link>: it loads nothing, and spares
			// browsers a request for /favicon.ico.
			bare := strings.Replace(strings.ToLower(out), `<link rel="icon" href="data:,">`, "", 1)
			for _, s := range []string{"<script", "<link", "<img", "<iframe", " style=", "http://", "https://"} {
				if strings.Contains(bare, s) {
					t.Errorf("page contains %q; pages load nothing and run no script (CSP)", s)
				}
			}
			forms := formRE.FindAllString(out, -1)
			if !c.form {
				if len(forms) != 0 {
					t.Errorf("page has %d forms, want none", len(forms))
				}
				return
			}
			if len(forms) != 1 {
				t.Fatalf("page has %d forms, want 1", len(forms))
			}
			want := []string{`<form method="post"`, `<input type="hidden" name="csrf_token" value="` + common.CSRFToken + `">`}
			// The device code page starts a flow: there is no challenge yet.
			if c.name != "device" && c.name != "device_error" {
				want = append(want, `<input type="hidden" name="challenge" value="`)
			}
			for _, s := range want {
				if !strings.Contains(forms[0], s) {
					t.Errorf("form lacks %s", s)
				}
			}
		})
	}
}

func TestTitles(t *testing.T) {
	r := newRenderer(t)
	tests := []struct {
		name   string
		render func(io.Writer) error
		want   string
	}{
		{"consent default", func(w io.Writer) error { return r.Consent(w, render.ConsentPage{}) }, "Allow access"},
		{"select_org default", func(w io.Writer) error { return r.SelectOrg(w, render.SelectOrgPage{}) }, "Choose an organization"},
		{"select_account default", func(w io.Writer) error { return r.SelectAccount(w, render.SelectAccountPage{}) }, "Choose an account"},
		{"error default", func(w io.Writer) error { return r.Error(w, render.ErrorPage{}) }, "Something went wrong"},
		{"logout default", func(w io.Writer) error { return r.Logout(w, render.LogoutPage{}) }, "Sign out"},
		{"logged_out default", func(w io.Writer) error { return r.LoggedOut(w, render.LoggedOutPage{}) }, "Signed out"},
		{"title given", func(w io.Writer) error {
			return r.Consent(w, render.ConsentPage{Page: render.Page{Title: "Allow Acme"}})
		}, "Allow Acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.render(&buf); err != nil {
				t.Fatal(err)
			}
			if want := "<title>" + tt.want + " · Foyer</title>"; !strings.Contains(buf.String(), want) {
				t.Errorf("page lacks %s", want)
			}
		})
	}
}

func TestConcurrentRenders(t *testing.T) {
	r := newRenderer(t)
	var wg sync.WaitGroup
	for range 8 {
		for _, c := range cases() {
			wg.Go(func() {
				if err := c.render(r, io.Discard); err != nil {
					t.Errorf("render %s: %v", c.name, err)
				}
			})
		}
	}
	wg.Wait()
}
