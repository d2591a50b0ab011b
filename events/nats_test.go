package events

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/foyerdev/foyer/storage"
)

// natsURL is the NATS server with JetStream the tests publish to: CI runs
// one on every machine (.ci/run starts it), and the tests fail without it.
func natsURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// The second sink: every event reaches JetStream once, on its type's
// subject, with its ID as Nats-Msg-Id — a second publish of one event (a
// retry after a lost acknowledgement) is dropped as a duplicate.
func TestNATSSink(t *testing.T) {
	name := "FOYER_TEST_" + strings.ToUpper(storage.NewID(""))
	subject := "foyertest." + strings.ToLower(name)
	n, err := NewNATS(NATSOptions{URL: natsURL(), Stream: name, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	nc, err := nats.Connect(natsURL())
	if err != nil {
		t.Fatalf("NATS at %s: %v (CI starts it; see .ci/run)", natsURL(), err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	t.Cleanup(func() { js.DeleteStream(t.Context(), name) })

	s := openStore(t)
	users := createUsers(t, s, 2)
	want := eventsOf(t, s, users)
	w, err := New(Options{Store: s, Sealer: testSealer{}, NATS: n})
	if err != nil {
		t.Fatal(err)
	}
	w.Dispatch(t.Context())
	w.DeliverDue(t.Context())
	for id := range want {
		ev, err := s.GetEvent(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Publish(t.Context(), ev); err != nil { // a retry's duplicate
			t.Fatal(err)
		}
	}

	stream, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil || info.State.Msgs != uint64(len(want)) {
		t.Fatalf("stream holds %+v (%v), want %d messages: one per event, duplicates dropped", info.State, err, len(want))
	}
	cons, err := stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(len(want), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for m := range batch.Messages() {
		seen++
		id := m.Headers().Get(jetstream.MsgIDHeader)
		var p struct {
			Type string           `json:"type"`
			Data storage.UserData `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &p); err != nil || want[id] == "" || p.Data.ID != want[id] ||
			p.Type != storage.EventUserCreated || m.Subject() != subject+".user.created" {
			t.Errorf("message %q on %s: %s (%v)", id, m.Subject(), m.Data(), err)
		}
	}
	if seen != len(want) {
		t.Errorf("read %d messages, want %d", seen, len(want))
	}
	ds, _ := s.ClaimDeliveries(t.Context(), time.Now().Add(time.Hour), 10, time.Minute)
	if len(ds) != 0 {
		t.Errorf("deliveries still pending after publishing: %+v", ds)
	}
}
