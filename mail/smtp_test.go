package mail_test

import (
	"errors"
	"mime"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/foyerdev/foyer/mail"
)

const testFrom = "Foyer <no-reply@example.com>"

// testMessage has both parts, non-ASCII text and a link in each.
func testMessage(id string) mail.Message {
	link := "https://id.example.com/magic-link?token=tok_" + id + "&flow=f_1"
	return mail.Message{
		ID:      id,
		To:      "Ada Lovelace <ada@example.com>",
		Subject: "Your Foyer sign-in link — café",
		Text:    "Sign in to Foyer, café:\n\n" + link + "\n\nIf you did not ask, ignore this email.\n",
		HTML:    `<p>Sign in to Foyer, café: <a href="` + strings.ReplaceAll(link, "&", "&amp;") + `">Sign in</a></p>` + "\n",
	}
}

func newSMTPSender(t *testing.T, opts mail.SMTPOptions) *mail.SMTPSender {
	t.Helper()
	if opts.From == "" {
		opts.From = testFrom
	}
	s, err := mail.NewSMTPSender(opts)
	if err != nil {
		t.Fatalf("NewSMTPSender() error = %v", err)
	}
	return s
}

// checkDelivered checks one captured message against the message sent:
// envelope, headers, and both parts in the order text, HTML.
func checkDelivered(t *testing.T, got captured, sent mail.Message) {
	t.Helper()
	if got.From != "no-reply@example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
		t.Errorf("envelope = MAIL FROM %q, RCPT TO %q; want no-reply@example.com, [ada@example.com]", got.From, got.To)
	}
	m := parseMIME(t, got.Data)
	h := m.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Errorf("decode Subject %q: %v", h.Get("Subject"), err)
	}
	for name, want := range map[string]string{
		"Subject":        sent.Subject,
		"Message-ID":     "<" + sent.ID + "@example.com>",
		"Auto-Submitted": "auto-generated",
		"MIME-Version":   "1.0",
	} {
		value := h.Get(name)
		if name == "Subject" {
			value = subject
		}
		if value != want {
			t.Errorf("header %s = %q, want %q", name, value, want)
		}
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].String() != `"Foyer" <no-reply@example.com>` {
		t.Errorf("header From = %q (%v), want Foyer <no-reply@example.com>", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "ada@example.com" || to[0].Name != "Ada Lovelace" {
		t.Errorf("header To = %q (%v), want Ada Lovelace <ada@example.com>", h.Get("To"), err)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("header Date = %q: %v", h.Get("Date"), err)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	// RFC 2046 §5.1.4: the preferred (richest) part comes last.
	if d := cmp.Diff([]string{"text/plain", "text/html"}, m.Order); d != "" {
		t.Errorf("parts mismatch (-want +got):\n%s", d)
	}
	if got := m.Parts["text/plain"]; got != sent.Text {
		t.Errorf("text part = %q, want %q", got, sent.Text)
	}
	if got := m.Parts["text/html"]; got != sent.HTML {
		t.Errorf("HTML part = %q, want %q", got, sent.HTML)
	}
	if strings.Contains(strings.ToLower(string(got.Data)), "go-mail") {
		t.Errorf("message names the mail library:\n%s", got.Data)
	}
}

func TestSMTPSenderSendsMultipart(t *testing.T) {
	server := startCapture(t, "127.0.0.1:0", captureOptions{})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://" + server.Addr})
	sent := testMessage("msg_multipart")
	if err := s.Send(t.Context(), sent); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	checkDelivered(t, server.wait(t, 1)[0], sent)
}

func TestSMTPSenderTextOnly(t *testing.T) {
	server := startCapture(t, "127.0.0.1:0", captureOptions{})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://" + server.Addr})
	sent := testMessage("msg_text_only")
	sent.HTML = ""
	if err := s.Send(t.Context(), sent); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	m := parseMIME(t, server.wait(t, 1)[0].Data)
	if d := cmp.Diff([]string{"text/plain"}, m.Order); d != "" {
		t.Errorf("parts mismatch (-want +got):\n%s", d)
	}
	if m.Parts["text/plain"] != sent.Text {
		t.Errorf("text = %q, want %q", m.Parts["text/plain"], sent.Text)
	}
}

// TestSMTPSenderSTARTTLSWithAuth: smtp:// upgrades with STARTTLS when the
// server offers it, and authenticates with the URL's user and password
// over the encrypted connection.
func TestSMTPSenderSTARTTLSWithAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	server := startCapture(t, "127.0.0.1:0", captureOptions{TLS: serverTLS, Password: "s3cr3t pass"})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://mailer:s3cr3t%20pass@" + server.Addr, TLSConfig: clientTLS})
	sent := testMessage("msg_starttls")
	if err := s.Send(t.Context(), sent); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	got := server.wait(t, 1)[0]
	if !got.TLS || got.Username != "mailer" {
		t.Errorf("session TLS = %v, user = %q; want TLS and mailer", got.TLS, got.Username)
	}
	checkDelivered(t, got, sent)
}

// TestSMTPSenderImplicitTLS: smtps:// speaks TLS from the first byte.
func TestSMTPSenderImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	server := startCapture(t, "127.0.0.1:0", captureOptions{TLS: serverTLS, implicit: true})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtps://" + server.Addr, TLSConfig: clientTLS})
	if err := s.Send(t.Context(), testMessage("msg_smtps")); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	if got := server.wait(t, 1)[0]; !got.TLS {
		t.Error("session TLS = false, want true")
	}
}

