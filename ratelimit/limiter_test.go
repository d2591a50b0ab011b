package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// backends are the stores every test runs on: the embedded one and
// Postgres, each fresh and migrated.
var backends = []struct {
	name string
	open func(tb testing.TB) storage.RateLimits
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openSQLite(tb testing.TB) storage.RateLimits {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), sqlite.Options{Path: filepath.Join(tb.TempDir(), "foyer.db")})
	if err != nil {
		tb.Fatalf("sqlite.Open() error = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate() error = %v", err)
	}
	return s
}

func openPostgres(tb testing.TB) storage.RateLimits {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), postgres.Options{URL: pgtest.Schema(tb)})
	if err != nil {
		tb.Fatalf("postgres.Open() error = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate() error = %v", err)
	}
	return s
}

// forEachBackend runs test on a fresh store of every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, s storage.RateLimits)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

// clock is a clock the test moves by hand. It starts on a whole second, as
// the store keeps microseconds.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testHashKey = []byte("0123456789abcdef0123456789abcdef")

func newLimiter(t testing.TB, s storage.RateLimits, c *clock) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Options{Store: s, HashKey: testHashKey, Now: c.Now})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return l
}

// check compares a decision with want and fails on any error.
func check(t *testing.T, call string, got ratelimit.Decision, err error, want ratelimit.Decision) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s error = %v", call, err)
	}
	if got != want {
		t.Errorf("%s = %+v, want %+v", call, got, want)
	}
}

var (
	allowed = ratelimit.Decision{Allowed: true}
	// retryIn is a refusal that lifts after d.
	retryIn = func(d time.Duration) ratelimit.Decision { return ratelimit.Decision{RetryAfter: d} }
)

// testLockout locks from the third failure, with delays of 1s, 2s, 4s, 8s,
// 8s, and hard locks from the eighth.
var testLockout = ratelimit.Lockout{Name: "test:lockout", Free: 3, Delay: time.Second, MaxDelay: 8 * time.Second,
	HardLockAt: 8, HardLock: time.Hour, ForgetAfter: 24 * time.Hour}

// TestAllowWindow: calls within a window are allowed up to the limit, then
// refused until the window ends, with RetryAfter counting down to its end.
func TestAllowWindow(t *testing.T) {
	p := ratelimit.Policy{Name: "test:window", Limit: 3, Window: time.Minute}
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		allow := func(call, key string, want ratelimit.Decision) {
			t.Helper()
			d, err := l.Allow(ctx, p, key)
			check(t, call, d, err, want)
		}
		for i := range 3 {
			allow(fmt.Sprintf("Allow(call %d)", i+1), "a", allowed)
			c.Advance(10 * time.Second)
		}
		allow("Allow(fourth call, 30s into the window)", "a", retryIn(30*time.Second))
		allow("Allow(another key)", "b", allowed)
		c.Advance(29 * time.Second)
		allow("Allow(1s before the window ends)", "a", retryIn(time.Second))
		c.Advance(time.Second)
		for i := range 3 {
			allow(fmt.Sprintf("Allow(call %d of the next window)", i+1), "a", allowed)
		}
		allow("Allow(fourth call of the next window)", "a", retryIn(time.Minute))
	})
}

// TestAttemptDelays walks testLockout failure by failure: the free attempts
// go ahead at once, then each failure makes the next attempt wait twice as
// long up to the cap, then the hard lock. Attempts refused while waiting
// are not counted.
func TestAttemptDelays(t *testing.T) {
	waits := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second,
		time.Hour, time.Hour}
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		for i, wait := range waits {
			d, err := l.Attempt(ctx, testLockout, "alice")
			check(t, fmt.Sprintf("Attempt(after %d failures)", i), d, err, allowed)
			if wait == 0 {
				continue
			}
			for range 3 {
				d, err = l.Attempt(ctx, testLockout, "alice")
				check(t, fmt.Sprintf("Attempt(right after failure %d)", i+1), d, err, retryIn(wait))
			}
			c.Advance(wait - time.Second)
			d, err = l.Attempt(ctx, testLockout, "alice")
			check(t, fmt.Sprintf("Attempt(1s before the wait after failure %d ends)", i+1), d, err, retryIn(time.Second))
			c.Advance(time.Second)
		}
	})
}

