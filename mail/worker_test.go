package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// backend opens n stores on one fresh, migrated database: n Foyer
// instances sharing it.
type backend struct {
	name string
	open func(t *testing.T, n int) []storage.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t *testing.T, n int) []storage.Store {
			path := filepath.Join(t.TempDir(), "foyer.db")
			var stores []storage.Store
			for range n {
				s, err := sqlite.Open(t.Context(), sqlite.Options{Path: path})
				if err != nil {
					t.Fatalf("sqlite.Open() error = %v", err)
				}
				t.Cleanup(func() { s.Close() })
				stores = append(stores, migrated(t, s))
			}
			return stores
		}},
		{"postgres", func(t *testing.T, n int) []storage.Store {
			url := pgtest.Schema(t)
			var stores []storage.Store
			for range n {
				s, err := postgres.Open(t.Context(), postgres.Options{URL: url})
				if err != nil {
					t.Fatalf("postgres.Open() error = %v", err)
				}
				t.Cleanup(func() { s.Close() })
				stores = append(stores, migrated(t, s))
			}
			return stores
		}},
	}
}

func migrated(t *testing.T, s storage.Store) storage.Store {
	t.Helper()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate() error = %v", err)
	}
	return s
}

// forEachBackend runs test once per backend with one store.
func forEachBackend(t *testing.T, test func(t *testing.T, store storage.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t, 1)[0]) })
	}
}

// clock is the wall clock moved forward by Advance, so that a test can
// jump days ahead (MaxAge, Retention) without waiting.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration)         { c.offset.Add(int64(d)) }
func (c *clock) After(d time.Duration) time.Time { return c.Now().Add(d) }

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one Foyer instance's mail: a Mailer and a running Worker.
type instance struct {
	mailer *mail.Mailer
	worker *mail.Worker
	store  storage.Store
	clock  *clock
	reg    *prometheus.Registry
	logs   *logBuffer
}

// start runs a Worker on store with short intervals until the test ends.
// opts.Outbox, Sender, Now, Logger and Registerer are filled in.
func start(t *testing.T, store storage.Store, sender mail.Sender, opts mail.WorkerOptions) *instance {
	t.Helper()
	in := &instance{store: store, clock: new(clock), reg: prometheus.NewRegistry(), logs: new(logBuffer)}
	opts.Outbox, opts.Sender, opts.Now, opts.Registerer = store, sender, in.clock.Now, in.reg
	opts.Logger = slog.New(slog.NewTextHandler(in.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.RetryMin == 0 {
		opts.RetryMin, opts.RetryMax = 20*time.Millisecond, 100*time.Millisecond
	}
	w, err := mail.NewWorker(opts)
	if err != nil {
		t.Fatalf("NewWorker() error = %v", err)
	}
	in.worker = w
	in.mailer = mail.NewMailer(mail.MailerOptions{Outbox: store, Worker: w, Now: in.clock.Now})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		w.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return in
}

func (in *instance) send(t *testing.T, m mail.Message) {
	t.Helper()
	if err := in.mailer.Send(t.Context(), m); err != nil {
		t.Fatalf("Send(%s) error = %v", m.ID, err)
	}
}

func (in *instance) get(t *testing.T, id string) storage.OutboxMessage {
	t.Helper()
	m, err := in.store.GetOutboxMessage(t.Context(), id)
	if err != nil {
		t.Fatalf("GetOutboxMessage(%s) error = %v", id, err)
	}
	return m
}

// waitStatus waits until message id has left pending, and checks it is in
// status want.
func (in *instance) waitStatus(t *testing.T, id string, want storage.OutboxStatus) storage.OutboxMessage {
	t.Helper()
	var m storage.OutboxMessage
	eventually(t, fmt.Sprintf("message %s %s", id, want), func() bool {
		m = in.get(t, id)
		return m.Status != storage.OutboxPending
	})
	if m.Status != want {
		t.Fatalf("message %s is %s (last error %q), want %s", id, m.Status, m.LastError, want)
	}
	return m
}

// outcomes reads foyer_mail_messages_total by outcome.
func (in *instance) outcomes(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "foyer_mail_messages_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return got
}

// eventually polls cond until it holds, failing the test after 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func smtpTo(t *testing.T, addr string) *mail.SMTPSender {
	return newSMTPSender(t, mail.SMTPOptions{URL: "smtp://" + addr, Timeout: 500 * time.Millisecond})
}

func messageIDs(t *testing.T, msgs []captured) []string {
	t.Helper()
	var ids []string
	for _, m := range msgs {
		ids = append(ids, parseMIME(t, m.Data).Header.Get("Message-ID"))
	}
	return ids
}

// TestWorkerDelivers: a message sent through the Mailer reaches a real SMTP
// server with both parts and the right headers, at once (the poll interval
// is an hour: only the Mailer's wake-up can send it), and the outbox keeps
// no body once it is sent.
func TestWorkerDelivers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		server := startCapture(t, "127.0.0.1:0", captureOptions{})
		in := start(t, store, smtpTo(t, server.Addr), mail.WorkerOptions{PollInterval: time.Hour})
		sent := testMessage("msg_delivers")
		in.send(t, sent)

		checkDelivered(t, server.wait(t, 1)[0], sent)
		got := in.waitStatus(t, sent.ID, storage.OutboxSent)
		if got.Attempts != 1 || got.TextBody != "" || got.HTMLBody != "" || got.FinishedAt.IsZero() {
			t.Errorf("stored after sending = %+v, want 1 attempt, no bodies, a finish time", got)
		}
		if d := cmp.Diff(map[string]float64{"sent": 1, "retried": 0, "dropped": 0, "failed": 0}, in.outcomes(t)); d != "" {
			t.Errorf("foyer_mail_messages_total mismatch (-want +got):\n%s", d)
		}
	})
}

