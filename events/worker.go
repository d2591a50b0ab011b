// Package events delivers the events the storage backends record with
// every change (the transactional outbox): a dispatcher turns each new
// event into one delivery per interested webhook endpoint (and one for
// NATS JetStream when configured), and workers deliver them at least
// once, signed per the Standard Webhooks specification, retrying with
// exponential backoff and jitter until a retry period ends. Instances
// sharing a database share the work; the claim of a delivery is a lease,
// so a crash between commit and delivery only delays it.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerdev/foyer/outbound"
	"github.com/foyerdev/foyer/storage"
)

// Publisher is a message broker sink (NATS).
type Publisher interface {
	Publish(ctx context.Context, ev storage.Event) error
}

// Options configure a Worker. Zero durations and counts mean the defaults.
type Options struct {
	Store  storage.Events
	Sealer Sealer
	// NATS, when set, receives every event too.
	NATS Publisher
	// AllowPrivate lets webhook URLs reach loopback and private addresses
	// (development and tests); otherwise an endpoint URL is no way into
	// Foyer's own network.
	AllowPrivate bool
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time

	PollInterval time.Duration // how often the outbox is read (1s)
	Timeout      time.Duration // one webhook request, connect to last byte (10s)
	// RetryMin and RetryMax bound the backoff: RetryMin after the first
	// failure, doubling up to RetryMax, each with jitter (5s, 1h).
	RetryMin, RetryMax time.Duration
	// RetryFor is how long a delivery is retried after the event; then it
	// fails, and can be replayed through the admin API (24h).
	RetryFor time.Duration
	// Concurrency is how many deliveries one claim takes and sends at
	// once (8): all of a claim start together, so none waits out its
	// lease behind the others.
	Concurrency int
	Retention   time.Duration // how long dispatched, finished events are kept (7 days)
}

// Worker dispatches and delivers events. Run one per instance.
type Worker struct {
	o        Options
	log      *slog.Logger
	webhooks webhookSender
	wake     chan struct{}
	outcomes *prometheus.CounterVec // nil without a Registerer
}

const (
	dispatchBatch = 100
	sweepInterval = time.Hour
	// bookkeepingTimeout bounds the writes after an attempt; they run even
	// when the worker is stopping, or a delivered event is sent again.
	bookkeepingTimeout = 5 * time.Second
	maxErrorLength     = 1000
)

// Outcomes of one attempt, the outcome label of
// foyer_event_deliveries_total.
const (
	outcomeDelivered = "delivered"
	outcomeRetried   = "retried"
	outcomeFailed    = "failed"
)

// New checks o, fills in the defaults and registers the counter.
func New(o Options) (*Worker, error) {
	if o.Store == nil || o.Sealer == nil {
		return nil, errors.New("events: Store and Sealer are required")
	}
	setDefault(&o.PollInterval, time.Second)
	setDefault(&o.Timeout, 10*time.Second)
	setDefault(&o.RetryMin, 5*time.Second)
	setDefault(&o.RetryMax, time.Hour)
	setDefault(&o.RetryFor, 24*time.Hour)
	setDefault(&o.Concurrency, 8)
	setDefault(&o.Retention, 7*24*time.Hour)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		o:        o,
		log:      o.Logger,
		webhooks: webhookSender{client: outbound.Client(o.Timeout, o.AllowPrivate), sealer: o.Sealer, now: o.Now},
		wake:     make(chan struct{}, 1),
	}
	if o.Registerer != nil {
		w.outcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "foyer_event_deliveries_total",
			Help: "Event delivery attempts by sink (webhook, nats) and outcome: delivered, retried (will try again), failed (given up).",
		}, []string{"sink", "outcome"})
		if err := o.Registerer.Register(w.outcomes); err != nil {
			return nil, fmt.Errorf("events: register metrics: %w", err)
		}
	}
	return w, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// lease is how long a claimed delivery belongs to this worker: well over
// one attempt (Timeout), so that a delivery is sent twice only after a
// crash, when another worker takes it over once the lease ran out.
func (w *Worker) lease() time.Duration { return 2*w.o.Timeout + 5*time.Second }

