package events

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/events/eventstest"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
)

// BenchmarkWorkerThroughput measures dispatch + signed delivery of b.N
// events by one instance on Postgres to a local endpoint that answers at
// once: the cost Foyer adds per event (outbox reads and writes, signing,
// one HTTP request). Run: go test ./events -run '^$' -bench Throughput
func BenchmarkWorkerThroughput(b *testing.B) {
	url := pgtest.Schema(b)
	s, err := postgres.Open(b.Context(), postgres.Options{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	r := eventstest.NewReceiver(b, func(int) int { return http.StatusOK })
	_, secret := addEndpoint(b, s, r.URL, time.Now().Add(-time.Minute))
	r.SetSecret(secret)
	createUsers(b, s, b.N)
	w, err := New(Options{Store: s, Sealer: testSealer{}, AllowPrivate: true, PollInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	for len(r.Received()) < b.N {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
