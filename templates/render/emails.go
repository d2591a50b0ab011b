package render

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	texttemplate "text/template"
	"time"
)

// Email is one rendered email: the caller adds the recipient and hands it
// to the mailer.
type Email struct {
	Subject string
	Text    string // the text/plain part; it has every link the HTML part has
	HTML    string // the text/html part
}

// Every link an email carries is passed in fully built, from the configured
// issuer and never from the request's Host or X-Forwarded-Host headers, which
// an attacker chooses (SECURITY.md LG-09: a forged host would mail the
// victim a link to the attacker's site carrying a live token). The renderer
// refuses a link that is not an absolute http or https URL.

// VerifyEmail asks a person to confirm their email address.
type VerifyEmail struct {
	Email    string        // the address being verified
	Link     string        // the verification URL, built from the issuer (LG-09)
	ValidFor time.Duration // how long the link works
}

// MagicLinkEmail carries a single-use sign-in link.
type MagicLinkEmail struct {
	Email    string        // the account's address
	Link     string        // the sign-in URL, built from the issuer (LG-09)
	ValidFor time.Duration // how long the link works (10 minutes)
}

// PasswordResetEmail carries a single-use link to choose a new password.
type PasswordResetEmail struct {
	Email    string        // the account's address
	Link     string        // the reset URL, built from the issuer (LG-09)
	ValidFor time.Duration // how long the link works
}

// PasswordChangedEmail tells a person their password was changed, so that
// a change they did not make does not go unnoticed.
type PasswordChangedEmail struct {
	Email     string    // the account's address
	ChangedAt time.Time // shown in UTC
	// ResetLink, when set, is where to reset the password if the change was
	// not theirs (the "forgot password" page), built from the issuer.
	ResetLink string
}

// SignInChange is what changed about how a person signs in.
type SignInChange string

// The changes SignInMethodsChangedEmail tells of (TO-04, TO-06, WA-06).
const (
	TOTPTurnedOn      SignInChange = "totp_on"       // an authenticator app was set up
	TOTPTurnedOff     SignInChange = "totp_off"      // the authenticator app was turned off
	PasskeyAdded      SignInChange = "passkey_added" // PasskeyName was added
	PasskeyDeleted    SignInChange = "passkey_deleted"
	RecoveryCodeUsed  SignInChange = "recovery_code_used" // RecoveryCodesLeft are left
	RecoveryCodesMade SignInChange = "recovery_codes_made"
)

// SignInMethodsChangedEmail tells a person a second factor of theirs
// changed, so that a change they did not make does not go unnoticed. It
// never carries a secret or a code.
type SignInMethodsChangedEmail struct {
	Email             string       // the account's address
	Change            SignInChange // what changed
	PasskeyName       string       // the passkey added or deleted, when known
	RecoveryCodesLeft int          // unused recovery codes after RecoveryCodeUsed
	ChangedAt         time.Time    // shown in UTC
	// SecurityLink is the security page (issuer + "/account/security"),
	// built from the issuer.
	SecurityLink string
}

// Emails holds the parsed email templates. It is safe for concurrent use.
type Emails struct {
	verify, magicLink, passwordReset, passwordChanged, signInMethodsChanged email
}

// email is one email's HTML and text templates, each parsed with its shell.
type email struct {
	name    string
	subject string
	html    *htmltemplate.Template
	text    *texttemplate.Template
}

// emailView is what the shells get: they show the subject and pass Data to
// the email's "content".
type emailView struct {
	Subject string
	Data    any
}

const (
	emailLayoutHTML = "email_layout.html"
	emailLayoutText = "email_layout.txt"
)

