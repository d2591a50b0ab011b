package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func rateLimitTests() []test {
	return []test{
		{"HitCountsWithinWindow", testHitRateLimit},
		{"HitStartsNewWindowWhenOver", testHitRateLimitNewWindow},
		{"HitKeysAreIndependent", testHitRateLimitKeys},
		{"HitInvalidRefused", testHitRateLimitInvalid},
		{"ConcurrentHitsAllowExactlyLimit", testConcurrentHitRateLimit},
		{"LockoutCreateGetDelete", testLockout},
		{"LockoutUpdateErrorStoresNothing", testLockoutUpdateError},
		{"LockoutInvalidRefused", testLockoutInvalid},
		{"ConcurrentLockoutUpdatesLoseNothing", testConcurrentLockoutUpdates},
		{"ConcurrentLockoutAttemptsAllowExactlyLimit", testConcurrentLockoutAttempts},
		{"LockoutInTransaction", testLockoutInTx},
		{"DeleteExpired", testDeleteExpiredRateLimits},
	}
}

// attackers is how many requests SECURITY.md LG-04 sends at once against
// a limit of attackLimit.
const attackers, attackLimit = 50, 5

func hit(t *testing.T, s storage.Store, key string, now time.Time, window time.Duration, limit int) storage.RateLimitState {
	t.Helper()
	st, err := s.HitRateLimit(t.Context(), key, now, window, limit)
	if err != nil {
		t.Fatalf("HitRateLimit(%q, %v) error = %v", key, now, err)
	}
	return st
}

func checkHit(t *testing.T, call string, got, want storage.RateLimitState) {
	t.Helper()
	if d := diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, d)
	}
}

// testHitRateLimit: hits within a window are counted and allowed up to the
// limit, then refused; the count stops at limit+1.
func testHitRateLimit(t *testing.T, s storage.Store) {
	const limit = 3
	window := 10 * time.Minute
	for i := 1; i <= limit+2; i++ {
		now := at(0).Add(time.Duration(i) * time.Second)
		got := hit(t, s, "k", now, window, limit)
		want := storage.RateLimitState{
			Key: "k", Hits: min(i, limit+1), Allowed: i <= limit,
			WindowStart: stored(at(0).Add(time.Second)), WindowEnd: stored(at(0).Add(time.Second + window)),
		}
		checkHit(t, fmt.Sprintf("HitRateLimit(hit %d)", i), got, want)
	}
}

// testHitRateLimitNewWindow: a hit at or after the window's end starts a
// new window, whatever the old count; just before the end it does not.
func testHitRateLimitNewWindow(t *testing.T, s storage.Store) {
	window := 10 * time.Minute
	for range 3 {
		hit(t, s, "k", at(0), window, 2)
	}
	got := hit(t, s, "k", at(10).Add(-time.Microsecond), window, 2)
	checkHit(t, "HitRateLimit(just before the end)", got,
		storage.RateLimitState{Key: "k", Hits: 3, WindowStart: stored(at(0)), WindowEnd: stored(at(10))})
	got = hit(t, s, "k", at(10), window, 2)
	checkHit(t, "HitRateLimit(at the end)", got,
		storage.RateLimitState{Key: "k", Hits: 1, Allowed: true, WindowStart: stored(at(10)), WindowEnd: stored(at(20))})
	got = hit(t, s, "k", at(45), window, 2)
	checkHit(t, "HitRateLimit(long after)", got,
		storage.RateLimitState{Key: "k", Hits: 1, Allowed: true, WindowStart: stored(at(45)), WindowEnd: stored(at(55))})
}

func testHitRateLimitKeys(t *testing.T, s storage.Store) {
	hit(t, s, "a", at(0), time.Minute, 1)
	if got := hit(t, s, "a", at(0), time.Minute, 1); got.Allowed {
		t.Errorf("HitRateLimit(a, second hit) = %+v, want refused", got)
	}
	if got := hit(t, s, "b", at(0), time.Minute, 1); !got.Allowed || got.Hits != 1 {
		t.Errorf("HitRateLimit(b, first hit) = %+v, want allowed with 1 hit", got)
	}
}

