package storagetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func outboxTests() []test {
	return []test{
		{"CreateAndGet", testOutboxCreateAndGet},
		{"CreateDuplicateRefused", testOutboxCreateDuplicate},
		{"CreateInvalidRefused", testOutboxCreateInvalid},
		{"GetMissing", testOutboxGetMissing},
		{"ClaimTakesDueMessagesOnce", testOutboxClaim},
		{"ClaimRespectsLimitAndOrder", testOutboxClaimLimit},
		{"ClaimInvalidRefused", testOutboxClaimInvalid},
		{"Retry", testOutboxRetry},
		{"Finish", testOutboxFinish},
		{"FinishedNotClaimedOrChanged", testOutboxFinishedStays},
		{"DeleteFinished", testOutboxDeleteFinished},
		{"CreateInRolledBackTransactionLeavesNothing", testOutboxRollback},
		{"CreateInCommittedTransaction", testOutboxCommit},
		{"ConcurrentClaimersNeverShare", testOutboxConcurrentClaims},
	}
}

// newOutboxMessage returns a pending message created at(m), due at once,
// that becomes worthless an hour later.
func newOutboxMessage(m int) storage.OutboxMessage {
	return storage.OutboxMessage{
		ID:            storage.NewID("msg_"),
		To:            "Ada@Example.com",
		Subject:       "Your sign-in link",
		TextBody:      "Sign in: https://id.example.com/magic?t=abc\n",
		HTMLBody:      `<p><a href="https://id.example.com/magic?t=abc">Sign in</a></p>`,
		CreatedAt:     at(m),
		NotAfter:      at(m + 60),
		NextAttemptAt: at(m),
		Status:        storage.OutboxPending,
	}
}

func storedOutboxMessage(m storage.OutboxMessage) storage.OutboxMessage {
	m.CreatedAt, m.NextAttemptAt = stored(m.CreatedAt), stored(m.NextAttemptAt)
	if !m.NotAfter.IsZero() {
		m.NotAfter = stored(m.NotAfter)
	}
	if !m.FinishedAt.IsZero() {
		m.FinishedAt = stored(m.FinishedAt)
	}
	return m
}

func createOutboxMessage(t *testing.T, s storage.Store, m storage.OutboxMessage) storage.OutboxMessage {
	t.Helper()
	if err := s.CreateOutboxMessage(t.Context(), m); err != nil {
		t.Fatalf("CreateOutboxMessage(%q) error = %v", m.ID, err)
	}
	return storedOutboxMessage(m)
}

// checkOutboxMessage compares the stored message want.ID with want.
func checkOutboxMessage(t *testing.T, s storage.Store, call string, want storage.OutboxMessage) {
	t.Helper()
	got, err := s.GetOutboxMessage(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetOutboxMessage(%q) error = %v", call, want.ID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetOutboxMessage(%q) mismatch (-want +got):\n%s", call, want.ID, d)
	}
}

func claim(t *testing.T, s storage.Store, now time.Time, limit int, lease time.Duration) []storage.OutboxMessage {
	t.Helper()
	got, err := s.ClaimOutboxMessages(t.Context(), now, limit, lease)
	if err != nil {
		t.Fatalf("ClaimOutboxMessages(%s, %d, %s) error = %v", now, limit, lease, err)
	}
	return got
}

