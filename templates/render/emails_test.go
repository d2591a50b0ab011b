package render_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
	"github.com/google/go-cmp/cmp"
)

// emailFiles are the files NewEmails requires.
var emailFiles = []string{
	"email_layout.html", "email_layout.txt",
	"email_verify.html", "email_verify.txt",
	"email_magic_link.html", "email_magic_link.txt",
	"email_password_reset.html", "email_password_reset.txt",
	"email_password_changed.html", "email_password_changed.txt",
	"email_sign_in_methods_changed.html", "email_sign_in_methods_changed.txt",
}

// emailCase renders one email with fixed data.
type emailCase struct {
	name   string // also the golden files' name
	links  []string
	render func(*render.Emails) (render.Email, error)
}

func emailCases() []emailCase {
	const link = "https://id.example.com/magic-link?token=tok_123&flow=f_456"
	return []emailCase{
		{"email_verify", []string{"https://id.example.com/verify?token=tok_123"}, func(e *render.Emails) (render.Email, error) {
			return e.Verify(render.VerifyEmail{Email: "ada@example.com", Link: "https://id.example.com/verify?token=tok_123", ValidFor: 24 * time.Hour})
		}},
		{"email_magic_link", []string{link}, func(e *render.Emails) (render.Email, error) {
			return e.MagicLink(render.MagicLinkEmail{Email: "ada@example.com", Link: link, ValidFor: 10 * time.Minute})
		}},
		{"email_password_reset", []string{"https://id.example.com/reset?token=tok_123"}, func(e *render.Emails) (render.Email, error) {
			return e.PasswordReset(render.PasswordResetEmail{Email: "ada@example.com", Link: "https://id.example.com/reset?token=tok_123", ValidFor: time.Hour})
		}},
		{"email_password_changed", []string{"https://id.example.com/forgot-password"}, func(e *render.Emails) (render.Email, error) {
			return e.PasswordChanged(render.PasswordChangedEmail{
				Email: "ada@example.com", ChangedAt: time.Date(2025, 3, 14, 16, 9, 26, 0, time.FixedZone("UTC+1", 3600)),
				ResetLink: "https://id.example.com/forgot-password",
			})
		}},
		{"email_password_changed_no_link", nil, func(e *render.Emails) (render.Email, error) {
			return e.PasswordChanged(render.PasswordChangedEmail{Email: "ada@example.com", ChangedAt: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)})
		}},
		signInChangeCase("email_sign_in_methods_changed_totp_on", render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOn}),
		signInChangeCase("email_sign_in_methods_changed_totp_off", render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOff}),
		signInChangeCase("email_sign_in_methods_changed_passkey_added", render.SignInMethodsChangedEmail{Change: render.PasskeyAdded, PasskeyName: "Ada's <laptop>"}),
		signInChangeCase("email_sign_in_methods_changed_recovery_code_used", render.SignInMethodsChangedEmail{Change: render.RecoveryCodeUsed, RecoveryCodesLeft: 7}),
	}
}

// signInChangeCase is a sign-in methods notice (TO-04, TO-06) with d's
// change and fixed address, time and link.
func signInChangeCase(name string, d render.SignInMethodsChangedEmail) emailCase {
	const link = "https://id.example.com/account/security"
	d.Email, d.SecurityLink = "ada@example.com", link
	d.ChangedAt = time.Date(2025, 3, 14, 16, 9, 26, 0, time.FixedZone("UTC+1", 3600))
	return emailCase{name, []string{link}, func(e *render.Emails) (render.Email, error) { return e.SignInMethodsChanged(d) }}
}

func newEmails(t *testing.T) *render.Emails {
	t.Helper()
	e, err := render.NewEmails(templates.FS)
	if err != nil {
		t.Fatalf("NewEmails(templates.FS) = %v", err)
	}
	return e
}

func renderEmail(t *testing.T, e *render.Emails, c emailCase) render.Email {
	t.Helper()
	m, err := c.render(e)
	if err != nil {
		t.Fatalf("render %s: %v", c.name, err)
	}
	return m
}