func testHitRateLimitInvalid(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name   string
		key    string
		window time.Duration
		limit  int
	}{
		{"empty key", "", time.Minute, 1},
		{"limit 0", "k", time.Minute, 0},
		{"negative limit", "k", time.Minute, -1},
		{"window 0", "k", 0, 1},
		{"negative window", "k", -time.Minute, 1},
	} {
		st, err := s.HitRateLimit(t.Context(), tc.key, at(0), tc.window, tc.limit)
		checkErr(t, "HitRateLimit("+tc.name+")", err, storage.ErrInvalid)
		if st.Allowed {
			t.Errorf("HitRateLimit(%s) allowed", tc.name)
		}
	}
}

// testConcurrentHitRateLimit sends attackers hits on one new key at once
// against a limit of attackLimit: exactly attackLimit are allowed
// (SECURITY.md LG-04), and the count ends at attackLimit+1.
func testConcurrentHitRateLimit(t *testing.T, s storage.Store) {
	allowed := countAllowed(t, "HitRateLimit", func() (bool, error) {
		st, err := s.HitRateLimit(t.Context(), "pwd:acct:k", at(0), time.Minute, attackLimit)
		return st.Allowed, err
	})
	if allowed != attackLimit {
		t.Errorf("%d concurrent HitRateLimit calls against limit %d: %d allowed, want %d", attackers, attackLimit, allowed, attackLimit)
	}
	if got := hit(t, s, "pwd:acct:k", at(0), time.Minute, attackLimit); got.Hits != attackLimit+1 || got.Allowed {
		t.Errorf("HitRateLimit(after the burst) = %+v, want refused with %d hits", got, attackLimit+1)
	}
}

// countAllowed runs try from attackers goroutines at once and returns how
// many were allowed; every error fails the test.
func countAllowed(t *testing.T, call string, try func() (bool, error)) int {
	t.Helper()
	results := make([]bool, attackers)
	errs := make([]error, attackers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range attackers {
		wg.Go(func() {
			<-start // release all at once for the most overlap
			results[i], errs[i] = try()
		})
	}
	close(start)
	wg.Wait()
	allowed := 0
	for i := range attackers {
		if errs[i] != nil {
			t.Errorf("%s #%d error = %v", call, i, errs[i])
		}
		if results[i] {
			allowed++
		}
	}
	return allowed
}

// fail is an UpdateLockout closure that counts one failure and locks from
// the third on.
func fail(l storage.Lockout) (storage.Lockout, error) {
	l.Failures++
	if l.Failures >= 3 {
		l.LockedUntil = at(l.Failures)
	}
	l.ExpiresAt = at(60 + l.Failures)
	return l, nil
}

func updateLockout(t *testing.T, s storage.Store, key string, update func(storage.Lockout) (storage.Lockout, error)) storage.Lockout {
	t.Helper()
	l, err := s.UpdateLockout(t.Context(), key, update)
	if err != nil {
		t.Fatalf("UpdateLockout(%q) error = %v", key, err)
	}
	return l
}

func checkLockout(t *testing.T, s storage.Store, call string, want storage.Lockout) {
	t.Helper()
	got, err := s.GetLockout(t.Context(), want.Key)
	if err != nil {
		t.Errorf("%s: GetLockout(%q) error = %v", call, want.Key, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetLockout(%q) mismatch (-want +got):\n%s", call, want.Key, d)
	}
}

// testLockout creates a lockout by updating a key that has none, updates
// it, reads it and deletes it.
func testLockout(t *testing.T, s storage.Store) {
	ctx := t.Context()
	_, err := s.GetLockout(ctx, "k")
	checkErr(t, "GetLockout(none)", err, storage.ErrNotFound)

	var seen storage.Lockout
	got := updateLockout(t, s, "k", func(l storage.Lockout) (storage.Lockout, error) {
		seen = l
		return fail(l)
	})
	if d := diff(storage.Lockout{Key: "k"}, seen); d != "" {
		t.Errorf("UpdateLockout(new key) passed update (-want +got):\n%s", d)
	}
	want := storage.Lockout{Key: "k", Failures: 1, ExpiresAt: stored(at(61))}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateLockout(new key) mismatch (-want +got):\n%s", d)
	}
	checkLockout(t, s, "after the first failure", want)

	updateLockout(t, s, "k", fail)
	got = updateLockout(t, s, "k", func(l storage.Lockout) (storage.Lockout, error) {
		seen = l
		return fail(l)
	})
	if d := diff(storage.Lockout{Key: "k", Failures: 2, ExpiresAt: stored(at(62))}, seen); d != "" {
		t.Errorf("UpdateLockout(third failure) passed update (-want +got):\n%s", d)
	}
	want = storage.Lockout{Key: "k", Failures: 3, LockedUntil: stored(at(3)), ExpiresAt: stored(at(63))}
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateLockout(third failure) mismatch (-want +got):\n%s", d)
	}
	checkLockout(t, s, "after the third failure", want)

	// A lock can be lifted: the zero LockedUntil is stored as such.
	updateLockout(t, s, "k", func(l storage.Lockout) (storage.Lockout, error) {
		l.LockedUntil = time.Time{}
		return l, nil
	})
	checkLockout(t, s, "after lifting the lock", storage.Lockout{Key: "k", Failures: 3, ExpiresAt: stored(at(63))})

	if err := s.DeleteLockout(ctx, "k"); err != nil {
		t.Fatalf("DeleteLockout() error = %v", err)
	}
	_, err = s.GetLockout(ctx, "k")
	checkErr(t, "GetLockout(deleted)", err, storage.ErrNotFound)
	checkErr(t, "DeleteLockout(deleted)", s.DeleteLockout(ctx, "k"), storage.ErrNotFound)
}