func ids(ms []storage.OutboxMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testOutboxCreateAndGet(t *testing.T, s storage.Store) {
	full := newOutboxMessage(0)
	full.Attempts, full.LastError = 2, "421 try later"
	full = createOutboxMessage(t, s, full)
	checkOutboxMessage(t, s, "every field", full)

	// No deadline and no HTML part: stored as zero and empty.
	bare := newOutboxMessage(0)
	bare.NotAfter, bare.HTMLBody = time.Time{}, ""
	bare = createOutboxMessage(t, s, bare)
	checkOutboxMessage(t, s, "no deadline, text only", bare)
}

func testOutboxCreateDuplicate(t *testing.T, s storage.Store) {
	m := createOutboxMessage(t, s, newOutboxMessage(0))
	again := newOutboxMessage(5)
	again.ID = m.ID
	err := s.CreateOutboxMessage(t.Context(), again)
	checkErr(t, "CreateOutboxMessage(taken ID)", err, storage.ErrAlreadyExists)
	checkOutboxMessage(t, s, "after the duplicate", m)
}

func testOutboxCreateInvalid(t *testing.T, s storage.Store) {
	tests := []struct {
		name   string
		change func(*storage.OutboxMessage)
	}{
		{"empty ID", func(m *storage.OutboxMessage) { m.ID = "" }},
		{"empty recipient", func(m *storage.OutboxMessage) { m.To = "" }},
		{"already sent", func(m *storage.OutboxMessage) { m.Status = storage.OutboxSent }},
		{"no status", func(m *storage.OutboxMessage) { m.Status = "" }},
		{"negative attempts", func(m *storage.OutboxMessage) { m.Attempts = -1 }},
	}
	for _, tc := range tests {
		m := newOutboxMessage(0)
		tc.change(&m)
		err := s.CreateOutboxMessage(t.Context(), m)
		checkErr(t, fmt.Sprintf("CreateOutboxMessage(%s)", tc.name), err, storage.ErrInvalid)
	}
	if got := claim(t, s, at(100), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimOutboxMessages() after refused creates = %q, want none", ids(got))
	}
}

func testOutboxGetMissing(t *testing.T, s storage.Store) {
	_, err := s.GetOutboxMessage(t.Context(), "msg_missing")
	checkErr(t, "GetOutboxMessage(missing)", err, storage.ErrNotFound)
}

// testOutboxClaim: a claim takes the due messages and leases them, so a
// second claim at the same time gets nothing; when the lease runs out they
// are due again.
func testOutboxClaim(t *testing.T, s storage.Store) {
	due := createOutboxMessage(t, s, newOutboxMessage(0))
	laterMsg := newOutboxMessage(0)
	laterMsg.NextAttemptAt = at(30) // backing off after a failure
	later := createOutboxMessage(t, s, laterMsg)

	got := claim(t, s, at(10), 10, 5*time.Minute)
	want := due
	want.Attempts, want.NextAttemptAt = 1, stored(at(15))
	if d := diff([]storage.OutboxMessage{want}, got); d != "" {
		t.Fatalf("ClaimOutboxMessages(at(10)) mismatch (-want +got):\n%s", d)
	}
	checkOutboxMessage(t, s, "claimed", want)
	checkOutboxMessage(t, s, "not yet due", later)

	if got := claim(t, s, at(10), 10, 5*time.Minute); len(got) != 0 {
		t.Errorf("ClaimOutboxMessages(at(10)) again = %q, want none: leased", ids(got))
	}
	// At at(15) the lease has run out (due is "not after now"). The new
	// lease runs past at(30).
	got = claim(t, s, at(15), 10, time.Hour)
	if d := diff([]string{due.ID}, ids(got)); d != "" {
		t.Errorf("ClaimOutboxMessages(at(15)) IDs mismatch (-want +got):\n%s", d)
	}
	if len(got) == 1 && got[0].Attempts != 2 {
		t.Errorf("ClaimOutboxMessages(at(15)) Attempts = %d, want 2", got[0].Attempts)
	}
	got = claim(t, s, at(30), 10, 5*time.Minute)
	if d := diff([]string{later.ID}, ids(got)); d != "" {
		t.Errorf("ClaimOutboxMessages(at(30)) IDs mismatch (-want +got):\n%s", d)
	}
}

// testOutboxClaimLimit: the longest-waiting messages go first, and no
// more than limit at a time; the result is ordered by creation.
func testOutboxClaimLimit(t *testing.T, s storage.Store) {
	var all []string
	for i := range 5 {
		m := newOutboxMessage(i)
		m.NextAttemptAt = at(10 - i) // the newest message is due first
		all = append(all, createOutboxMessage(t, s, m).ID)
	}
	first := claim(t, s, at(20), 2, time.Hour)
	if d := diff([]string{all[3], all[4]}, ids(first)); d != "" {
		t.Errorf("ClaimOutboxMessages(limit 2) IDs mismatch (-want +got):\n%s", d)
	}
	rest := claim(t, s, at(20), 10, time.Hour)
	if d := diff(all[:3], ids(rest)); d != "" {
		t.Errorf("ClaimOutboxMessages(the rest) IDs mismatch (-want +got):\n%s", d)
	}
}

func testOutboxClaimInvalid(t *testing.T, s storage.Store) {
	createOutboxMessage(t, s, newOutboxMessage(0))
	for _, tc := range []struct {
		limit int
		lease time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {10, 0}, {10, -time.Second}} {
		_, err := s.ClaimOutboxMessages(t.Context(), at(10), tc.limit, tc.lease)
		checkErr(t, fmt.Sprintf("ClaimOutboxMessages(limit %d, lease %s)", tc.limit, tc.lease), err, storage.ErrInvalid)
	}
}

func testOutboxRetry(t *testing.T, s storage.Store) {
	ctx := t.Context()
	m := createOutboxMessage(t, s, newOutboxMessage(0))
	claim(t, s, at(0), 10, time.Minute)

	if err := s.RetryOutboxMessage(ctx, m.ID, at(7), "dial tcp: connection refused"); err != nil {
		t.Fatalf("RetryOutboxMessage() error = %v", err)
	}
	want := m
	want.Attempts, want.NextAttemptAt, want.LastError = 1, stored(at(7)), "dial tcp: connection refused"
	checkOutboxMessage(t, s, "after RetryOutboxMessage", want)
	if got := claim(t, s, at(6), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimOutboxMessages(before the retry) = %q, want none", ids(got))
	}
	if got := claim(t, s, at(7), 10, time.Minute); len(got) != 1 {
		t.Errorf("ClaimOutboxMessages(at the retry) = %q, want %q", ids(got), m.ID)
	}

	err := s.RetryOutboxMessage(ctx, "msg_missing", at(7), "x")
	checkErr(t, "RetryOutboxMessage(missing)", err, storage.ErrNotFound)
}

// testOutboxFinish ends messages in each final state: the status and time
// are kept, the bodies (live links) erased.
func testOutboxFinish(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		status    storage.OutboxStatus
		lastError string
	}{
		{storage.OutboxSent, ""},
		{storage.OutboxDropped, "expired before it could be sent"},
		{storage.OutboxFailed, "550 no such user"},
	} {
		m := createOutboxMessage(t, s, newOutboxMessage(0))
		if err := s.FinishOutboxMessage(ctx, m.ID, tc.status, at(3), tc.lastError); err != nil {
			t.Errorf("FinishOutboxMessage(%s) error = %v", tc.status, err)
			continue
		}
		want := m
		want.Status, want.FinishedAt, want.LastError = tc.status, stored(at(3)), tc.lastError
		want.TextBody, want.HTMLBody = "", ""
		checkOutboxMessage(t, s, "after FinishOutboxMessage("+string(tc.status)+")", want)
	}

	m := createOutboxMessage(t, s, newOutboxMessage(0))
	for _, status := range []storage.OutboxStatus{storage.OutboxPending, "", "bounced"} {
		err := s.FinishOutboxMessage(ctx, m.ID, status, at(3), "")
		checkErr(t, fmt.Sprintf("FinishOutboxMessage(status %q)", status), err, storage.ErrInvalid)
	}
	checkOutboxMessage(t, s, "after refused finishes", m)
	err := s.FinishOutboxMessage(ctx, "msg_missing", storage.OutboxSent, at(3), "")
	checkErr(t, "FinishOutboxMessage(missing)", err, storage.ErrNotFound)
}

