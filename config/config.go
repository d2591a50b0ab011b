package config

import (
	"encoding/base64"
	"time"
)

// Config is Foyer's whole configuration. cmd/foyer reads it and hands each
// feature only the values it needs (features never import this package).
type Config struct {
	// Issuer is the public base URL (OIDC issuer), e.g. https://id.example.com.
	Issuer string `yaml:"issuer"`
	// Dev turns on developer defaults: text logs, http issuer allowed, email
	// to the log, a generated encryption key. Set by `foyer serve --dev` or
	// the file.
	Dev         bool        `yaml:"dev"`
	HTTP        HTTP        `yaml:"http"`
	Database    Database    `yaml:"database"`
	SMTP        SMTP        `yaml:"smtp"`
	Log         Log         `yaml:"log"`
	Secrets     Secrets     `yaml:"secrets"`
	Keys        Keys        `yaml:"keys"`
	Tokens      Tokens      `yaml:"tokens"`
	Sessions    Sessions    `yaml:"sessions"`
	Signup      Signup      `yaml:"signup"`
	Invitations Invitations `yaml:"invitations"`
	MFA         MFA         `yaml:"mfa"`
	Audit       Audit       `yaml:"audit"`
	Webhooks    Webhooks    `yaml:"webhooks"`
	NATS        NATS        `yaml:"nats"`
	// Connections are upstream identity providers (connections.go).
	Connections []Connection `yaml:"connections"`
}

// HTTP configures the listener.
type HTTP struct {
	Addr string `yaml:"addr"` // listen address, host:port
	// AdminAddr, when set, is the only listener of the admin API, so a
	// deployment can keep it off the public network (AD-06).
	AdminAddr       string        `yaml:"admin_addr"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // drain time after SIGTERM
	// TrustedProxies are IPs or CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Database picks the backend: Postgres when URL is set, else the embedded
// database under DataDir.
type Database struct {
	URL          string        `yaml:"url"`           // postgres://…
	DataDir      string        `yaml:"data_dir"`      // embedded database and generated secrets
	ConnectRetry time.Duration `yaml:"connect_retry"` // how long to wait for Postgres at start
	MaxConns     int           `yaml:"max_conns"`     // pgxpool size
}

// SMTP configures outgoing email; an empty URL in dev means the log.
type SMTP struct {
	URL  string `yaml:"url"`  // smtp://user:pass@host:port or smtps://…
	From string `yaml:"from"` // envelope and header sender
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json; text in dev, json otherwise
}

// Secrets holds keys from the operator that protect data at rest. Its
// LogValue hides them; do not print it with fmt.
type Secrets struct {
	// EncryptionKey encrypts signing keys (and later TOTP seeds, SAML SP
	// keys) at rest: 32 random bytes, base64 (standard or URL alphabet,
	// padding optional), e.g. from `openssl rand -base64 32`. Empty: cmd uses
	// <data_dir>/encryption.key if it exists, and generates it there in
	// --dev. Read it with Key.
	EncryptionKey string `yaml:"encryption_key"`
}

// Key returns the 32 bytes of EncryptionKey, or nil and no error when it is
// empty. After a successful Load or Validate it cannot fail; its error, a
// *Problem, never shows the key.
func (s Secrets) Key() ([]byte, error) {
	if s.EncryptionKey == "" {
		return nil, nil
	}
	key, ok := decodeKey(s.EncryptionKey)
	if !ok {
		return nil, &Problem{Key: "secrets.encryption_key", Message: mustBeKey}
	}
	return key, nil
}

const mustBeKey = "must be 32 random bytes in base64 (openssl rand -base64 32)"

// decodeKey decodes a 32-byte key written in base64 with either alphabet,
// padded or not. Like every base64.Encoding it skips \r and \n, so a key
// file's final newline (a Kubernetes secret made from one, say) does no harm.
func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil {
			return key, len(key) == 32
		}
	}
	return nil, false
}

// Keys configures token-signing keys and their rotation. A key is published
// in the JWKS for Prepublish, signs for RotationPeriod, then stays published
// until the tokens it signed have expired.
type Keys struct {
	Algorithm      string        `yaml:"algorithm"`       // JWS alg of new keys: RS256, ES256 or EdDSA
	RotationPeriod time.Duration `yaml:"rotation_period"` // how long a key signs
	Prepublish     time.Duration `yaml:"prepublish"`      // how long a new key is in the JWKS before it signs
}

// Tokens configures token lifetimes.
type Tokens struct {
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"` // lifetime of an access token
	IDTokenTTL     time.Duration `yaml:"id_token_ttl"`     // lifetime of an ID token
}