// testLockoutUpdateError: an error from update is returned and stores
// nothing, neither for a new key nor for an existing one.
func testLockoutUpdateError(t *testing.T, s storage.Store) {
	ctx := t.Context()
	refuse := errors.New("locked")
	_, err := s.UpdateLockout(ctx, "new", func(storage.Lockout) (storage.Lockout, error) { return storage.Lockout{}, refuse })
	checkErr(t, "UpdateLockout(new key, update fails)", err, refuse)
	_, err = s.GetLockout(ctx, "new")
	checkErr(t, "GetLockout(after a failed update of a new key)", err, storage.ErrNotFound)

	want := updateLockout(t, s, "old", fail)
	_, err = s.UpdateLockout(ctx, "old", func(l storage.Lockout) (storage.Lockout, error) {
		l.Failures = 99
		return l, refuse
	})
	checkErr(t, "UpdateLockout(existing key, update fails)", err, refuse)
	checkLockout(t, s, "after a failed update", want)
}

func testLockoutInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	_, err := s.UpdateLockout(ctx, "", fail)
	checkErr(t, "UpdateLockout(empty key)", err, storage.ErrInvalid)
	_, err = s.UpdateLockout(ctx, "k", func(l storage.Lockout) (storage.Lockout, error) {
		l.Failures = 1
		return l, nil
	})
	checkErr(t, "UpdateLockout(no expiry)", err, storage.ErrInvalid)
	_, err = s.UpdateLockout(ctx, "k", func(l storage.Lockout) (storage.Lockout, error) {
		l.Failures, l.ExpiresAt = -1, at(60)
		return l, nil
	})
	checkErr(t, "UpdateLockout(negative failures)", err, storage.ErrInvalid)
	_, err = s.GetLockout(ctx, "k")
	checkErr(t, "GetLockout(after invalid updates)", err, storage.ErrNotFound)
}

