package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// eventDeliveryTests cover the deliveries of events: leased by workers,
// retried, finished, listed and replayed.
func eventDeliveryTests() []test {
	return []test{
		{"GetMissing", testGetDeliveryMissing},
		{"ClaimLeasesDueDeliveries", testClaimDeliveries},
		{"ClaimLimitAndOrder", testClaimDeliveriesLimit},
		{"ConcurrentClaimersNeverShare", testConcurrentClaimDeliveries},
		{"Retry", testRetryDelivery},
		{"Finish", testFinishDelivery},
		{"FinishedNotClaimedOrChanged", testFinishedDeliveryStays},
		{"ListFiltersAndPagesNewestFirst", testListDeliveries},
		{"Replay", testReplayDelivery},
	}
}

// newDelivery returns a pending delivery of the event to the webhook
// endpoint (to NATS when endpointID is ""), created and due at(m).
func newDelivery(eventID, endpointID string, m int) storage.EventDelivery {
	d := storage.EventDelivery{
		ID:            storage.NewID(storage.PrefixDelivery),
		EventID:       eventID,
		Sink:          storage.SinkWebhook,
		EndpointID:    endpointID,
		Status:        storage.DeliveryPending,
		NextAttemptAt: at(m),
		CreatedAt:     at(m),
	}
	if endpointID == "" {
		d.Sink = storage.SinkNATS
	}
	return d
}

func storedDelivery(d storage.EventDelivery) storage.EventDelivery {
	d.NextAttemptAt, d.CreatedAt = stored(d.NextAttemptAt), stored(d.CreatedAt)
	if !d.FinishedAt.IsZero() {
		d.FinishedAt = stored(d.FinishedAt)
	}
	return d
}

// dispatchDeliveries writes an event (a new user's) and dispatches it at(0)
// with ds as its deliveries (and any other undispatched events with none);
// it returns the event and ds as stored.
func dispatchDeliveries(t *testing.T, s storage.Store, ds ...storage.EventDelivery) (storage.Event, []storage.EventDelivery) {
	t.Helper()
	ev := createUserEvent(t, s)
	if n := dispatch(t, s, at(0), map[string][]storage.EventDelivery{ev.ID: ds}); n < 1 {
		t.Fatalf("DispatchEvents() = %d, want at least 1", n)
	}
	checkDispatchedAt(t, s, "dispatchDeliveries", ev.ID, stored(at(0)))
	var out []storage.EventDelivery
	for _, d := range ds {
		d.EventID = ev.ID
		out = append(out, storedDelivery(d))
	}
	return ev, out
}

func checkDelivery(t *testing.T, s storage.Store, call string, want storage.EventDelivery) {
	t.Helper()
	got, err := s.GetDelivery(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetDelivery(%q) error = %v", call, want.ID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetDelivery(%q) mismatch (-want +got):\n%s", call, want.ID, d)
	}
}

func claimDeliveries(t *testing.T, s storage.Store, now time.Time, limit int, lease time.Duration) []storage.EventDelivery {
	t.Helper()
	got, err := s.ClaimDeliveries(t.Context(), now, limit, lease)
	if err != nil {
		t.Fatalf("ClaimDeliveries(%s, %d, %s) error = %v", now, limit, lease, err)
	}
	return got
}

func finishDelivery(t *testing.T, s storage.Store, id, status string, when time.Time) {
	t.Helper()
	if err := s.FinishDelivery(t.Context(), id, status, when, "", 0); err != nil {
		t.Fatalf("FinishDelivery(%q, %s) error = %v", id, status, err)
	}
}

