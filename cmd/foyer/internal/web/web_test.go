package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	m.Run()
}

// fakeDB is a Pinger whose health the test switches.
type fakeDB struct{ down atomic.Bool }

func (f *fakeDB) Ping(context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

// engine wires the middleware the way cmd/foyer does, over a log buffer.
func engine(t *testing.T, db Pinger, https bool) (*gin.Engine, *Readiness, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(ContextHandler(slog.NewJSONHandler(&logs, nil)))
	m := NewMetrics()
	r := NewReadiness(db, log)
	e := gin.New()
	e.Use(Recovery(log), RequestIDs(), SecureHeaders(https), m.Middleware(), AccessLog(log))
	e.GET("/healthz", Healthz)
	e.GET("/readyz", r.Readyz)
	e.GET("/metrics", m.Handler())
	e.GET("/panic", func(*gin.Context) { panic("boom: secret internals") })
	e.GET("/log", func(c *gin.Context) {
		log.InfoContext(c.Request.Context(), "feature log line")
		c.Status(http.StatusNoContent)
	})
	e.Group("", r.RequireDatabase()).GET("/needs-db", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return e, r, &logs
}

func do(e http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	return w
}

func TestRequestID(t *testing.T) {
	e, _, logs := engine(t, &fakeDB{}, false)
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"well-formed incoming ID is kept", "abc-123_x.y", true},
		{"missing ID is generated", "", false},
		{"ID with a newline is replaced", "abc\ninjected=1", false},
		{"overlong ID is replaced", strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			h := http.Header{}
			if tc.in != "" {
				h.Set(HeaderRequestID, tc.in)
			}
			w := do(e, "GET", "/log", h)
			got := w.Header().Get(HeaderRequestID)
			if tc.keep && got != tc.in {
				t.Fatalf("X-Request-Id = %q, want %q", got, tc.in)
			}
			if !tc.keep && (got == tc.in || !validRequestID(got)) {
				t.Fatalf("X-Request-Id = %q, want a fresh valid ID", got)
			}
			// Both the feature's line and the access log line carry it.
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 2 {
				t.Fatalf("got %d log lines, want 2:\n%s", len(lines), logs.String())
			}
			for _, l := range lines {
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatal(err)
				}
				if rec["request_id"] != got {
					t.Errorf("log line %s has request_id %v, want %q", l, rec["request_id"], got)
				}
			}
		})
	}
}

func TestAccessLogOmitsQuery(t *testing.T) {
	e, _, logs := engine(t, &fakeDB{}, false)
	do(e, "GET", "/healthz?code=SECRETCODE", nil)
	if strings.Contains(logs.String(), "SECRETCODE") {
		t.Fatalf("access log contains the query string: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"route":"/healthz"`) {
		t.Fatalf("access log lacks the route: %s", logs.String())
	}
}

// At FOYER_LOG_LEVEL=warn a successful request writes no access line, while
// a server fault still does.
func TestAccessLogHonoursLevel(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(ContextHandler(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	e := gin.New()
	e.Use(AccessLog(log))
	e.GET("/ok", func(c *gin.Context) { c.Status(http.StatusOK) })
	e.GET("/fail", func(c *gin.Context) { c.Status(http.StatusInternalServerError) })

	if w := do(e, "GET", "/ok", nil); w.Code != http.StatusOK {
		t.Fatalf("GET /ok status = %d, want 200", w.Code)
	}
	if logs.Len() != 0 {
		t.Fatalf("GET /ok at warn level logged %s, want nothing", logs.String())
	}
	do(e, "GET", "/fail", nil)
	if !strings.Contains(logs.String(), `"route":"/fail"`) {
		t.Fatalf("GET /fail at warn level logged %q, want an error access line", logs.String())
	}
}

func TestSecureHeaders(t *testing.T) {
	for _, https := range []bool{false, true} {
		e, _, _ := engine(t, &fakeDB{}, https)
		w := do(e, "GET", "/healthz", nil)
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"Cache-Control":          "no-store",
		} {
			if got := w.Header().Get(k); got != want {
				t.Errorf("https=%v: %s = %q, want %q", https, k, got, want)
			}
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("https=%v: CSP = %q, want frame-ancestors 'none'", https, csp)
		}
		if got := w.Header().Get("Strict-Transport-Security") != ""; got != https {
			t.Errorf("https=%v: HSTS sent = %v", https, got)
		}
	}
}

func TestRecoveryHidesPanic(t *testing.T) {
	e, _, logs := engine(t, &fakeDB{}, false)
	w := do(e, "GET", "/panic", nil)
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if strings.Contains(w.Body.String(), "secret internals") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("body leaks the panic: %s", w.Body.String())
	}
	if !strings.Contains(logs.String(), "secret internals") {
		t.Errorf("the panic is not logged: %s", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	e, _, _ := engine(t, &fakeDB{}, false)
	do(e, "GET", "/healthz", nil)
	do(e, "GET", "/healthz", nil)
	do(e, "GET", "/no/such/path/12345", nil)
	do(e, "BREW", "/healthz", nil)
	body := do(e, "GET", "/metrics", nil).Body.String()
	for _, want := range []string{
		`foyer_http_requests_total{code="200",method="GET",route="/healthz"} 2`,
		`foyer_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`foyer_http_requests_total{code="404",method="other",route="unmatched"} 1`,
		`foyer_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "12345") {
		t.Error("/metrics has a raw path as a label; cardinality is unbounded")
	}
}

func TestReadiness(t *testing.T) {
	db := &fakeDB{}
	e, r, logs := engine(t, db, false)
	check := func(step string, path string, want int) {
		t.Helper()
		if w := do(e, "GET", path, nil); w.Code != want {
			t.Errorf("%s: GET %s = %d, want %d", step, path, w.Code, want)
		}
	}
	check("up", "/readyz", 200)
	check("up", "/needs-db", 200)

	db.down.Store(true)
	r.Check(t.Context()) // what the background loop does every second
	check("down", "/healthz", 200)
	check("down", "/readyz", 503)
	w := do(e, "GET", "/needs-db", nil)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("down: GET /needs-db = %d with Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	r.Check(t.Context())
	if n := strings.Count(logs.String(), "database unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}

	db.down.Store(false)
	r.Check(t.Context())
	check("back", "/readyz", 200)
	check("back", "/needs-db", 200)

	r.Drain()
	check("draining", "/readyz", 503)
}

// TestReadinessRun: the background loop notices an outage, and the return,
// within one interval, on a fake clock.
func TestReadinessRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := &fakeDB{}
		r := NewReadiness(db, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		go r.Run(ctx, time.Second)

		db.down.Store(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if r.Ready() {
			t.Fatal("Ready() = true one interval after the database went down")
		}
		db.down.Store(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if !r.Ready() {
			t.Fatal("Ready() = false one interval after the database came back")
		}
		cancel()
	})
}
