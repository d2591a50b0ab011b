package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxBody bounds what a worker keeps of one response body; the rest is
// read and thrown away so the connection can be reused.
const maxBody = 64 << 10

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	baseURL      string
	scenario     string
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	timeout      time.Duration
	clientID     string
	clientSecret string
	scope        string
	pid          int
	maxErrorRate float64
	jsonOut      bool
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.baseURL, "url", "http://127.0.0.1:8181", "base URL of the running Foyer (its issuer)")
	fs.StringVar(&o.scenario, "scenario", "client_credentials", "client_credentials | discovery | jwks | introspect")
	fs.IntVar(&o.concurrency, "c", 32, "concurrent clients (each one request at a time, over keep-alive connections)")
	fs.DurationVar(&o.duration, "d", 20*time.Second, "measured duration")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring, not counted")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&o.clientID, "client-id", "", "client ID (client_credentials, introspect)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "client secret (client_credentials, introspect)")
	fs.StringVar(&o.scope, "scope", "", "scope to request with client_credentials (space-separated; default none)")
	fs.IntVar(&o.pid, "pid", 0, "PID of a Foyer on this machine: report its RSS (VmRSS) before and during the load")
	fs.Float64Var(&o.maxErrorRate, "max-error-rate", 0.01, "fail (exit 1) when errors/requests exceed this")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench -url URL -scenario S [-c N] [-d DUR] [-warmup DUR] [-client-id ID -client-secret SECRET]\n\n")
		fmt.Fprintf(stderr, "Hammers a running Foyer with N concurrent clients for a fixed time and prints\n")
		fmt.Fprintf(stderr, "req/s, latency percentiles and errors. It starts nothing itself.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected arguments: %q\n", fs.Args())
		return 2
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}

	client := newClient(o.concurrency, o.timeout)
	target, err := newTarget(context.Background(), client, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %s: %v\n", o.scenario, err)
		return 1
	}

	var rssIdle int64
	var rss *rssSampler
	if o.pid > 0 {
		if rssIdle, err = readRSS(o.pid); err != nil {
			fmt.Fprintf(stderr, "bench: -pid %d: %v\n", o.pid, err)
			return 1
		}
		rss = startRSSSampler(o.pid, 250*time.Millisecond)
	}
	res := load(client, target, o)
	if rss != nil {
		res.RSSIdleKiB = rssIdle
		res.RSSEndKiB, res.RSSPeakKiB = rss.stop()
	}

	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		res.print(stdout)
	}
	if res.Requests == 0 {
		fmt.Fprintf(stderr, "\nbench: FAIL: no request completed\n")
		return 1
	}
	if rate := float64(res.Errors) / float64(res.Requests); rate > o.maxErrorRate {
		fmt.Fprintf(stderr, "\nbench: FAIL: error rate %.2f%% (%d of %d requests) is above %.2f%%\n",
			100*rate, res.Errors, res.Requests, 100*o.maxErrorRate)
		return 1
	}
	return 0
}

func (o *options) validate() error {
	u, err := url.Parse(o.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want an absolute http(s) URL", o.baseURL)
	}
	o.baseURL = strings.TrimRight(o.baseURL, "/")
	switch o.scenario {
	case "discovery", "jwks":
	case "client_credentials", "introspect":
		if o.clientID == "" || o.clientSecret == "" {
			return fmt.Errorf("-scenario %s needs -client-id and -client-secret", o.scenario)
		}
	default:
		return fmt.Errorf("-scenario %q: want client_credentials, discovery, jwks or introspect", o.scenario)
	}
	if o.concurrency < 1 {
		return fmt.Errorf("-c %d: want at least 1", o.concurrency)
	}
	if o.duration <= 0 {
		return fmt.Errorf("-d %s: want a positive duration", o.duration)
	}
	if o.warmup < 0 {
		return fmt.Errorf("-warmup %s: want zero or more", o.warmup)
	}
	if o.timeout <= 0 {
		return fmt.Errorf("-timeout %s: want a positive duration", o.timeout)
	}
	return nil
}