// TestEmailGolden compares each email with testdata/<name>.golden.html and
// .golden.txt; the text golden starts with the subject.
func TestEmailGolden(t *testing.T) {
	e := newEmails(t)
	for _, c := range emailCases() {
		t.Run(c.name, func(t *testing.T) {
			m := renderEmail(t, e, c)
			for ext, got := range map[string]string{
				".golden.html": m.HTML,
				".golden.txt":  "Subject: " + m.Subject + "\n\n" + m.Text,
			} {
				path := filepath.Join("testdata", c.name+ext)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./templates/render -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("%s differs from %s (-want +got; -update rewrites it):\n%s", c.name, path, diff)
				}
			}
		})
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// TestEmailLinks: the HTML part links to exactly the given links, and the
// text part has each of them, whole, on a line of its own, for mail
// clients that show only text.
func TestEmailLinks(t *testing.T) {
	e := newEmails(t)
	for _, c := range emailCases() {
		m := renderEmail(t, e, c)
		for _, h := range hrefRE.FindAllStringSubmatch(m.HTML, -1) {
			href := strings.ReplaceAll(h[1], "&amp;", "&")
			if !slices.Contains(c.links, href) {
				t.Errorf("%s: HTML links to %q, want only %q", c.name, href, c.links)
			}
		}
		for _, link := range c.links {
			if !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
				t.Errorf("%s: HTML part lacks a link to %s", c.name, link)
			}
			if !strings.Contains(m.Text, "\n"+link+"\n") {
				t.Errorf("%s: text part lacks %s on a line of its own:\n%s", c.name, link, m.Text)
			}
		}
	}
}

// TestEmailsLoadNothing: no scripts, no images, no style sheets: nothing a
// mail client would fetch or run, and no <style> (clients drop it). Tags
// are balanced: mail clients are less forgiving than browsers.
func TestEmailsLoadNothing(t *testing.T) {
	e := newEmails(t)
	for _, c := range emailCases() {
		m := renderEmail(t, e, c)
		lower := strings.ToLower(m.HTML)
		for _, banned := range []string{"<script", "<img", "<link", "<style", "<iframe", "src=", "url(", "javascript:", "@import"} {
			if strings.Contains(lower, banned) {
				t.Errorf("%s: HTML part contains %q", c.name, banned)
			}
		}
		for _, tag := range []string{"a", "p", "table", "tr", "td", "b", "h1"} {
			open := strings.Count(m.HTML, "<"+tag+" ") + strings.Count(m.HTML, "<"+tag+">")
			if closed := strings.Count(m.HTML, "</"+tag+">"); open != closed {
				t.Errorf("%s: HTML part opens <%s> %d times, closes it %d times", c.name, tag, open, closed)
			}
		}
		if !strings.Contains(m.HTML, "Foyer") || !strings.Contains(m.Text, "Foyer") {
			t.Errorf("%s: does not name Foyer", c.name)
		}
	}
}

func TestEmailsValidFor(t *testing.T) {
	e := newEmails(t)
	for _, tc := range []struct {
		validFor time.Duration
		want     string
	}{
		{time.Minute, "1 minute"},
		{10 * time.Minute, "10 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{72 * time.Hour, "3 days"},
	} {
		m, err := e.MagicLink(render.MagicLinkEmail{Email: "ada@example.com", Link: "https://id.example.com/m", ValidFor: tc.validFor})
		if err != nil {
			t.Fatalf("MagicLink(ValidFor %s) error = %v", tc.validFor, err)
		}
		want := "for the next " + tc.want + "."
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("MagicLink(ValidFor %s) does not say %q:\n%s", tc.validFor, want, m.Text)
		}
	}
}

