package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/foyerdev/foyer/ratelimit"
)

// BenchmarkAllow measures one per-IP check, spread over 1,000 keys as
// traffic from many addresses would be.
func BenchmarkAllow(b *testing.B) {
	p := ratelimit.Policy{Name: "bench:window", Limit: 1 << 30, Window: time.Hour}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = ratelimit.IPKey("2001:db8:" + strconv.FormatInt(int64(i), 16) + "::1")
	}
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			l := newLimiter(b, backend.open(b), newClock())
			i := 0
			for b.Loop() {
				d, err := l.Allow(b.Context(), p, keys[i%len(keys)])
				if err != nil || !d.Allowed {
					b.Fatalf("Allow() = %+v, %v", d, err)
				}
				i++
			}
		})
	}
}

// BenchmarkAttemptSuccess measures the lockout work of a right password:
// Attempt, then Success.
func BenchmarkAttemptSuccess(b *testing.B) {
	p := ratelimit.DefaultPolicies().PasswordAccount
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			l := newLimiter(b, backend.open(b), newClock())
			i := 0
			for b.Loop() {
				key := "user" + strconv.Itoa(i%1000) + "@example.com"
				d, err := l.Attempt(b.Context(), p, key)
				if err != nil || !d.Allowed {
					b.Fatalf("Attempt() = %+v, %v", d, err)
				}
				if err := l.Success(b.Context(), p, key); err != nil {
					b.Fatalf("Success() error = %v", err)
				}
				i++
			}
		})
	}
}