// newClient is the one HTTP client all workers share: a connection per
// worker, kept alive, never more (so the server sees exactly c clients).
func newClient(c int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil, // never via HTTP_PROXY: we measure the server
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        c,
			MaxIdleConnsPerHost: c,
			MaxConnsPerHost:     c,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		// A redirect is an answer we want to see, not follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// target is one scenario: how to build a request and what a good answer is.
type target struct {
	method      string
	url         string
	form        string // POST body, urlencoded
	auth        string // Authorization header value
	wantInBody  []byte // a 200 whose body lacks this counts as an error
	badBodyKind string
}

func newTarget(ctx context.Context, client *http.Client, o options) (*target, error) {
	basic := "Basic " + base64.StdEncoding.EncodeToString(
		[]byte(url.QueryEscape(o.clientID)+":"+url.QueryEscape(o.clientSecret)))
	ccForm := url.Values{"grant_type": {"client_credentials"}}
	if o.scope != "" {
		ccForm.Set("scope", o.scope)
	}
	switch o.scenario {
	case "discovery":
		return &target{method: http.MethodGet, url: o.baseURL + "/.well-known/openid-configuration",
			wantInBody: []byte(`"issuer"`), badBodyKind: "body: no issuer"}, nil
	case "jwks":
		return &target{method: http.MethodGet, url: o.baseURL + "/.well-known/jwks.json",
			wantInBody: []byte(`"keys"`), badBodyKind: "body: no keys"}, nil
	case "client_credentials":
		return &target{method: http.MethodPost, url: o.baseURL + "/oauth2/token", form: ccForm.Encode(), auth: basic,
			wantInBody: []byte(`"access_token"`), badBodyKind: "body: no access_token"}, nil
	case "introspect":
		// One token, introspected over and over.
		t := &target{method: http.MethodPost, url: o.baseURL + "/oauth2/token", form: ccForm.Encode(), auth: basic}
		status, body, err := t.do(ctx, client, make([]byte, 0, maxBody))
		if err != nil {
			return nil, fmt.Errorf("getting a token: %w", err)
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("getting a token: HTTP %d: %s", status, snippet(body))
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
			return nil, fmt.Errorf("getting a token: no access_token in %s", snippet(body))
		}
		return &target{method: http.MethodPost, url: o.baseURL + "/oauth2/introspect", auth: basic,
			form:       url.Values{"token": {tok.AccessToken}}.Encode(),
			wantInBody: []byte(`"active":true`), badBodyKind: "body: token not active"}, nil
	}
	return nil, fmt.Errorf("unknown scenario")
}

// do sends one request and reads the whole answer (into buf, up to maxBody)
// so the connection goes back to the pool.
func (t *target) do(ctx context.Context, client *http.Client, buf []byte) (int, []byte, error) {
	var body io.Reader
	if t.method == http.MethodPost {
		body = strings.NewReader(t.form)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, body)
	if err != nil {
		return 0, nil, err
	}
	if t.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer(buf[:0])
	if _, err := io.Copy(b, io.LimitReader(resp.Body, maxBody)); err != nil {
		return resp.StatusCode, b.Bytes(), err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, b.Bytes(), err
	}
	return resp.StatusCode, b.Bytes(), nil
}

// worker is one concurrent client. Everything it records is its own: no
// lock and no shared counter per request.
type worker struct {
	latencies []time.Duration
	errors    map[string]int
	samples   map[string]string // kind → first error seen, for the report
}

func (w *worker) fail(kind, sample string) {
	w.errors[kind]++
	if _, ok := w.samples[kind]; !ok {
		w.samples[kind] = sample
	}
}

func (w *worker) loop(client *http.Client, t *target, start, end time.Time) {
	buf := make([]byte, 0, maxBody)
	ctx := context.Background()
	for {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		status, body, err := t.do(ctx, client, buf)
		if cap(body) > cap(buf) {
			buf = body[:0]
		}
		if t0.Before(start) {
			continue // warm-up
		}
		w.latencies = append(w.latencies, time.Since(t0))
		switch {
		case err != nil:
			w.fail(errorKind(err), err.Error())
		case status != http.StatusOK:
			w.fail("HTTP "+strconv.Itoa(status), snippet(body))
		case t.wantInBody != nil && !bytes.Contains(body, t.wantInBody):
			w.fail(t.badBodyKind, snippet(body))
		}
	}
}

// errorKind names a transport error without its addresses and ports, so
// equal failures count together.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "transport: connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "transport: connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "transport: broken pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "transport: no local port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "transport: EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "transport: timeout"
	}
	return "transport: other"
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// result is what a run prints.
type result struct {
	URL          string            `json:"url"`
	Scenario     string            `json:"scenario"`
	Concurrency  int               `json:"concurrency"`
	Duration     time.Duration     `json:"duration_ns"`
	Warmup       time.Duration     `json:"warmup_ns"`
	Requests     int               `json:"requests"`
	PerSecond    float64           `json:"req_per_sec"`
	P50          time.Duration     `json:"p50_ns"`
	P90          time.Duration     `json:"p90_ns"`
	P99          time.Duration     `json:"p99_ns"`
	Max          time.Duration     `json:"max_ns"`
	Errors       int               `json:"errors"`
	ErrorsByKind map[string]int    `json:"errors_by_kind"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	RSSIdleKiB   int64             `json:"rss_before_kib,omitempty"`
	RSSEndKiB    int64             `json:"rss_end_kib,omitempty"`
	RSSPeakKiB   int64             `json:"rss_peak_kib,omitempty"`
	GoMaxProcs   int               `json:"loadgen_gomaxprocs"`
}

func load(client *http.Client, t *target, o options) result {
	// Enough room that a worker never grows its slice at 60,000 req/s in
	// all; it still may, it just costs a copy.
	perWorker := int(o.duration.Seconds()*60000)/o.concurrency + 1024
	workers := make([]*worker, o.concurrency)
	start := time.Now().Add(o.warmup)
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{latencies: make([]time.Duration, 0, perWorker), errors: map[string]int{}, samples: map[string]string{}}
		workers[i] = w
		wg.Go(func() { w.loop(client, t, start, end) })
	}
	wg.Wait()
	// Requests started before end may finish a little after it; the rate
	// is over the window they were started in.
	elapsed := o.duration

	res := result{URL: o.baseURL, Scenario: o.scenario, Concurrency: o.concurrency, Duration: elapsed, Warmup: o.warmup,
		ErrorsByKind: map[string]int{}, ErrorSamples: map[string]string{}, GoMaxProcs: runtime.GOMAXPROCS(0)}
	n := 0
	for _, w := range workers {
		n += len(w.latencies)
	}
	all := make([]time.Duration, 0, n)
	for _, w := range workers {
		all = append(all, w.latencies...)
		for k, v := range w.errors {
			res.ErrorsByKind[k] += v
			res.Errors += v
		}
		for k, v := range w.samples {
			if _, ok := res.ErrorSamples[k]; !ok {
				res.ErrorSamples[k] = v
			}
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.PerSecond = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		res.P50 = percentile(all, 50)
		res.P90 = percentile(all, 90)
		res.P99 = percentile(all, 99)
		res.Max = all[len(all)-1]
	}
	return res
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p/100*float64(len(sorted))+0.999999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func (r result) print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "url          %s\n", r.URL)
	fmt.Fprintf(w, "scenario     %s\n", r.Scenario)
	fmt.Fprintf(w, "concurrency  %d\n", r.Concurrency)
	fmt.Fprintf(w, "duration     %s (after %s warm-up)\n", r.Duration, r.Warmup)
	fmt.Fprintf(w, "requests     %d\n", r.Requests)
	fmt.Fprintf(w, "req/s        %.0f\n", r.PerSecond)
	fmt.Fprintf(w, "p50          %s\n", ms(r.P50))
	fmt.Fprintf(w, "p90          %s\n", ms(r.P90))
	fmt.Fprintf(w, "p99          %s\n", ms(r.P99))
	fmt.Fprintf(w, "max          %s\n", ms(r.Max))
	rate := 0.0
	if r.Requests > 0 {
		rate = 100 * float64(r.Errors) / float64(r.Requests)
	}
	fmt.Fprintf(w, "errors       %d (%.2f%%)\n", r.Errors, rate)
	kinds := make([]string, 0, len(r.ErrorsByKind))
	for k := range r.ErrorsByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-28s %d   e.g. %s\n", k, r.ErrorsByKind[k], r.ErrorSamples[k])
	}
	if r.RSSEndKiB > 0 {
		fmt.Fprintf(w, "server RSS   before %.1f MiB, at end %.1f MiB, peak sampled %.1f MiB\n",
			float64(r.RSSIdleKiB)/1024, float64(r.RSSEndKiB)/1024, float64(r.RSSPeakKiB)/1024)
	}
}

// readRSS reads VmRSS (KiB) of a process on this machine.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// rssSampler polls a process's RSS while the load runs.
type rssSampler struct {
	pid       int
	done      chan struct{}
	wg        sync.WaitGroup
	last, max int64
}

func startRSSSampler(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := readRSS(pid); err == nil {
				s.last = v
				s.max = max(s.max, v)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	})
	return s
}

// stop ends sampling, taking one last sample, and returns the last and
// largest RSS seen (KiB).
func (s *rssSampler) stop() (last, peak int64) {
	close(s.done)
	s.wg.Wait()
	if v, err := readRSS(s.pid); err == nil {
		s.last = v
		s.max = max(s.max, v)
	}
	return s.last, s.max
}
