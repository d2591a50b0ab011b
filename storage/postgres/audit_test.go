package postgres

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// TestAuditLog: entries page newest first by (OccurredAt, ID), every
// filter narrows, empty Details read as {}, and an entry appended in a
// transaction goes with its rollback.
func TestAuditLog(t *testing.T) {
	s := openFresh(t)
	ctx := t.Context()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	entry := func(i int, actor, org string) storage.AuditEntry {
		return storage.AuditEntry{
			ID: storage.NewID(storage.PrefixAuditEntry), OccurredAt: base.Add(time.Duration(i/2) * time.Minute), // pairs share a time
			Type: "signin.succeeded", ActorType: storage.ActorUser, ActorID: actor, UserID: actor, OrgID: org,
		}
	}
	var all []storage.AuditEntry
	for i := range 20 {
		e := entry(i, "usr_a", "")
		if i%3 == 0 {
			e = entry(i, "usr_b", "org_x")
			e.Details = json.RawMessage(`{"method":"pwd"}`)
		}
		if err := s.AppendAuditEntry(ctx, e); err != nil {
			t.Fatalf("AppendAuditEntry() error = %v", err)
		}
		all = append(all, e)
	}

	var got []storage.AuditEntry
	q := storage.AuditQuery{Limit: 6}
	for range 10 {
		page, err := s.ListAuditEntries(ctx, q)
		if err != nil {
			t.Fatalf("ListAuditEntries(%+v) error = %v", q, err)
		}
		got = append(got, page...)
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.BeforeTime, q.BeforeID = last.OccurredAt, last.ID
	}
	if len(got) != len(all) {
		t.Fatalf("ListAuditEntries pages = %d entries, want %d", len(got), len(all))
	}
	seen := map[string]bool{}
	for i, e := range got {
		seen[e.ID] = true
		if i > 0 {
			prev := got[i-1]
			if prev.OccurredAt.Before(e.OccurredAt) || prev.OccurredAt.Equal(e.OccurredAt) && prev.ID < e.ID {
				t.Errorf("entries %d and %d out of order: (%v, %s) then (%v, %s)", i-1, i, prev.OccurredAt, prev.ID, e.OccurredAt, e.ID)
			}
		}
		var details map[string]any
		if err := json.Unmarshal(e.Details, &details); err != nil || details == nil {
			t.Errorf("entry %s Details = %s, want a JSON object", e.ID, e.Details)
		}
	}
	if len(seen) != len(all) {
		t.Errorf("pages repeat entries: %d distinct of %d", len(seen), len(all))
	}

	for _, tc := range []struct {
		name string
		q    storage.AuditQuery
		want int
	}{
		{"actor", storage.AuditQuery{ActorID: "usr_b"}, 7},
		{"user", storage.AuditQuery{UserID: "usr_a"}, 13},
		{"org", storage.AuditQuery{OrgID: "org_x"}, 7},
		{"type", storage.AuditQuery{Type: "signin.failed"}, 0},
		{"from", storage.AuditQuery{From: base.Add(5 * time.Minute)}, 10},
		{"to", storage.AuditQuery{To: base.Add(5 * time.Minute)}, 10},
		{"from to org", storage.AuditQuery{From: base.Add(time.Minute), To: base.Add(4 * time.Minute), OrgID: "org_x"}, 2},
	} {
		es, err := s.ListAuditEntries(ctx, tc.q)
		if err != nil || len(es) != tc.want {
			t.Errorf("ListAuditEntries(%s) = %d entries, %v; want %d", tc.name, len(es), err, tc.want)
		}
	}

	for _, bad := range []storage.AuditEntry{
		{Type: "x", ActorType: storage.ActorSystem},
		{ID: "aud_1", ActorType: storage.ActorSystem},
		{ID: "aud_1", Type: "x"},
		{ID: "aud_1", Type: "x", ActorType: storage.ActorSystem, Details: json.RawMessage(`[1]`)},
		{ID: "aud_1", Type: "x", ActorType: storage.ActorSystem, Details: json.RawMessage(`{`)},
	} {
		if err := s.AppendAuditEntry(ctx, bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("AppendAuditEntry(%+v) error = %v, want ErrInvalid", bad, err)
		}
	}
	if err := s.AppendAuditEntry(ctx, all[0]); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("AppendAuditEntry(taken ID) error = %v, want ErrAlreadyExists", err)
	}

	tx, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAuditEntry(tx, entry(100, "usr_c", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if es, err := s.ListAuditEntries(ctx, storage.AuditQuery{ActorID: "usr_c"}); err != nil || len(es) != 0 {
		t.Errorf("ListAuditEntries(rolled back) = %d entries, %v; want none", len(es), err)
	}

	if n, err := s.DeleteAuditEntriesBefore(ctx, base.Add(5*time.Minute)); err != nil || n != 10 {
		t.Errorf("DeleteAuditEntriesBefore() = %d, %v; want 10", n, err)
	}
}
