// Package pgtest gives tests a fresh schema on the test Postgres and a TCP
// proxy they can cut to simulate an outage.
//
// The server comes from TEST_DATABASE_URL, by default the local CI database
// postgres://127.0.0.1:5432/test. When it does not answer, tests fail: the
// Postgres suite must run in CI, never skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the database CI provides on every machine.
const DefaultURL = "postgres://127.0.0.1:5432/test?sslmode=disable"

// BaseURL is the test server's URL.
func BaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Require fails the test unless the test server answers.
func Require(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connect(ctx, t).Close(ctx)
}

// connect opens an admin connection or fails the test with a clear message.
func connect(ctx context.Context, t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		t.Fatalf("Postgres for tests is not reachable at %s (set TEST_DATABASE_URL, or start it: "+
			"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", redact(BaseURL()), err)
	}
	return conn
}

// Schema creates an empty schema, drops it when the test ends, and returns a
// URL whose connections use it (search_path), so runs never see each
// other's data.
func Schema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn := connect(ctx, t)
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "foyer_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn := connect(ctx, t)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithParam(BaseURL(), "search_path", schema)
}

// WithParam returns rawURL with one query parameter set.
func WithParam(rawURL, key, value string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic("pgtest: bad base URL: " + err.Error())
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// HostPort is the test server's host:port, for a Proxy to forward to.
func HostPort() string {
	u, err := url.Parse(BaseURL())
	if err != nil || u.Host == "" {
		return "127.0.0.1:5432"
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// WithHost returns rawURL pointing at host:port instead.
func WithHost(rawURL, hostport string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic("pgtest: bad base URL: " + err.Error())
	}
	u.Host = hostport
	return u.String()
}

func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