// hungServer accepts connections and never answers, like a mail server
// that is wedged; Close makes the port free again.
func hungServer(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				mu.Lock()
				for _, c := range conns {
					c.Close()
				}
				mu.Unlock()
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestF6SMTPDown (SECURITY.md F6): while the mail server is down (never
// started, stopped, or hanging) Send still returns at once, and message
// msg_f6_smtp_down stays pending with a growing next_attempt_at; once the
// server is back it is delivered, exactly once.
func TestF6SMTPDown(t *testing.T) {
	const id = "msg_f6_smtp_down"
	outages := []struct {
		name string
		// down makes the server at addr unavailable and returns the
		// function that ends the outage.
		down func(t *testing.T, addr string, in *instance) (restore func())
	}{
		{"never started", func(t *testing.T, addr string, in *instance) func() { return func() {} }},
		{"stopped", func(t *testing.T, addr string, in *instance) func() {
			// It worked before it went down.
			first := startCapture(t, addr, captureOptions{})
			in.send(t, testMessage("msg_before_outage"))
			in.waitStatus(t, "msg_before_outage", storage.OutboxSent)
			first.Close()
			return func() {}
		}},
		{"hanging", func(t *testing.T, addr string, in *instance) func() {
			ln := hungServer(t, addr)
			return func() { ln.Close() }
		}},
	}
	for _, b := range backends() {
		for _, outage := range outages {
			t.Run(b.name+"/"+outage.name, func(t *testing.T) {
				addr := freeAddr(t)
				in := start(t, b.open(t, 1)[0], smtpTo(t, addr), mail.WorkerOptions{})
				restore := outage.down(t, addr, in)

				in.send(t, testMessage(id)) // returns: it only enqueues

				// The retry times, read between attempts: while a worker holds
				// the message, next_attempt_at is the end of its lease.
				var attempts []time.Time
				eventually(t, "three failed attempts", func() bool {
					m := in.get(t, id)
					if m.Status != storage.OutboxPending {
						t.Fatalf("message %s is %s while the server is down, want pending", id, m.Status)
					}
					leased := m.NextAttemptAt.After(in.clock.After(time.Minute))
					if m.LastError != "" && !leased && (len(attempts) == 0 || !m.NextAttemptAt.Equal(attempts[len(attempts)-1])) {
						attempts = append(attempts, m.NextAttemptAt)
					}
					return len(attempts) >= 3
				})
				if !slices.IsSortedFunc(attempts, func(a, b time.Time) int { return a.Compare(b) }) {
					t.Errorf("next_attempt_at went back in time: %v", attempts)
				}
				if got := in.outcomes(t)["retried"]; got < 2 {
					t.Errorf("retried = %v, want at least 2", got)
				}

				restore()
				server := startCapture(t, addr, captureOptions{})
				got := server.wait(t, 1)
				if d := cmp.Diff([]string{"<" + id + "@example.com>"}, messageIDs(t, got)); d != "" {
					t.Errorf("delivered after the outage (-want +got):\n%s", d)
				}
				in.waitStatus(t, id, storage.OutboxSent)
				in.send(t, testMessage("msg_after_outage"))
				if d := cmp.Diff([]string{"<" + id + "@example.com>", "<msg_after_outage@example.com>"}, messageIDs(t, server.wait(t, 2))); d != "" {
					t.Errorf("delivered after the outage (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestWorkerDropsExpired: a message whose NotAfter passes while the mail
// server is down is dropped, and never delivered when the server returns;
// one that is already worthless when claimed is dropped without a try.
func TestWorkerDropsExpired(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		addr := freeAddr(t)
		in := start(t, store, smtpTo(t, addr), mail.WorkerOptions{})
		late := testMessage("msg_magic_link_late")
		late.NotAfter = in.clock.After(10 * time.Minute)
		in.send(t, late)
		eventually(t, "a failed attempt", func() bool { return in.get(t, late.ID).LastError != "" })
		in.clock.Advance(10 * time.Minute)

		got := in.waitStatus(t, late.ID, storage.OutboxDropped)
		if !strings.HasPrefix(got.LastError, "expired before it could be sent; last error: ") || got.TextBody != "" {
			t.Errorf("dropped message = %+v, want the reason with the last error and no body", got)
		}

		server := startCapture(t, addr, captureOptions{})
		dead := testMessage("msg_magic_link_dead")
		dead.NotAfter = in.clock.After(-time.Second)
		in.send(t, dead)
		in.waitStatus(t, dead.ID, storage.OutboxDropped)
		in.send(t, testMessage("msg_marker"))
		in.waitStatus(t, "msg_marker", storage.OutboxSent)
		if d := cmp.Diff([]string{"<msg_marker@example.com>"}, messageIDs(t, server.Messages())); d != "" {
			t.Errorf("delivered (-want +got):\n%s", d)
		}
		if got := in.outcomes(t)["dropped"]; got != 2 {
			t.Errorf("dropped = %v, want 2", got)
		}
	})
}

// TestWorkerFailsAfterMaxAge: a message the server never took within the
// default MaxAge (3 days) fails, counted and logged at Error with its ID.
func TestWorkerFailsAfterMaxAge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		in := start(t, store, smtpTo(t, freeAddr(t)), mail.WorkerOptions{})
		in.send(t, testMessage("msg_too_old"))
		eventually(t, "a failed attempt", func() bool { return in.get(t, "msg_too_old").LastError != "" })
		in.clock.Advance(72*time.Hour - time.Minute)
		if m := in.get(t, "msg_too_old"); m.Status != storage.OutboxPending {
			t.Fatalf("message is %s before MaxAge, want pending", m.Status)
		}
		in.clock.Advance(time.Minute)

		got := in.waitStatus(t, "msg_too_old", storage.OutboxFailed)
		if !strings.HasPrefix(got.LastError, "not sent within 72h0m0s; last error: ") {
			t.Errorf("LastError = %q, want the reason and the last error", got.LastError)
		}
		if n := in.outcomes(t)["failed"]; n != 1 {
			t.Errorf("failed = %v, want 1", n)
		}
		if !logLine(in.logs.String(), "level=ERROR", "id=msg_too_old") {
			t.Errorf("no Error line names msg_too_old:\n%s", in.logs)
		}
	})
}

// logLine reports whether one line of logs has every one of parts.
func logLine(logs string, parts ...string) bool {
	for line := range strings.Lines(logs) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestWorkerFailsRejected: a recipient the server refuses for good is not
// retried for three days: the message fails at its first attempt.
func TestWorkerFailsRejected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		server := startCapture(t, "127.0.0.1:0", captureOptions{Reject: func(rcpt string) error {
			if rcpt == "nobody@example.com" {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		}})
		in := start(t, store, smtpTo(t, server.Addr), mail.WorkerOptions{})
		m := testMessage("msg_rejected")
		m.To = "nobody@example.com"
		in.send(t, m)
		got := in.waitStatus(t, m.ID, storage.OutboxFailed)
		if got.Attempts != 1 || !strings.Contains(got.LastError, "550") {
			t.Errorf("failed message = %d attempts, error %q; want 1 attempt and the 550", got.Attempts, got.LastError)
		}
		if !logLine(in.logs.String(), "level=ERROR", "id=msg_rejected") {
			t.Errorf("no Error line names msg_rejected:\n%s", in.logs)
		}
	})
}

// TestWorkerSweepsFinished: finished messages are deleted a week after they
// finished, pending ones never.
func TestWorkerSweepsFinished(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		server := startCapture(t, "127.0.0.1:0", captureOptions{})
		in := start(t, store, smtpTo(t, server.Addr), mail.WorkerOptions{})
		in.send(t, testMessage("msg_old"))
		in.waitStatus(t, "msg_old", storage.OutboxSent)

		in.clock.Advance(7*24*time.Hour + time.Minute)
		in.worker.Wake()
		eventually(t, "the sweep", func() bool {
			_, err := store.GetOutboxMessage(t.Context(), "msg_old")
			return errors.Is(err, storage.ErrNotFound)
		})
	})
}

// TestSendInTransaction (F6): a message enqueued in a transaction that
// rolls back, with the token it carried, is never sent; one whose
// transaction commits is.
func TestSendInTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store storage.Store) {
		server := startCapture(t, "127.0.0.1:0", captureOptions{})
		in := start(t, store, smtpTo(t, server.Addr), mail.WorkerOptions{})

		for _, tc := range []struct {
			id     string
			commit bool
		}{{"msg_rolled_back", false}, {"msg_committed", true}} {
			ctx, err := store.BeginTx(t.Context())
			if err != nil {
				t.Fatalf("BeginTx() error = %v", err)
			}
			if err := in.mailer.Send(ctx, testMessage(tc.id)); err != nil {
				t.Fatalf("Send(%s) in a transaction error = %v", tc.id, err)
			}
			end := store.Rollback
			if tc.commit {
				end = store.Commit
			}
			if err := end(ctx); err != nil {
				t.Fatalf("end transaction of %s: %v", tc.id, err)
			}
		}
		in.waitStatus(t, "msg_committed", storage.OutboxSent)
		if d := cmp.Diff([]string{"<msg_committed@example.com>"}, messageIDs(t, server.Messages())); d != "" {
			t.Errorf("delivered (-want +got):\n%s", d)
		}
		if _, err := store.GetOutboxMessage(t.Context(), "msg_rolled_back"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetOutboxMessage(msg_rolled_back) error = %v, want ErrNotFound", err)
		}
	})
}

