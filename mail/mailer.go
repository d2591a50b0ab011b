package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// PrefixMessage starts the ID of every outbox message.
const PrefixMessage = "msg_"

// ErrInvalidMessage: the message cannot be sent as it is (a bug in the
// caller, never a reason to retry).
var ErrInvalidMessage = errors.New("invalid email message")

// Message is one email to one person.
type Message struct {
	// ID names the message in the outbox, the logs and its Message-ID
	// header; empty means Send makes one (msg_…).
	ID      string
	To      string // one address, "ada@example.com" or "Ada <ada@example.com>"
	Subject string
	Text    string // the text/plain part; required, and it has every link
	HTML    string // the text/html part; empty sends text only
	// NotAfter, when set, is when the message becomes worthless, such as
	// the expiry of the link it carries: it is dropped rather than sent
	// later.
	NotAfter time.Time
}

// check reports what makes m unsendable.
func (m Message) check() error {
	_, err := netmail.ParseAddress(m.To)
	switch {
	case err != nil:
		return fmt.Errorf("%w: recipient %q: %v", ErrInvalidMessage, m.To, err)
	case strings.ContainsAny(m.Subject, "\r\n"):
		// A line break would start a header of the caller's choosing.
		return fmt.Errorf("%w: subject has a line break", ErrInvalidMessage)
	case strings.TrimSpace(m.Text) == "":
		return fmt.Errorf("%w: no text part", ErrInvalidMessage)
	}
	return nil
}

// MailerOptions configure a Mailer.
type MailerOptions struct {
	Outbox storage.Outbox
	// Worker, when set, is woken after each Send, so that a message
	// enqueued on this instance goes out at once instead of at the next
	// poll. A message enqueued inside a transaction becomes visible only at
	// Commit, so the worker may find it at its next poll instead.
	Worker *Worker
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Mailer enqueues messages. It never talks to SMTP, so Send takes as long
// as one insert whatever the mail server does (SECURITY.md LG-07, F6).
type Mailer struct {
	opts MailerOptions
}

// NewMailer returns a Mailer that stores messages in opts.Outbox.
func NewMailer(opts MailerOptions) *Mailer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Mailer{opts: opts}
}

// Send stores msg in the outbox, due at once. With a context that carries a
// transaction it is part of that transaction. ErrInvalidMessage when msg
// cannot be sent; storage errors (storage.ErrUnavailable, …) wrapped.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	if err := msg.check(); err != nil {
		return err
	}
	if msg.ID == "" {
		msg.ID = storage.NewID(PrefixMessage)
	}
	now := m.opts.Now()
	err := m.opts.Outbox.CreateOutboxMessage(ctx, storage.OutboxMessage{
		ID:            msg.ID,
		To:            msg.To,
		Subject:       msg.Subject,
		TextBody:      msg.Text,
		HTMLBody:      msg.HTML,
		CreatedAt:     now,
		NotAfter:      msg.NotAfter,
		NextAttemptAt: now,
		Status:        storage.OutboxPending,
	})
	if err != nil {
		return fmt.Errorf("enqueue email %s: %w", msg.ID, err)
	}
	if m.opts.Worker != nil {
		m.opts.Worker.Wake()
	}
	return nil
}
