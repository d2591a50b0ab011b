package mail

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// devMailboxSize is how many messages the dev mailbox keeps.
const devMailboxSize = 50

// DevSender is the --dev stand-in for SMTP: it logs every message at Info,
// text body included (so the link in it can be copied from the terminal),
// and keeps the last 50 in memory for the dev mailbox page. Never use it
// in production: the log and the page show live sign-in links.
type DevSender struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	messages []DevMessage // oldest first, at most devMailboxSize
}

// DevMessage is a message as the dev mailbox shows it.
type DevMessage struct {
	Message
	SentAt time.Time
}

// NewDevSender returns a DevSender that logs to log (nil discards).
func NewDevSender(log *slog.Logger) *DevSender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DevSender{log: log, now: time.Now}
}

// Send logs m and keeps it; it never fails.
func (d *DevSender) Send(ctx context.Context, m Message) error {
	d.log.InfoContext(ctx, "mail (dev): message", "id", m.ID, "to", m.To, "subject", m.Subject, "text", m.Text)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.messages = append(d.messages, DevMessage{Message: m, SentAt: d.now().UTC()})
	if extra := len(d.messages) - devMailboxSize; extra > 0 {
		d.messages = slices.Delete(d.messages, 0, extra)
	}
	return nil
}

// Messages returns the kept messages, newest first.
func (d *DevSender) Messages() []DevMessage {
	d.mu.Lock()
	out := slices.Clone(d.messages)
	d.mu.Unlock()
	slices.Reverse(out)
	return out
}
