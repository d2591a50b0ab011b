package storagetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/foyerdev/foyer/storage"
)

func auditTests() []test {
	return []test{
		{"AppendAndListNewestFirst", testAppendListAudit},
		{"DetailsRoundTrip", testAuditDetails},
		{"Filters", testAuditFilters},
		{"KeysetPagingVisitsEachEntryOnce", testAuditPaging},
		{"AppendInvalidRefused", testAppendAuditInvalid},
		{"AppendInRolledBackTransactionLeavesNothing", testAuditRollback},
		{"AppendInCommittedTransaction", testAuditCommit},
		{"DeleteBefore", testDeleteAuditBefore},
	}
}

// newAuditEntry returns a sign-in of a user to an organization at(m).
func newAuditEntry(m int) storage.AuditEntry {
	user := storage.NewID(storage.PrefixUser)
	return storage.AuditEntry{
		ID:         storage.NewID(storage.PrefixAuditEntry),
		OccurredAt: at(m),
		Type:       "signin.succeeded",
		ActorType:  storage.ActorUser,
		ActorID:    user,
		UserID:     user,
		OrgID:      storage.NewID(storage.PrefixOrganization),
		TargetType: "user",
		TargetID:   user,
		IP:         "2001:db8::7",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		Details:    json.RawMessage(`{"method": "password", "amr": ["pwd", "otp"], "n": 2}`),
	}
}

func storedAuditEntry(e storage.AuditEntry) storage.AuditEntry {
	e.OccurredAt = stored(e.OccurredAt)
	if len(e.Details) == 0 {
		e.Details = json.RawMessage(`{}`)
	}
	return e
}

func appendAudit(t *testing.T, s storage.Store, e storage.AuditEntry) storage.AuditEntry {
	t.Helper()
	if err := s.AppendAuditEntry(t.Context(), e); err != nil {
		t.Fatalf("AppendAuditEntry(%q) error = %v", e.ID, err)
	}
	return storedAuditEntry(e)
}

// equateJSON compares JSON documents by meaning: Postgres (jsonb) keeps
// neither spacing nor the order of keys.
func equateJSON() cmp.Option {
	return cmp.FilterValues(func(a, b json.RawMessage) bool { return len(a) > 0 || len(b) > 0 },
		cmp.Comparer(func(a, b json.RawMessage) bool {
			var x, y any
			if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
				return false
			}
			return cmp.Equal(x, y)
		}))
}

func listAudit(t *testing.T, s storage.Store, q storage.AuditQuery) []storage.AuditEntry {
	t.Helper()
	got, err := s.ListAuditEntries(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAuditEntries(%+v) error = %v", q, err)
	}
	return got
}

func auditIDs(es []storage.AuditEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// newestFirst sorts entries as ListAuditEntries returns them: by
// (OccurredAt, ID) descending.
func newestFirst(es []storage.AuditEntry) []storage.AuditEntry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b storage.AuditEntry) int {
		if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return es
}

func testAppendListAudit(t *testing.T, s storage.Store) {
	failed := newAuditEntry(1)
	failed.Type, failed.ActorType, failed.ActorID, failed.Reason = "signin.failed", storage.ActorAnonymous, "", "bad password"
	cli := newAuditEntry(2)
	cli.Type, cli.ActorType, cli.ActorID, cli.OrgID, cli.IP, cli.UserAgent = "cli.user.created", storage.ActorCLI, "", "", "", ""
	want := []storage.AuditEntry{appendAudit(t, s, failed), appendAudit(t, s, newAuditEntry(3)), appendAudit(t, s, cli)}

	got := listAudit(t, s, storage.AuditQuery{Limit: 100})
	if d := diff(newestFirst(want), got, equateJSON()); d != "" {
		t.Errorf("ListAuditEntries() mismatch (-want +got):\n%s", d)
	}
	for _, e := range got {
		checkTime(t, "ListAuditEntries() OccurredAt of "+e.ID, e.OccurredAt, e.OccurredAt.UTC())
	}
	if got := listAudit(t, s, storage.AuditQuery{Limit: 2}); len(got) != 2 || got[0].ID != want[1].ID || got[1].ID != want[2].ID {
		t.Errorf("ListAuditEntries(limit 2) = %q, want the two newest %q", auditIDs(got), []string{want[1].ID, want[2].ID})
	}
}

// testAuditDetails: Details come back as the same JSON object, if not the
// same bytes; none is stored as {}.
func testAuditDetails(t *testing.T, s storage.Store) {
	for i, details := range []string{
		``,
		`{}`,
		`{"b":1,"a":{"nested":[1,"two",null,true]}}`,
		`{"field": "email", "before": "ada@example.com", "after": "ada@lovelace.example", "unicode": "ünï “quoted” \u2028"}`,
	} {
		e := newAuditEntry(i)
		if details != "" {
			e.Details = json.RawMessage(details)
		} else {
			e.Details = nil
		}
		appendAudit(t, s, e)
		got := listAudit(t, s, storage.AuditQuery{UserID: e.UserID, Limit: 10})
		if len(got) != 1 {
			t.Errorf("ListAuditEntries(user of details %s) = %d entries, want 1", details, len(got))
			continue
		}
		if d := diff(storedAuditEntry(e), got[0], equateJSON()); d != "" {
			t.Errorf("ListAuditEntries(details %s) mismatch (-want +got):\n%s (Details = %s)", details, d, got[0].Details)
		}
	}
}