// TestEmailsEscape: person-supplied values are escaped in the HTML part,
// and a link cannot break out of its attribute.
func TestEmailsEscape(t *testing.T) {
	e := newEmails(t)
	m, err := e.Verify(render.VerifyEmail{
		Email: evil, Link: `https://id.example.com/v?t="><script>x</script>`, ValidFor: time.Hour,
	})
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	if strings.Contains(m.HTML, "<script") {
		t.Errorf("Verify() HTML part has an unescaped <script>:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("Verify() HTML part does not show the escaped address:\n%s", m.HTML)
	}
}

// TestEmailsRefuseBadLinks: a link that is not an absolute http(s) URL is a
// bug in the caller (a relative link resolves against nothing in a mail
// client; LG-09 wants links built from the issuer) and an error here.
func TestEmailsRefuseBadLinks(t *testing.T) {
	e := newEmails(t)
	for _, link := range []string{"", "/magic-link?token=1", "javascript:alert(1)", "id.example.com/m", "https://user:pw@id.example.com/m", "ftp://id.example.com/m"} {
		if _, err := e.MagicLink(render.MagicLinkEmail{Email: "ada@example.com", Link: link, ValidFor: time.Minute}); err == nil {
			t.Errorf("MagicLink(Link %q) error = nil, want one", link)
		}
		if _, err := e.PasswordChanged(render.PasswordChangedEmail{Email: "ada@example.com", ResetLink: link}); err == nil && link != "" {
			t.Errorf("PasswordChanged(ResetLink %q) error = nil, want one", link)
		}
	}
	if _, err := e.Verify(render.VerifyEmail{Email: "ada@example.com", Link: "https://id.example.com/v"}); err == nil {
		t.Error("Verify(no ValidFor) error = nil, want one")
	}
	for _, d := range []render.SignInMethodsChangedEmail{
		{Change: render.TOTPTurnedOn, SecurityLink: "/account/security"},
		{Change: render.TOTPTurnedOn},
		{Change: "password_changed", SecurityLink: "https://id.example.com/account/security"},
	} {
		if _, err := e.SignInMethodsChanged(d); err == nil {
			t.Errorf("SignInMethodsChanged(%+v) error = nil, want one", d)
		}
	}
}

// TestSignInMethodsChanged: every change renders in both parts with its
// own sentence and the time in UTC, and the recovery-code notice says how
// many codes are left (TO-04, TO-06).
func TestSignInMethodsChanged(t *testing.T) {
	e := newEmails(t)
	at := time.Date(2025, 3, 14, 16, 9, 26, 0, time.FixedZone("UTC+1", 3600))
	for _, tc := range []struct {
		d    render.SignInMethodsChangedEmail
		want string
	}{
		{render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOn}, "An authenticator app was set up"},
		{render.SignInMethodsChangedEmail{Change: render.TOTPTurnedOff}, "was turned off"},
		{render.SignInMethodsChangedEmail{Change: render.PasskeyAdded, PasskeyName: "Work key"}, "Work key"},
		{render.SignInMethodsChangedEmail{Change: render.PasskeyDeleted, PasskeyName: "Old phone"}, "Old phone"},
		{render.SignInMethodsChangedEmail{Change: render.PasskeyDeleted}, "A passkey was deleted"},
		{render.SignInMethodsChangedEmail{Change: render.RecoveryCodeUsed, RecoveryCodesLeft: 1}, "You have 1 unused recovery code left"},
		{render.SignInMethodsChangedEmail{Change: render.RecoveryCodeUsed}, "You have no unused recovery codes left"},
		{render.SignInMethodsChangedEmail{Change: render.RecoveryCodesMade}, "The old ones no longer work."},
	} {
		d := tc.d
		d.Email, d.ChangedAt, d.SecurityLink = "ada@example.com", at, "https://id.example.com/account/security"
		m, err := e.SignInMethodsChanged(d)
		if err != nil {
			t.Fatalf("SignInMethodsChanged(%s) error = %v", d.Change, err)
		}
		for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
			for _, want := range []string{tc.want, "14 March 2025 at 15:09 UTC", "change your password"} {
				if !strings.Contains(body, want) {
					t.Errorf("SignInMethodsChanged(%s) %s part lacks %q:\n%s", d.Change, part, want, body)
				}
			}
		}
		if m.Subject != "Your sign-in methods changed" {
			t.Errorf("SignInMethodsChanged(%s) subject = %q", d.Change, m.Subject)
		}
	}
}

func emailMapFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, name := range emailFiles {
		b, err := fs.ReadFile(templates.FS, name)
		if err != nil {
			t.Fatalf("templates.FS: %v", err)
		}
		m[name] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestNewEmails(t *testing.T) {
	if _, err := render.NewEmails(emailMapFS(t)); err != nil {
		t.Fatalf("NewEmails(copy of the email files) = %v, want nil", err)
	}
}

func TestNewEmailsFails(t *testing.T) {
	tests := []struct {
		name   string
		change func(fstest.MapFS)
		want   []string
	}{
		{"text does not parse", func(m fstest.MapFS) { m["email_verify.txt"] = file(`{{define "content"}}{{.Link}`) }, []string{"email_verify.txt"}},
		{"no content", func(m fstest.MapFS) { m["email_magic_link.html"] = file(`<p>Sign in</p>`) }, []string{"email_magic_link.html", `"content"`}},
		{"unknown field", func(m fstest.MapFS) {
			m["email_password_changed.txt"] = file(`{{define "content"}}{{.Link}}{{end}}`)
		}, []string{"email_password_changed.txt", "Link"}},
		{"every broken file is reported", func(m fstest.MapFS) {
			delete(m, "email_verify.html")
			delete(m, "email_password_reset.txt")
		}, []string{"email_verify.html", "email_password_reset.txt"}},
	}
	for _, name := range emailFiles {
		tests = append(tests, struct {
			name   string
			change func(fstest.MapFS)
			want   []string
		}{"missing " + name, func(m fstest.MapFS) { delete(m, name) }, []string{name}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := emailMapFS(t)
			tt.change(m)
			e, err := render.NewEmails(m)
			if err == nil {
				t.Fatalf("NewEmails = %v, nil; want an error", e)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("NewEmails error = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}
