package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// eventsTestNow is the clock of the dispatch and claim tests: far from the
// host's, so nothing but the test's own times decide what is due.
var eventsTestNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// natsDelivery is a pending delivery of eventID to NATS, due at now.
func natsDelivery(eventID string, now time.Time) storage.EventDelivery {
	return storage.EventDelivery{
		ID: storage.NewID(storage.PrefixDelivery), EventID: eventID, Sink: storage.SinkNATS,
		Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
	}
}

// createUsers creates n users, each writing one user.created event.
func createUsers(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.CreateUser(t.Context(), newUser(fmt.Sprintf("user%d-%s@example.com", i, storage.NewID("")))); err != nil {
			t.Fatalf("CreateUser() error = %v", err)
		}
	}
}

// dispatchAll dispatches every event, giving each perEvent NATS deliveries.
func dispatchAll(t *testing.T, s *Store, perEvent int) {
	t.Helper()
	_, err := s.DispatchEvents(t.Context(), eventsTestNow, 1000, func(ev storage.Event) []storage.EventDelivery {
		var ds []storage.EventDelivery
		for range perEvent {
			ds = append(ds, natsDelivery(ev.ID, eventsTestNow))
		}
		return ds
	})
	if err != nil {
		t.Fatalf("DispatchEvents() error = %v", err)
	}
}

