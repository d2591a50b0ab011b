package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/templates/render"
	"github.com/google/go-cmp/cmp"
)

// accountCase renders one account page (parsed with ParsePage, as package
// signin does) with fixed data; want are fragments the page must have.
type accountCase struct {
	name    string // also the golden file's name
	buttons []string
	want    []string
	render  func(t *testing.T) string
}

func accountCases() []accountCase {
	page := func(title string) render.Page { p := common; p.Title = title; return p }
	sessions := []render.AccountSession{
		{SID: "sid_1", Device: "Chrome on Linux", IP: "192.0.2.1", LastSeen: "just now", Current: true},
		{SID: "sid_2", Device: "Safari on iPhone", IP: "2001:db8::1", LastSeen: "3 hours ago"},
	}
	return []accountCase{
		{"signup", []string{"Create account"}, []string{
			`<form method="post" action="/signup">`, `<input type="hidden" name="challenge" value="lc_123">`,
			`autocomplete="new-password"`, `<a href="/login?challenge=lc_123">Sign in</a>`,
		}, func(t *testing.T) string {
			return execute(t, "signup.html", render.SignupPage{Page: page("Create an account"), Challenge: "lc_123"})
		}},
		{"signup_errors", []string{"Create account"}, []string{
			`value="ada@example.com"`, `value="Ada"`,
			`<p id="password-error" class="field-error">This password is too common. Choose another.</p>`,
			`aria-describedby="password-help password-error" aria-invalid="true"`,
		}, func(t *testing.T) string {
			return execute(t, "signup.html", render.SignupPage{
				Page: page("Create an account"), Email: "ada@example.com", Name: "Ada",
				PasswordError: "This password is too common. Choose another.",
			})
		}},
		{"signup_closed", nil, []string{`<p>Sign-up is closed.</p>`}, func(t *testing.T) string {
			return execute(t, "signup.html", render.SignupPage{Page: page("Create an account"), Closed: "Sign-up is closed."})
		}},
		{"account_check_email_signup", nil, []string{`<b>ada@example.com</b>`, `You are not signed in until you verify your address.`}, func(t *testing.T) string {
			return execute(t, "account_check_email.html", render.AccountCheckEmailPage{Page: page("Check your email"), Email: "ada@example.com"})
		}},
		{"account_check_email_reset", nil, []string{`If an account uses <b>ada@example.com</b>`, `for 30 minutes`}, func(t *testing.T) string {
			return execute(t, "account_check_email.html", render.AccountCheckEmailPage{Page: page("Check your email"), Email: "ada@example.com", Reset: true})
		}},
		{"account_check_email_unverified", nil, []string{`<h1>Verify your email first</h1>`, `<b>ada@example.com</b> is not verified yet`}, func(t *testing.T) string {
			return execute(t, "account_check_email.html", render.AccountCheckEmailPage{Page: page("Verify your email first"), Email: "ada@example.com", Unverified: true})
		}},
		{"verify_email", []string{"Verify"}, []string{`<b>ada@example.com</b>`, `<input type="hidden" name="token" value="tok_123">`}, func(t *testing.T) string {
			return execute(t, "verify_email.html", render.VerifyEmailPage{Page: page("Verify your email address"), Token: "tok_123", Email: "ada@example.com"})
		}},
		{"forgot_password", []string{"Send reset link"}, []string{`<form method="post" action="/forgot-password">`}, func(t *testing.T) string {
			return execute(t, "forgot_password.html", render.ForgotPasswordPage{Page: page("Reset your password")})
		}},
		{"reset_password", []string{"Save password"}, []string{
			`<input type="hidden" name="token" value="tok_123">`, `<p id="password-error" class="field-error">Password must be at least 8 characters.</p>`,
		}, func(t *testing.T) string {
			return execute(t, "reset_password.html", render.ResetPasswordPage{
				Page: page("Choose a new password"), Token: "tok_123", Email: "ada@example.com",
				PasswordError: "Password must be at least 8 characters.",
			})
		}},
		{"account", []string{"End session", "End session", "Sign out of all other sessions", "Change password", "Sign out"}, []string{
			`<span class="badge">This device</span>`, `192.0.2.1 · Last active just now`, `<input type="hidden" name="sid" value="sid_2">`,
			`name="current_password"`, `<div class="notice" role="status"><p>Your password was changed.</p></div>`,
		}, func(t *testing.T) string {
			return execute(t, "account.html", render.AccountPage{
				Page: page("Your account"), Email: "ada@example.com", Name: "Ada Lovelace", Notice: "Your password was changed.",
				Sessions: sessions, HasPassword: true,
			})
		}},
		{"account_recent_errors", []string{"End session", "Change password", "Sign out"}, []string{
			`You signed in a few minutes ago`, `<p id="new-password-error" class="field-error">This password is too common. Choose another.</p>`,
		}, func(t *testing.T) string {
			return execute(t, "account.html", render.AccountPage{
				Page: page("Your account"), Email: "ada@example.com", Sessions: sessions[:1], HasPassword: true, RecentSignIn: true,
				NewPasswordError: "This password is too common. Choose another.",
			})
		}},
		{"account_links", []string{"End session", "Set password", "Link account", "Remove", "Sign out"}, []string{
			`<h2>Connected accounts</h2>`, `<p>Link your GitHub account (ada@example.com) so that you can sign in with it?</p>`,
			`<form method="post" action="/account/connections/remove">`, `<input type="hidden" name="connection_id" value="ups_google">`,
			`<input type="hidden" name="subject" value="1089">`, `Your only way to sign in`,
		}, func(t *testing.T) string {
			return execute(t, "account.html", render.AccountPage{
				Page: page("Your account"), Email: "ada@example.com", Sessions: sessions[:1], RecentSignIn: true,
				Links: []render.AccountLink{
					{ConnectionID: "ups_google", Subject: "1089", Name: "Google", Removable: true},
					{ConnectionID: "ups_okta", Subject: "00u1", Name: "Okta"},
				},
				PendingLink: &render.AccountPendingLink{ConnectionName: "GitHub", Email: "ada@example.com", Action: "/login/upstream/link"},
			})
		}},
		{"upstream_link_sign_in_first", []string{"Sign in"}, []string{
			`<h1>Link your GitHub account</h1>`, `A Foyer account with <b>ada@example.com</b> already exists.`, `<form method="get" action="/login">`,
		}, func(t *testing.T) string {
			return execute(t, "upstream_link.html", render.UpstreamLinkPage{Page: page("Link your GitHub account"),
				ConnectionName: "GitHub", Email: "ada@example.com", Action: "/login/upstream/link"})
		}},
		{"upstream_link_signed_in", []string{"Link account"}, []string{
			`<form method="post" action="/login/upstream/link">`, `You are signed in to it.`,
		}, func(t *testing.T) string {
			return execute(t, "upstream_link.html", render.UpstreamLinkPage{Page: page("Link your GitHub account"),
				ConnectionName: "GitHub", Email: "ada@example.com", Action: "/login/upstream/link", SignedIn: true})
		}},
		{"invitation_accept", []string{"Accept"}, []string{
			`<form method="post" action="/invitations/accept">`, `<input type="hidden" name="token" value="tok_123">`,
			`<b>Acme &lt;Labs&gt;</b> invited you as <b>editor</b>.`,
		}, func(t *testing.T) string {
			return execute(t, "invitation.html", render.InvitationPage{Page: page("Join Acme"), Token: "tok_123",
				OrgName: "Acme <Labs>", Role: "editor", Email: "new@example.com", Mode: render.InvitationAccept})
		}},
		{"invitation_signup", []string{"Accept and create an account"}, []string{
			`<form method="post" action="/invitations/accept/signup">`, `autocomplete="new-password"`,
			`<p id="password-error" class="field-error">Too short.</p>`,
		}, func(t *testing.T) string {
			return execute(t, "invitation.html", render.InvitationPage{Page: page("Join Acme"), Token: "tok_123",
				OrgName: "Acme", Role: "editor", Email: "new@example.com", Mode: render.InvitationSignUp, PasswordError: "Too short."})
		}},
		{"invitation_signin", nil, []string{`<a href="/login?invitation=tok_123">Sign in to accept</a>`}, func(t *testing.T) string {
			return execute(t, "invitation.html", render.InvitationPage{Page: page("Join Acme"), Token: "tok_123",
				OrgName: "Acme", Role: "editor", Email: "new@example.com", Mode: render.InvitationSignIn})
		}},
		{"invitation_other_account", []string{"Sign out"}, []string{
			`but you are signed in as <b>ada@example.com</b>`, `<form method="post" action="/account/sign-out">`,
		}, func(t *testing.T) string {
			return execute(t, "invitation.html", render.InvitationPage{Page: page("Join Acme"), Token: "tok_123",
				OrgName: "Acme", Role: "editor", Email: "new@example.com", SignedInAs: "ada@example.com", Mode: render.InvitationOtherAccount})
		}},
	}
}

