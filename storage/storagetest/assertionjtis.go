package storagetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// The contract gives UseAssertionJTI no "now": a backend judges expiry by
// its own clock. These cases therefore use expiries an hour from the wall
// clock (fromNow) where a jti must still count, and the fixed past of at()
// where it must have expired.

func assertionJTITests() []test {
	return []test{
		{"FirstUse", testUseAssertionJTI},
		{"ReuseBeforeExpiryRefused", testReuseAssertionJTI},
		{"ExpiredUsedAgain", testReuseExpiredAssertionJTI},
		{"EmptyRefused", testUseEmptyAssertionJTI},
		{"ConcurrentUseOnce", testConcurrentUseAssertionJTI},
		{"ConcurrentReuseOfExpiredOnce", testConcurrentReuseExpiredAssertionJTI},
		{"InTransaction", testUseAssertionJTIInTx},
		{"DeleteExpired", testDeleteExpiredAssertionJTIs},
	}
}

// fromNow is the wall clock moved by d: the store's clock, give or take.
func fromNow(d time.Duration) time.Time { return time.Now().Add(d) }

// newJTI stands for the keyed hash of a client assertion's jti.
func newJTI() string { return rand.Text() }

func useJTI(t *testing.T, s storage.Store, call, jti string, expiresAt time.Time) {
	t.Helper()
	if err := s.UseAssertionJTI(t.Context(), jti, expiresAt); err != nil {
		t.Fatalf("UseAssertionJTI(%s) error = %v", call, err)
	}
}

func testUseAssertionJTI(t *testing.T, s storage.Store) {
	if err := s.UseAssertionJTI(t.Context(), newJTI(), fromNow(time.Hour)); err != nil {
		t.Errorf("UseAssertionJTI(new jti) error = %v", err)
	}
}

