package audit

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

type memLog struct{ entries []storage.AuditEntry }

func (m *memLog) AppendAuditEntry(_ context.Context, e storage.AuditEntry) error {
	m.entries = append(m.entries, e)
	return nil
}
func (m *memLog) ListAuditEntries(context.Context, storage.AuditQuery) ([]storage.AuditEntry, error) {
	return m.entries, nil
}
func (m *memLog) DeleteAuditEntriesBefore(context.Context, time.Time) (int64, error) { return 0, nil }

func TestRecordFillsIDTimeAndActor(t *testing.T) {
	log := &memLog{}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.FixedZone("x", 3600))
	r := New(log, func() time.Time { return at }, nil)
	if err := r.Record(t.Context(), storage.AuditEntry{Type: SignOut, ActorID: "usr_1"}); err != nil {
		t.Fatal(err)
	}
	r.Log(t.Context(), storage.AuditEntry{Type: SignInFailed})
	a, b := log.entries[0], log.entries[1]
	if !strings.HasPrefix(a.ID, storage.PrefixAuditEntry) || a.ID == b.ID || !a.OccurredAt.Equal(at) || a.OccurredAt.Location() != time.UTC {
		t.Errorf("entry = %+v, want a new aud_ ID and the clock's time in UTC", a)
	}
	if a.ActorType != storage.ActorUser || b.ActorType != storage.ActorAnonymous {
		t.Errorf("actor types = %q, %q; want user (an actor ID) and anonymous (none)", a.ActorType, b.ActorType)
	}
	var nilRecorder *Recorder
	if err := nilRecorder.Record(t.Context(), storage.AuditEntry{Type: SignOut}); err != nil {
		t.Errorf("a nil Recorder: %v, want nothing recorded and no error", err)
	}
}

func TestFromKeepsIPAndBoundsUserAgent(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("User-Agent", strings.Repeat("a", 2000))
	e := From(req, "203.0.113.7", storage.AuditEntry{Type: SignOut})
	if e.IP != "203.0.113.7" || len(e.UserAgent) != 512 || e.Type != SignOut {
		t.Errorf("From() = IP %q, user agent of %d bytes", e.IP, len(e.UserAgent))
	}
}

func TestDiffKeepsChangedFieldsOnly(t *testing.T) {
	c := Diff(map[string]any{"name": "A", "admin": false, "gone": 1, "roles": []string{"x"}},
		map[string]any{"name": "B", "admin": false, "new": true, "roles": []string{"x"}})
	got, _ := json.Marshal(c)
	if want := `{"before":{"gone":1,"name":"A","new":null},"after":{"name":"B","new":true}}`; string(got) != want {
		t.Errorf("Diff() = %s, want %s", got, want)
	}
	if d := Details(func() {}); string(d) != "{}" {
		t.Errorf("Details(unmarshalable) = %s, want {}", d)
	}
}