// TestAttemptDefaultPasswordLockout: with the default password policy an
// attacker who waits out every delay makes 99 guesses, each within 15
// minutes of the last, and the 100th failure locks for an hour (LG-03);
// the lock ends by itself, and a success starts the count afresh.
func TestAttemptDefaultPasswordLockout(t *testing.T) {
	p := ratelimit.DefaultPolicies().PasswordAccount
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		// attemptAndWait makes an attempt, which must be allowed, and
		// returns how long the next one must wait.
		attemptAndWait := func(call string) time.Duration {
			t.Helper()
			d, err := l.Attempt(ctx, p, "alice@example.com")
			check(t, call, d, err, allowed)
			d, err = l.Status(ctx, p, "alice@example.com")
			if err != nil {
				t.Fatalf("Status() error = %v", err)
			}
			return d.RetryAfter
		}
		var previous time.Duration
		for n := 1; n < 100; n++ {
			wait := attemptAndWait(fmt.Sprintf("Attempt(failure %d)", n))
			if wait > 15*time.Minute || wait < previous {
				t.Fatalf("wait after failure %d = %s, after failure %d = %s: want growing, at most 15m", n, wait, n-1, previous)
			}
			previous = wait
			c.Advance(wait)
		}
		if wait := attemptAndWait("Attempt(failure 100)"); wait != time.Hour {
			t.Errorf("wait after failure 100 = %s, want 1h", wait)
		}
		c.Advance(time.Hour)
		if wait := attemptAndWait("Attempt(failure 101, after the hard lock)"); wait != time.Hour {
			t.Errorf("wait after failure 101 = %s, want 1h", wait)
		}
		c.Advance(time.Hour)
		attemptAndWait("Attempt(the right password)")
		if err := l.Success(ctx, p, "alice@example.com"); err != nil {
			t.Fatalf("Success() error = %v", err)
		}
		for n := 1; n < p.Free; n++ {
			if wait := attemptAndWait(fmt.Sprintf("Attempt(failure %d after the success)", n)); wait != 0 {
				t.Errorf("wait after failure %d after the success = %s, want none", n, wait)
			}
		}
	})
}

// TestSuccessResets: a success clears the failures of its key only, and
// clears a lock; a success without failures is no error.
func TestSuccessResets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		if err := l.Success(ctx, testLockout, "nobody"); err != nil {
			t.Errorf("Success(no failures) error = %v", err)
		}
		for range testLockout.Free {
			l.Attempt(ctx, testLockout, "alice")
			l.Attempt(ctx, testLockout, "bob")
		}
		d, err := l.Attempt(ctx, testLockout, "alice")
		check(t, "Attempt(locked)", d, err, retryIn(time.Second))
		if err := l.Success(ctx, testLockout, "alice"); err != nil {
			t.Fatalf("Success() error = %v", err)
		}
		for i := range testLockout.Free {
			d, err := l.Attempt(ctx, testLockout, "alice")
			check(t, fmt.Sprintf("Attempt(%d after the success)", i+1), d, err, allowed)
		}
		d, err = l.Attempt(ctx, testLockout, "bob")
		check(t, "Attempt(another key)", d, err, retryIn(time.Second))
	})
}

// TestForgetAfter: failures are forgotten ForgetAfter after the last lock
// ends, and not before.
func TestForgetAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		for range testLockout.Free {
			l.Attempt(ctx, testLockout, "alice")
		}
		// Locked for 1s, then remembered for ForgetAfter.
		c.Advance(time.Second + testLockout.ForgetAfter - time.Second)
		d, err := l.Attempt(ctx, testLockout, "alice")
		check(t, "Attempt(1s before the failures are forgotten)", d, err, allowed)
		d, err = l.Attempt(ctx, testLockout, "alice")
		check(t, "Attempt(right after the fourth failure)", d, err, retryIn(2*time.Second))

		c.Advance(2*time.Second + testLockout.ForgetAfter)
		for i := range testLockout.Free {
			d, err := l.Attempt(ctx, testLockout, "alice")
			check(t, fmt.Sprintf("Attempt(%d after the failures were forgotten)", i+1), d, err, allowed)
		}
	})
}

// TestStatus reads a lockout without counting.
func TestStatus(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		d, err := l.Status(ctx, testLockout, "alice")
		check(t, "Status(no failures)", d, err, allowed)
		for range testLockout.Free - 1 {
			l.Attempt(ctx, testLockout, "alice")
		}
		for range 5 {
			d, err = l.Status(ctx, testLockout, "alice")
			check(t, "Status(free attempts left)", d, err, allowed)
		}
		l.Attempt(ctx, testLockout, "alice")
		d, err = l.Status(ctx, testLockout, "alice")
		check(t, "Status(locked)", d, err, retryIn(time.Second))
		c.Advance(time.Second)
		d, err = l.Status(ctx, testLockout, "alice")
		check(t, "Status(lock over)", d, err, allowed)
		d, err = l.Attempt(ctx, testLockout, "alice")
		check(t, "Attempt(after Status calls)", d, err, allowed)
		d, err = l.Status(ctx, testLockout, "alice")
		check(t, "Status(fourth failure)", d, err, retryIn(2*time.Second))
	})
}

