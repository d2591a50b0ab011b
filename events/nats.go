package events

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foyerdev/foyer/storage"
)

// NATSOptions configure publishing events to NATS JetStream.
type NATSOptions struct {
	URL string // nats://host:4222
	// Stream is the JetStream stream Foyer creates (or updates) to hold
	// the events; Subject is the prefix of their subjects: an event of
	// type user.created is published on <Subject>.user.created.
	Stream  string
	Subject string
}

// NATS publishes events to JetStream: the second sink behind the outbox.
// Each message carries the event ID as Nats-Msg-Id, so JetStream drops the
// copy that a retry after a lost acknowledgement would otherwise add.
// It connects on first use and again after a failure, so Foyer starts
// while NATS is down and its deliveries wait in the outbox meanwhile.
type NATS struct {
	o  NATSOptions
	mu sync.Mutex
	nc *nats.Conn
	js jetstream.JetStream
}

// NewNATS checks o; nothing is connected yet.
func NewNATS(o NATSOptions) (*NATS, error) {
	if o.URL == "" || o.Stream == "" || o.Subject == "" {
		return nil, errors.New("nats: URL, Stream and Subject are required")
	}
	o.Subject = strings.TrimSuffix(o.Subject, ".")
	return &NATS{o: o}, nil
}

// Publish sends ev on <Subject>.<type> and waits for JetStream's
// acknowledgement.
func (n *NATS) Publish(ctx context.Context, ev storage.Event) error {
	js, err := n.stream(ctx)
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, n.o.Subject+"."+ev.Type, Payload(ev), jetstream.WithMsgID(ev.ID))
	return err
}

// stream connects and makes sure the stream exists, once.
func (n *NATS) stream(ctx context.Context) (jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.js != nil {
		return n.js, nil
	}
	nc, err := nats.Connect(n.o.URL, nats.Name("foyer"), nats.MaxReconnects(-1), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:     n.o.Stream,
			Subjects: []string{n.o.Subject + ".>"},
			// Longer than a delivery lease, so a retried publish is
			// recognised as a duplicate.
			Duplicates: 10 * time.Minute,
		})
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: stream %s: %w", n.o.Stream, err)
	}
	n.nc, n.js = nc, js
	return js, nil
}

// Close closes the connection. What was not acknowledged is still pending
// in the outbox and will be published again.
func (n *NATS) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc, n.js = nil, nil
	}
}