// testConcurrentLockoutUpdates records attackers failures of one new key at
// once: every one is counted.
func testConcurrentLockoutUpdates(t *testing.T, s storage.Store) {
	countAllowed(t, "UpdateLockout", func() (bool, error) {
		_, err := s.UpdateLockout(t.Context(), "k", func(l storage.Lockout) (storage.Lockout, error) {
			l.Failures++
			l.ExpiresAt = at(60)
			return l, nil
		})
		return true, err
	})
	checkLockout(t, s, fmt.Sprintf("after %d concurrent failures", attackers),
		storage.Lockout{Key: "k", Failures: attackers, ExpiresAt: stored(at(60))})
}

// errLocked is what the closure of testConcurrentLockoutAttempts refuses
// with.
var errLocked = errors.New("locked")

// testConcurrentLockoutAttempts is LG-04 as package ratelimit runs it for
// a lockout: each attempt is counted before the password is checked, and
// refused once attackLimit were counted. Of attackers attempts at once,
// exactly attackLimit go ahead.
func testConcurrentLockoutAttempts(t *testing.T, s storage.Store) {
	allowed := countAllowed(t, "UpdateLockout", func() (bool, error) {
		_, err := s.UpdateLockout(t.Context(), "k", func(l storage.Lockout) (storage.Lockout, error) {
			if l.Failures >= attackLimit {
				return l, errLocked
			}
			l.Failures++
			l.ExpiresAt = at(60)
			return l, nil
		})
		if errors.Is(err, errLocked) {
			return false, nil
		}
		return err == nil, err
	})
	if allowed != attackLimit {
		t.Errorf("%d concurrent attempts against a lockout after %d: %d went ahead, want %d", attackers, attackLimit, allowed, attackLimit)
	}
}

// testLockoutInTx: inside a transaction an update is seen by the next one
// and a rollback forgets it.
func testLockoutInTx(t *testing.T, s storage.Store) {
	ctx := beginTx(t, s)
	if _, err := s.UpdateLockout(ctx, "k", fail); err != nil {
		t.Fatalf("UpdateLockout(in a transaction) error = %v", err)
	}
	l, err := s.UpdateLockout(ctx, "k", fail)
	if err != nil || l.Failures != 2 {
		t.Fatalf("UpdateLockout(again in the transaction) = %+v, %v; want 2 failures", l, err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	_, err = s.GetLockout(t.Context(), "k")
	checkErr(t, "GetLockout(after the rollback)", err, storage.ErrNotFound)
}

// testDeleteExpiredRateLimits: windows that ended and lockouts that expired
// strictly before now go; the others stay.
func testDeleteExpiredRateLimits(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Windows ending at(10) and at(20).
	hit(t, s, "w10", at(0), 10*time.Minute, 5)
	hit(t, s, "w20", at(10), 10*time.Minute, 5)
	expiring := func(m int) func(storage.Lockout) (storage.Lockout, error) {
		return func(l storage.Lockout) (storage.Lockout, error) {
			l.Failures, l.ExpiresAt = 1, at(m)
			return l, nil
		}
	}
	updateLockout(t, s, "l10", expiring(10))
	kept := updateLockout(t, s, "l20", expiring(20))

	// Stored, and compared, in microseconds: at(20) is not before at(20).
	if n, err := s.DeleteExpiredRateLimits(ctx, at(20)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredRateLimits(at(20)) = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.DeleteExpiredRateLimits(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredRateLimits(at(20)) again = %d, %v; want 0, nil", n, err)
	}
	_, err := s.GetLockout(ctx, "l10")
	checkErr(t, "GetLockout(expired at(10))", err, storage.ErrNotFound)
	checkLockout(t, s, "lockout expiring at(20)", kept)
	// The window ending at(20) kept its hit; the one ending at(10) is gone,
	// so a hit before its end starts afresh.
	if got := hit(t, s, "w20", at(15), 10*time.Minute, 5); got.Hits != 2 {
		t.Errorf("HitRateLimit(w20) after the sweep = %+v, want the second hit", got)
	}
	if got := hit(t, s, "w10", at(5), 10*time.Minute, 5); got.Hits != 1 {
		t.Errorf("HitRateLimit(w10) after the sweep = %+v, want a new window", got)
	}
}
