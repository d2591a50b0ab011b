package events

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyerdev/foyer/events/eventstest"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// The test vector of the Standard Webhooks reference implementations: a
// receiver's off-the-shelf library verifies what Foyer signs.
func TestSignStandardWebhooksVector(t *testing.T) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", secretPrefix))
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign() = %q, want %q", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	s := testSealer{}
	shown, sealed := NewSecret(s, "whe_1")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(shown, secretPrefix))
	if !strings.HasPrefix(shown, secretPrefix) || err != nil || len(key) != secretBytes {
		t.Fatalf("NewSecret() shown %q: want whsec_ and %d base64 bytes (%v)", shown, secretBytes, err)
	}
	opened, err := openSecret(s, storage.WebhookEndpoint{ID: "whe_1", Secret: sealed})
	if err != nil || !hmac.Equal(opened, key) {
		t.Errorf("the sealed secret opens to %x, %v; want the shown key", opened, err)
	}
	if _, err := openSecret(s, storage.WebhookEndpoint{ID: "whe_2", Secret: sealed}); err == nil {
		t.Error("a secret sealed for one endpoint opened for another")
	}
	if other, _ := NewSecret(s, "whe_1"); other == shown {
		t.Error("two secrets are equal")
	}
}

func TestBackoff(t *testing.T) {
	w, err := New(Options{Store: new(sqlite.Store), Sealer: testSealer{}, RetryMin: time.Second, RetryMax: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempts, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		for range 50 {
			if d := w.backoff(attempts); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempts, d, base/2, base)
			}
		}
	}
}

// testSealer "seals" by prefixing the context: enough to tell a secret
// opened under the wrong endpoint.
type testSealer struct{}

func (testSealer) Seal(p []byte, context string) []byte { return append([]byte(context+"|"), p...) }
func (testSealer) Open(s []byte, context string) ([]byte, error) {
	p, ok := strings.CutPrefix(string(s), context+"|")
	if !ok {
		return nil, errors.New("wrong context")
	}
	return []byte(p), nil
}

// register adds an endpoint of every event at r and gives r its secret.
func register(t *testing.T, s storage.Store, r *eventstest.Receiver) storage.WebhookEndpoint {
	e, secret := addEndpoint(t, s, r.URL, time.Now().Add(-time.Minute))
	r.SetSecret(secret)
	return e
}