// testAuditFilters: each set field of the query narrows the result.
func testAuditFilters(t *testing.T, s storage.Store) {
	ada, bob, app := storage.NewID(storage.PrefixUser), storage.NewID(storage.PrefixUser), "cli_app"
	acme, globex := storage.NewID(storage.PrefixOrganization), storage.NewID(storage.PrefixOrganization)
	entry := func(m int, typ, actorType, actorID, userID, orgID string) storage.AuditEntry {
		e := newAuditEntry(m)
		e.Type, e.ActorType, e.ActorID, e.UserID, e.OrgID, e.TargetID = typ, actorType, actorID, userID, orgID, userID
		return appendAudit(t, s, e)
	}
	e1 := entry(1, "signin.failed", storage.ActorAnonymous, "", ada, "")
	e2 := entry(2, "signin.succeeded", storage.ActorUser, ada, ada, acme)
	e3 := entry(3, "admin.user.updated", storage.ActorClient, app, bob, acme)
	e4 := entry(4, "admin.user.updated", storage.ActorUser, ada, bob, globex)
	e5 := entry(5, "signin.succeeded", storage.ActorUser, bob, bob, globex)
	ids := func(es ...storage.AuditEntry) []string { return auditIDs(es) }

	for _, tc := range []struct {
		name string
		q    storage.AuditQuery
		want []string
	}{
		{"everything", storage.AuditQuery{}, ids(e5, e4, e3, e2, e1)},
		{"from, inclusive", storage.AuditQuery{From: stored(at(2))}, ids(e5, e4, e3, e2)},
		{"to, exclusive", storage.AuditQuery{To: stored(at(4))}, ids(e3, e2, e1)},
		{"from and to", storage.AuditQuery{From: stored(at(2)), To: stored(at(4))}, ids(e3, e2)},
		{"from and to between entries", storage.AuditQuery{From: stored(at(2)).Add(time.Second), To: stored(at(3)).Add(time.Second)}, ids(e3)},
		{"actor", storage.AuditQuery{ActorID: ada}, ids(e4, e2)},
		{"client actor", storage.AuditQuery{ActorID: app}, ids(e3)},
		{"user concerned", storage.AuditQuery{UserID: bob}, ids(e5, e4, e3)},
		{"organization", storage.AuditQuery{OrgID: acme}, ids(e3, e2)},
		{"type", storage.AuditQuery{Type: "admin.user.updated"}, ids(e4, e3)},
		{"type and organization", storage.AuditQuery{Type: "signin.succeeded", OrgID: globex}, ids(e5)},
		{"actor and user", storage.AuditQuery{ActorID: ada, UserID: ada}, ids(e2)},
		{"user and time", storage.AuditQuery{UserID: ada, To: stored(at(2))}, ids(e1)},
		{"no match", storage.AuditQuery{UserID: ada, OrgID: globex}, nil},
		{"unknown type", storage.AuditQuery{Type: "signin"}, nil},
		{"limit", storage.AuditQuery{UserID: bob, Limit: 2}, ids(e5, e4)},
	} {
		q := tc.q
		if q.Limit == 0 {
			q.Limit = 100
		}
		got, err := s.ListAuditEntries(t.Context(), q)
		if err != nil {
			t.Errorf("ListAuditEntries(%s) error = %v", tc.name, err)
			continue
		}
		if d := diff(tc.want, auditIDs(got)); d != "" {
			t.Errorf("ListAuditEntries(%s) IDs mismatch (-want +got):\n%s", tc.name, d)
		}
	}
}

