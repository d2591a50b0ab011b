package sqlite_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// TestConcurrentDispatchAndClaim runs dispatchers, then delivery workers,
// from several Stores on one file at once, as several Foyer processes would:
// each has its own connections, so only SQLite's locking keeps them apart.
// No event may be routed twice and no delivery handed out twice.
func TestConcurrentDispatchAndClaim(t *testing.T) {
	const stores, events = 4, 60
	path := filepath.Join(t.TempDir(), "foyer.db")
	ss := []*sqlite.Store{open(t, path, true)}
	for range stores - 1 {
		ss = append(ss, open(t, path, false))
	}
	ctx := t.Context()
	now := time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

	ep := storage.WebhookEndpoint{ID: storage.NewID(storage.PrefixWebhookEndpoint), URL: "https://example.com/hook",
		Secret: []byte("sealed"), CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	if _, err := ss[0].CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatalf("CreateWebhookEndpoint() error = %v", err)
	}
	for i := range events {
		u := storage.User{ID: storage.NewID(storage.PrefixUser), Email: storage.NewID("") + "@example.com", Name: "U",
			CreatedAt: now, UpdatedAt: now}
		if _, err := ss[i%stores].CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser() error = %v", err)
		}
	}

	var (
		mu     sync.Mutex
		routed = map[string]int{}
		start  = make(chan struct{})
		wg     sync.WaitGroup
	)
	route := func(ev storage.Event) []storage.EventDelivery {
		mu.Lock()
		routed[ev.ID]++
		mu.Unlock()
		return []storage.EventDelivery{{ID: storage.NewID(storage.PrefixDelivery), Sink: storage.SinkWebhook,
			EndpointID: ep.ID, Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now}}
	}
	for _, s := range ss {
		wg.Go(func() {
			<-start
			for {
				n, err := s.DispatchEvents(ctx, now, 5, route)
				if err != nil {
					t.Errorf("DispatchEvents() error = %v", err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if len(routed) != events {
		t.Errorf("dispatchers routed %d distinct events, want %d", len(routed), events)
	}
	for id, n := range routed {
		if n != 1 {
			t.Errorf("event %s routed %d times, want once", id, n)
		}
	}

	claimed := map[string]int{}
	start = make(chan struct{})
	for _, s := range ss {
		wg.Go(func() {
			<-start
			for {
				ds, err := s.ClaimDeliveries(ctx, now, 3, time.Hour)
				if err != nil {
					t.Errorf("ClaimDeliveries() error = %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
					if d.Attempts != 1 || !d.NextAttemptAt.Equal(now.Add(time.Hour)) {
						t.Errorf("claimed delivery %s: Attempts %d, NextAttemptAt %v; want 1, %v",
							d.ID, d.Attempts, d.NextAttemptAt, now.Add(time.Hour))
					}
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(claimed) != events {
		t.Errorf("workers claimed %d distinct deliveries, want %d", len(claimed), events)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times, want once", id, n)
		}
	}
}