func openStore(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// addEndpoint registers url for every event and returns its secret.
func addEndpoint(t testing.TB, s storage.Store, url string, created time.Time) (storage.WebhookEndpoint, string) {
	id := storage.NewID(storage.PrefixWebhookEndpoint)
	shown, sealed := NewSecret(testSealer{}, id)
	e, err := s.CreateWebhookEndpoint(t.Context(), storage.WebhookEndpoint{
		ID: id, URL: url, Secret: sealed, CreatedAt: created, UpdatedAt: created,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, shown
}

func createUsers(t testing.TB, s storage.Store, n int) []string {
	var ids []string
	for i := range n {
		now := time.Now().UTC()
		u, err := s.CreateUser(t.Context(), storage.User{ID: storage.NewID(storage.PrefixUser),
			Email: "p" + strconv.Itoa(i) + "@example.com", CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	return ids
}

// eventsOf returns the IDs of the events recorded for the users.
func eventsOf(t *testing.T, s storage.Store, users []string) map[string]string {
	evs, err := s.ListEvents(t.Context(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, ev := range evs {
		var d storage.UserData
		if json.Unmarshal(ev.Data, &d) == nil {
			for _, u := range users {
				if d.ID == u {
					want[ev.ID] = u
				}
			}
		}
	}
	if len(want) != len(users) {
		t.Fatalf("%d events for %d users", len(want), len(users))
	}
	return want
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// F6-like: the endpoint fails for a while; every event still arrives,
// signed, once it answers again, and the deliveries record the failures.
func TestWorkerRetriesUntilDelivered(t *testing.T) {
	s := openStore(t)
	r := eventstest.NewReceiver(t, func(n int) int {
		if n <= 6 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := register(t, s, r)
	users := createUsers(t, s, 3)
	want := eventsOf(t, s, users)

	w, err := New(Options{Store: s, Sealer: testSealer{}, AllowPrivate: true, PollInterval: 10 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	r.Wait(t, 20*time.Second, "every event delivered", func(m []eventstest.Message) bool { return len(m) == len(want) })
	got := r.ByID()
	for id, user := range want {
		var d storage.UserData
		if err := json.Unmarshal(got[id].Data, &d); err != nil || got[id].Type != storage.EventUserCreated || d.ID != user {
			t.Errorf("event %s arrived as %+v (%v), want user.created of %s", id, got[id], err, user)
		}
	}
	if n := r.Requests(); n < 7 {
		t.Errorf("%d requests; the first 6 failed, so at least 7 were needed", n)
	}
	waitFor(t, "deliveries recorded", func() bool {
		ds, _ := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: e.ID, Status: storage.DeliveryDelivered})
		return len(ds) == len(want)
	})
	ds, _ := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: e.ID})
	retried := 0
	for _, d := range ds {
		if d.Attempts > 1 {
			retried++
			if d.LastStatusCode != http.StatusOK {
				t.Errorf("delivery %+v: last status %d, want 200", d, d.LastStatusCode)
			}
		}
	}
	if retried == 0 {
		t.Errorf("no delivery records a retry: %+v", ds)
	}
}

// A delivery that keeps failing past RetryFor is marked failed with the
// endpoint's answer; a replay sends it again.
func TestWorkerGivesUpThenReplays(t *testing.T) {
	s := openStore(t)
	var ok atomic.Bool
	r := eventstest.NewReceiver(t, func(int) int {
		if ok.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	e := register(t, s, r)
	createUsers(t, s, 1)
	w, err := New(Options{Store: s, Sealer: testSealer{}, AllowPrivate: true, RetryMin: 10 * time.Millisecond,
		RetryMax: 20 * time.Millisecond, RetryFor: 300 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var failed storage.EventDelivery
	waitFor(t, "the delivery to fail", func() bool {
		w.Dispatch(t.Context())
		w.DeliverDue(t.Context())
		ds, _ := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: e.ID, Status: storage.DeliveryFailed})
		if len(ds) == 1 {
			failed = ds[0]
		}
		return len(ds) == 1
	})
	if failed.LastStatusCode != http.StatusServiceUnavailable || !strings.Contains(failed.LastError, "503") || failed.Attempts < 2 {
		t.Errorf("failed delivery = %+v, want the 503 recorded after several attempts", failed)
	}
	if len(r.Received()) != 0 {
		t.Fatal("something was accepted")
	}
	ok.Store(true)
	now := time.Now()
	if _, err := s.ReplayDelivery(t.Context(), failed.ID, storage.EventDelivery{ID: storage.NewID(storage.PrefixDelivery),
		Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	w.DeliverDue(t.Context())
	if got := r.Received(); len(got) != 1 || got[0].ID != failed.EventID {
		t.Errorf("after the replay the endpoint has %v, want the event %s", got, failed.EventID)
	}
}

// A disabled endpoint gets nothing: its delivery fails at once.
func TestWorkerDisabledEndpoint(t *testing.T) {
	s := openStore(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	e, _ := addEndpoint(t, s, srv.URL, time.Now().Add(-time.Minute))
	createUsers(t, s, 1)
	w, err := New(Options{Store: s, Sealer: testSealer{}, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Dispatch(t.Context())
	if _, err := s.UpdateWebhookEndpoint(t.Context(), e.ID, func(e storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
		e.Disabled = true
		return e, nil
	}); err != nil {
		t.Fatal(err)
	}
	w.DeliverDue(t.Context())
	ds, _ := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: e.ID})
	if len(ds) != 1 || ds[0].Status != storage.DeliveryFailed || calls.Load() != 0 {
		t.Errorf("deliveries %+v after %d calls, want one failed and no call", ds, calls.Load())
	}
}

// Without AllowPrivate an endpoint URL cannot reach Foyer's own network.
func TestWorkerRefusesInternalAddresses(t *testing.T) {
	s := openStore(t)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	e, _ := addEndpoint(t, s, srv.URL, time.Now().Add(-time.Minute))
	createUsers(t, s, 1)
	w, err := New(Options{Store: s, Sealer: testSealer{}})
	if err != nil {
		t.Fatal(err)
	}
	w.Dispatch(t.Context())
	w.DeliverDue(t.Context())
	ds, _ := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: e.ID})
	if len(ds) != 1 || ds[0].Status != storage.DeliveryPending || !strings.Contains(ds[0].LastError, "internal address") || calls.Load() != 0 {
		t.Errorf("deliveries %+v after %d calls, want a refusal to connect", ds, calls.Load())
	}
}

// Several instances on one Postgres database share the deliveries without
// sending any twice (dispatch and claims are FOR UPDATE SKIP LOCKED), and
// together deliver every event.
func TestWorkersShareWithoutDoubleSending(t *testing.T) {
	url := pgtest.Schema(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(t.Context(), postgres.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := eventstest.NewReceiver(t, func(int) int {
		time.Sleep(5 * time.Millisecond) // long enough for the workers to overlap
		return http.StatusOK
	})
	register(t, s, r)
	users := createUsers(t, s, 60)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		w, err := New(Options{Store: open(), Sealer: testSealer{}, AllowPrivate: true, PollInterval: 5 * time.Millisecond, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { w.Run(ctx) })
	}
	r.Wait(t, 30*time.Second, "every event", func(m []eventstest.Message) bool { return len(m) >= len(users) })
	time.Sleep(100 * time.Millisecond) // time for a double send to show
	cancel()
	wg.Wait()
	got := r.Received()
	seen := map[string]int{}
	for _, m := range got {
		seen[m.ID]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if len(seen) != len(users) {
		t.Errorf("%d events delivered, want %d", len(seen), len(users))
	}
}

// F1, for delivery: the database goes away while events wait and while
// the endpoint is being called (the worker can neither claim nor record
// results); once it is back, the worker carries on by itself and every
// event arrives — none lost, none needing a restart.
func TestWorkerSurvivesDatabaseOutageF1(t *testing.T) {
	url := pgtest.Schema(t)
	direct, err := postgres.Open(t.Context(), postgres.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	if _, err := direct.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, pgtest.HostPort())
	viaProxy, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.WithHost(url, proxy.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viaProxy.Close() })

	cut := make(chan struct{})
	var once sync.Once
	r := eventstest.NewReceiver(t, func(n int) int {
		if n == 1 { // the database drops while the first request is out
			once.Do(func() { proxy.Cut(); close(cut) })
		}
		return http.StatusOK
	})
	register(t, direct, r)
	users := createUsers(t, direct, 5)
	want := eventsOf(t, direct, users)

	w, err := New(Options{Store: viaProxy, Sealer: testSealer{}, AllowPrivate: true, PollInterval: 20 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Concurrency: 1, RetryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	<-cut
	time.Sleep(300 * time.Millisecond) // polls fail meanwhile
	if more := len(r.ByID()); more > 1 {
		t.Fatalf("%d events delivered while the database was away", more)
	}
	proxy.Restore()
	got := r.Wait(t, 30*time.Second, "every event after the outage", func(m []eventstest.Message) bool {
		seen := map[string]bool{}
		for _, x := range m {
			seen[x.ID] = true
		}
		return len(seen) == len(want)
	})
	for _, m := range got {
		if want[m.ID] == "" {
			t.Errorf("unexpected event %s", m.ID)
		}
	}
}
