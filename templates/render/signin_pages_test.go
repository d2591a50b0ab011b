package render_test

import (
	"bytes"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
	"github.com/google/go-cmp/cmp"
)

// signinCase renders one sign-in page (parsed with ParsePage, as package
// signin does) with fixed data.
type signinCase struct {
	name    string // also the golden file's name
	forms   int
	buttons []string
	render  func(t *testing.T) string
}

// execute parses file from the real templates and renders data.
func execute[T any](t *testing.T, file string, data T) string {
	t.Helper()
	tmpl, err := render.ParsePage[T](templates.FS, file)
	if err != nil {
		t.Fatalf("ParsePage(%s) = %v", file, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		t.Fatalf("Execute(%s) = %v", file, err)
	}
	return buf.String()
}

func signinCases() []signinCase {
	page := func(title string) render.Page { p := common; p.Title = title; return p }
	return []signinCase{
		{"login_identifier", 1, []string{"Continue", "Sign in with a passkey"}, func(t *testing.T) string {
			return execute(t, "login_identifier.html", render.LoginIdentifierPage{
				Page: page("Sign in"), Challenge: "lc_123", ClientName: "Acme Notes", Email: "ada@example.com", SignupOpen: true,
				Passkeys: true,
			})
		}},
		{"login_identifier_connections", 3, []string{"Continue", "Continue with Google", "Continue with GitHub"}, func(t *testing.T) string {
			return execute(t, "login_identifier.html", render.LoginIdentifierPage{
				Page: page("Sign in"), Challenge: "lc_123", SignupOpen: true,
				Connections: []render.ConnectionButton{
					{Name: "Google", Action: "/login/upstream/ups_google/start"},
					{Name: "GitHub", Action: "/login/upstream/ups_github/start"},
				},
			})
		}},
		{"login_identifier_error", 1, []string{"Continue"}, func(t *testing.T) string {
			return execute(t, "login_identifier.html", render.LoginIdentifierPage{
				Page: page("Sign in"), Email: "ada@", EmailError: "Enter an email address like name@example.com.",
			})
		}},
		{"login_password", 2, []string{"Sign in", "Email me a sign-in link"}, func(t *testing.T) string {
			return execute(t, "login_password.html", render.LoginPasswordPage{
				Page: page("Sign in"), Challenge: "lc_123", ClientName: "Acme Notes", Email: "ada@example.com", SignupOpen: true,
			})
		}},
		{"login_password_errors", 2, []string{"Sign in", "Email me a sign-in link"}, func(t *testing.T) string {
			return execute(t, "login_password.html", render.LoginPasswordPage{
				Page: page("Sign in"), Email: "ada@example.com",
				Error: "Too many attempts. Try again in 15 minutes.", PasswordError: "The email or password is not right.",
			})
		}},
		{"check_email", 0, nil, func(t *testing.T) string {
			return execute(t, "check_email.html", render.CheckEmailPage{
				Page: page("Check your email"), Challenge: "lc_123", Email: "ada@example.com", ValidMinutes: 10,
			})
		}},
		{"magic_link", 1, []string{"Sign in"}, func(t *testing.T) string {
			return execute(t, "magic_link.html", render.MagicLinkPage{
				Page: page("Sign in"), Token: "tok_123", Email: "ada@example.com", ClientName: "Acme Notes",
			})
		}},
		{"magic_link_other_device", 1, []string{"Sign in"}, func(t *testing.T) string {
			return execute(t, "magic_link.html", render.MagicLinkPage{
				Page: page("Sign in"), Token: "tok_123", Email: "ada@example.com", OtherDevice: true,
			})
		}},
	}
}

// TestSigninGolden compares each sign-in page with
// testdata/<name>.golden.html (-update rewrites them).
func TestSigninGolden(t *testing.T) {
	for _, c := range signinCases() {
		t.Run(c.name, func(t *testing.T) {
			got := c.render(t)
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

// TestSigninPagesAccessible: every control has a visible label, buttons
// say what they do, every form carries the CSRF field, and nothing runs
// script or loads anything (the CSP forbids it).
func TestSigninPagesAccessible(t *testing.T) {
	for _, c := range signinCases() {
		t.Run(c.name, func(t *testing.T) {
			out := c.render(t)
			labels := map[string]string{}
			for _, l := range labelRE.FindAllStringSubmatch(out, -1) {
				labels[attrs("<label " + l[1] + ">")["for"]] = text(l[2])
			}
			for _, tag := range inputRE.FindAllString(out, -1) {
				a := attrs(tag)
				switch strings.ToLower(a["type"]) {
				case "hidden":
					continue
				case "submit", "button", "reset", "image":
					t.Errorf("%s: use a <button> whose text says what it does", tag)
				}
				if txt := labels[a["id"]]; a["id"] == "" || txt == "" {
					t.Errorf("%s has no <label for> with visible text", tag)
				}
			}
			var buttons []string
			for _, b := range buttonRE.FindAllStringSubmatch(out, -1) {
				buttons = append(buttons, text(b[1]))
			}
			if diff := cmp.Diff(c.buttons, buttons); diff != "" {
				t.Errorf("buttons (-want +got):\n%s", diff)
			}
			forms := formRE.FindAllString(out, -1)
			if len(forms) != c.forms {
				t.Errorf("page has %d forms, want %d", len(forms), c.forms)
			}
			for _, f := range forms {
				if strings.HasPrefix(f, `<form method="get" action="/login`) {
					continue // a link as a button ("Continue with …"): it changes nothing
				}
				if !strings.Contains(f, `<form method="post" action="/login`) ||
					!strings.Contains(f, `<input type="hidden" name="csrf_token" value="`+common.CSRFToken+`">`) {
					t.Errorf("form does not post to /login… with the CSRF field:\n%s", f)
				}
			}
			if got := styleRE.FindAllStringSubmatch(out, -1); len(got) != 1 || attrs("<style " + got[0][1] + ">")["nonce"] != common.Nonce {
				t.Errorf("page needs exactly one <style nonce=%q>", common.Nonce)
			}
			// The empty data: icon is the one <link>: it loads nothing, and spares
			// browsers a request for /favicon.ico.
			bare := strings.Replace(strings.ToLower(out), `<link rel="icon" href="data:,">`, "", 1)
			// The one script: passkeys need the browser's WebAuthn API. It
			// runs by the page's nonce.
			bare = strings.Replace(bare, strings.ToLower(passkeyScript(common.Nonce)), "", 1)
			for _, s := range []string{"<script", "<link", "<img", "<iframe", " style=", "http://", "https://"} {
				if strings.Contains(bare, s) {
					t.Errorf("page contains %q", s)
				}
			}
		})
	}
}

// TestSigninPagesText checks what each page must say and link to.
func TestSigninPagesText(t *testing.T) {
	pages := map[string]string{}
	for _, c := range signinCases() {
		pages[c.name] = c.render(t)
	}
	tests := []struct {
		page       string
		want, lack []string
	}{
		{"login_identifier", []string{
			`to continue to <b>Acme Notes</b>`,
			`type="email" autocomplete="username webauthn" required autofocus value="ada@example.com">`,
			`<div class="passkey" data-passkey="login" data-csrf="` + common.CSRFToken + `" data-challenge="lc_123">`,
			`<input type="hidden" name="challenge" value="lc_123">`,
			`<a href="/signup?challenge=lc_123">Create an account</a>`,
		}, []string{`aria-invalid="`}},
		{"login_identifier_error", []string{
			`aria-invalid="true" aria-describedby="email-error">`,
			`<p id="email-error" class="field-error">Enter an email address like name@example.com.</p>`,
		}, []string{`/signup`, `to continue to`}},
		{"login_password", []string{
			`<b>ada@example.com</b> <a href="/login?challenge=lc_123">Not you?</a>`,
			`<form method="post" action="/login/password">`,
			`<form method="post" action="/login/email-link">`,
			`type="password" autocomplete="current-password" required autofocus>`,
			`<a href="/forgot-password">Forgot password?</a>`,
			`<a href="/signup?challenge=lc_123">Create an account</a>`,
		}, []string{`role="alert"`, `aria-invalid="`}},
		{"login_password_errors", []string{
			`<div class="alert" role="alert">Too many attempts. Try again in 15 minutes.</div>`,
			`aria-invalid="true" aria-describedby="password-error">`,
			`<p id="password-error" class="field-error">The email or password is not right.</p>`,
			`<a href="/login">Not you?</a>`,
		}, []string{`/signup`}},
		{"check_email", []string{
			`<h1>Check your email</h1>`,
			`If an account uses <b>ada@example.com</b>`,
			`for 10 minutes`,
			`<a href="/login?challenge=lc_123">Back to sign in</a>`,
		}, nil},
		{"magic_link", []string{
			`You are signing in as <b>ada@example.com</b>.`,
			`<input type="hidden" name="token" value="tok_123">`,
			`to continue to <b>Acme Notes</b>`,
		}, []string{`on this device`}},
		{"magic_link_other_device", []string{
			`<div class="notice warning" role="alert">`,
			`You are signing in as <b>ada@example.com</b> on this device. Continue only if you asked for this link just now.`,
		}, nil},
	}
	for _, tt := range tests {
		out := pages[tt.page]
		for _, s := range tt.want {
			if !strings.Contains(out, s) {
				t.Errorf("%s lacks %s", tt.page, s)
			}
		}
		for _, s := range tt.lack {
			if strings.Contains(out, s) {
				t.Errorf("%s contains %s", tt.page, s)
			}
		}
	}
}

// passkeyScript is the script element of the pages with a passkey button.
func passkeyScript(nonce string) string {
	return `<script src="/mfa/passkey.js" nonce="` + nonce + `" defer></script>`
}

// TestSigninPagesEscape: every value reaches the page escaped.
func TestSigninPagesEscape(t *testing.T) {
	p := render.Page{CSRFToken: evil, Nonce: evil, Title: evil}
	outs := map[string]string{
		"login_identifier": execute(t, "login_identifier.html", render.LoginIdentifierPage{
			Page: p, Challenge: evil, ClientName: evil, Email: evil, EmailError: evil, SignupOpen: true, Passkeys: true}),
		"login_password": execute(t, "login_password.html", render.LoginPasswordPage{
			Page: p, Challenge: evil, ClientName: evil, Email: evil, Error: evil, PasswordError: evil, SignupOpen: true}),
		"check_email": execute(t, "check_email.html", render.CheckEmailPage{Page: p, Challenge: evil, Email: evil}),
		"magic_link": execute(t, "magic_link.html", render.MagicLinkPage{
			Page: p, Token: evil, Email: evil, ClientName: evil, OtherDevice: true}),
	}
	for name, out := range outs {
		out = strings.Replace(out, passkeyScript(html.EscapeString(evil)), "", 1)
		if strings.Contains(strings.ToLower(out), "<script") {
			t.Errorf("%s contains a <script> element:\n%s", name, body(out))
		}
	}
}