func deliveryIDs(ds []storage.EventDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// sortedDeliveryIDs are the IDs of ds in ID order, for results whose
// order the contract leaves open.
func sortedDeliveryIDs(ds []storage.EventDelivery) []string {
	out := deliveryIDs(ds)
	slices.Sort(out)
	return out
}

func testGetDeliveryMissing(t *testing.T, s storage.Store) {
	_, err := s.GetDelivery(t.Context(), storage.NewID(storage.PrefixDelivery))
	checkErr(t, "GetDelivery(missing)", err, storage.ErrNotFound)
}

// testClaimDeliveries: a claim leases the due deliveries (due at now
// included), so a second claim at the same time gets nothing; when the
// lease runs out they are due again.
func testClaimDeliveries(t *testing.T, s storage.Store) {
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	dueD := newDelivery("", ep.ID, 0)
	dueD.NextAttemptAt = at(10)
	laterD := newDelivery("", "", 0)
	laterD.NextAttemptAt = at(30) // backing off after a failure
	_, ds := dispatchDeliveries(t, s, dueD, laterD)
	due, later := ds[0], ds[1]

	got := claimDeliveries(t, s, at(10), 10, 5*time.Minute)
	want := due
	want.Attempts, want.NextAttemptAt = 1, stored(at(15))
	if d := diff([]storage.EventDelivery{want}, got); d != "" {
		t.Fatalf("ClaimDeliveries(at(10)) mismatch (-want +got):\n%s", d)
	}
	checkDelivery(t, s, "claimed", want)
	checkDelivery(t, s, "not yet due", later)

	if got := claimDeliveries(t, s, at(10), 10, 5*time.Minute); len(got) != 0 {
		t.Errorf("ClaimDeliveries(at(10)) again = %q, want none: leased", deliveryIDs(got))
	}
	if got := claimDeliveries(t, s, at(14), 10, 5*time.Minute); len(got) != 0 {
		t.Errorf("ClaimDeliveries(at(14)) = %q, want none: leased until at(15)", deliveryIDs(got))
	}
	// At at(15) the lease has run out. The new lease runs past at(30).
	got = claimDeliveries(t, s, at(15), 10, time.Hour)
	if d := diff([]string{due.ID}, deliveryIDs(got)); d != "" {
		t.Errorf("ClaimDeliveries(at(15)) IDs mismatch (-want +got):\n%s", d)
	}
	if len(got) == 1 && got[0].Attempts != 2 {
		t.Errorf("ClaimDeliveries(at(15)) Attempts = %d, want 2", got[0].Attempts)
	}
	got = claimDeliveries(t, s, at(30), 10, 5*time.Minute)
	if d := diff([]string{later.ID}, deliveryIDs(got)); d != "" {
		t.Errorf("ClaimDeliveries(at(30)) IDs mismatch (-want +got):\n%s", d)
	}
}

// testClaimDeliveriesLimit: the longest-waiting deliveries go first, and
// no more than limit at a time.
func testClaimDeliveriesLimit(t *testing.T, s storage.Store) {
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	var in []storage.EventDelivery
	for i := range 5 {
		d := newDelivery("", ep.ID, i)
		d.NextAttemptAt = at(10 - i) // the newest delivery is due first
		in = append(in, d)
	}
	notDue := newDelivery("", ep.ID, 0)
	notDue.NextAttemptAt = at(50)
	_, all := dispatchDeliveries(t, s, append(in, notDue)...)

	first := claimDeliveries(t, s, at(20), 2, time.Hour)
	if d := diff(sortedDeliveryIDs(all[3:5]), sortedDeliveryIDs(first)); d != "" {
		t.Errorf("ClaimDeliveries(limit 2) IDs mismatch (-the two due first +claimed):\n%s", d)
	}
	rest := claimDeliveries(t, s, at(20), 10, time.Hour)
	if d := diff(sortedDeliveryIDs(all[:3]), sortedDeliveryIDs(rest)); d != "" {
		t.Errorf("ClaimDeliveries(the rest) IDs mismatch (-the other due ones +claimed):\n%s", d)
	}
	checkDelivery(t, s, "not due", all[5])
}

// testConcurrentClaimDeliveries: workers claim in parallel until nothing
// is due; every delivery is claimed exactly once.
func testConcurrentClaimDeliveries(t *testing.T, s storage.Store) {
	const deliveries, claimers = 60, 4
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	var in []storage.EventDelivery
	for i := range deliveries {
		endpoint := ep.ID
		if i%3 == 0 {
			endpoint = "" // some to NATS
		}
		in = append(in, newDelivery("", endpoint, i%7))
	}
	_, ds := dispatchDeliveries(t, s, in...)
	want := sortedDeliveryIDs(ds)

	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range claimers {
		wg.Go(func() {
			<-start // release all at once for the most overlap
			for {
				ds, err := s.ClaimDeliveries(t.Context(), at(100), 3, time.Hour)
				if err != nil {
					t.Errorf("ClaimDeliveries() error = %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				got = append(got, deliveryIDs(ds)...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(got)
	if d := diff(want, got); d != "" {
		t.Errorf("deliveries claimed by %d concurrent claimers (-each once +claimed):\n%s", claimers, d)
	}
}

func testRetryDelivery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	_, ds := dispatchDeliveries(t, s, newDelivery("", ep.ID, 0))
	d := ds[0]
	claimDeliveries(t, s, at(0), 10, time.Minute)

	if err := s.RetryDelivery(ctx, d.ID, at(7), "HTTP 503 Service Unavailable", 503); err != nil {
		t.Fatalf("RetryDelivery() error = %v", err)
	}
	want := d
	want.Attempts, want.NextAttemptAt, want.LastError, want.LastStatusCode = 1, stored(at(7)), "HTTP 503 Service Unavailable", 503
	checkDelivery(t, s, "after RetryDelivery", want)
	if got := claimDeliveries(t, s, at(6), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimDeliveries(before the retry) = %q, want none", deliveryIDs(got))
	}
	if got := claimDeliveries(t, s, at(7), 10, time.Minute); len(got) != 1 || got[0].ID != d.ID {
		t.Errorf("ClaimDeliveries(at the retry) = %q, want %q", deliveryIDs(got), d.ID)
	}

	// A retry without a response (a timeout) clears the status code.
	if err := s.RetryDelivery(ctx, d.ID, at(9), "context deadline exceeded", 0); err != nil {
		t.Fatalf("RetryDelivery(no response) error = %v", err)
	}
	want.Attempts, want.NextAttemptAt, want.LastError, want.LastStatusCode = 2, stored(at(9)), "context deadline exceeded", 0
	checkDelivery(t, s, "after RetryDelivery(no response)", want)

	err := s.RetryDelivery(ctx, storage.NewID(storage.PrefixDelivery), at(7), "x", 500)
	checkErr(t, "RetryDelivery(missing)", err, storage.ErrNotFound)
}

// testFinishDelivery ends deliveries in each final state, keeping the
// status, time and last response.
func testFinishDelivery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	for _, tc := range []struct {
		status     string
		lastError  string
		statusCode int
	}{
		{storage.DeliveryDelivered, "", 204},
		{storage.DeliveryFailed, "HTTP 410 Gone", 410},
		{storage.DeliveryFailed, "retry period over: dial tcp: connection refused", 0},
	} {
		_, ds := dispatchDeliveries(t, s, newDelivery("", ep.ID, 0))
		d := ds[0]
		claimDeliveries(t, s, at(1), 10, time.Minute)
		if err := s.FinishDelivery(ctx, d.ID, tc.status, at(3), tc.lastError, tc.statusCode); err != nil {
			t.Errorf("FinishDelivery(%s) error = %v", tc.status, err)
			continue
		}
		want := d
		want.Attempts, want.NextAttemptAt = 1, stored(at(2))
		want.Status, want.FinishedAt, want.LastError, want.LastStatusCode = tc.status, stored(at(3)), tc.lastError, tc.statusCode
		checkDelivery(t, s, fmt.Sprintf("after FinishDelivery(%s, %d)", tc.status, tc.statusCode), want)
	}

	_, ds := dispatchDeliveries(t, s, newDelivery("", ep.ID, 0))
	d := ds[0]
	for _, status := range []string{storage.DeliveryPending, "", "bounced"} {
		err := s.FinishDelivery(ctx, d.ID, status, at(3), "", 0)
		checkErr(t, fmt.Sprintf("FinishDelivery(status %q)", status), err, storage.ErrInvalid)
	}
	checkDelivery(t, s, "after refused finishes", d)
	err := s.FinishDelivery(ctx, storage.NewID(storage.PrefixDelivery), storage.DeliveryDelivered, at(3), "", 200)
	checkErr(t, "FinishDelivery(missing)", err, storage.ErrNotFound)
}

// testFinishedDeliveryStays: a finished delivery is never claimed, and can
// be neither retried nor finished again (a worker whose lease ran out must
// not undo another's result).
func testFinishedDeliveryStays(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	_, ds := dispatchDeliveries(t, s, newDelivery("", ep.ID, 0), newDelivery("", "", 0))
	for _, d := range ds {
		if err := s.FinishDelivery(ctx, d.ID, storage.DeliveryDelivered, at(1), "", 200); err != nil {
			t.Fatalf("FinishDelivery() error = %v", err)
		}
	}
	if got := claimDeliveries(t, s, at(100), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimDeliveries() = %q, want none: delivered", deliveryIDs(got))
	}
	d := ds[0]
	err := s.RetryDelivery(ctx, d.ID, at(5), "late failure", 500)
	checkErr(t, "RetryDelivery(delivered)", err, storage.ErrConflict)
	err = s.FinishDelivery(ctx, d.ID, storage.DeliveryFailed, at(5), "late failure", 500)
	checkErr(t, "FinishDelivery(delivered)", err, storage.ErrConflict)
	err = s.FinishDelivery(ctx, d.ID, storage.DeliveryDelivered, at(5), "", 200)
	checkErr(t, "FinishDelivery(delivered) again", err, storage.ErrConflict)

	want := d
	want.Status, want.FinishedAt, want.LastStatusCode = storage.DeliveryDelivered, stored(at(1)), 200
	checkDelivery(t, s, "after refused changes", want)
}

// checkDeliveryIDs lists deliveries with q and compares their IDs, in
// order, with want.
func checkDeliveryIDs(t *testing.T, s storage.Store, q storage.DeliveryQuery, want []string) {
	t.Helper()
	got, err := s.ListDeliveries(t.Context(), q)
	if err != nil {
		t.Errorf("ListDeliveries(%+v) error = %v", q, err)
		return
	}
	if d := diff(want, deliveryIDs(got)); d != "" {
		t.Errorf("ListDeliveries(%+v) IDs mismatch (-want +got):\n%s", q, d)
	}
}

// testListDeliveries: ListDeliveries filters by endpoint and status, and
// pages newest first. Every delivery has a creation time of its own, so
// the order of IDs within one time does not matter here.
func testListDeliveries(t *testing.T, s storage.Store) {
	ctx := t.Context()
	epA := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	epB := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	var in []storage.EventDelivery
	for i := 1; i <= 5; i++ {
		in = append(in, newDelivery("", epA.ID, i))
	}
	in = append(in, newDelivery("", epB.ID, 6), newDelivery("", "", 7))
	_, ds := dispatchDeliveries(t, s, in...)
	a, b, nats := ds[:5], ds[5], ds[6]
	finishDelivery(t, s, a[1].ID, storage.DeliveryDelivered, at(10))
	finishDelivery(t, s, a[3].ID, storage.DeliveryDelivered, at(10))
	finishDelivery(t, s, a[4].ID, storage.DeliveryFailed, at(10))

	newestA := []string{a[4].ID, a[3].ID, a[2].ID, a[1].ID, a[0].ID}
	for _, tc := range []struct {
		q    storage.DeliveryQuery
		want []string
	}{
		{storage.DeliveryQuery{EndpointID: epA.ID, Limit: 100}, newestA},
		{storage.DeliveryQuery{EndpointID: epA.ID, Limit: 2}, newestA[:2]},
		{storage.DeliveryQuery{EndpointID: epA.ID, After: newestA[1], Limit: 2}, newestA[2:4]},
		{storage.DeliveryQuery{EndpointID: epA.ID, After: newestA[3], Limit: 2}, newestA[4:]},
		{storage.DeliveryQuery{EndpointID: epA.ID, After: newestA[4], Limit: 2}, nil},
		{storage.DeliveryQuery{EndpointID: epA.ID, Status: storage.DeliveryPending, Limit: 100}, []string{a[2].ID, a[0].ID}},
		{storage.DeliveryQuery{EndpointID: epA.ID, Status: storage.DeliveryPending, Limit: 1}, []string{a[2].ID}},
		{storage.DeliveryQuery{EndpointID: epA.ID, Status: storage.DeliveryPending, After: a[2].ID, Limit: 1}, []string{a[0].ID}},
		{storage.DeliveryQuery{EndpointID: epA.ID, Status: storage.DeliveryDelivered, Limit: 100}, []string{a[3].ID, a[1].ID}},
		{storage.DeliveryQuery{EndpointID: epA.ID, Status: storage.DeliveryFailed, Limit: 100}, []string{a[4].ID}},
		{storage.DeliveryQuery{EndpointID: epB.ID, Limit: 100}, []string{b.ID}},
		{storage.DeliveryQuery{EndpointID: epB.ID, Status: storage.DeliveryDelivered, Limit: 100}, nil},
		{storage.DeliveryQuery{EndpointID: storage.NewID(storage.PrefixWebhookEndpoint), Limit: 100}, nil},
		{storage.DeliveryQuery{Limit: 100}, append([]string{nats.ID, b.ID}, newestA...)},
		{storage.DeliveryQuery{Status: storage.DeliveryPending, Limit: 100}, []string{nats.ID, b.ID, a[2].ID, a[0].ID}},
	} {
		checkDeliveryIDs(t, s, tc.q, tc.want)
	}

	got, err := s.ListDeliveries(ctx, storage.DeliveryQuery{EndpointID: epB.ID, Limit: 100})
	if err != nil {
		t.Fatalf("ListDeliveries() error = %v", err)
	}
	if d := diff([]storage.EventDelivery{b}, got); d != "" {
		t.Errorf("ListDeliveries(endpoint B) mismatch (-want +got):\n%s", d)
	}
}

// testReplayDelivery: a finished delivery can be sent again as a new
// pending delivery of the same event to the same sink; a pending one
// cannot.
func testReplayDelivery(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	_, ds := dispatchDeliveries(t, s, newDelivery("", ep.ID, 0), newDelivery("", "", 0))
	d, nats := ds[0], ds[1]

	_, err := s.ReplayDelivery(ctx, d.ID, newDelivery(d.EventID, ep.ID, 20))
	checkErr(t, "ReplayDelivery(pending)", err, storage.ErrConflict)

	if err := s.FinishDelivery(ctx, d.ID, storage.DeliveryFailed, at(5), "HTTP 500", 500); err != nil {
		t.Fatalf("FinishDelivery() error = %v", err)
	}
	failed := d
	failed.Status, failed.FinishedAt, failed.LastError, failed.LastStatusCode = storage.DeliveryFailed, stored(at(5)), "HTTP 500", 500
	if err := s.FinishDelivery(ctx, nats.ID, storage.DeliveryDelivered, at(5), "", 0); err != nil {
		t.Fatalf("FinishDelivery(NATS) error = %v", err)
	}

	// The event, sink and endpoint come from the replayed delivery, whatever
	// the new one says.
	replay := newDelivery(storage.NewID(storage.PrefixEvent), "", 20)
	got, err := s.ReplayDelivery(ctx, d.ID, replay)
	if err != nil {
		t.Fatalf("ReplayDelivery(failed) error = %v", err)
	}
	want := storedDelivery(replay)
	want.EventID, want.Sink, want.EndpointID = d.EventID, storage.SinkWebhook, ep.ID
	if d := diff(want, got); d != "" {
		t.Errorf("ReplayDelivery(failed) mismatch (-want +got):\n%s", d)
	}
	checkDelivery(t, s, "the replay", want)
	checkDelivery(t, s, "the replayed delivery", failed)
	checkDeliveryIDs(t, s, storage.DeliveryQuery{EndpointID: ep.ID, Limit: 100}, []string{replay.ID, d.ID})
	if got := claimDeliveries(t, s, at(20), 10, time.Minute); len(got) != 1 || got[0].ID != replay.ID {
		t.Errorf("ClaimDeliveries(at(20)) = %q, want the replay %q", deliveryIDs(got), replay.ID)
	}

	// A delivered one too, to NATS.
	replayNATS := newDelivery(nats.EventID, ep.ID, 21)
	got, err = s.ReplayDelivery(ctx, nats.ID, replayNATS)
	if err != nil {
		t.Fatalf("ReplayDelivery(delivered) error = %v", err)
	}
	want = storedDelivery(replayNATS)
	want.Sink, want.EndpointID = storage.SinkNATS, ""
	if d := diff(want, got); d != "" {
		t.Errorf("ReplayDelivery(delivered to NATS) mismatch (-want +got):\n%s", d)
	}
	checkDelivery(t, s, "the NATS replay", want)

	_, err = s.ReplayDelivery(ctx, storage.NewID(storage.PrefixDelivery), newDelivery(d.EventID, ep.ID, 20))
	checkErr(t, "ReplayDelivery(missing)", err, storage.ErrNotFound)
}
