package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/foyerdev/foyer/storage/sqlite"
)

// testConfig is the --dev configuration with its data directory (where the
// dev encryption key is generated) in a temporary directory.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load("", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.DataDir = t.TempDir()
	return cfg
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startServer serves s on a loopback port until the returned stop is called;
// stop returns what serve returned.
func startServer(t *testing.T, s *server) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln, nil) }()
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestGracefulShutdown: a request in flight when the stop signal arrives
// completes; the server then stops accepting and serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s, err := newServer(testConfig(t), slog.New(slog.DiscardHandler), store)
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s.api.GET("/slow", func(c *gin.Context) {
		close(entered)
		<-release
		c.String(http.StatusOK, "finished")
	})
	base, stop := startServer(t, s)

	type reply struct {
		status int
		body   string
		err    error
	}
	replies := make(chan reply, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			replies <- reply{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		replies <- reply{resp.StatusCode, string(b), nil}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// Shutdown closes the listener first: wait until new connections fail.
	for {
		c, err := net.DialTimeout("tcp", base[len("http://"):], time.Second)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("serve returned %v before the in-flight request finished", err)
	default:
	}
	close(release)
	if r := <-replies; r.err != nil || r.status != http.StatusOK || r.body != "finished" {
		t.Errorf("in-flight request = %d %q %v, want 200 finished", r.status, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("serve = %v, want nil after a clean drain", err)
	}
}

// TestDatabaseOutage cuts the connection between Foyer and a real Postgres:
// readiness turns 503, database routes fail fast with 503, the liveness
// probe stays 200, and everything recovers by itself when Postgres returns.
func TestDatabaseOutage(t *testing.T) {
	url := pgtest.Schema(t)
	proxy := pgtest.NewProxy(t, pgtest.HostPort())
	store, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.WithHost(url, proxy.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s, err := newServer(testConfig(t), slog.New(slog.DiscardHandler), store)
	if err != nil {
		t.Fatal(err)
	}
	s.api.GET("/users/:id", func(c *gin.Context) {
		_, err := store.GetUser(c.Request.Context(), c.Param("id"))
		switch {
		case err == nil:
			c.Status(http.StatusOK)
		case errors.Is(err, storage.ErrNotFound):
			c.Status(http.StatusNotFound)
		default:
			c.Status(http.StatusInternalServerError)
		}
	})
	base, _ := startServer(t, s)
	user := base + "/users/" + storage.NewID(storage.PrefixUser)

	if got := get(t, base+"/readyz"); got != 200 {
		t.Fatalf("before the outage: /readyz = %d, want 200", got)
	}
	if got := get(t, user); got != 404 {
		t.Fatalf("before the outage: GET user = %d, want 404", got)
	}

	proxy.Cut()
	if got := get(t, base+"/readyz"); got != 503 {
		t.Errorf("during the outage: /readyz = %d, want 503", got)
	}
	if got := get(t, base+"/healthz"); got != 200 {
		t.Errorf("during the outage: /healthz = %d, want 200", got)
	}
	// /readyz recorded the outage, so the gate answers without touching the pool.
	start := time.Now()
	if got := get(t, user); got != 503 {
		t.Errorf("during the outage: GET user = %d, want 503 (never 404: not found is not unavailable)", got)
	}
	t.Logf("503 during the outage took %v", time.Since(start))

	proxy.Restore()
	waitFor(t, "/readyz back to 200", func() bool { return get(t, base+"/readyz") == 200 })
	if got := get(t, user); got != 404 {
		t.Errorf("after the outage: GET user = %d, want 404", got)
	}
}

// waitFor polls cond until it holds, failing after a generous deadline; it
// bounds a hang, it does not measure speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDevMailbox: with --dev and no SMTP server, /dev/mailbox shows what
// Foyer sent; outside --dev the page does not exist.
func TestDevMailbox(t *testing.T) {
	for _, tc := range []struct {
		dev  bool
		want int
	}{{true, http.StatusOK}, {false, http.StatusNotFound}} {
		store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		if _, err := store.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t)
		cfg.Dev = tc.dev
		cfg.Secrets.EncryptionKey = testEncryptionKey
		s, err := newServer(cfg, discard(), store)
		if err != nil {
			t.Fatal(err)
		}
		base, _ := startServer(t, s)
		if got := get(t, base+"/dev/mailbox"); got != tc.want {
			t.Errorf("dev=%v: GET /dev/mailbox = %d, want %d", tc.dev, got, tc.want)
		}
	}
}
