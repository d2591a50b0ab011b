package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerdev/foyer/storage"
)

// Sender delivers one message, or says why it could not. An error wrapping
// ErrRejected means the server refused this message for good; any other
// error is retried.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrRejected: the mail server refused the message permanently (an
// unknown recipient, say); sending it again would fail the same way.
var ErrRejected = errors.New("rejected by the mail server")

// WorkerOptions configure a Worker. Zero values mean the defaults.
type WorkerOptions struct {
	Outbox storage.Outbox
	Sender Sender
	// Logger receives a line per retry (Warn), failure (Error) and drop
	// (Info); it never receives a message's body. Default: discard.
	Logger *slog.Logger
	// Registerer, when set, gets foyer_mail_messages_total{outcome}.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time

	// PollInterval is how often the outbox is read (default 1s).
	PollInterval time.Duration
	// RetryMin and RetryMax bound the backoff after a failed attempt: it
	// starts at RetryMin and doubles up to RetryMax (defaults 1s, 10m).
	RetryMin, RetryMax time.Duration
	// MaxAge is how long a message may stay unsent before it fails
	// (default 72h): long enough to outlast an SMTP outage over a weekend.
	MaxAge time.Duration
	// BatchSize is how many messages one claim takes (default 10).
	BatchSize int
	// SendTimeout bounds one Sender.Send (default 30s).
	SendTimeout time.Duration
	// Lease is how long claimed messages belong to this worker before
	// another may take them (default 5m). It must outlast a batch of sends:
	// a message whose lease runs out mid-send may be sent twice.
	Lease time.Duration
	// Retention is how long finished messages are kept (default 7 days).
	Retention time.Duration
}

const (
	sweepInterval = time.Hour
	// bookkeepingTimeout bounds the outbox writes after a send. They run
	// even when ctx has ended (shutdown): a sent message that is not marked
	// sent would be sent again when its lease runs out.
	bookkeepingTimeout = 5 * time.Second
	maxErrorLength     = 1000
)

// Outcomes of one attempt: the outcome label of foyer_mail_messages_total.
const (
	outcomeSent    = "sent"
	outcomeRetried = "retried"
	outcomeDropped = "dropped"
	outcomeFailed  = "failed"
)

// Worker sends what is due in the outbox. Run one per instance; instances
// sharing a database share the work.
type Worker struct {
	opts     WorkerOptions
	log      *slog.Logger
	wake     chan struct{}
	outcomes *prometheus.CounterVec // nil without a Registerer
}

// NewWorker checks opts, fills in the defaults and registers the counter.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.Outbox == nil || opts.Sender == nil {
		return nil, errors.New("mail worker: Outbox and Sender are required")
	}
	setDefault(&opts.PollInterval, time.Second)
	setDefault(&opts.RetryMin, time.Second)
	setDefault(&opts.RetryMax, 10*time.Minute)
	setDefault(&opts.MaxAge, 72*time.Hour)
	setDefault(&opts.BatchSize, 10)
	setDefault(&opts.SendTimeout, 30*time.Second)
	setDefault(&opts.Lease, 5*time.Minute)
	setDefault(&opts.Retention, 7*24*time.Hour)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Worker{opts: opts, log: opts.Logger, wake: make(chan struct{}, 1)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		w.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_mail_messages_total",
			Help: "Outbox email attempts by outcome: sent, retried (will try again), dropped (expired unsent), failed (given up).",
		}, []string{"outcome"})
		if err := opts.Registerer.Register(w.outcomes); err != nil {
			return nil, fmt.Errorf("mail worker: register metrics: %w", err)
		}
		for _, o := range []string{outcomeSent, outcomeRetried, outcomeDropped, outcomeFailed} {
			w.outcomes.WithLabelValues(o) // show zeros before the first event
		}
	}
	return w, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Wake makes Run look for due messages now rather than at its next poll.
// It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Run sends due messages until ctx is done: at start, every PollInterval
// and after each Wake. It also deletes old finished messages once an hour.
// Storage and SMTP errors are logged and retried, never fatal.
func (w *Worker) Run(ctx context.Context) {
	poll := time.NewTicker(w.opts.PollInterval)
	defer poll.Stop()
	var lastSweep time.Time
	for {
		w.sendDue(ctx)
		if now := w.opts.Now(); now.Sub(lastSweep) >= sweepInterval {
			w.sweep(ctx, now)
			lastSweep = now
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-w.wake:
		}
	}
}

// sendDue claims and sends batches until nothing is due. After a failed
// send it stops: the rest of that batch is put back with its own backoff
// (the claim counted as an attempt) rather than each waiting on a mail
// server that is probably down.
func (w *Worker) sendDue(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := w.opts.Outbox.ClaimOutboxMessages(ctx, w.opts.Now(), w.opts.BatchSize, w.opts.Lease)
		if err != nil {
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "mail: read outbox", "err", err)
			}
			return
		}
		var failure error
		for _, m := range batch {
			if failure != nil {
				w.retry(ctx, m, fmt.Errorf("not tried after an earlier failure: %w", failure))
				continue
			}
			failure = w.deliver(ctx, m)
		}
		if failure != nil || len(batch) < w.opts.BatchSize {
			return
		}
	}
}