// TestAccountGolden compares each account page with
// testdata/<name>.golden.html (-update rewrites them).
func TestAccountGolden(t *testing.T) {
	for _, c := range accountCases() {
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

// TestAccountPages: every control has a visible label, buttons say what
// they do, every form posts with the CSRF field, nothing runs script, and
// each page says what it must.
func TestAccountPages(t *testing.T) {
	for _, c := range accountCases() {
		t.Run(c.name, func(t *testing.T) {
			out := c.render(t)
			labels := map[string]string{}
			for _, l := range labelRE.FindAllStringSubmatch(out, -1) {
				labels[attrs("<label " + l[1] + ">")["for"]] = text(l[2])
			}
			for _, tag := range inputRE.FindAllString(out, -1) {
				a := attrs(tag)
				if strings.ToLower(a["type"]) == "hidden" {
					continue
				}
				if a["id"] == "" || labels[a["id"]] == "" {
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
			for _, f := range formRE.FindAllString(out, -1) {
				if strings.HasPrefix(f, `<form method="get" action="/login"`) {
					continue // a link as a button: it changes nothing
				}
				if !strings.HasPrefix(f, `<form method="post" action="/`) ||
					!strings.Contains(f, `<input type="hidden" name="csrf_token" value="`+common.CSRFToken+`">`) {
					t.Errorf("form does not post with the CSRF field:\n%s", f)
				}
			}
			// The empty data: icon is the one <link>: it loads nothing, and spares
			// browsers a request for /favicon.ico.
			bare := strings.Replace(strings.ToLower(out), `<link rel="icon" href="data:,">`, "", 1)
			for _, s := range []string{"<script", "<link", "<img", "<iframe", " style=", "http://", "https://"} {
				if strings.Contains(bare, s) {
					t.Errorf("page contains %q", s)
				}
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %s\n%s", w, body(out))
				}
			}
		})
	}
}