// TestTwoInstancesSendEachOnce: two Foyer instances, each with its own
// connection pool and worker, share one database; every message is
// delivered exactly once in total.
func TestTwoInstancesSendEachOnce(t *testing.T) {
	const n = 40
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			server := startCapture(t, "127.0.0.1:0", captureOptions{})
			var instances []*instance
			for _, store := range b.open(t, 2) {
				instances = append(instances, start(t, store, smtpTo(t, server.Addr),
					mail.WorkerOptions{BatchSize: 2, PollInterval: 5 * time.Millisecond}))
			}
			var want []string
			var wg sync.WaitGroup
			for i, in := range instances {
				wg.Go(func() {
					for j := range n / 2 {
						in.send(t, testMessage(fmt.Sprintf("msg_%d_%02d", i, j)))
					}
				})
				for j := range n / 2 {
					want = append(want, fmt.Sprintf("<msg_%d_%02d@example.com>", i, j))
				}
			}
			wg.Wait()

			for _, id := range want {
				instances[0].waitStatus(t, strings.TrimSuffix(strings.TrimPrefix(id, "<"), "@example.com>"), storage.OutboxSent)
			}
			got := messageIDs(t, server.Messages())
			slices.Sort(got)
			slices.Sort(want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("delivered by two instances (-once each +delivered):\n%s", d)
			}
			t.Logf("sent by instance 0: %v, by instance 1: %v",
				instances[0].outcomes(t)["sent"], instances[1].outcomes(t)["sent"])
		})
	}
}