// testReuseAssertionJTI replays an assertion before it expires: refused,
// whatever expiry the replay claims, while another jti is still accepted.
func testReuseAssertionJTI(t *testing.T, s storage.Store) {
	ctx := t.Context()
	jti := newJTI()
	useJTI(t, s, "first use", jti, fromNow(time.Hour))

	err := s.UseAssertionJTI(ctx, jti, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(second use)", err, storage.ErrAlreadyExists)
	err = s.UseAssertionJTI(ctx, jti, fromNow(2*time.Hour))
	checkErr(t, "UseAssertionJTI(second use, later expiry)", err, storage.ErrAlreadyExists)
	err = s.UseAssertionJTI(ctx, jti, at(0))
	checkErr(t, "UseAssertionJTI(second use, expiry in the past)", err, storage.ErrAlreadyExists)
	if err := s.UseAssertionJTI(ctx, newJTI(), fromNow(time.Hour)); err != nil {
		t.Errorf("UseAssertionJTI(another jti) error = %v", err)
	}
}

// testReuseExpiredAssertionJTI uses a jti whose record has expired: the
// record is replaced, and the replacement's expiry counts from then on.
func testReuseExpiredAssertionJTI(t *testing.T, s storage.Store) {
	ctx := t.Context()
	jti := newJTI()
	useJTI(t, s, "expiring in the past", jti, at(0))
	useJTI(t, s, "expired, again expiring in the past", jti, at(10))
	useJTI(t, s, "expired, now expiring in an hour", jti, fromNow(time.Hour))

	err := s.UseAssertionJTI(ctx, jti, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(after the replacement)", err, storage.ErrAlreadyExists)
}

func testUseEmptyAssertionJTI(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for range 2 { // the first refusal stored nothing for the second to find
		err := s.UseAssertionJTI(ctx, "", fromNow(time.Hour))
		checkErr(t, "UseAssertionJTI(empty jti)", err, storage.ErrInvalid)
	}
}

// testConcurrentUseAssertionJTI replays one assertion from writers requests
// at once: exactly one is accepted.
func testConcurrentUseAssertionJTI(t *testing.T, s storage.Store) {
	jti := newJTI()
	checkOneUses(t, s, jti)
	err := s.UseAssertionJTI(t.Context(), jti, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(after concurrent uses)", err, storage.ErrAlreadyExists)
}

// testConcurrentReuseExpiredAssertionJTI replaces one expired record from
// writers requests at once: exactly one replaces it, and the others then
// find the replacement unexpired.
func testConcurrentReuseExpiredAssertionJTI(t *testing.T, s storage.Store) {
	jti := newJTI()
	useJTI(t, s, "expiring in the past", jti, at(0))
	checkOneUses(t, s, jti)
}

// checkOneUses runs UseAssertionJTI(jti) from writers goroutines at once and
// checks that exactly one returns nil and the others ErrAlreadyExists.
func checkOneUses(t *testing.T, s storage.Store, jti string) {
	t.Helper()
	expiresAt := fromNow(time.Hour)
	checkExactlyOne(t, "uses of one jti", storage.ErrAlreadyExists, func() error {
		return s.UseAssertionJTI(t.Context(), jti, expiresAt)
	})
}

// testUseAssertionJTIInTx uses jtis in transactions carried by a context:
// the transaction sees its own use, a rollback forgets it and a commit
// keeps it.
func testUseAssertionJTIInTx(t *testing.T, s storage.Store) {
	rolledBack, committed := newJTI(), newJTI()

	ctx := beginTx(t, s)
	if err := s.UseAssertionJTI(ctx, rolledBack, fromNow(time.Hour)); err != nil {
		t.Fatalf("UseAssertionJTI(in a transaction) error = %v", err)
	}
	err := s.UseAssertionJTI(ctx, rolledBack, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(again in the transaction)", err, storage.ErrAlreadyExists)
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	useJTI(t, s, "after the rollback", rolledBack, fromNow(time.Hour))

	ctx = beginTx(t, s)
	if err := s.UseAssertionJTI(ctx, committed, fromNow(time.Hour)); err != nil {
		t.Fatalf("UseAssertionJTI(in a transaction) error = %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	err = s.UseAssertionJTI(t.Context(), committed, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(after the commit)", err, storage.ErrAlreadyExists)
}

// testDeleteExpiredAssertionJTIs: DeleteExpiredOAuthSessions also deletes
// the jtis that expired strictly before now, and counts them with the
// sessions.
func testDeleteExpiredAssertionJTIs(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	expiredSession := newOAuthSession(storage.KindAccessToken, "req-1", client.ID)
	expiredSession.ExpiresAt = at(10)
	createOAuthSession(t, s, expiredSession)
	keptSession := newOAuthSession(storage.KindAccessToken, "req-2", client.ID)
	keptSession.ExpiresAt = fromNow(time.Hour)
	keptSession = createOAuthSession(t, s, keptSession)

	useJTI(t, s, "expiring at(10)", newJTI(), at(10))
	// Stored, and compared, in microseconds: at(20) is not before at(20).
	useJTI(t, s, "expiring at(20)", newJTI(), at(20))
	useJTI(t, s, "expiring at(30)", newJTI(), at(30))
	live := newJTI()
	useJTI(t, s, "expiring in an hour", live, fromNow(time.Hour))

	// The session and the jti that expired at(10).
	if n, err := s.DeleteExpiredOAuthSessions(ctx, at(20)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredOAuthSessions(at(20)) = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.DeleteExpiredOAuthSessions(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredOAuthSessions(at(20)) again = %d, %v; want 0, nil", n, err)
	}
	// The jtis that expired at(20) and at(30).
	if n, err := s.DeleteExpiredOAuthSessions(ctx, time.Now()); err != nil || n != 2 {
		t.Errorf("DeleteExpiredOAuthSessions(now) = %d, %v; want 2, nil", n, err)
	}
	checkOAuthSession(t, s, "session expiring in an hour", keptSession)
	err := s.UseAssertionJTI(ctx, live, fromNow(time.Hour))
	checkErr(t, "UseAssertionJTI(kept by DeleteExpiredOAuthSessions)", err, storage.ErrAlreadyExists)
}