// TestSMTPSenderRefusesUntrustedCertificate: TLS is verified; a server
// whose certificate is not trusted gets nothing.
func TestSMTPSenderRefusesUntrustedCertificate(t *testing.T) {
	serverTLS, _ := selfSigned(t)
	server := startCapture(t, "127.0.0.1:0", captureOptions{TLS: serverTLS, implicit: true})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtps://" + server.Addr})
	if err := s.Send(t.Context(), testMessage("msg_untrusted")); err == nil {
		t.Error("Send() to an untrusted certificate = nil, want an error")
	}
	if n := len(server.Messages()); n != 0 {
		t.Errorf("server got %d messages, want none", n)
	}
}

// TestSMTPSenderNoPasswordInTheClear: a server without TLS that offers
// AUTH PLAIN never sees the password: the send fails instead.
func TestSMTPSenderNoPasswordInTheClear(t *testing.T) {
	server := startCapture(t, "127.0.0.1:0", captureOptions{Password: "s3cr3t"})
	server.srv.AllowInsecureAuth = true
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://mailer:s3cr3t@" + server.Addr})
	err := s.Send(t.Context(), testMessage("msg_cleartext"))
	if err == nil {
		t.Fatal("Send() with a password and no TLS = nil, want an error")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Send() error %q shows the password", err)
	}
	if n := len(server.Messages()); n != 0 {
		t.Errorf("server got %d messages, want none", n)
	}
}

// TestSMTPSenderRejections: a permanent (5xx) refusal of the recipient is
// ErrRejected, so the worker gives up at once; a temporary (4xx) one and a
// server that is down are worth retrying.
func TestSMTPSenderRejections(t *testing.T) {
	server := startCapture(t, "127.0.0.1:0", captureOptions{Reject: func(rcpt string) error {
		switch rcpt {
		case "nobody@example.com":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case "full@example.com":
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	}})
	s := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://" + server.Addr})
	down := newSMTPSender(t, mail.SMTPOptions{URL: "smtp://" + freeAddr(t)})
	for _, tc := range []struct {
		name     string
		sender   *mail.SMTPSender
		to       string
		rejected bool
	}{
		{"unknown recipient", s, "nobody@example.com", true},
		{"mailbox full", s, "full@example.com", false},
		{"server down", down, "ada@example.com", false},
	} {
		m := testMessage("msg_reject")
		m.To = tc.to
		err := tc.sender.Send(t.Context(), m)
		if err == nil || errors.Is(err, mail.ErrRejected) != tc.rejected {
			t.Errorf("Send(%s) error = %v, want an error that is ErrRejected: %v", tc.name, err, tc.rejected)
		}
	}
}

func TestNewSMTPSenderErrors(t *testing.T) {
	for _, tc := range []struct{ url, from string }{
		{"smtp://mailer:s3cr3t@mail.example.com", testFrom},        // no port
		{"smtp://mailer:s3cr3t@mail.example.com:0", testFrom},      // bad port
		{"http://mailer:s3cr3t@mail.example.com:25", testFrom},     // not SMTP
		{"smtp://mailer:s3cr3t@:25", testFrom},                     // no host
		{"smtp://mailer:s3cr3t@mail.example.com:25/%zz", testFrom}, // not a URL
		{"smtp://mailer:s3cr3t@mail.example.com:25", "not an address"},
	} {
		_, err := mail.NewSMTPSender(mail.SMTPOptions{URL: tc.url, From: tc.from})
		if err == nil {
			t.Errorf("NewSMTPSender(%q, %q) = nil error, want one", tc.url, tc.from)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("NewSMTPSender(%q) error %q shows the password", tc.url, err)
		}
	}
}