// testOutboxFinishedStays: a finished message is never claimed, and can be
// neither retried nor finished again (a worker whose lease ran out must
// not undo another's result).
func testOutboxFinishedStays(t *testing.T, s storage.Store) {
	ctx := t.Context()
	m := createOutboxMessage(t, s, newOutboxMessage(0))
	if err := s.FinishOutboxMessage(ctx, m.ID, storage.OutboxSent, at(1), ""); err != nil {
		t.Fatalf("FinishOutboxMessage() error = %v", err)
	}
	if got := claim(t, s, at(100), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimOutboxMessages() = %q, want none: sent", ids(got))
	}
	err := s.RetryOutboxMessage(ctx, m.ID, at(5), "late failure")
	checkErr(t, "RetryOutboxMessage(sent)", err, storage.ErrConflict)
	err = s.FinishOutboxMessage(ctx, m.ID, storage.OutboxFailed, at(5), "late failure")
	checkErr(t, "FinishOutboxMessage(sent)", err, storage.ErrConflict)

	want := m
	want.Status, want.FinishedAt, want.TextBody, want.HTMLBody = storage.OutboxSent, stored(at(1)), "", ""
	checkOutboxMessage(t, s, "after refused changes", want)
}

// testOutboxDeleteFinished deletes what finished strictly before the
// cut-off, whatever its final state, and never a pending message.
func testOutboxDeleteFinished(t *testing.T, s storage.Store) {
	ctx := t.Context()
	finish := func(status storage.OutboxStatus, m int) storage.OutboxMessage {
		msg := createOutboxMessage(t, s, newOutboxMessage(0))
		if err := s.FinishOutboxMessage(ctx, msg.ID, status, at(m), ""); err != nil {
			t.Fatalf("FinishOutboxMessage(%s) error = %v", status, err)
		}
		return msg
	}
	finish(storage.OutboxSent, 10)
	finish(storage.OutboxDropped, 10)
	finish(storage.OutboxFailed, 10)
	kept := finish(storage.OutboxSent, 20) // at(20) is not before at(20)
	pending := createOutboxMessage(t, s, newOutboxMessage(0))

	if n, err := s.DeleteFinishedOutboxMessages(ctx, at(20)); err != nil || n != 3 {
		t.Errorf("DeleteFinishedOutboxMessages(at(20)) = %d, %v; want 3, nil", n, err)
	}
	if n, err := s.DeleteFinishedOutboxMessages(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteFinishedOutboxMessages(at(20)) again = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.GetOutboxMessage(ctx, kept.ID); err != nil {
		t.Errorf("GetOutboxMessage(finished at the cut-off) error = %v", err)
	}
	if n, err := s.DeleteFinishedOutboxMessages(ctx, at(1000)); err != nil || n != 1 {
		t.Errorf("DeleteFinishedOutboxMessages(at(1000)) = %d, %v; want 1, nil", n, err)
	}
	checkOutboxMessage(t, s, "pending, after the sweeps", pending)
}

// testOutboxRollback: a message enqueued in a transaction that rolls back,
// with the token it announced, leaves nothing for a worker (F6).
func testOutboxRollback(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	m := newOutboxMessage(0)
	if err := s.CreateOutboxMessage(ctx, m); err != nil {
		t.Fatalf("CreateOutboxMessage(in a transaction) error = %v", err)
	}
	if _, err := s.GetOutboxMessage(ctx, m.ID); err != nil {
		t.Errorf("GetOutboxMessage(in the transaction) error = %v", err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	_, err := s.GetOutboxMessage(t.Context(), m.ID)
	checkErr(t, "GetOutboxMessage(after the rollback)", err, storage.ErrNotFound)
	if got := claim(t, s, at(100), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimOutboxMessages(after the rollback) = %q, want none", ids(got))
	}
}

// testOutboxCommit: a message enqueued in a transaction is invisible to
// workers until the commit.
func testOutboxCommit(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	m := newOutboxMessage(0)
	if err := s.CreateOutboxMessage(ctx, m); err != nil {
		t.Fatalf("CreateOutboxMessage(in a transaction) error = %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	checkOutboxMessage(t, s, "after the commit", storedOutboxMessage(m))
	if got := claim(t, s, at(100), 10, time.Minute); len(got) != 1 {
		t.Errorf("ClaimOutboxMessages(after the commit) = %q, want %q", ids(got), m.ID)
	}
}

// testOutboxConcurrentClaims: claimers (two Foyer instances' workers, and
// then some) claim in parallel until nothing is due; every message is
// claimed exactly once.
func testOutboxConcurrentClaims(t *testing.T, s storage.Store) {
	const messages, claimers = 60, 4
	var want []string
	for i := range messages {
		want = append(want, createOutboxMessage(t, s, newOutboxMessage(i%7)).ID)
	}
	slices.Sort(want)

	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range claimers {
		wg.Go(func() {
			<-start // release all at once for the most overlap
			for {
				ms, err := s.ClaimOutboxMessages(t.Context(), at(100), 3, time.Hour)
				if err != nil {
					t.Errorf("ClaimOutboxMessages() error = %v", err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				got = append(got, ids(ms)...)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(got)
	if d := diff(want, got); d != "" {
		t.Errorf("messages claimed by %d concurrent claimers (-each once +claimed):\n%s", claimers, d)
	}
}