// TestClaimDeliveriesConcurrently: claimers racing on one table never get
// the same delivery (FOR UPDATE SKIP LOCKED), and together get them all.
func TestClaimDeliveriesConcurrently(t *testing.T) {
	const users, perEvent, claimers = 40, 3, 8
	s := openFresh(t)
	createUsers(t, s, users)
	dispatchAll(t, s, perEvent)

	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for range claimers {
		wg.Go(func() {
			<-start
			for {
				ds, err := s.ClaimDeliveries(t.Context(), eventsTestNow, 4, time.Hour)
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
					if d.Attempts != 1 || !d.NextAttemptAt.Equal(eventsTestNow.Add(time.Hour)) {
						t.Errorf("claimed delivery %s: Attempts %d, NextAttemptAt %v; want 1, now+lease", d.ID, d.Attempts, d.NextAttemptAt)
					}
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	if len(claimed) != users*perEvent {
		t.Errorf("claimers got %d distinct deliveries, want %d", len(claimed), users*perEvent)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times, want once", id, n)
		}
	}

	// Once the lease runs out, they are due again: every one, once more.
	again, err := s.ClaimDeliveries(t.Context(), eventsTestNow.Add(time.Hour), 1000, time.Hour)
	if err != nil || len(again) != users*perEvent {
		t.Fatalf("ClaimDeliveries(after the lease) = %d deliveries, %v; want %d", len(again), err, users*perEvent)
	}
	if again[0].Attempts != 2 {
		t.Errorf("re-claimed delivery Attempts = %d, want 2", again[0].Attempts)
	}
}

// TestDispatchEventsConcurrently: dispatchers racing, with a slow route to
// make their transactions overlap, dispatch every event exactly once and
// store its deliveries once.
func TestDispatchEventsConcurrently(t *testing.T) {
	const events, dispatchers = 60, 6
	s := openFresh(t)
	createUsers(t, s, events)

	var (
		mu     sync.Mutex
		routed = map[string]int{}
		total  int
		wg     sync.WaitGroup
	)
	start := make(chan struct{})
	for range dispatchers {
		wg.Go(func() {
			<-start
			for {
				n, err := s.DispatchEvents(t.Context(), eventsTestNow, 4, func(ev storage.Event) []storage.EventDelivery {
					time.Sleep(time.Millisecond)
					mu.Lock()
					routed[ev.ID]++
					mu.Unlock()
					return []storage.EventDelivery{natsDelivery(ev.ID, eventsTestNow)}
				})
				if err != nil {
					t.Errorf("DispatchEvents() error = %v", err)
					return
				}
				if n == 0 {
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	if total != events || len(routed) != events {
		t.Errorf("dispatchers dispatched %d events, routing %d distinct; want %d", total, len(routed), events)
	}
	for id, n := range routed {
		if n != 1 {
			t.Errorf("event %s routed %d times, want once", id, n)
		}
	}
	var deliveries, undispatched int
	if err := s.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM event_deliveries),
		(SELECT count(*) FROM events WHERE dispatched_at IS NULL)`).Scan(&deliveries, &undispatched); err != nil {
		t.Fatal(err)
	}
	if deliveries != events || undispatched != 0 {
		t.Errorf("%d deliveries stored, %d events undispatched; want %d, 0", deliveries, undispatched, events)
	}
}

// TestDispatchAndClaimSkipLocked: a dispatcher or claimer whose rows
// another open transaction holds takes the others at once instead of
// waiting, and the held rows come back when that transaction rolls back.
func TestDispatchAndClaimSkipLocked(t *testing.T) {
	s := openFresh(t)
	createUsers(t, s, 10)
	route := func(ev storage.Event) []storage.EventDelivery {
		return []storage.EventDelivery{natsDelivery(ev.ID, eventsTestNow)}
	}

	// A failing test must not leave a transaction open: Close would wait
	// for its connection. Rolling back twice does no harm.
	begin := func() context.Context {
		tx, err := s.BeginTx(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Rollback(tx) })
		return tx
	}
	tx := begin()
	if n, err := s.DispatchEvents(tx, eventsTestNow, 4, route); err != nil || n != 4 {
		t.Fatalf("DispatchEvents(in an open transaction) = %d, %v; want 4, nil", n, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if n, err := s.DispatchEvents(ctx, eventsTestNow, 100, route); err != nil || n != 6 {
		t.Fatalf("DispatchEvents(beside it) = %d, %v; want the other 6 without waiting", n, err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DispatchEvents(t.Context(), eventsTestNow, 100, route); err != nil || n != 4 {
		t.Fatalf("DispatchEvents(after the rollback) = %d, %v; want the 4 rolled back", n, err)
	}

	tx = begin()
	held, err := s.ClaimDeliveries(tx, eventsTestNow, 3, time.Hour)
	if err != nil || len(held) != 3 {
		t.Fatalf("ClaimDeliveries(in an open transaction) = %d, %v; want 3", len(held), err)
	}
	rest, err := s.ClaimDeliveries(ctx, eventsTestNow, 100, time.Hour)
	if err != nil || len(rest) != 7 {
		t.Fatalf("ClaimDeliveries(beside it) = %d, %v; want the other 7 without waiting", len(rest), err)
	}
	for _, d := range rest {
		if slices.ContainsFunc(held, func(h storage.EventDelivery) bool { return h.ID == d.ID }) {
			t.Errorf("delivery %s claimed by both", d.ID)
		}
	}
}

// TestEventsInCallerTransaction: a change that fails inside a caller's
// transaction undoes only itself (a savepoint), event included; the
// transaction goes on and commits the other changes with their events.
func TestEventsInCallerTransaction(t *testing.T) {
	s := openFresh(t)
	tx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(tx, newUser("ada@example.com"))
	if err != nil {
		t.Fatalf("CreateUser() error = %v", err)
	}
	if _, err := s.CreateUser(tx, newUser("ADA@example.com")); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateUser(taken email) error = %v, want ErrAlreadyExists", err)
	}
	if err := s.DeleteMembership(tx, "org_missing", u.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteMembership(missing) error = %v, want ErrNotFound", err)
	}
	o := storage.Organization{ID: storage.NewID(storage.PrefixOrganization), Slug: "acme", Name: "Acme",
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if _, err := s.CreateOrganization(tx, o); err != nil {
		t.Fatalf("CreateOrganization(after a failed change) error = %v", err)
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	slices.Sort(types)
	if want := []string{storage.EventOrganizationCreated, storage.EventUserCreated}; !slices.Equal(types, want) {
		t.Errorf("events = %q, want %q", types, want)
	}
}

// TestEventStorage checks the columns as stored: no organization is NULL,
// not "", and endpoints without filters store an empty array.
func TestEventStorage(t *testing.T) {
	s := openFresh(t)
	createUsers(t, s, 1)
	evs, err := s.ListEvents(t.Context(), "", 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ListEvents() = %d events, %v; want 1", len(evs), err)
	}
	var orgNull bool
	if err := s.pool.QueryRow(t.Context(), `SELECT org_id IS NULL FROM events WHERE id = $1`, evs[0].ID).Scan(&orgNull); err != nil {
		t.Fatal(err)
	}
	if !orgNull || evs[0].OrgID != "" {
		t.Errorf("user event: org_id NULL %v, OrgID %q; want NULL stored and \"\" read", orgNull, evs[0].OrgID)
	}

	now := time.Now()
	e, err := s.CreateWebhookEndpoint(t.Context(), storage.WebhookEndpoint{
		ID: storage.NewID(storage.PrefixWebhookEndpoint), URL: "https://hooks.example/in", Secret: []byte("sealed"),
		CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatalf("CreateWebhookEndpoint() error = %v", err)
	}
	var emptyTypes bool
	if err := s.pool.QueryRow(t.Context(), `SELECT org_id IS NULL AND event_types = '{}' FROM webhook_endpoints WHERE id = $1`,
		e.ID).Scan(&emptyTypes); err != nil {
		t.Fatal(err)
	}
	if !emptyTypes || e.OrgID != "" || len(e.EventTypes) != 0 {
		t.Errorf("global endpoint without filters: stored NULL org and {} %v, read %q %q", emptyTypes, e.OrgID, e.EventTypes)
	}
	_, err = s.CreateWebhookEndpoint(t.Context(), storage.WebhookEndpoint{
		ID: storage.NewID(storage.PrefixWebhookEndpoint), OrgID: storage.NewID(storage.PrefixOrganization),
		URL: "https://hooks.example/in", Secret: []byte("sealed"), CreatedAt: now, UpdatedAt: now,
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateWebhookEndpoint(unknown organization) error = %v, want ErrNotFound", err)
	}
}

// TestListDeliveriesPaging: deliveries of one creation time page by ID,
// newest first, without a gap or a repeat, and filter by status.
func TestListDeliveriesPaging(t *testing.T) {
	s := openFresh(t)
	createUsers(t, s, 9)
	dispatchAll(t, s, 3) // 27 deliveries, all created at eventsTestNow
	ds, err := s.ClaimDeliveries(t.Context(), eventsTestNow, 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := s.FinishDelivery(t.Context(), d.ID, storage.DeliveryDelivered, eventsTestNow, "", 200); err != nil {
			t.Fatal(err)
		}
	}

	var got []storage.EventDelivery
	after := ""
	for range 10 {
		page, err := s.ListDeliveries(t.Context(), storage.DeliveryQuery{After: after, Limit: 10})
		if err != nil {
			t.Fatalf("ListDeliveries(after %q) error = %v", after, err)
		}
		got = append(got, page...)
		if len(page) < 10 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(got) != 27 {
		t.Fatalf("ListDeliveries pages = %d deliveries, want 27", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b storage.EventDelivery) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	}) {
		t.Errorf("ListDeliveries not newest first, ID descending")
	}
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.ID] = true
	}
	if len(ids) != 27 {
		t.Errorf("ListDeliveries pages repeat deliveries: %d distinct of 27", len(ids))
	}
	delivered, err := s.ListDeliveries(t.Context(), storage.DeliveryQuery{Status: storage.DeliveryDelivered})
	if err != nil || len(delivered) != 5 {
		t.Errorf("ListDeliveries(delivered) = %d, %v; want 5", len(delivered), err)
	}
	_, err = s.ListDeliveries(t.Context(), storage.DeliveryQuery{After: storage.NewID(storage.PrefixDelivery)})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ListDeliveries(after an unknown delivery) error = %v, want ErrNotFound", err)
	}

	// Replays: of a finished delivery, to its event and sink; never of a
	// pending one.
	done := ds[0]
	replay, err := s.ReplayDelivery(t.Context(), done.ID, natsDelivery("", eventsTestNow.Add(time.Hour)))
	if err != nil {
		t.Fatalf("ReplayDelivery(finished) error = %v", err)
	}
	if replay.EventID != done.EventID || replay.Sink != done.Sink || replay.Status != storage.DeliveryPending || replay.Attempts != 0 {
		t.Errorf("ReplayDelivery() = %+v, want a pending delivery of event %s to %s", replay, done.EventID, done.Sink)
	}
	if _, err := s.ReplayDelivery(t.Context(), replay.ID, natsDelivery("", eventsTestNow)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("ReplayDelivery(pending) error = %v, want ErrConflict", err)
	}
	if _, err := s.ReplayDelivery(t.Context(), "dlv_missing", natsDelivery("", eventsTestNow)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReplayDelivery(unknown) error = %v, want ErrNotFound", err)
	}
}

// TestDeleteEventsBeforeWaitsForReplay: a replay committed while
// DeleteEventsBefore waits for its lock on the event keeps the event: the
// new pending delivery is seen, not deleted with it.
func TestDeleteEventsBeforeWaitsForReplay(t *testing.T) {
	s := openFresh(t)
	createUsers(t, s, 1)
	dispatchAll(t, s, 1)
	ds, err := s.ClaimDeliveries(t.Context(), eventsTestNow, 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("ClaimDeliveries() = %d, %v; want 1", len(ds), err)
	}
	if err := s.FinishDelivery(t.Context(), ds[0].ID, storage.DeliveryFailed, eventsTestNow, "boom", 500); err != nil {
		t.Fatal(err)
	}

	tx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Rollback(tx) })
	replay, err := s.ReplayDelivery(tx, ds[0].ID, natsDelivery("", eventsTestNow))
	if err != nil {
		t.Fatalf("ReplayDelivery() error = %v", err)
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.DeleteEventsBefore(t.Context(), eventsTestNow.Add(time.Hour))
		done <- result{n, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the delete reach the event's lock
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.n != 0 {
		t.Errorf("DeleteEventsBefore(during a replay) = %d, %v; want 0, nil", r.n, r.err)
	}
	if _, err := s.GetDelivery(t.Context(), replay.ID); err != nil {
		t.Errorf("GetDelivery(replay) error = %v, want the replay kept", err)
	}
}
