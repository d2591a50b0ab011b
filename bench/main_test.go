package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFoyer answers the four scenarios; every failEvery-th token or
// discovery request gets a 500 (0: never).
func fakeFoyer(t *testing.T, failEvery int64) *httptest.Server {
	t.Helper()
	var n atomic.Int64
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter) bool {
		if failEvery > 0 && n.Add(1)%failEvery == 0 {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return true
		}
		return false
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if !fail(w) {
			fmt.Fprint(w, `{"issuer":"x"}`)
		}
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"keys":[]}`)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		// client_secret_basic form-encodes ID and secret (RFC 6749 §2.3.1),
		// as fosite expects: "s e" travels as "s+e".
		id, secret, ok := r.BasicAuth()
		if !ok || id != "c1" || secret != "s+e" || r.PostFormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if !fail(w) {
			fmt.Fprint(w, `{"access_token":"a.b.c","token_type":"bearer"}`)
		}
	})
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"active":%t}`, r.PostFormValue("token") == "a.b.c")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runBench(t *testing.T, args ...string) (int, result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-json", "-c", "4", "-d", "200ms", "-warmup", "50ms"}, args...), &stdout, &stderr)
	var res result
	if code != 2 {
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("output is not JSON: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
		}
	}
	return code, res, stderr.String()
}

func TestScenarios(t *testing.T) {
	srv := fakeFoyer(t, 0)
	for _, s := range []string{"discovery", "jwks", "client_credentials", "introspect"} {
		t.Run(s, func(t *testing.T) {
			code, res, stderr := runBench(t, "-url", srv.URL, "-scenario", s, "-client-id", "c1", "-client-secret", "s e")
			if code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, stderr)
			}
			if res.Requests == 0 || res.Errors != 0 || res.PerSecond <= 0 {
				t.Errorf("requests %d, errors %d (%v), req/s %f", res.Requests, res.Errors, res.ErrorsByKind, res.PerSecond)
			}
			if !(res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) || res.Max <= 0 {
				t.Errorf("percentiles out of order: %v %v %v %v", res.P50, res.P90, res.P99, res.Max)
			}
		})
	}
}

func TestFailsAboveErrorRate(t *testing.T) {
	srv := fakeFoyer(t, 10) // 10% errors
	code, res, stderr := runBench(t, "-url", srv.URL, "-scenario", "discovery")
	if code != 1 || !strings.Contains(stderr, "FAIL: error rate") {
		t.Fatalf("exit %d, stderr %q; want 1 and a FAIL line", code, stderr)
	}
	if res.ErrorsByKind["HTTP 500"] == 0 || res.ErrorsByKind["HTTP 500"] != res.Errors {
		t.Errorf("errors by kind %v, total %d", res.ErrorsByKind, res.Errors)
	}
}

func TestWrongSecretFailsBeforeLoad(t *testing.T) {
	srv := fakeFoyer(t, 0)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-url", srv.URL, "-scenario", "introspect", "-client-id", "c1", "-client-secret", "nope"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "HTTP 401") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	// No warm-up: on a loaded machine a refused dial can outlast it, and
	// then no failure would be counted at all.
	code, res, _ := runBench(t, "-url", url, "-scenario", "jwks", "-d", "50ms", "-warmup", "0s")
	if code != 1 || res.ErrorsByKind["transport: connection refused"] == 0 {
		t.Fatalf("exit %d, errors %v", code, res.ErrorsByKind)
	}
}

func TestBadFlags(t *testing.T) {
	// Each case uses a scenario that needs no client, so it fails on its
	// own flag and not on the default scenario's missing -client-id.
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"-scenario", "nope"}, `-scenario "nope"`},
		{[]string{"-scenario", "client_credentials"}, "needs -client-id"},
		{[]string{"-scenario", "jwks", "-url", "localhost:8080"}, "-url"},
		{[]string{"-scenario", "jwks", "-c", "0"}, "-c 0"},
		{[]string{"-scenario", "jwks", "-d", "0s"}, "-d 0s"},
		{[]string{"-scenario", "jwks", "-warmup", "-1s"}, "-warmup"},
		{[]string{"-scenario", "jwks", "-timeout", "0s"}, "-timeout"},
		{[]string{"-scenario", "jwks", "extra"}, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0: 1} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != 1 {
		t.Errorf("p99 of one = %v", got)
	}
}