// testAuditPaging walks the log page by page, each page before the last
// entry of the one before: every entry comes exactly once, in order, even
// where several share a time.
func testAuditPaging(t *testing.T, s storage.Store) {
	user := storage.NewID(storage.PrefixUser)
	var all, ofUser []storage.AuditEntry
	for i, m := range []int{1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 6} {
		e := newAuditEntry(m)
		if i%2 == 0 {
			e.UserID = user
		}
		e = appendAudit(t, s, e)
		all = append(all, e)
		if e.UserID == user {
			ofUser = append(ofUser, e)
		}
	}
	all, ofUser = newestFirst(all), newestFirst(ofUser)

	for _, tc := range []struct {
		name  string
		q     storage.AuditQuery
		limit int
		want  []storage.AuditEntry
	}{
		{"everything by 2", storage.AuditQuery{}, 2, all},
		{"everything by 3", storage.AuditQuery{}, 3, all},
		{"everything by 1", storage.AuditQuery{}, 1, all},
		{"one user by 2", storage.AuditQuery{UserID: user}, 2, ofUser},
	} {
		var got []string
		q := tc.q
		q.Limit = tc.limit
		for page := 0; ; page++ {
			if page > len(all)+1 {
				t.Fatalf("paging %s never ends: got %q so far", tc.name, got)
			}
			es := listAudit(t, s, q)
			if len(es) > tc.limit {
				t.Errorf("paging %s: page %d has %d entries, over the limit %d", tc.name, page, len(es), tc.limit)
			}
			if len(es) == 0 {
				break
			}
			got = append(got, auditIDs(es)...)
			last := es[len(es)-1]
			q.BeforeTime, q.BeforeID = last.OccurredAt, last.ID
		}
		if d := diff(auditIDs(tc.want), got); d != "" {
			t.Errorf("paging %s (-every entry once, newest first +got):\n%s", tc.name, d)
		}
	}

	// Before an entry among several of its time: the rest of that time,
	// then the older ones.
	at2 := []storage.AuditEntry{}
	for _, e := range all {
		if e.OccurredAt.Equal(stored(at(2))) {
			at2 = append(at2, e)
		}
	}
	middle := at2[1]
	q := storage.AuditQuery{BeforeTime: middle.OccurredAt, BeforeID: middle.ID, Limit: 100}
	want := auditIDs(all[slices.IndexFunc(all, func(e storage.AuditEntry) bool { return e.ID == middle.ID })+1:])
	if d := diff(want, auditIDs(listAudit(t, s, q))); d != "" {
		t.Errorf("ListAuditEntries(before the middle entry of at(2)) IDs mismatch (-want +got):\n%s", d)
	}
}

func testAppendAuditInvalid(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name   string
		change func(*storage.AuditEntry)
	}{
		{"empty ID", func(e *storage.AuditEntry) { e.ID = "" }},
		{"empty type", func(e *storage.AuditEntry) { e.Type = "" }},
		{"empty actor type", func(e *storage.AuditEntry) { e.ActorType = "" }},
	} {
		e := newAuditEntry(0)
		tc.change(&e)
		err := s.AppendAuditEntry(t.Context(), e)
		checkErr(t, fmt.Sprintf("AppendAuditEntry(%s)", tc.name), err, storage.ErrInvalid)
	}
	if got := listAudit(t, s, storage.AuditQuery{Limit: 100}); len(got) != 0 {
		t.Errorf("ListAuditEntries() after refused appends = %q, want none", auditIDs(got))
	}
}

// testAuditRollback: an entry appended in a transaction that rolls back is
// gone with the change it records.
func testAuditRollback(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	u, err := s.CreateUser(ctx, newUser("ada@example.com"))
	if err != nil {
		t.Fatalf("CreateUser(in a transaction) error = %v", err)
	}
	e := newAuditEntry(0)
	e.Type, e.TargetID = "admin.user.created", u.ID
	if err := s.AppendAuditEntry(ctx, e); err != nil {
		t.Fatalf("AppendAuditEntry(in a transaction) error = %v", err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	if got := listAudit(t, s, storage.AuditQuery{Limit: 100}); len(got) != 0 {
		t.Errorf("ListAuditEntries(after the rollback) = %q, want none", auditIDs(got))
	}
	_, err = s.GetUser(t.Context(), u.ID)
	checkErr(t, "GetUser(after the rollback)", err, storage.ErrNotFound)
}

// testAuditCommit: an entry appended in a transaction is seen outside it
// only after the commit.
func testAuditCommit(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	e := newAuditEntry(0)
	if err := s.AppendAuditEntry(ctx, e); err != nil {
		t.Fatalf("AppendAuditEntry(in a transaction) error = %v", err)
	}
	if got := listAudit(t, s, storage.AuditQuery{Limit: 100}); len(got) != 0 {
		t.Errorf("ListAuditEntries(outside, before Commit) = %q, want none", auditIDs(got))
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	got := listAudit(t, s, storage.AuditQuery{Limit: 100})
	if d := diff([]storage.AuditEntry{storedAuditEntry(e)}, got, equateJSON()); d != "" {
		t.Errorf("ListAuditEntries(after the commit) mismatch (-want +got):\n%s", d)
	}
}

// testDeleteAuditBefore deletes the entries strictly older than the
// cut-off and counts them.
func testDeleteAuditBefore(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var es []storage.AuditEntry
	for _, m := range []int{1, 2, 3, 4} {
		es = append(es, appendAudit(t, s, newAuditEntry(m)))
	}
	if n, err := s.DeleteAuditEntriesBefore(ctx, stored(at(3))); err != nil || n != 2 {
		t.Errorf("DeleteAuditEntriesBefore(at(3)) = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.DeleteAuditEntriesBefore(ctx, stored(at(3))); err != nil || n != 0 {
		t.Errorf("DeleteAuditEntriesBefore(at(3)) again = %d, %v; want 0, nil", n, err)
	}
	if d := diff(auditIDs([]storage.AuditEntry{es[3], es[2]}), auditIDs(listAudit(t, s, storage.AuditQuery{Limit: 100}))); d != "" {
		t.Errorf("entries left (-want +got):\n%s", d)
	}
	if n, err := s.DeleteAuditEntriesBefore(ctx, at(100)); err != nil || n != 2 {
		t.Errorf("DeleteAuditEntriesBefore(at(100)) = %d, %v; want 2, nil", n, err)
	}
}