// NewEmails parses the email shells and every email_<name>.html and
// email_<name>.txt from fsys, and executes each once with its zero data. It
// reports every missing or broken file at once.
func NewEmails(fsys fs.FS) (*Emails, error) {
	e := new(Emails)
	emails := []struct {
		dst           *email
		name, subject string
		zero          any
	}{
		{&e.verify, "verify", "Verify your email address", VerifyEmail{}},
		{&e.magicLink, "magic_link", "Your Foyer sign-in link", MagicLinkEmail{}},
		{&e.passwordReset, "password_reset", "Reset your Foyer password", PasswordResetEmail{}},
		{&e.passwordChanged, "password_changed", "Your Foyer password was changed", PasswordChangedEmail{}},
		{&e.signInMethodsChanged, "sign_in_methods_changed", "Your sign-in methods changed", SignInMethodsChangedEmail{}},
	}
	htmlLayout, err := htmltemplate.New(emailLayoutHTML).Funcs(htmltemplate.FuncMap(emailFuncs)).ParseFS(fsys, emailLayoutHTML)
	if err != nil {
		return nil, fmt.Errorf("render: email layout: %w", err)
	}
	textLayout, err := texttemplate.New(emailLayoutText).Funcs(texttemplate.FuncMap(emailFuncs)).ParseFS(fsys, emailLayoutText)
	if err != nil {
		return nil, fmt.Errorf("render: email layout: %w", err)
	}
	var errs []error
	for _, m := range emails {
		html, text := "email_"+m.name+".html", "email_"+m.name+".txt"
		view := emailView{Subject: m.subject, Data: m.zero}
		h, err := parseHTMLEmail(htmlLayout, fsys, html, view)
		if err != nil {
			errs = append(errs, fmt.Errorf("render: email %s: %w", html, err))
		}
		t, err := parseTextEmail(textLayout, fsys, text, view)
		if err != nil {
			errs = append(errs, fmt.Errorf("render: email %s: %w", text, err))
		}
		*m.dst = email{name: m.name, subject: m.subject, html: h, text: t}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// parseHTMLEmail adds file, which must define "content", to a copy of
// the HTML shell and executes the result once with view.
func parseHTMLEmail(layout *htmltemplate.Template, fsys fs.FS, file string, view emailView) (*htmltemplate.Template, error) {
	if _, err := fs.Stat(fsys, file); err != nil {
		return nil, err
	}
	t, err := layout.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.ParseFS(fsys, file); err != nil {
		return nil, err
	}
	if c := t.Lookup("content"); c == nil || c.Tree == nil {
		return nil, errors.New(`does not define "content"`)
	}
	return t, t.ExecuteTemplate(io.Discard, emailLayoutHTML, view)
}

// parseTextEmail is parseHTMLEmail for the text shell.
func parseTextEmail(layout *texttemplate.Template, fsys fs.FS, file string, view emailView) (*texttemplate.Template, error) {
	if _, err := fs.Stat(fsys, file); err != nil {
		return nil, err
	}
	t, err := layout.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.ParseFS(fsys, file); err != nil {
		return nil, err
	}
	if c := t.Lookup("content"); c == nil || c.Tree == nil {
		return nil, errors.New(`does not define "content"`)
	}
	return t, t.ExecuteTemplate(io.Discard, emailLayoutText, view)
}

// render executes both parts with data.
func (m email) render(data any) (Email, error) {
	view := emailView{Subject: m.subject, Data: data}
	var html, text bytes.Buffer
	if err := m.html.ExecuteTemplate(&html, emailLayoutHTML, view); err != nil {
		return Email{}, fmt.Errorf("render email %s: %w", m.name, err)
	}
	if err := m.text.ExecuteTemplate(&text, emailLayoutText, view); err != nil {
		return Email{}, fmt.Errorf("render email %s: %w", m.name, err)
	}
	return Email{Subject: m.subject, Text: text.String(), HTML: html.String()}, nil
}

// Verify renders the email-verification message.
func (e *Emails) Verify(d VerifyEmail) (Email, error) {
	if err := checkLinkEmail(e.verify.name, d.Link, d.ValidFor); err != nil {
		return Email{}, err
	}
	return e.verify.render(d)
}

// MagicLink renders the sign-in link message.
func (e *Emails) MagicLink(d MagicLinkEmail) (Email, error) {
	if err := checkLinkEmail(e.magicLink.name, d.Link, d.ValidFor); err != nil {
		return Email{}, err
	}
	return e.magicLink.render(d)
}

// PasswordReset renders the password-reset message.
func (e *Emails) PasswordReset(d PasswordResetEmail) (Email, error) {
	if err := checkLinkEmail(e.passwordReset.name, d.Link, d.ValidFor); err != nil {
		return Email{}, err
	}
	return e.passwordReset.render(d)
}

// PasswordChanged renders the notice that a password was changed.
func (e *Emails) PasswordChanged(d PasswordChangedEmail) (Email, error) {
	if d.ResetLink != "" {
		if err := checkLink(d.ResetLink); err != nil {
			return Email{}, fmt.Errorf("render email %s: reset link: %w", e.passwordChanged.name, err)
		}
	}
	return e.passwordChanged.render(d)
}

// SignInMethodsChanged renders the notice that a second factor changed.
func (e *Emails) SignInMethodsChanged(d SignInMethodsChangedEmail) (Email, error) {
	switch d.Change {
	case TOTPTurnedOn, TOTPTurnedOff, PasskeyAdded, PasskeyDeleted, RecoveryCodeUsed, RecoveryCodesMade:
	default:
		return Email{}, fmt.Errorf("render email %s: unknown change %q", e.signInMethodsChanged.name, d.Change)
	}
	if err := checkLink(d.SecurityLink); err != nil {
		return Email{}, fmt.Errorf("render email %s: security link: %w", e.signInMethodsChanged.name, err)
	}
	return e.signInMethodsChanged.render(d)
}

// checkLinkEmail checks what every email built around one link needs.
func checkLinkEmail(name, link string, validFor time.Duration) error {
	if err := checkLink(link); err != nil {
		return fmt.Errorf("render email %s: link: %w", name, err)
	}
	if validFor <= 0 {
		return fmt.Errorf("render email %s: ValidFor %s must be positive", name, validFor)
	}
	return nil
}

// checkLink refuses what cannot be a link built from the issuer: a
// relative URL would resolve against nothing in a mail client, and another
// scheme is never Foyer's.
func checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return errors.New("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute http or https URL", link)
	}
	return nil
}

var emailFuncs = map[string]any{
	"duration": duration,
	"when":     when,
}

// duration says how long a link works in words: "10 minutes", "1 hour",
// "3 days".
func duration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 2*day && d%day == 0:
		return plural(int(d/day), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d.Round(time.Minute)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// when shows an instant in UTC, unambiguous wherever the reader is.
func when(t time.Time) string {
	return t.UTC().Format("2 January 2006 at 15:04 UTC")
}