// TestConcurrentAttackers is SECURITY.md LG-04: attackers requests at once
// against a limit of 5 let exactly 5 through, for a window and for a
// lockout with 5 free attempts.
func TestConcurrentAttackers(t *testing.T) {
	const attackers = 50
	window := ratelimit.Policy{Name: "test:window", Limit: 5, Window: time.Minute}
	lockout := ratelimit.DefaultPolicies().PasswordAccount
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		l := newLimiter(t, s, newClock())
		for _, tc := range []struct {
			name string
			try  func() (ratelimit.Decision, error)
		}{
			{"Allow", func() (ratelimit.Decision, error) { return l.Allow(t.Context(), window, "alice") }},
			{"Attempt", func() (ratelimit.Decision, error) { return l.Attempt(t.Context(), lockout, "alice") }},
		} {
			decisions := make([]ratelimit.Decision, attackers)
			errs := make([]error, attackers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range attackers {
				wg.Go(func() {
					<-start // release all at once for the most overlap
					decisions[i], errs[i] = tc.try()
				})
			}
			close(start)
			wg.Wait()
			through := 0
			for i := range attackers {
				if errs[i] != nil {
					t.Errorf("%s #%d error = %v", tc.name, i, errs[i])
				}
				if decisions[i].Allowed {
					through++
				}
			}
			if through != 5 {
				t.Errorf("%d concurrent %s calls against a limit of 5: %d allowed, want 5", attackers, tc.name, through)
			}
		}
	})
}

// failingStore fails every call as a database that went away does.
type failingStore struct{}

var errAway = fmt.Errorf("connection refused: %w", storage.ErrUnavailable)

func (failingStore) HitRateLimit(context.Context, string, time.Time, time.Duration, int) (storage.RateLimitState, error) {
	// A broken store that claims to allow must still be refused.
	return storage.RateLimitState{Allowed: true}, errAway
}
func (failingStore) GetLockout(context.Context, string) (storage.Lockout, error) {
	return storage.Lockout{}, errAway
}
func (failingStore) UpdateLockout(context.Context, string, func(storage.Lockout) (storage.Lockout, error)) (storage.Lockout, error) {
	return storage.Lockout{}, errAway
}
func (failingStore) DeleteLockout(context.Context, string) error { return errAway }
func (failingStore) DeleteExpiredRateLimits(context.Context, time.Time) (int64, error) {
	return 0, errAway
}

// TestFailClosed: when the store fails, or a policy is invalid, every check
// refuses and returns an error; none allows.
func TestFailClosed(t *testing.T) {
	ctx, c := t.Context(), newClock()
	broken := newLimiter(t, failingStore{}, c)
	closedStore := openSQLite(t)
	closedStore.(*sqlite.Store).Close()
	closed := newLimiter(t, closedStore, c)
	working := newLimiter(t, openSQLite(t), c)
	window := ratelimit.Policy{Name: "test:window", Limit: 5, Window: time.Minute}

	for _, tc := range []struct {
		name        string
		check       func() (ratelimit.Decision, error)
		unavailable bool // the error wraps storage.ErrUnavailable
	}{
		{"Allow, store unavailable", func() (ratelimit.Decision, error) { return broken.Allow(ctx, window, "k") }, true},
		{"Attempt, store unavailable", func() (ratelimit.Decision, error) { return broken.Attempt(ctx, testLockout, "k") }, true},
		{"Status, store unavailable", func() (ratelimit.Decision, error) { return broken.Status(ctx, testLockout, "k") }, true},
		{"Allow, store closed", func() (ratelimit.Decision, error) { return closed.Allow(ctx, window, "k") }, false},
		{"Attempt, store closed", func() (ratelimit.Decision, error) { return closed.Attempt(ctx, testLockout, "k") }, false},
		{"Allow, invalid policy", func() (ratelimit.Decision, error) {
			return working.Allow(ctx, ratelimit.Policy{Name: "test:zero"}, "k")
		}, false},
		{"Attempt, invalid policy", func() (ratelimit.Decision, error) {
			return working.Attempt(ctx, ratelimit.Lockout{Name: "test:zero"}, "k")
		}, false},
	} {
		d, err := tc.check()
		if d.Allowed || err == nil {
			t.Errorf("%s = %+v, %v; want refused with an error", tc.name, d, err)
		}
		if tc.unavailable && !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s error = %v, want %v", tc.name, err, storage.ErrUnavailable)
		}
	}
	if err := broken.Success(ctx, testLockout, "k"); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Success(store unavailable) error = %v, want %v", err, storage.ErrUnavailable)
	}
	if _, err := broken.Sweep(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("Sweep(store unavailable) error = %v, want %v", err, storage.ErrUnavailable)
	}
}

