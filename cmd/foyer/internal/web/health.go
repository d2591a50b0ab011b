package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// Pinger is what readiness needs from the store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Readiness tracks whether the database answers. A background loop pings it;
// /readyz pings it live; RequireDatabase reads the last result so that while
// the database is away requests get 503 at once instead of each waiting for a
// connect timeout.
type Readiness struct {
	db       Pinger
	log      *slog.Logger
	timeout  time.Duration
	ready    atomic.Bool
	draining atomic.Bool
}

// NewReadiness starts optimistic: the caller has just opened and migrated
// the store.
func NewReadiness(db Pinger, log *slog.Logger) *Readiness {
	r := &Readiness{db: db, log: log, timeout: 2 * time.Second}
	r.ready.Store(true)
	return r
}

// Ready reports the last known state.
func (r *Readiness) Ready() bool { return r.ready.Load() && !r.draining.Load() }

// Drain marks the process as shutting down, so load balancers stop sending
// new requests while in-flight ones finish.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Check pings the database now and records the result; state changes are
// logged once, not on every failed ping.
func (r *Readiness) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	err := r.db.Ping(ctx)
	if was := r.ready.Swap(err == nil); was != (err == nil) {
		if err != nil {
			r.log.ErrorContext(ctx, "database unreachable; answering 503 until it returns", "err", err)
		} else {
			r.log.InfoContext(ctx, "database reachable again")
		}
	}
	return err
}

// Run pings every interval until ctx is done.
func (r *Readiness) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Check(ctx)
		}
	}
}

// RequireDatabase answers 503 with Retry-After, without running the handler,
// while the database is known to be away.
func (r *Readiness) RequireDatabase() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !r.ready.Load() {
			c.Header("Retry-After", "5")
			AbortProblem(c, http.StatusServiceUnavailable, "The database is unavailable. Try again shortly.")
			return
		}
		c.Next()
	}
}

// Healthz reports that the process is alive; it touches nothing else, so an
// orchestrator never restarts Foyer because the database is down.
func Healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Readyz reports whether this instance should get traffic: the database
// answers and the process is not draining.
func (r *Readiness) Readyz(c *gin.Context) {
	if r.draining.Load() {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	if err := r.Check(c.Request.Context()); err != nil {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
