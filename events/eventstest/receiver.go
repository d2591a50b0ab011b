// Package eventstest is a webhook endpoint for tests: it verifies every
// request by its own reading of the Standard Webhooks specification (it
// shares no code with the signer in package events, so a mistake in one
// is not repeated in the other) and records what it accepted.
package eventstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Verify checks a request's webhook-signature under secret ("whsec_" and
// the base64 key) and that its webhook-timestamp is within tolerance of
// now, as a receiver's library does.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" {
		return errors.New("no webhook-id")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp %s is %s away from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, _ := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid v1 signature in %q", h.Get("webhook-signature"))
}

// Message is one accepted request.
type Message struct {
	ID        string // webhook-id: the event's ID
	Type      string
	Timestamp time.Time
	Data      json.RawMessage
}

// Receiver is the endpoint. Status decides the answer to the n-th request
// (from 1); it may block, to hold a request open.
type Receiver struct {
	URL string

	t      testing.TB
	status func(n int) int
	mu     sync.Mutex
	secret string
	n      int
	got    []Message
}

// NewReceiver starts an endpoint; status nil answers 200 to everything.
func NewReceiver(t testing.TB, status func(n int) int) *Receiver {
	if status == nil {
		status = func(int) int { return http.StatusOK }
	}
	r := &Receiver{t: t, status: status}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// SetSecret sets the secret requests must be signed with.
func (r *Receiver) SetSecret(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = secret
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	n, secret := r.n, r.secret
	r.mu.Unlock()
	if err := Verify(secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("webhook request %d does not verify: %v", n, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil || m.Type == "" || m.Timestamp.IsZero() || len(m.Data) == 0 {
		r.t.Errorf("webhook request %d: body %s is not {type, timestamp, data} (%v)", n, body, err)
	}
	m.ID = req.Header.Get("webhook-id")
	code := r.status(n)
	if code >= 200 && code < 300 {
		r.mu.Lock()
		r.got = append(r.got, m)
		r.mu.Unlock()
	}
	w.WriteHeader(code)
}

// Requests is how many requests arrived, accepted or not.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Received returns the accepted messages in arrival order, duplicates
// included.
func (r *Receiver) Received() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

// ByID returns the accepted messages by webhook-id (the last of
// duplicates).
func (r *Receiver) ByID() map[string]Message {
	out := map[string]Message{}
	for _, m := range r.Received() {
		out[m.ID] = m
	}
	return out
}

// Wait polls until cond holds for the accepted messages, or fails the
// test after timeout.
func (r *Receiver) Wait(t testing.TB, timeout time.Duration, what string, cond func([]Message) bool) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := r.Received()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; received %d messages: %+v", what, len(got), got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
