package config

import "time"

// Config is Foyer's whole configuration. cmd/foyer reads it and hands each
// feature only the values it needs (features never import this package).
type Config struct {
	// Issuer is the public base URL (OIDC issuer), e.g. https://id.example.com.
	Issuer string `yaml:"issuer"`
	// Dev turns on developer defaults: text logs, http issuer allowed, email
	// to the log. Set by `foyer serve --dev` or the file.
	Dev      bool     `yaml:"dev"`
	HTTP     HTTP     `yaml:"http"`
	Database Database `yaml:"database"`
	SMTP     SMTP     `yaml:"smtp"`
	Log      Log      `yaml:"log"`
}

// HTTP configures the listener.
type HTTP struct {
	Addr            string        `yaml:"addr"`             // listen address, host:port
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

// Defaults returns the configuration Foyer runs with when neither the file
// nor the environment says otherwise. Only the log format depends on dev:
// text for a person at a terminal, JSON for a log pipeline.
func Defaults(dev bool) Config {
	format := "json"
	if dev {
		format = "text"
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
	}
}
