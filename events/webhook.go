package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// Standard Webhooks (https://www.standardwebhooks.com): every request
// carries the message ID, the time it was signed and one or more
// signatures "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under the
// endpoint's secret, shown to its owner once as "whsec_<base64 key>".
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	secretPrefix    = "whsec_"
	secretBytes     = 32
)

// Sealer encrypts endpoint secrets at rest: signing needs the key itself,
// so it is sealed rather than hashed.
type Sealer interface {
	Seal(plaintext []byte, context string) []byte
	Open(sealed []byte, context string) ([]byte, error)
}

// sealContext binds a sealed secret to its endpoint: a sealed value moved
// to another row does not open.
func sealContext(endpointID string) string { return "webhook endpoint secret " + endpointID }

// NewSecret makes an endpoint's signing secret: the text shown once to
// whoever registers the endpoint, and the sealed form to store.
func NewSecret(s Sealer, endpointID string) (shown string, sealed []byte) {
	key := make([]byte, secretBytes)
	rand.Read(key) // never returns an error (crypto/rand docs)
	return secretPrefix + base64.StdEncoding.EncodeToString(key), s.Seal(key, sealContext(endpointID))
}

// openSecret returns the signing key of an endpoint.
func openSecret(s Sealer, e storage.WebhookEndpoint) ([]byte, error) {
	return s.Open(e.Secret, sealContext(e.ID))
}

// Sign returns the webhook-signature value of a message.
func Sign(key []byte, id string, timestamp time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Payload is the body Foyer sends for ev, to webhooks and to NATS alike:
// the Standard Webhooks payload shape.
func Payload(ev storage.Event) []byte {
	b, err := json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{ev.Type, ev.OccurredAt.UTC(), ev.Data})
	if err != nil {
		// Data came from the database as JSON; only a corrupt row gets here.
		return []byte(`{"type":` + strconv.Quote(ev.Type) + `,"data":null}`)
	}
	return b
}

// webhookSender posts signed events to endpoints.
type webhookSender struct {
	client *http.Client
	sealer Sealer
	now    func() time.Time
}

// maxResponseBody is how much of an endpoint's answer is read (and kept in
// the delivery's last error when it is not a success).
const maxResponseBody = 2048

// send posts ev to e once. A 2xx answer is delivered; anything else is an
// error, with the status code when there was an answer.
func (ws webhookSender) send(ctx context.Context, e storage.WebhookEndpoint, ev storage.Event) (int, error) {
	key, err := openSecret(ws.sealer, e)
	if err != nil {
		return 0, fmt.Errorf("open the endpoint's secret: %w", err)
	}
	body := Payload(ev)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	at := ws.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Foyer-Webhooks/1")
	req.Header.Set(HeaderID, ev.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(key, ev.ID, at, body))
	resp, err := ws.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("endpoint answered %d", resp.StatusCode)
	if a := strings.TrimSpace(string(answer)); a != "" {
		msg += ": " + a
	}
	return resp.StatusCode, errors.New(msg)
}
