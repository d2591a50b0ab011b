package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/storage"
)

// webhookSealer seals webhook endpoint secrets: the admin API seals a new
// secret with it, the events worker opens it to sign.
func webhookSealer(key []byte) (*keys.Cipher, error) {
	return keys.NewCipher(deriveKey(key, "foyer webhook secret seal v1"))
}

// newEventsWorker builds the worker that dispatches the outbox's events
// to webhook endpoints and, when configured, NATS JetStream.
func newEventsWorker(cfg config.Config, store storage.Store, key []byte, log *slog.Logger, reg prometheus.Registerer) (*events.Worker, error) {
	seal, err := webhookSealer(key)
	if err != nil {
		return nil, err
	}
	o := events.Options{
		Store: store, Sealer: seal, AllowPrivate: cfg.Dev, Logger: log, Registerer: reg,
		Timeout: cfg.Webhooks.Timeout, RetryMin: cfg.Webhooks.RetryMin, RetryMax: cfg.Webhooks.RetryMax,
		RetryFor: cfg.Webhooks.RetryFor, Retention: cfg.Webhooks.Retention,
	}
	if cfg.NATS.URL != "" {
		n, err := events.NewNATS(events.NATSOptions{URL: cfg.NATS.URL, Stream: cfg.NATS.Stream, Subject: cfg.NATS.Subject})
		if err != nil {
			return nil, err
		}
		o.NATS = n
	}
	return events.New(o)
}
