package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPOptions configure an SMTPSender. cmd fills them from smtp.url and
// smtp.from.
type SMTPOptions struct {
	// URL is smtp://[user:password@]host:port, which upgrades to TLS with
	// STARTTLS when the server offers it, or smtps://… for TLS from the
	// first byte. Credentials are only ever sent over TLS (or to a
	// loopback server): without it go-mail offers no mechanism that sends
	// the password in the clear, and the send fails.
	URL string
	// From is the sender, such as "Foyer <no-reply@example.com>"; its
	// address is also the envelope sender.
	From string
	// Timeout bounds connecting and each SMTP command (default 10s).
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (system roots, TLS 1.2 or
	// later); tests use it to trust their server's certificate.
	TLSConfig *tls.Config
}

// SMTPSender sends through one SMTP server, a connection per message.
type SMTPSender struct {
	client *gomail.Client
	from   *netmail.Address
	domain string // of From: the right-hand side of every Message-ID
}

// NewSMTPSender checks opts and prepares the client; it does not connect.
// Errors never quote the URL, which may hold a password.
func NewSMTPSender(opts SMTPOptions) (*SMTPSender, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, errors.New("smtp url: not a URL")
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 || u.Hostname() == "" {
		return nil, errors.New("smtp url: want smtp://user:password@host:port")
	}
	from, err := netmail.ParseAddress(opts.From)
	if err != nil {
		return nil, fmt.Errorf("smtp from %q: %w", opts.From, err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = u.Hostname()
	}

	options := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithTLSConfig(tlsConfig)}
	switch u.Scheme {
	case "smtp":
		options = append(options, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "smtps":
		options = append(options, gomail.WithSSL())
	default:
		return nil, errors.New("smtp url: must start with smtp:// or smtps://")
	}
	if u.User != nil {
		password, _ := u.User.Password()
		options = append(options, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(password))
	}
	options = append(options, gomail.WithPort(port)) // last: other options may pick a port
	client, err := gomail.NewClient(u.Hostname(), options...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &SMTPSender{client: client, from: from, domain: domain}, nil
}

// Send delivers m as a multipart/alternative message (text, then HTML)
// when it has an HTML part. A permanent refusal of the recipient or of the
// message wraps ErrRejected; everything else (connection, TLS, auth,
// temporary 4xx answers) is worth retrying.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("%w: recipient: %v", ErrRejected, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@" + s.domain)
	msg.SetDate()
	// RFC 3834: out-of-office replies and the like must not answer.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	err := s.client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	// Only a 5xx answer is permanent: a broken connection has no code.
	if sendErr, ok := errors.AsType[*gomail.SendError](err); ok && sendErr.ErrorCode()/100 == 5 {
		switch sendErr.Reason {
		case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	return fmt.Errorf("smtp: %w", err)
}