// Wake makes Run look for work now rather than at its next poll.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run dispatches and delivers until ctx is done, and deletes old events
// once an hour. Errors are logged and retried, never fatal.
func (w *Worker) Run(ctx context.Context) {
	poll := time.NewTicker(w.o.PollInterval)
	defer poll.Stop()
	var lastSweep time.Time
	for {
		w.Dispatch(ctx)
		w.DeliverDue(ctx)
		if now := w.o.Now(); now.Sub(lastSweep) >= sweepInterval {
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

// Dispatch makes the deliveries of every undispatched event: one per
// endpoint that wants it, and one for NATS. Endpoints are read once per
// call: one registered meanwhile gets the events after its creation only.
func (w *Worker) Dispatch(ctx context.Context) {
	endpoints, err := w.o.Store.ListWebhookEndpoints(ctx, "")
	if err != nil {
		w.logErr(ctx, "events: read webhook endpoints", err)
		return
	}
	for ctx.Err() == nil {
		now := w.o.Now()
		n, err := w.o.Store.DispatchEvents(ctx, now, dispatchBatch, func(ev storage.Event) []storage.EventDelivery {
			var ds []storage.EventDelivery
			for _, e := range endpoints {
				if e.Wants(ev) {
					ds = append(ds, newDelivery(ev, storage.SinkWebhook, e.ID, now))
				}
			}
			if w.o.NATS != nil {
				ds = append(ds, newDelivery(ev, storage.SinkNATS, "", now))
			}
			return ds
		})
		if err != nil {
			w.logErr(ctx, "events: dispatch", err)
			return
		}
		if n < dispatchBatch {
			return
		}
	}
}

func newDelivery(ev storage.Event, sink, endpointID string, now time.Time) storage.EventDelivery {
	return storage.EventDelivery{
		ID: storage.NewID(storage.PrefixDelivery), EventID: ev.ID, Sink: sink, EndpointID: endpointID,
		Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
	}
}

// DeliverDue claims and sends due deliveries, Concurrency at a time, until
// none is due. A slow endpoint holds up its batch for at most Timeout.
func (w *Worker) DeliverDue(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := w.o.Store.ClaimDeliveries(ctx, w.o.Now(), w.o.Concurrency, w.lease())
		if err != nil {
			w.logErr(ctx, "events: claim deliveries", err)
			return
		}
		var wg sync.WaitGroup
		for _, d := range batch {
			wg.Go(func() { w.deliver(ctx, d) })
		}
		wg.Wait()
		if len(batch) < w.o.Concurrency {
			return
		}
	}
}

// deliver makes one attempt and records its result.
func (w *Worker) deliver(ctx context.Context, d storage.EventDelivery) {
	code, err := w.attempt(ctx, d)
	book, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now := w.o.Now()
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return // the endpoint or the event went, and the delivery with it
	case err == nil:
		w.count(d.Sink, outcomeDelivered)
		err = w.o.Store.FinishDelivery(book, d.ID, storage.DeliveryDelivered, now, "", code)
	case errors.Is(err, errDisabled) || now.Sub(d.CreatedAt) >= w.o.RetryFor:
		w.count(d.Sink, outcomeFailed)
		w.log.ErrorContext(ctx, "events: delivery failed for good; replay it through the admin API",
			"delivery", d.ID, "event", d.EventID, "sink", d.Sink, "endpoint", d.EndpointID, "attempts", d.Attempts, "err", err)
		err = w.o.Store.FinishDelivery(book, d.ID, storage.DeliveryFailed, now, truncate(err.Error()), code)
	default:
		w.count(d.Sink, outcomeRetried)
		next := now.Add(w.backoff(d.Attempts))
		w.log.WarnContext(ctx, "events: delivery will be retried",
			"delivery", d.ID, "sink", d.Sink, "endpoint", d.EndpointID, "attempts", d.Attempts, "next", next, "err", err)
		err = w.o.Store.RetryDelivery(book, d.ID, next, truncate(err.Error()), code)
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		w.log.WarnContext(ctx, "events: record a delivery attempt", "delivery", d.ID, "err", err)
	}
}

var errDisabled = errors.New("the webhook endpoint is disabled")

// attempt sends d once; ErrNotFound when there is nothing to send to.
func (w *Worker) attempt(ctx context.Context, d storage.EventDelivery) (int, error) {
	ev, err := w.o.Store.GetEvent(ctx, d.EventID)
	if err != nil {
		return 0, err
	}
	switch d.Sink {
	case storage.SinkNATS:
		if w.o.NATS == nil {
			return 0, errors.New("NATS is not configured on this instance")
		}
		ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
		defer cancel()
		return 0, w.o.NATS.Publish(ctx, ev)
	case storage.SinkWebhook:
		e, err := w.o.Store.GetWebhookEndpoint(ctx, d.EndpointID)
		if err != nil {
			return 0, err
		}
		if e.Disabled {
			return 0, errDisabled
		}
		return w.webhooks.send(ctx, e, ev)
	}
	return 0, fmt.Errorf("unknown sink %q", d.Sink)
}

// backoff is the wait after the attempts-th failed attempt: exponential,
// with "equal jitter" (half fixed, half random) so that deliveries that
// failed together do not come back together.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.o.RetryMin
	for i := 1; i < attempts && d < w.o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.o.RetryMax)
	return d/2 + rand.N(d/2+1)
}

func (w *Worker) sweep(ctx context.Context, now time.Time) {
	n, err := w.o.Store.DeleteEventsBefore(ctx, now.Add(-w.o.Retention))
	if err != nil {
		w.logErr(ctx, "events: delete old events", err)
		return
	}
	if n > 0 {
		w.log.InfoContext(ctx, "events: deleted old events", "count", n)
	}
}

func (w *Worker) count(sink, outcome string) {
	if w.outcomes != nil {
		w.outcomes.WithLabelValues(sink, outcome).Inc()
	}
}

func (w *Worker) logErr(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		w.log.WarnContext(ctx, msg, "err", err)
	}
}

func truncate(s string) string {
	if len(s) > maxErrorLength {
		return strings.ToValidUTF8(s[:maxErrorLength], "")
	}
	return s
}