// deliver sends one claimed message, or drops or fails it when it is too
// late, and records the result: logged and counted first, so that whoever
// sees the stored result also finds the log line and the count. It returns
// the send error when the message is to be retried.
func (w *Worker) deliver(ctx context.Context, m storage.OutboxMessage) error {
	now := w.opts.Now()
	switch {
	case !m.NotAfter.IsZero() && !now.Before(m.NotAfter):
		w.log.InfoContext(ctx, "mail: dropped, expired before it could be sent",
			"id", m.ID, "attempts", m.Attempts, "last_error", m.LastError)
		w.count(outcomeDropped)
		w.finish(ctx, m, storage.OutboxDropped, lastError(m, "expired before it could be sent"))
		return nil
	case now.Sub(m.CreatedAt) >= w.opts.MaxAge:
		w.fail(ctx, m, lastError(m, fmt.Sprintf("not sent within %s", w.opts.MaxAge)))
		return nil
	}

	sendCtx, cancel := context.WithTimeout(ctx, w.opts.SendTimeout)
	err := w.opts.Sender.Send(sendCtx, Message{
		ID: m.ID, To: m.To, Subject: m.Subject, Text: m.TextBody, HTML: m.HTMLBody, NotAfter: m.NotAfter,
	})
	cancel()
	switch {
	case err == nil:
		w.log.DebugContext(ctx, "mail: sent", "id", m.ID, "attempts", m.Attempts)
		w.count(outcomeSent)
		w.finish(ctx, m, storage.OutboxSent, "")
		return nil
	case errors.Is(err, ErrRejected):
		w.fail(ctx, m, err.Error())
		return nil
	case ctx.Err() != nil:
		// Shutting down: hand the message back at once rather than at the
		// end of the lease, so another instance can send it.
		w.reschedule(ctx, m, now, err)
		return err
	}
	w.retry(ctx, m, err)
	return err
}

// retry puts m back for another attempt after its backoff.
func (w *Worker) retry(ctx context.Context, m storage.OutboxMessage, cause error) {
	next := w.opts.Now().Add(w.backoff(m.Attempts))
	if w.reschedule(ctx, m, next, cause) {
		w.log.WarnContext(ctx, "mail: not sent, will retry",
			"id", m.ID, "attempts", m.Attempts, "retry_at", next, "err", cause)
		w.count(outcomeRetried)
	}
}

func (w *Worker) reschedule(ctx context.Context, m storage.OutboxMessage, next time.Time, cause error) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := w.opts.Outbox.RetryOutboxMessage(ctx, m.ID, next, truncate(cause.Error())); err != nil {
		w.log.WarnContext(ctx, "mail: reschedule", "id", m.ID, "err", err)
		return false
	}
	return true
}

// fail gives up on m: someone did not get an email they were promised, so
// an operator should hear of it.
func (w *Worker) fail(ctx context.Context, m storage.OutboxMessage, reason string) {
	w.log.ErrorContext(ctx, "mail: failed, giving up", "id", m.ID, "to", m.To,
		"attempts", m.Attempts, "created_at", m.CreatedAt, "err", reason)
	w.count(outcomeFailed)
	w.finish(ctx, m, storage.OutboxFailed, reason)
}

func (w *Worker) finish(ctx context.Context, m storage.OutboxMessage, status storage.OutboxStatus, reason string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	if err := w.opts.Outbox.FinishOutboxMessage(ctx, m.ID, status, w.opts.Now(), truncate(reason)); err != nil {
		// A sent message stays leased, and is sent again when the lease
		// runs out: at least once beats not at all.
		w.log.ErrorContext(ctx, "mail: record outcome", "id", m.ID, "status", status, "err", err)
	}
}

// backoff is the wait before attempt attempts+1: RetryMin doubled per
// earlier attempt, at most RetryMax, of which a random half is taken off
// so that messages that failed together do not retry in step.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.opts.RetryMin
	for i := 1; i < attempts && d < w.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.opts.RetryMax)
	return d/2 + rand.N(d/2+1)
}

// sweep deletes messages that finished more than Retention ago.
func (w *Worker) sweep(ctx context.Context, now time.Time) {
	n, err := w.opts.Outbox.DeleteFinishedOutboxMessages(ctx, now.Add(-w.opts.Retention))
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.WarnContext(ctx, "mail: delete finished messages", "err", err)
	case n > 0:
		w.log.DebugContext(ctx, "mail: deleted finished messages", "count", n)
	}
}

func (w *Worker) count(outcome string) {
	if w.outcomes != nil {
		w.outcomes.WithLabelValues(outcome).Inc()
	}
}

// lastError is reason, with the last send error when there was one.
func lastError(m storage.OutboxMessage, reason string) string {
	if m.LastError == "" {
		return reason
	}
	return reason + "; last error: " + m.LastError
}

// truncate keeps stored errors short and valid UTF-8 (Postgres refuses
// anything else): a mail server's answer can be long, and in any encoding.
func truncate(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxErrorLength {
		return s
	}
	cut := maxErrorLength
	for !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