// Sessions configures browser sessions.
type Sessions struct {
	IdleTimeout     time.Duration `yaml:"idle_timeout"`     // a session unused this long ends
	AbsoluteTimeout time.Duration `yaml:"absolute_timeout"` // a session ends this long after sign-in
}

// Invitations configures invitations to organizations.
type Invitations struct {
	TTL time.Duration `yaml:"ttl"` // an invitation's link works this long
}

// MFA configures second factors.
type MFA struct {
	// Required makes everyone set up a second factor before they can
	// finish signing in (organizations can require it of their members).
	Required bool `yaml:"required"`
	// RPID is the WebAuthn relying party ID: the issuer's host unless set
	// to a parent domain of it, so passkeys work across its subdomains.
	RPID string `yaml:"rp_id"`
}

// Audit configures the audit log.
type Audit struct {
	// Retention is how long entries are kept; older ones are deleted by
	// a background job.
	Retention time.Duration `yaml:"retention"`
}

// Webhooks configures the delivery of events to webhook endpoints (and to
// NATS, which shares the retry settings).
type Webhooks struct {
	Timeout time.Duration `yaml:"timeout"` // one request, connect to last byte
	// RetryMin and RetryMax bound the exponential backoff between
	// attempts; RetryFor is how long after the event a delivery is tried
	// before it is marked failed (and can be replayed).
	RetryMin  time.Duration `yaml:"retry_min"`
	RetryMax  time.Duration `yaml:"retry_max"`
	RetryFor  time.Duration `yaml:"retry_for"`
	Retention time.Duration `yaml:"retention"` // how long delivered events are kept
}

// NATS, when URL is set, also publishes every event to NATS JetStream.
type NATS struct {
	URL     string `yaml:"url"`     // nats://host:4222; may hold credentials (redacted in logs)
	Stream  string `yaml:"stream"`  // the stream Foyer creates or updates
	Subject string `yaml:"subject"` // subject prefix: <subject>.<event type>
}

// Signup says who may create an account: "open" (anyone, after verifying
// their email), "invite_only" (only through an invitation) or "disabled".
type Signup struct {
	Mode string `yaml:"mode"`
}

// Defaults returns the configuration Foyer runs with when neither the file
// nor the environment says otherwise. Two depend on dev: the log format
// (text for a person at a terminal, JSON for a log pipeline) and sign-up
// (open to try Foyer out; disabled in production until an operator opens
// it, as Keycloak does).
func Defaults(dev bool) Config {
	format, signup := "json", "disabled"
	if dev {
		format, signup = "text", "open"
	}
	return Config{
		Issuer: "http://localhost:8080",
		Dev:    dev,
		HTTP: HTTP{
			Addr:            ":8080",
			ShutdownTimeout: 20 * time.Second,
		},
		Database: Database{
			DataDir:      "./foyer-data",
			ConnectRetry: 30 * time.Second,
			MaxConns:     10,
		},
		SMTP: SMTP{From: "Foyer <no-reply@localhost>"},
		Log:  Log{Level: "info", Format: format},
		Keys: Keys{
			Algorithm:      "RS256",
			RotationPeriod: 30 * 24 * time.Hour,
			Prepublish:     time.Hour,
		},
		Tokens: Tokens{
			AccessTokenTTL: 15 * time.Minute,
			IDTokenTTL:     time.Hour,
		},
		Sessions: Sessions{
			IdleTimeout:     8 * time.Hour,
			AbsoluteTimeout: 7 * 24 * time.Hour,
		},
		Signup:      Signup{Mode: signup},
		Invitations: Invitations{TTL: 7 * 24 * time.Hour},
		Audit:       Audit{Retention: 365 * 24 * time.Hour},
		Webhooks: Webhooks{
			Timeout:   10 * time.Second,
			RetryMin:  5 * time.Second,
			RetryMax:  time.Hour,
			RetryFor:  24 * time.Hour,
			Retention: 7 * 24 * time.Hour,
		},
		NATS: NATS{Stream: "FOYER_EVENTS", Subject: "foyer.events"},
	}
}