// recordingStore records the keys a Limiter hands the store.
type recordingStore struct {
	storage.RateLimits
	mu   sync.Mutex
	keys []string
}

func (r *recordingStore) HitRateLimit(ctx context.Context, key string, now time.Time, window time.Duration, limit int) (storage.RateLimitState, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.RateLimits.HitRateLimit(ctx, key, now, window, limit)
}

// TestStoredKeysHashed: the store sees the policy name and a keyed hash,
// never the key; the hash depends on the key, the policy and the hash key.
func TestStoredKeysHashed(t *testing.T) {
	ctx, c := t.Context(), newClock()
	rec := &recordingStore{RateLimits: openSQLite(t)}
	l := newLimiter(t, rec, c)
	otherKey, err := ratelimit.New(ratelimit.Options{Store: rec, HashKey: []byte("another hash key, 16 bytes or more"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	mail := ratelimit.Policy{Name: "mail:addr", Limit: 5, Window: time.Minute}
	pwd := ratelimit.Policy{Name: "pwd:ip", Limit: 5, Window: time.Minute}
	for _, call := range []struct {
		l   *ratelimit.Limiter
		p   ratelimit.Policy
		key string
	}{
		{l, mail, "alice@example.com"},
		{l, mail, "alice@example.com"},
		{l, mail, "bob@example.com"},
		{l, pwd, "alice@example.com"},
		{otherKey, mail, "alice@example.com"},
	} {
		if _, err := call.l.Allow(ctx, call.p, call.key); err != nil {
			t.Fatalf("Allow(%s, %q) error = %v", call.p.Name, call.key, err)
		}
	}

	k := rec.keys
	for n, key := range k {
		i := strings.LastIndex(key, ":")
		if strings.Contains(key, "example") || i < 1 || len(key[i+1:]) != 43 {
			t.Errorf("stored key %d = %q, want the policy name and a 43-character hash", n, key)
		}
	}
	if k[0] != k[1] {
		t.Errorf("one key stored as %q and %q, want the same", k[0], k[1])
	}
	if !strings.HasPrefix(k[0], "mail:addr:") || !strings.HasPrefix(k[3], "pwd:ip:") {
		t.Errorf("stored keys %q, %q: want them prefixed by their policy's name", k[0], k[3])
	}
	if k[2] == k[0] || k[3][len("pwd:ip:"):] == k[0][len("mail:addr:"):] || k[4] == k[0] {
		t.Errorf("stored keys %q: want another key, policy or hash key to give another hash", k)
	}
}

func TestNew(t *testing.T) {
	s := openSQLite(t)
	for _, tc := range []struct {
		name string
		opts ratelimit.Options
	}{
		{"no store", ratelimit.Options{HashKey: testHashKey}},
		{"no hash key", ratelimit.Options{Store: s}},
		{"short hash key", ratelimit.Options{Store: s, HashKey: testHashKey[:15]}},
	} {
		if l, err := ratelimit.New(tc.opts); err == nil || l != nil {
			t.Errorf("New(%s) = %v, %v; want an error", tc.name, l, err)
		}
	}
	if l, err := ratelimit.New(ratelimit.Options{Store: s, HashKey: ratelimit.DeriveKey(testHashKey)}); err != nil || l == nil {
		t.Errorf("New(derived key, no clock) = %v, %v; want a limiter", l, err)
	}
}

// TestSweep deletes what is over, and nothing that still counts.
func TestSweep(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s storage.RateLimits) {
		ctx, c := t.Context(), newClock()
		l := newLimiter(t, s, c)
		window := ratelimit.Policy{Name: "test:window", Limit: 1, Window: time.Minute}
		l.Allow(ctx, window, "a")
		l.Attempt(ctx, testLockout, "a")
		c.Advance(time.Minute + time.Microsecond)
		l.Allow(ctx, window, "b")
		if n, err := l.Sweep(ctx); err != nil || n != 1 {
			t.Errorf("Sweep(a window over) = %d, %v; want 1", n, err)
		}
		d, err := l.Allow(ctx, window, "b")
		check(t, "Allow(second call in a kept window)", d, err, retryIn(time.Minute))
		c.Advance(testLockout.ForgetAfter)
		if n, err := l.Sweep(ctx); err != nil || n != 2 {
			t.Errorf("Sweep(a window and a lockout over) = %d, %v; want 2", n, err)
		}
	})
}
