package mail_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/storage"
)

func TestSendRefusesInvalidMessages(t *testing.T) {
	store := backends()[0].open(t, 1)[0]
	m := mail.NewMailer(mail.MailerOptions{Outbox: store})
	for _, tc := range []struct {
		name   string
		change func(*mail.Message)
	}{
		{"no recipient", func(m *mail.Message) { m.To = "" }},
		{"not an address", func(m *mail.Message) { m.To = "ada" }},
		{"two recipients", func(m *mail.Message) { m.To = "ada@example.com, bob@example.com" }},
		{"line break in the subject", func(m *mail.Message) { m.Subject = "Hi\r\nBcc: all@example.com" }},
		{"no text", func(m *mail.Message) { m.Text = " \n" }},
	} {
		msg := testMessage("msg_invalid")
		tc.change(&msg)
		if err := m.Send(t.Context(), msg); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("Send(%s) error = %v, want ErrInvalidMessage", tc.name, err)
		}
	}
	if got, err := store.ClaimOutboxMessages(t.Context(), time.Now().Add(time.Hour), 10, time.Minute); err != nil || len(got) != 0 {
		t.Errorf("outbox after refused sends = %d messages, %v; want none", len(got), err)
	}
}

// TestSendEnqueues: Send stores the message pending and due, with an ID of
// its own when the caller gives none; it never needs a Worker or a mail
// server.
func TestSendEnqueues(t *testing.T) {
	store := backends()[0].open(t, 1)[0]
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	m := mail.NewMailer(mail.MailerOptions{Outbox: store, Now: func() time.Time { return now }})
	msg := testMessage("")
	msg.NotAfter = now.Add(10 * time.Minute)
	if err := m.Send(t.Context(), msg); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	got, err := store.ClaimOutboxMessages(t.Context(), now, 10, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimOutboxMessages() = %d messages, %v; want 1", len(got), err)
	}
	want := storage.OutboxMessage{
		ID: got[0].ID, To: msg.To, Subject: msg.Subject, TextBody: msg.Text, HTMLBody: msg.HTML,
		CreatedAt: now, NotAfter: msg.NotAfter, NextAttemptAt: now.Add(time.Minute), Attempts: 1,
		Status: storage.OutboxPending,
	}
	if d := cmp.Diff(want, got[0]); d != "" {
		t.Errorf("enqueued message mismatch (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(got[0].ID, mail.PrefixMessage) || len(got[0].ID) != len(mail.PrefixMessage)+26 {
		t.Errorf("ID = %q, want msg_ and 26 random characters", got[0].ID)
	}
}
