package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// with returns c changed by change.
func with(c Config, change func(*Config)) Config {
	change(&c)
	return c
}

// writeFile writes text to foyer.yaml in a fresh directory and returns its path.
func writeFile(t testing.TB, text []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "foyer.yaml")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lines splits an error into its lines, writing FILE for the config file's path.
func lines(err error, path string) []string {
	if err == nil {
		return nil
	}
	if path != "" {
		return strings.Split(strings.ReplaceAll(err.Error(), path, "FILE"), "\n")
	}
	return strings.Split(err.Error(), "\n")
}

var equateEmpty = cmpopts.EquateEmpty() // a nil list and an empty one mean the same

func TestDefaults(t *testing.T) {
	prod := Config{
		Issuer: "http://localhost:8080",
		HTTP:   HTTP{Addr: ":8080", ShutdownTimeout: 20 * time.Second},
		Database: Database{
			DataDir:      "./foyer-data",
			ConnectRetry: 30 * time.Second,
			MaxConns:     10,
		},
		SMTP:     SMTP{From: "Foyer <no-reply@localhost>"},
		Log:      Log{Level: "info", Format: "json"},
		Keys:     Keys{Algorithm: "RS256", RotationPeriod: 720 * time.Hour, Prepublish: time.Hour},
		Tokens:   Tokens{AccessTokenTTL: 15 * time.Minute, IDTokenTTL: time.Hour},
		Sessions: Sessions{IdleTimeout: 8 * time.Hour, AbsoluteTimeout: 7 * 24 * time.Hour},
		Signup:   Signup{Mode: "disabled"},

		Invitations: Invitations{TTL: 7 * 24 * time.Hour},
		Audit:       Audit{Retention: 365 * 24 * time.Hour},
		Webhooks: Webhooks{Timeout: 10 * time.Second, RetryMin: 5 * time.Second, RetryMax: time.Hour,
			RetryFor: 24 * time.Hour, Retention: 7 * 24 * time.Hour},
		NATS: NATS{Stream: "FOYER_EVENTS", Subject: "foyer.events"},
	}
	for _, tc := range []struct {
		name string
		dev  bool
		want Config
	}{
		{"production logs JSON", false, prod},
		{"dev logs text and opens sign-up", true, with(prod, func(c *Config) { c.Dev = true; c.Log.Format = "text"; c.Signup.Mode = "open" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Defaults(tc.dev)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Defaults(%v) mismatch (-want +got):\n%s", tc.dev, diff)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Defaults(%v).Validate() = %v, want nil", tc.dev, err)
			}
		})
	}
}

// A loadCase is a file and an environment that load cleanly.
type loadCase struct {
	name   string
	noFile bool   // no --config
	yaml   string // the file
	env    []string
	dev    bool // --dev
	want   Config
}

var fullYAML = `issuer: https://id.example.com
http:
  addr: 127.0.0.1:9090
  admin_addr: 127.0.0.1:9091
  shutdown_timeout: 45s
  trusted_proxies: [10.0.0.0/8, 192.168.1.10]
database:
  url: postgres://foyer:s3cr3t@db:5432/foyer
  data_dir: /var/lib/foyer
  connect_retry: 1m30s
  max_conns: 25
smtp:
  url: smtp://mailer:s3cr3t@mail.example.com:587
  from: Example <id@example.com>
log:
  level: debug
  format: text
secrets:
  encryption_key: ` + encryptionKey + `
keys:
  algorithm: EdDSA
  rotation_period: 168h
  prepublish: 10m
tokens:
  access_token_ttl: 5m
  id_token_ttl: 30m
sessions:
  idle_timeout: 30m
  absolute_timeout: 24h
signup:
  mode: invite_only
invitations:
  ttl: 72h
mfa:
  required: true
  rp_id: example.com
audit:
  retention: 720h
webhooks:
  timeout: 3s
  retry_min: 1s
  retry_max: 10m
  retry_for: 48h
  retention: 24h
nats:
  url: nats://events:s3cr3t@nats.example.com:4222
  stream: IDENTITY
  subject: id.events
`

// full is fullYAML as a Config: every key differs from its default.
var full = Config{
	Issuer: "https://id.example.com",
	HTTP: HTTP{
		Addr:            "127.0.0.1:9090",
		AdminAddr:       "127.0.0.1:9091",
		ShutdownTimeout: 45 * time.Second,
		TrustedProxies:  []string{"10.0.0.0/8", "192.168.1.10"},
	},
	Database: Database{
		URL:          "postgres://foyer:s3cr3t@db:5432/foyer",
		DataDir:      "/var/lib/foyer",
		ConnectRetry: 90 * time.Second,
		MaxConns:     25,
	},
	SMTP:     SMTP{URL: "smtp://mailer:s3cr3t@mail.example.com:587", From: "Example <id@example.com>"},
	Log:      Log{Level: "debug", Format: "text"},
	Secrets:  Secrets{EncryptionKey: encryptionKey},
	Keys:     Keys{Algorithm: "EdDSA", RotationPeriod: 168 * time.Hour, Prepublish: 10 * time.Minute},
	Tokens:   Tokens{AccessTokenTTL: 5 * time.Minute, IDTokenTTL: 30 * time.Minute},
	Sessions: Sessions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 24 * time.Hour},
	Signup:   Signup{Mode: "invite_only"},

	Invitations: Invitations{TTL: 72 * time.Hour},
	MFA:         MFA{Required: true, RPID: "example.com"},
	Audit:       Audit{Retention: 720 * time.Hour},
	Webhooks: Webhooks{Timeout: 3 * time.Second, RetryMin: time.Second, RetryMax: 10 * time.Minute,
		RetryFor: 48 * time.Hour, Retention: 24 * time.Hour},
	NATS: NATS{URL: "nats://events:s3cr3t@nats.example.com:4222", Stream: "IDENTITY", Subject: "id.events"},
}

// encryptionKey is a valid secrets.encryption_key (32 bytes in padded
// standard base64) that holds secret, so that a test looking for the secret
// finds the key wherever it is shown.
const encryptionKey = secret + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

var loadCases = []loadCase{
	{name: "no file and no environment give the defaults", noFile: true, want: Defaults(false)},
	{name: "the dev flag gives the dev defaults", noFile: true, dev: true, want: Defaults(true)},
	{name: "an empty file keeps the defaults", yaml: "", want: Defaults(false)},
	{name: "a file of comments keeps the defaults", yaml: "# nothing yet\n", want: Defaults(false)},
	{name: "a null document keeps the defaults", yaml: "---\n~\n", want: Defaults(false)},
	{name: "the file sets every key", yaml: fullYAML, want: full},
	{
		name: "dev in the file switches the log format to text",
		yaml: "dev: true\n",
		want: Defaults(true),
	},
	{
		name: "dev in the file keeps a log format the file sets",
		yaml: "dev: true\nlog:\n  format: json\n",
		want: with(Defaults(true), func(c *Config) { c.Log.Format = "json" }),
	},
	{
		name: "dev false in the file does not undo the dev flag",
		yaml: "dev: false\n",
		dev:  true,
		want: Defaults(true),
	},
	{
		name: "dev in the file allows an http issuer",
		yaml: "dev: true\nissuer: http://id.example.com\n",
		want: with(Defaults(true), func(c *Config) { c.Issuer = "http://id.example.com" }),
	},
	{
		name: "a section with everything commented out keeps its defaults",
		yaml: "http:\n  # addr: \":9090\"\n",
		want: Defaults(false),
	},
	{
		name: "a key without a value keeps its default",
		yaml: "log:\n  level:\n  format: ~\n",
		want: Defaults(false),
	},
	{
		name: "an empty string in the file sets the empty string",
		yaml: "database:\n  url: postgres://db/foyer\n  data_dir: \"\"\n",
		want: with(Defaults(false), func(c *Config) {
			c.Database.URL = "postgres://db/foyer"
			c.Database.DataDir = ""
		}),
	},
	{
		name: "aliases are followed",
		yaml: "http:\n  shutdown_timeout: &wait 45s\ndatabase:\n  connect_retry: *wait\n",
		want: with(Defaults(false), func(c *Config) {
			c.HTTP.ShutdownTimeout = 45 * time.Second
			c.Database.ConnectRetry = 45 * time.Second
		}),
	},
	{
		name: "durations in the file take zero and compound values",
		yaml: "http:\n  shutdown_timeout: 1m30s\ndatabase:\n  connect_retry: 0\n",
		want: with(Defaults(false), func(c *Config) {
			c.HTTP.ShutdownTimeout = 90 * time.Second
			c.Database.ConnectRetry = 0
		}),
	},
	{
		name: "the environment overrides the file key by key",
		yaml: "http:\n  addr: \":9090\"\nlog:\n  level: debug\n",
		env:  []string{"FOYER_HTTP_ADDR=:7070"},
		want: with(Defaults(false), func(c *Config) {
			c.HTTP.Addr = ":7070"
			c.Log.Level = "debug"
		}),
	},
	{
		name:   "the environment sets every key",
		noFile: true,
		env: []string{
			"FOYER_ISSUER=https://id.example.com",
			"FOYER_HTTP_ADDR=127.0.0.1:9090",
			"FOYER_HTTP_ADMIN_ADDR=127.0.0.1:9091",
			"FOYER_HTTP_SHUTDOWN_TIMEOUT=45s",
			"FOYER_HTTP_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.10",
			"FOYER_DATABASE_URL=postgres://foyer:s3cr3t@db:5432/foyer",
			"FOYER_DATA_DIR=/var/lib/foyer",
			"FOYER_DATABASE_CONNECT_RETRY=1m30s",
			"FOYER_DATABASE_MAX_CONNS=25",
			"FOYER_SMTP_URL=smtp://mailer:s3cr3t@mail.example.com:587",
			"FOYER_SMTP_FROM=Example <id@example.com>",
			"FOYER_LOG_LEVEL=debug",
			"FOYER_LOG_FORMAT=text",
			"FOYER_ENCRYPTION_KEY=" + encryptionKey,
			"FOYER_KEYS_ALGORITHM=EdDSA",
			"FOYER_KEYS_ROTATION_PERIOD=168h",
			"FOYER_KEYS_PREPUBLISH=10m",
			"FOYER_TOKENS_ACCESS_TOKEN_TTL=5m",
			"FOYER_TOKENS_ID_TOKEN_TTL=30m",
			"FOYER_SESSIONS_IDLE_TIMEOUT=30m",
			"FOYER_SESSIONS_ABSOLUTE_TIMEOUT=24h",
			"FOYER_SIGNUP_MODE=invite_only",
			"FOYER_INVITATIONS_TTL=72h",
			"FOYER_MFA_REQUIRED=true",
			"FOYER_MFA_RP_ID=example.com",
			"FOYER_AUDIT_RETENTION=720h",
			"FOYER_WEBHOOKS_TIMEOUT=3s",
			"FOYER_WEBHOOKS_RETRY_MIN=1s",
			"FOYER_WEBHOOKS_RETRY_MAX=10m",
			"FOYER_WEBHOOKS_RETRY_FOR=48h",
			"FOYER_WEBHOOKS_RETENTION=24h",
			"FOYER_NATS_URL=nats://events:s3cr3t@nats.example.com:4222",
			"FOYER_NATS_STREAM=IDENTITY",
			"FOYER_NATS_SUBJECT=id.events",
		},
		want: full,
	},
	{
		name:   "trusted proxies in the environment are split on commas and trimmed",
		noFile: true,
		env:    []string{"FOYER_HTTP_TRUSTED_PROXIES= 10.0.0.0/8 , ::1,,"},
		want: with(Defaults(false), func(c *Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "::1"}
		}),
	},
	{
		name: "an empty FOYER_HTTP_TRUSTED_PROXIES clears the file's list",
		yaml: "http:\n  trusted_proxies: [10.0.0.1]\n",
		env:  []string{"FOYER_HTTP_TRUSTED_PROXIES="},
		want: Defaults(false),
	},
	{
		name: "an empty FOYER_DATABASE_URL clears the file's URL",
		yaml: "database:\n  url: postgres://db/foyer\n",
		env:  []string{"FOYER_DATABASE_URL="},
		want: Defaults(false),
	},
	{
		name:   "durations in the environment take zero and compound values",
		noFile: true,
		env:    []string{"FOYER_DATABASE_CONNECT_RETRY=0", "FOYER_HTTP_SHUTDOWN_TIMEOUT=2m30s"},
		want: with(Defaults(false), func(c *Config) {
			c.HTTP.ShutdownTimeout = 150 * time.Second
			c.Database.ConnectRetry = 0
		}),
	},
	{
		name:   "variables without the FOYER_ prefix are ignored",
		noFile: true,
		env:    []string{"PATH=/usr/bin", "foyer_issuer=https://x.example", "FOYER=1", "NO_EQUALS_SIGN"},
		want:   Defaults(false),
	},
	{
		name:   "the encryption key may use the URL alphabet without padding",
		noFile: true,
		env:    []string{"FOYER_ENCRYPTION_KEY=yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc"},
		want: with(Defaults(false), func(c *Config) {
			c.Secrets.EncryptionKey = "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc"
		}),
	},
	{
		name:   "the encryption key may end in a newline, as a key file does",
		noFile: true,
		env:    []string{"FOYER_ENCRYPTION_KEY=" + encryptionKey + "\n"},
		want:   with(Defaults(false), func(c *Config) { c.Secrets.EncryptionKey = encryptionKey + "\n" }),
	},
	{
		name: "an empty FOYER_ENCRYPTION_KEY clears the file's key",
		yaml: "secrets:\n  encryption_key: " + encryptionKey + "\n",
		env:  []string{"FOYER_ENCRYPTION_KEY="},
		want: Defaults(false),
	},
	{
		name: "prepublish is checked against a rotation period from the file",
		yaml: "keys:\n  rotation_period: 2h\n",
		env:  []string{"FOYER_KEYS_PREPUBLISH=90m"},
		want: with(Defaults(false), func(c *Config) {
			c.Keys.RotationPeriod = 2 * time.Hour
			c.Keys.Prepublish = 90 * time.Minute
		}),
	},
	{
		name:   "the last of a repeated variable wins",
		noFile: true,
		env:    []string{"FOYER_LOG_LEVEL=verbose", "FOYER_LOG_LEVEL=warn"},
		want:   with(Defaults(false), func(c *Config) { c.Log.Level = "warn" }),
	},
}

func TestLoad(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if !tc.noFile {
				path = writeFile(t, []byte(tc.yaml))
			}
			got, err := Load(path, tc.env, tc.dev)
			if err != nil {
				t.Fatalf("Load(%q, %q, %v) error:\n%v", tc.yaml, tc.env, tc.dev, err)
			}
			if diff := cmp.Diff(tc.want, got, equateEmpty); diff != "" {
				t.Errorf("Load(%q, %q, %v) mismatch (-want +got):\n%s", tc.yaml, tc.env, tc.dev, diff)
			}
		})
	}
}

// A problemCase is a file and an environment that do not load.
type problemCase struct {
	name string
	yaml string
	env  []string
	dev  bool
	want []string // the error's lines; FILE stands for the file's path
}

var problemCases = []problemCase{
	{
		name: "an unknown key names itself and its line",
		yaml: "issuer: https://id.example.com\nisuer: https://id.example.com\n",
		want: []string{"isuer: unknown key (line 2)"},
	},
	{
		name: "an unknown key in a section is named by its YAML path",
		yaml: "http:\n  adr: \":9090\"\n",
		want: []string{"http.adr: unknown key (line 2)"},
	},
	{
		name: "an unknown section is reported once",
		yaml: "cache:\n  size: 10\n  ttl: 5m\n",
		want: []string{"cache: unknown key (line 1)"},
	},
	{
		name: "a dotted key is not a path",
		yaml: "http.addr: \":9090\"\n",
		want: []string{`"http.addr": unknown key (line 1)`},
	},
	{
		name: "keys are case-sensitive",
		yaml: "Issuer: https://id.example.com\n",
		want: []string{"Issuer: unknown key (line 1)"},
	},
	{
		name: "a section key is not a top-level key",
		yaml: "addr: \":9090\"\nlog:\n  http: {}\n",
		want: []string{"addr: unknown key (line 1)", "log.http: unknown key (line 3)"},
	},
	{
		name: "an unknown FOYER_ variable is an error, not a fallback",
		env:  []string{"FOYER_DATABSE_URL=postgres://db/foyer"},
		want: []string{"FOYER_DATABSE_URL: unknown environment variable"},
	},
	{
		name: "dev cannot be set from the environment",
		env:  []string{"FOYER_DEV=true"},
		want: []string{"FOYER_DEV: unknown environment variable"},
	},
	{
		name: "a list where a string belongs",
		yaml: "http: {addr: [1]}\n",
		want: []string{"http.addr: must be a string (line 1)"},
	},
	{
		name: "a word where a duration belongs",
		yaml: "database: {connect_retry: forever}\n",
		want: []string{`database.connect_retry: must be a duration such as 30s, 5m or 1h30m, got "forever" (line 1)`},
	},
	{
		name: "a duration without a unit",
		yaml: "http:\n  shutdown_timeout: 30\n",
		want: []string{`http.shutdown_timeout: must be a duration such as 30s, 5m or 1h30m, got "30" (line 2)`},
	},
	{
		name: "a mapping where a duration belongs",
		yaml: "http:\n  shutdown_timeout: {seconds: 30}\n",
		want: []string{"http.shutdown_timeout: must be a duration such as 30s, 5m or 1h30m (line 2)"},
	},
	{
		name: "a word where a number belongs",
		yaml: "database:\n  max_conns: ten\n",
		want: []string{`database.max_conns: must be a whole number, got "ten" (line 2)`},
	},
	{
		name: "a fraction where a whole number belongs",
		yaml: "database:\n  max_conns: 1.5\n",
		want: []string{`database.max_conns: must be a whole number, got "1.5" (line 2)`},
	},
	{
		name: "a word where a boolean belongs",
		yaml: "dev: maybe\n",
		want: []string{`dev: must be true or false, got "maybe" (line 1)`},
	},
	{
		name: "a string where a list belongs",
		yaml: "http:\n  trusted_proxies: 10.0.0.0/8\n",
		want: []string{"http.trusted_proxies: must be a list of strings, such as [10.0.0.0/8, 192.168.1.10] (line 2)"},
	},
	{
		name: "a value where a section belongs",
		yaml: "http: \":8080\"\n",
		want: []string{"http: must be a mapping with the keys addr, admin_addr, shutdown_timeout, trusted_proxies (line 1)"},
	},
	{
		name: "a list where the whole file should be a mapping",
		yaml: "- issuer: https://id.example.com\n",
		want: []string{"FILE: line 1: must be a mapping of keys such as issuer and http"},
	},
	{
		name: "wrong types in the environment",
		env: []string{
			"FOYER_DATABASE_MAX_CONNS=ten",
			"FOYER_HTTP_SHUTDOWN_TIMEOUT=30",
			"FOYER_DATABASE_CONNECT_RETRY=forever",
		},
		want: []string{
			`FOYER_DATABASE_MAX_CONNS: must be a whole number, got "ten"`,
			`FOYER_HTTP_SHUTDOWN_TIMEOUT: must be a duration such as 30s, 5m or 1h30m, got "30"`,
			`FOYER_DATABASE_CONNECT_RETRY: must be a duration such as 30s, 5m or 1h30m, got "forever"`,
		},
	},
	{
		name: "an empty duration in the environment",
		env:  []string{"FOYER_HTTP_SHUTDOWN_TIMEOUT="},
		want: []string{`FOYER_HTTP_SHUTDOWN_TIMEOUT: must be a duration such as 30s, 5m or 1h30m, got ""`},
	},
	{
		name: "a key set twice",
		yaml: "log:\n  level: verbose\n  level: debug\n",
		want: []string{"log.level: set twice (lines 2 and 3)"},
	},
	{
		name: "merge keys are not supported",
		yaml: "base: &base {addr: \":9090\"}\nhttp:\n  <<: *base\n",
		want: []string{
			"base: unknown key (line 1)",
			"http.<<: merge keys (<<) are not supported; write the keys out (line 3)",
		},
	},
	{
		name: "a syntax error names the file and line",
		yaml: "http:\n  addr: \":9090\n",
		want: []string{"FILE: line 2: found unexpected end of stream"},
	},
	{
		name: "a second document is an error",
		yaml: "issuer: https://id.example.com\n---\nissuer: https://other.example.com\n",
		want: []string{"FILE: line 2: a second YAML document starts here; keep one"},
	},
	{
		name: "a bad value from the file is named by its YAML path",
		yaml: "database:\n  url: mysql://db/foyer\n",
		want: []string{"database.url: must start with postgres:// or postgresql://, as in postgres://user:password@db.example.com:5432/foyer"},
	},
	{
		name: "a bad value from the environment is named by its variable",
		yaml: "database:\n  url: postgres://db/foyer\n",
		env:  []string{"FOYER_DATABASE_URL=mysql://db/foyer"},
		want: []string{"FOYER_DATABASE_URL: must start with postgres:// or postgresql://, as in postgres://user:password@db.example.com:5432/foyer"},
	},
	{
		name: "a good value in the environment does not hide a bad one in the file",
		yaml: "database:\n  max_conns: ten\n",
		env:  []string{"FOYER_DATABASE_MAX_CONNS=20"},
		want: []string{`database.max_conns: must be a whole number, got "ten" (line 2)`},
	},
	{
		name: "bad values in both the file and the environment are both reported",
		yaml: "database:\n  max_conns: ten\n",
		env:  []string{"FOYER_DATABASE_MAX_CONNS=5000"},
		want: []string{
			`database.max_conns: must be a whole number, got "ten" (line 2)`,
			"FOYER_DATABASE_MAX_CONNS: must be between 1 and 1000, got 5000",
		},
	},
	{
		name: "a bad encryption key from the environment is named by its variable, not shown",
		env:  []string{"FOYER_ENCRYPTION_KEY=not-a-key"},
		want: []string{"FOYER_ENCRYPTION_KEY: must be 32 random bytes in base64 (openssl rand -base64 32)"},
	},
	{
		name: "an encryption key of 33 bytes in the file",
		yaml: "secrets:\n  encryption_key: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
		want: []string{"secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},
	},
	{
		name: "a value where the secrets section belongs is not shown",
		yaml: "secrets: " + encryptionKey + "\n",
		want: []string{"secrets: must be a mapping with the keys encryption_key (line 1)"},
	},
	{
		name: "the algorithm is case-sensitive",
		yaml: "keys:\n  algorithm: rs256\n",
		want: []string{`keys.algorithm: must be one of RS256, ES256, EdDSA, got "rs256"`},
	},
	{
		name: "prepublish as long as the rotation period",
		yaml: "keys:\n  rotation_period: 1h\n",
		env:  []string{"FOYER_KEYS_PREPUBLISH=1h"},
		want: []string{"FOYER_KEYS_PREPUBLISH: must be at least 10s and less than the rotation period (1h), got 1h"},
	},
	{
		name: "a rotation period shorter than the default prepublish",
		env:  []string{"FOYER_KEYS_ROTATION_PERIOD=30m"},
		want: []string{"keys.prepublish: must be at least 10s and less than the rotation period (30m), got 1h"},
	},
	{
		name: "a wrong rotation period does not hide a prepublish no rotation period allows",
		env:  []string{"FOYER_KEYS_ROTATION_PERIOD=0", "FOYER_KEYS_PREPUBLISH=9000h"},
		want: []string{
			"FOYER_KEYS_ROTATION_PERIOD: must be between 1m and 8760h, got 0s",
			"FOYER_KEYS_PREPUBLISH: must be at least 10s and less than the rotation period (at most 8760h), got 9000h",
		},
	},
	{
		name: "a wrong rotation period alone is one problem",
		env:  []string{"FOYER_KEYS_ROTATION_PERIOD=0"},
		want: []string{"FOYER_KEYS_ROTATION_PERIOD: must be between 1m and 8760h, got 0s"},
	},
	{
		name: "token lifetimes out of range",
		yaml: "tokens:\n  access_token_ttl: 30s\n",
		env:  []string{"FOYER_TOKENS_ID_TOKEN_TTL=48h"},
		want: []string{
			"tokens.access_token_ttl: must be between 1m and 24h, got 30s",
			"FOYER_TOKENS_ID_TOKEN_TTL: must be between 1m and 24h, got 48h",
		},
	},
	{
		name: "an http issuer needs dev",
		yaml: "issuer: http://id.example.com\n",
		want: []string{"issuer: must be an https URL outside --dev, got http://id.example.com"},
	},
	{
		name: "every problem is reported at once, each under the name the user wrote",
		yaml: "http:\n  adr: \":9090\"\nlog:\n  level: verbose\n",
		env: []string{
			"FOYER_ISSUER=http://id.example.com",
			"FOYER_DATABSE_URL=postgres://db/foyer",
			"FOYER_DATABASE_MAX_CONNS=0",
			"FOYER_SMTP_URL=smtp://mail.example.com",
		},
		want: []string{
			"http.adr: unknown key (line 2)",
			"FOYER_DATABSE_URL: unknown environment variable",
			"FOYER_ISSUER: must be an https URL outside --dev, got http://id.example.com",
			"FOYER_DATABASE_MAX_CONNS: must be between 1 and 1000, got 0",
			"FOYER_SMTP_URL: must include a port, like smtp://user:password@mail.example.com:587",
			`log.level: must be one of debug, info, warn, error, got "verbose"`,
		},
	},
}

func TestLoadProblems(t *testing.T) {
	for _, tc := range problemCases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, []byte(tc.yaml))
			cfg, err := Load(path, tc.env, tc.dev)
			if err == nil {
				t.Fatalf("Load(%q, %q, %v) = %+v, want an error", tc.yaml, tc.env, tc.dev, cfg)
			}
			if diff := cmp.Diff(tc.want, lines(err, path)); diff != "" {
				t.Errorf("Load(%q, %q, %v) error mismatch (-want +got):\n%s", tc.yaml, tc.env, tc.dev, diff)
			}
			if diff := cmp.Diff(Config{}, cfg, equateEmpty); diff != "" {
				t.Errorf("Load returned a config with its error (-want +got):\n%s", diff)
			}
			checkProblems(t, err)
		})
	}
}

// checkProblems checks that err joins *Problem values, one line and one
// key each.
func checkProblems(t *testing.T, err error) {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %T is not a join of problems: %v", err, err)
	}
	keys := map[string]bool{}
	for _, e := range joined.Unwrap() {
		p, ok := e.(*Problem)
		if !ok {
			t.Fatalf("error %T (%v) is not a *Problem", e, e)
		}
		if p.Key == "" || p.Message == "" {
			t.Errorf("problem %#v lacks a key or a message", p)
		}
		if strings.ContainsAny(p.Error(), "\r\n") {
			t.Errorf("problem %q is more than one line", p.Error())
		}
		if keys[p.Key] {
			t.Errorf("key %q has more than one problem in:\n%v", p.Key, err)
		}
		keys[p.Key] = true
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(path, nil, false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%q) = %v, want an error matching fs.ErrNotExist", path, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // the one problem; empty for none
	}{
		{"https issuer", func(c *Config) { c.Issuer = "https://id.example.com" }, ""},
		{"https issuer with a path and port", func(c *Config) { c.Issuer = "https://example.com:8443/id" }, ""},
		{"http issuer on localhost", func(c *Config) { c.Issuer = "http://LOCALHOST:8080" }, ""},
		{"http issuer on 127.0.0.0/8", func(c *Config) { c.Issuer = "http://127.0.0.2" }, ""},
		{"http issuer on ::1", func(c *Config) { c.Issuer = "http://[::1]:8080" }, ""},
		{"http issuer in dev", func(c *Config) { c.Dev = true; c.Issuer = "http://id.example.com" }, ""},
		{"empty issuer", func(c *Config) { c.Issuer = "" },
			"issuer: must be set, such as https://id.example.com"},
		{"issuer without a scheme", func(c *Config) { c.Issuer = "id.example.com" },
			`issuer: must be an absolute http or https URL such as https://id.example.com, got "id.example.com"`},
		{"issuer with another scheme", func(c *Config) { c.Issuer = "ftp://id.example.com" },
			`issuer: must be an absolute http or https URL such as https://id.example.com, got "ftp://id.example.com"`},
		{"issuer that does not parse", func(c *Config) { c.Issuer = "https://id.example.com:port" },
			`issuer: must be an absolute http or https URL such as https://id.example.com, got "https://id.example.com:port"`},
		{"issuer without a host", func(c *Config) { c.Issuer = "https:///id" },
			"issuer: must include a host, such as https://id.example.com, got https:///id"},
		{"issuer with port 0", func(c *Config) { c.Issuer = "https://id.example.com:0" },
			"issuer: port must be a number from 1 to 65535, got https://id.example.com:0"},
		{"issuer with user info", func(c *Config) { c.Issuer = "https://admin@id.example.com" },
			"issuer: must not contain a user name or password"},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://id.example.com?tenant=a" },
			"issuer: must not have a query (?…), got https://id.example.com?tenant=a"},
		{"issuer with an empty fragment", func(c *Config) { c.Issuer = "https://id.example.com#" },
			"issuer: must not have a fragment (#…), got https://id.example.com#"},
		{"issuer with a trailing slash", func(c *Config) { c.Issuer = "https://id.example.com/" },
			"issuer: must not end with a slash, got https://id.example.com/"},
		{"http issuer outside dev", func(c *Config) { c.Issuer = "http://id.example.com" },
			"issuer: must be an https URL outside --dev, got http://id.example.com"},
		{"http issuer on a name that only starts like loopback", func(c *Config) { c.Issuer = "http://127.0.0.1.example.com" },
			"issuer: must be an https URL outside --dev, got http://127.0.0.1.example.com"},

		{"listen on every interface", func(c *Config) { c.HTTP.Addr = ":8080" }, ""},
		{"listen on a free port", func(c *Config) { c.HTTP.Addr = "127.0.0.1:0" }, ""},
		{"listen on IPv6", func(c *Config) { c.HTTP.Addr = "[::1]:65535" }, ""},
		{"listen address without a port", func(c *Config) { c.HTTP.Addr = "8080" },
			`http.addr: must be host:port such as :8080 or 127.0.0.1:8080, got "8080"`},
		{"listen address with a named port", func(c *Config) { c.HTTP.Addr = ":http" },
			`http.addr: port must be a number from 0 to 65535, got "http"`},
		{"listen port too high", func(c *Config) { c.HTTP.Addr = ":65536" },
			`http.addr: port must be a number from 0 to 65535, got "65536"`},
		{"passkeys on the issuer's host", func(c *Config) { c.Issuer, c.MFA.RPID = "https://id.example.com", "id.example.com" }, ""},
		{"passkeys on a parent domain", func(c *Config) { c.Issuer, c.MFA.RPID = "https://id.example.com", "example.com" }, ""},
		{"passkeys on another domain", func(c *Config) { c.Issuer, c.MFA.RPID = "https://id.example.com", "example.org" },
			`mfa.rp_id: must be the issuer's host "id.example.com" or a parent domain of it, got "example.org"`},
		{"passkeys on a public suffix", func(c *Config) { c.Issuer, c.MFA.RPID = "https://id.example.com", "com" },
			`mfa.rp_id: must be the issuer's host "id.example.com" or a parent domain of it, got "com"`},
		{"admin API on its own port", func(c *Config) { c.HTTP.AdminAddr = "127.0.0.1:8081" }, ""},
		{"both on free ports", func(c *Config) { c.HTTP.Addr, c.HTTP.AdminAddr = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"admin API address without a port", func(c *Config) { c.HTTP.AdminAddr = "localhost" },
			`http.admin_addr: must be host:port such as :8080 or 127.0.0.1:8080, got "localhost"`},
		{"admin API on the public address", func(c *Config) { c.HTTP.AdminAddr = c.HTTP.Addr },
			"http.admin_addr: must differ from http.addr (leave it unset to serve the admin API there)"},

		{"shutdown timeout at most 10m", func(c *Config) { c.HTTP.ShutdownTimeout = 10 * time.Minute }, ""},
		{"no shutdown timeout", func(c *Config) { c.HTTP.ShutdownTimeout = 0 },
			"http.shutdown_timeout: must be more than 0s and at most 10m, got 0s"},
		{"shutdown timeout too long", func(c *Config) { c.HTTP.ShutdownTimeout = 11 * time.Minute },
			"http.shutdown_timeout: must be more than 0s and at most 10m, got 11m"},

		{"trusted proxies by IP and CIDR", func(c *Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"}
		}, ""},
		{"trusted proxies that are neither", func(c *Config) {
			c.HTTP.TrustedProxies = []string{"10.0.0.1", "proxy.internal", "10.0.0.0/33", ""}
		}, `http.trusted_proxies: each entry must be an IP address or a CIDR such as 10.0.0.0/8, got "proxy.internal", "10.0.0.0/33", ""`},

		{"postgres URL", func(c *Config) { c.Database.URL = "postgres://foyer:pw@db:5432/foyer?sslmode=require" }, ""},
		{"postgresql URL with several hosts", func(c *Config) { c.Database.URL = "postgresql://db1:5432,db2:5432/foyer" }, ""},
		{"database URL of another kind", func(c *Config) { c.Database.URL = "mysql://db/foyer" },
			"database.url: must start with postgres:// or postgresql://, as in postgres://user:password@db.example.com:5432/foyer"},
		{"key=value connection string", func(c *Config) { c.Database.URL = "host=db dbname=foyer" },
			"database.url: must start with postgres:// or postgresql://, as in postgres://user:password@db.example.com:5432/foyer"},
		{"database URL without a host", func(c *Config) { c.Database.URL = "postgres:///foyer" },
			"database.url: must include a host, like postgres://user:password@db.example.com:5432/foyer"},
		{"database URL that does not parse", func(c *Config) { c.Database.URL = "postgres://foyer:pa ss@db:5432/foyer" },
			"database.url: is not a valid URL; write it like postgres://user:password@db.example.com:5432/foyer, percent-encoding special characters in the user name and password (%40 for @, %2F for /)"},
		{"database URL with an unescaped slash in the password", func(c *Config) { c.Database.URL = "postgres://foyer:12/ab@db/foyer" },
			"database.url: has an @ after the host; percent-encode special characters in the user name and password (%40 for @, %2F for /)"},

		{"no data dir with a database URL", func(c *Config) { c.Database.URL = "postgres://db/foyer"; c.Database.DataDir = "" }, ""},
		{"no data dir for the embedded database", func(c *Config) { c.Database.DataDir = " " },
			"database.data_dir: must be set when there is no database URL: the embedded database lives there"},

		{"no connect retry", func(c *Config) { c.Database.ConnectRetry = 0 }, ""},
		{"connect retry of an hour", func(c *Config) { c.Database.ConnectRetry = time.Hour }, ""},
		{"negative connect retry", func(c *Config) { c.Database.ConnectRetry = -time.Second },
			"database.connect_retry: must be between 0s and 1h, got -1s"},
		{"connect retry too long", func(c *Config) { c.Database.ConnectRetry = 90 * time.Minute },
			"database.connect_retry: must be between 0s and 1h, got 1h30m"},

		{"one connection", func(c *Config) { c.Database.MaxConns = 1 }, ""},
		{"a thousand connections", func(c *Config) { c.Database.MaxConns = 1000 }, ""},
		{"no connections", func(c *Config) { c.Database.MaxConns = 0 },
			"database.max_conns: must be between 1 and 1000, got 0"},
		{"too many connections", func(c *Config) { c.Database.MaxConns = 1001 },
			"database.max_conns: must be between 1 and 1000, got 1001"},

		{"smtp URL", func(c *Config) { c.SMTP.URL = "smtp://mailer:pw@mail.example.com:587" }, ""},
		{"smtps URL", func(c *Config) { c.SMTP.URL = "smtps://mail.example.com:465" }, ""},
		{"smtp URL without a port", func(c *Config) { c.SMTP.URL = "smtp://mail.example.com" },
			"smtp.url: must include a port, like smtp://user:password@mail.example.com:587"},
		{"smtp URL with port 0", func(c *Config) { c.SMTP.URL = "smtp://mail.example.com:0" },
			"smtp.url: port must be a number from 1 to 65535"},
		{"smtp URL without a host", func(c *Config) { c.SMTP.URL = "smtp://:25" },
			"smtp.url: must include a host, like smtp://user:password@mail.example.com:587"},
		{"smtp URL of another kind", func(c *Config) { c.SMTP.URL = "https://mail.example.com:25" },
			"smtp.url: must start with smtp:// or smtps://, as in smtp://user:password@mail.example.com:587"},

		{"sender with a name", func(c *Config) { c.SMTP.From = "Example <id@example.com>" }, ""},
		{"bare sender", func(c *Config) { c.SMTP.From = "id@example.com" }, ""},
		{"no sender", func(c *Config) { c.SMTP.From = "" },
			`smtp.from: must be an email address such as Foyer <no-reply@example.com>, got ""`},
		{"two senders", func(c *Config) { c.SMTP.From = "a@example.com, b@example.com" },
			`smtp.from: must be an email address such as Foyer <no-reply@example.com>, got "a@example.com, b@example.com"`},

		{"debug logs", func(c *Config) { c.Log.Level = "debug" }, ""},
		{"warn logs", func(c *Config) { c.Log.Level = "warn" }, ""},
		{"error logs", func(c *Config) { c.Log.Level = "error" }, ""},
		{"unknown log level", func(c *Config) { c.Log.Level = "verbose" },
			`log.level: must be one of debug, info, warn, error, got "verbose"`},
		{"log level in capitals", func(c *Config) { c.Log.Level = "INFO" },
			`log.level: must be one of debug, info, warn, error, got "INFO"`},
		{"text logs", func(c *Config) { c.Log.Format = "text" }, ""},
		{"unknown log format", func(c *Config) { c.Log.Format = "logfmt" },
			`log.format: must be one of text, json, got "logfmt"`},

		{"encryption key in padded standard base64", func(c *Config) { c.Secrets.EncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }, ""},
		{"encryption key in standard base64 without padding", func(c *Config) { c.Secrets.EncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" }, ""},
		{"encryption key in padded URL base64", func(c *Config) { c.Secrets.EncryptionKey = "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc=" }, ""},
		{"encryption key in URL base64 without padding", func(c *Config) { c.Secrets.EncryptionKey = "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc" }, ""},
		{"encryption key of 31 bytes", func(c *Config) { c.Secrets.EncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==" },
			"secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},
		{"encryption key of 33 bytes", func(c *Config) { c.Secrets.EncryptionKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g" },
			"secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},
		{"encryption key in hex", func(c *Config) {
			c.Secrets.EncryptionKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		}, "secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},
		{"encryption key mixing the two alphabets", func(c *Config) { c.Secrets.EncryptionKey = "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5uc=" },
			"secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},
		{"encryption key with spaces around it", func(c *Config) { c.Secrets.EncryptionKey = " " + encryptionKey + " " },
			"secrets.encryption_key: must be 32 random bytes in base64 (openssl rand -base64 32)"},

		{"ES256 keys", func(c *Config) { c.Keys.Algorithm = "ES256" }, ""},
		{"EdDSA keys", func(c *Config) { c.Keys.Algorithm = "EdDSA" }, ""},
		{"no algorithm", func(c *Config) { c.Keys.Algorithm = "" },
			`keys.algorithm: must be one of RS256, ES256, EdDSA, got ""`},
		{"algorithm in the wrong case", func(c *Config) { c.Keys.Algorithm = "EDDSA" },
			`keys.algorithm: must be one of RS256, ES256, EdDSA, got "EDDSA"`},
		{"algorithm not offered", func(c *Config) { c.Keys.Algorithm = "HS256" },
			`keys.algorithm: must be one of RS256, ES256, EdDSA, got "HS256"`},

		{"shortest rotation period", func(c *Config) { c.Keys.RotationPeriod = time.Minute; c.Keys.Prepublish = 59 * time.Second }, ""},
		{"longest rotation period", func(c *Config) { c.Keys.RotationPeriod = 8760 * time.Hour }, ""},
		{"rotation period too short", func(c *Config) { c.Keys.RotationPeriod = 59 * time.Second; c.Keys.Prepublish = 10 * time.Second },
			"keys.rotation_period: must be between 1m and 8760h, got 59s"},
		{"rotation period too long", func(c *Config) { c.Keys.RotationPeriod = 8761 * time.Hour },
			"keys.rotation_period: must be between 1m and 8760h, got 8761h"},

		{"shortest prepublish", func(c *Config) { c.Keys.Prepublish = 10 * time.Second }, ""},
		{"prepublish just under the rotation period", func(c *Config) { c.Keys.Prepublish = 720*time.Hour - time.Second }, ""},
		{"prepublish too short", func(c *Config) { c.Keys.Prepublish = 9 * time.Second },
			"keys.prepublish: must be at least 10s and less than the rotation period (720h), got 9s"},
		{"no prepublish", func(c *Config) { c.Keys.Prepublish = 0 },
			"keys.prepublish: must be at least 10s and less than the rotation period (720h), got 0s"},
		{"prepublish as long as the rotation period", func(c *Config) { c.Keys.Prepublish = 720 * time.Hour },
			"keys.prepublish: must be at least 10s and less than the rotation period (720h), got 720h"},
		{"prepublish longer than the rotation period", func(c *Config) { c.Keys.RotationPeriod = time.Hour; c.Keys.Prepublish = 2 * time.Hour },
			"keys.prepublish: must be at least 10s and less than the rotation period (1h), got 2h"},

		{"shortest token lifetimes", func(c *Config) { c.Tokens.AccessTokenTTL = time.Minute; c.Tokens.IDTokenTTL = time.Minute }, ""},
		{"longest token lifetimes", func(c *Config) { c.Tokens.AccessTokenTTL = 24 * time.Hour; c.Tokens.IDTokenTTL = 24 * time.Hour }, ""},
		{"access token lifetime too short", func(c *Config) { c.Tokens.AccessTokenTTL = 59 * time.Second },
			"tokens.access_token_ttl: must be between 1m and 24h, got 59s"},
		{"access token lifetime too long", func(c *Config) { c.Tokens.AccessTokenTTL = 25 * time.Hour },
			"tokens.access_token_ttl: must be between 1m and 24h, got 25h"},
		{"no ID token lifetime", func(c *Config) { c.Tokens.IDTokenTTL = 0 },
			"tokens.id_token_ttl: must be between 1m and 24h, got 0s"},
		{"ID token lifetime too long", func(c *Config) { c.Tokens.IDTokenTTL = 24*time.Hour + time.Second },
			"tokens.id_token_ttl: must be between 1m and 24h, got 24h0m1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := with(Defaults(false), tc.change)
			before := with(c, func(c *Config) { c.HTTP.TrustedProxies = append([]string(nil), c.HTTP.TrustedProxies...) })
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			err := c.Validate()
			if diff := cmp.Diff(want, lines(err, "")); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, c); diff != "" {
				t.Errorf("Validate changed the config (-before +after):\n%s", diff)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{
		Issuer:   "http://id.example.com",
		HTTP:     HTTP{Addr: "8080", AdminAddr: "8081", TrustedProxies: []string{"proxy"}},
		Database: Database{ConnectRetry: -1, MaxConns: 0},
		SMTP:     SMTP{URL: "smtp://mail.example.com", From: "nobody"},
		Log:      Log{Level: "loud", Format: "xml"},
		Secrets:  Secrets{EncryptionKey: "short"},
		MFA:      MFA{RPID: "other.example"},
		Webhooks: Webhooks{RetryMin: time.Second},
		NATS:     NATS{URL: "http://nats", Stream: "a.b", Subject: "x.>"},
	}
	var keys []string
	for _, e := range c.Validate().(interface{ Unwrap() []error }).Unwrap() {
		keys = append(keys, e.(*Problem).Key)
	}
	want := []string{
		"issuer", "http.addr", "http.admin_addr", "http.shutdown_timeout", "http.trusted_proxies",
		"database.data_dir", "database.connect_retry", "database.max_conns",
		"smtp.url", "smtp.from", "log.level", "log.format",
		"secrets.encryption_key", "keys.algorithm", "keys.rotation_period", "keys.prepublish",
		"tokens.access_token_ttl", "tokens.id_token_ttl",
		"sessions.idle_timeout", "sessions.absolute_timeout", "signup.mode",
		"invitations.ttl", "mfa.rp_id", "audit.retention",
		"webhooks.timeout", "webhooks.retry_max", "webhooks.retry_for", "webhooks.retention",
		"nats.url", "nats.stream", "nats.subject",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("Validate() keys mismatch (-want +got):\n%s", diff)
	}
}

// secret is a password, or part of an encryption key, that must never be
// shown.
const secret = "s3cr3t"

func TestPasswordsStayHidden(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string // FOYER_ variable to put value in
		val  string
	}{
		{"valid database URL", "FOYER_DATABASE_URL", "postgres://foyer:s3cr3t@db:5432/foyer"},
		{"database URL with a password parameter", "FOYER_DATABASE_URL", "postgres://db/foyer?sslmode=require&Password=s3cr3t"},
		{"database URL of another kind", "FOYER_DATABASE_URL", "mysql://foyer:s3cr3t@db/foyer"},
		{"database URL without a host", "FOYER_DATABASE_URL", "postgres://foyer:s3cr3t@/foyer"},
		{"database URL that does not parse", "FOYER_DATABASE_URL", "postgres://foyer:s3/cr3t@db:5432/foyer"},
		{"database URL with an unescaped slash", "FOYER_DATABASE_URL", "postgres://foyer:12/s3cr3t@db/foyer"},
		{"key=value connection string", "FOYER_DATABASE_URL", "host=db password=s3cr3t"},
		{"valid smtp URL", "FOYER_SMTP_URL", "smtp://mailer:s3cr3t@mail.example.com:587"},
		{"smtp URL without a port", "FOYER_SMTP_URL", "smtp://mailer:s3cr3t@mail.example.com"},
		{"smtp URL of another kind", "FOYER_SMTP_URL", "http://mailer:s3cr3t@mail.example.com:25"},
		{"issuer with a password", "FOYER_ISSUER", "https://admin:s3cr3t@id.example.com"},
		{"issuer of another kind with a password", "FOYER_ISSUER", "ftp://admin:s3cr3t@id.example.com"},
		{"issuer that does not parse with a password", "FOYER_ISSUER", "https://admin:s3cr3t@id.example.com:port"},
		{"URL in a number", "FOYER_DATABASE_MAX_CONNS", "postgres://foyer:s3cr3t@db/foyer"},
		{"URL in a duration", "FOYER_DATABASE_CONNECT_RETRY", "postgres://foyer:s3cr3t@db/foyer"},
		{"URL in the log level", "FOYER_LOG_LEVEL", "postgres://foyer:s3cr3t@db/foyer"},
		{"URL in the sender", "FOYER_SMTP_FROM", "smtp://mailer:s3cr3t@mail.example.com:587"},
		{"URL in the trusted proxies", "FOYER_HTTP_TRUSTED_PROXIES", "10.0.0.1,postgres://foyer:s3cr3t@db"},
		{"misspelt variable", "FOYER_DATABSE_URL", "postgres://foyer:s3cr3t@db:5432/foyer"},
		{"valid encryption key", "FOYER_ENCRYPTION_KEY", encryptionKey},
		{"encryption key too short", "FOYER_ENCRYPTION_KEY", secret},
		{"encryption key too long", "FOYER_ENCRYPTION_KEY", encryptionKey + "AAAA"},
		{"encryption key that is not base64", "FOYER_ENCRYPTION_KEY", secret + "!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"encryption key in hex", "FOYER_ENCRYPTION_KEY", secret + "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d"},
		{"misspelt encryption key variable", "FOYER_ENCRYPTON_KEY", encryptionKey},
		{"encryption key in the algorithm", "FOYER_KEYS_ALGORITHM", encryptionKey},
		{"encryption key in a duration", "FOYER_KEYS_ROTATION_PERIOD", encryptionKey},
		{"encryption key in the log level", "FOYER_LOG_LEVEL", encryptionKey},
		{"encryption key in the sender", "FOYER_SMTP_FROM", encryptionKey},
		{"encryption key in the trusted proxies", "FOYER_HTTP_TRUSTED_PROXIES", encryptionKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// From the environment, and from the file under the same key.
			_, err := Load("", []string{tc.key + "=" + tc.val}, false)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("Load error shows the password:\n%v", err)
			}
			if s, ok := settingByEnv(tc.key); ok && strings.Contains(s.key, ".") {
				section, name, _ := strings.Cut(s.key, ".")
				text, _ := yaml.Marshal(map[string]map[string]string{section: {name: tc.val}})
				_, err := Load(writeFile(t, text), nil, false)
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("Load error shows the password:\n%v", err)
				}
			}
			// Logged, valid or not, from the keys meant to hold a
			// secret (a URL or key in any other key does not pass Load).
			c := Defaults(false)
			if s, ok := settingByEnv(tc.key); ok && (strings.HasSuffix(s.key, "url") || s.key == "issuer" || s.key == "secrets.encryption_key") && parseEnv(tc.val, s.field(&c)) == "" {
				for _, h := range []func(io.Writer) slog.Handler{
					func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
					func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) },
				} {
					var buf bytes.Buffer
					slog.New(h(&buf)).Info("starting", "config", c, "secrets", c.Secrets)
					if strings.Contains(buf.String(), secret) {
						t.Errorf("log shows the password:\n%s", buf.String())
					}
				}
			}
			// Decoded by Key, which cmd calls.
			if _, err := (Secrets{EncryptionKey: tc.val}).Key(); err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("Key error shows the key:\n%v", err)
			}
		})
	}
}

func TestLogValue(t *testing.T) {
	c := with(full, func(c *Config) {
		c.Database.URL = "postgres://foyer:s3cr3t@db:5432/foyer?sslpassword=s3cr3t&sslmode=verify-full"
	})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
	var got struct{ Config map[string]any }
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"issuer": "https://id.example.com",
		"dev":    false,
		"http": map[string]any{
			"addr":             "127.0.0.1:9090",
			"admin_addr":       "127.0.0.1:9091",
			"shutdown_timeout": "45s",
			"trusted_proxies":  []any{"10.0.0.0/8", "192.168.1.10"},
		},
		"database": map[string]any{
			"url":           "postgres://foyer:xxxxx@db:5432/foyer?sslmode=verify-full&sslpassword=xxxxx",
			"data_dir":      "/var/lib/foyer",
			"connect_retry": "1m30s",
			"max_conns":     float64(25),
		},
		"smtp": map[string]any{
			"url":  "smtp://mailer:xxxxx@mail.example.com:587",
			"from": "Example <id@example.com>",
		},
		"log":     map[string]any{"level": "debug", "format": "text"},
		"secrets": map[string]any{"encryption_key": "xxxxx"},
		"keys": map[string]any{
			"algorithm":       "EdDSA",
			"rotation_period": "168h0m0s",
			"prepublish":      "10m0s",
		},
		"tokens":   map[string]any{"access_token_ttl": "5m0s", "id_token_ttl": "30m0s"},
		"sessions": map[string]any{"idle_timeout": "30m0s", "absolute_timeout": "24h0m0s"},
		"signup":   map[string]any{"mode": "invite_only"},

		"invitations": map[string]any{"ttl": "72h0m0s"},
		"mfa":         map[string]any{"required": true, "rp_id": "example.com"},
		"audit":       map[string]any{"retention": "720h0m0s"},
		"webhooks": map[string]any{"timeout": "3s", "retry_min": "1s", "retry_max": "10m0s",
			"retry_for": "48h0m0s", "retention": "24h0m0s"},
		"nats": map[string]any{"url": "nats://events:xxxxx@nats.example.com:4222", "stream": "IDENTITY", "subject": "id.events"},
	}
	if diff := cmp.Diff(want, got.Config); diff != "" {
		t.Errorf("logged config mismatch (-want +got):\n%s", diff)
	}
}

func TestSecretsLogValue(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
	}{
		{"no key", "", ""},
		{"valid key", encryptionKey, "xxxxx"},
		{"invalid key", secret, "xxxxx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "secrets", Secrets{EncryptionKey: tc.key})
			var got struct{ Secrets map[string]any }
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if diff := cmp.Diff(map[string]any{"encryption_key": tc.want}, got.Secrets); diff != "" {
				t.Errorf("logged Secrets{%q} mismatch (-want +got):\n%s", tc.key, diff)
			}
		})
	}
}

func TestSecretsKey(t *testing.T) {
	// run returns the 32 bytes from, from+1, …, from+31.
	run := func(from byte) []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = from + byte(i)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		key  string
		want []byte // nil with ok for no key
		ok   bool
	}{
		{"no key", "", nil, true},
		{"padded standard base64", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", run(0), true},
		{"standard base64 without padding", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", run(0), true},
		{"with a final newline", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", run(0), true},
		{"padded URL base64", "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc=", run(200), true},
		{"URL base64 without padding", "yMnKy8zNzs_Q0dLT1NXW19jZ2tvc3d7f4OHi4-Tl5uc", run(200), true},
		{"31 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", nil, false},
		{"33 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", nil, false},
		{"not base64", secret + "!", nil, false},
		{"only a newline", "\n", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Secrets{EncryptionKey: tc.key}.Key()
			if tc.ok != (err == nil) || !bytes.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
				t.Fatalf("Secrets{%q}.Key() = %x, %v; want %x, ok %v", tc.key, got, err, tc.want, tc.ok)
			}
			if err == nil {
				return
			}
			var p *Problem
			if !errors.As(err, &p) || p.Key != "secrets.encryption_key" || p.Message != mustBeKey {
				t.Errorf("Secrets{%q}.Key() error = %#v, want the secrets.encryption_key problem", tc.key, err)
			}
			if shown := strings.TrimSpace(tc.key); shown != "" && strings.Contains(err.Error(), shown) {
				t.Errorf("Secrets{%q}.Key() error shows the key: %v", tc.key, err)
			}
		})
	}
}

// TestRoundTrip checks that the file format is the yaml tags on Config: a
// marshalled Config loads back unchanged.
func TestRoundTrip(t *testing.T) {
	for _, c := range []Config{Defaults(false), Defaults(true), full} {
		text, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(writeFile(t, text), nil, false)
		if err != nil {
			t.Fatalf("Load(%q) error:\n%v", text, err)
		}
		if diff := cmp.Diff(c, got, equateEmpty); diff != "" {
			t.Errorf("Load(%q) mismatch (-want +got):\n%s", text, diff)
		}
	}
}

// TestSettings checks that the key table covers every field of Config and
// that the package doc lists every key and variable.
func TestSettings(t *testing.T) {
	var fields []string
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, prefix string) {
		for f := range typ.Fields() {
			if f.Name == "Connections" {
				continue // a list of mappings, not a setting (connections_test.go)
			}
			key := joinKey(prefix, strings.Split(f.Tag.Get("yaml"), ",")[0])
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, key)
				continue
			}
			fields = append(fields, key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	var keys []string
	for _, s := range settings {
		keys = append(keys, s.key)
	}
	if diff := cmp.Diff(fields, keys); diff != "" {
		t.Errorf("settings keys differ from Config's yaml tags (-fields +settings):\n%s", diff)
	}

	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !bytes.Contains(doc, []byte("//\t"+s.key+" ")) || !bytes.Contains(doc, []byte(s.env)) {
			t.Errorf("doc.go's table lacks %s (%s)", s.key, s.env)
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, tc := range loadCases {
		f.Add([]byte(tc.yaml), strings.Join(tc.env, "\n"), tc.dev)
	}
	for _, tc := range problemCases {
		f.Add([]byte(tc.yaml), strings.Join(tc.env, "\n"), tc.dev)
	}
	// One directory per fuzzing process, whose calls run one at a time.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text []byte, env string, dev bool) {
		path := filepath.Join(dir, "foyer.yaml")
		if err := os.WriteFile(path, text, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, strings.Split(env, "\n"), dev)
		if err != nil {
			checkProblems(t, err)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load succeeded but Validate() = %v\nconfig: %+v", err, cfg)
		}
		slog.New(slog.NewTextHandler(io.Discard, nil)).Info("config", "config", cfg)

		// Whatever loads can be written back as YAML and loads the same.
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("yaml.Marshal(%+v): %v", cfg, err)
		}
		again := filepath.Join(dir, "again.yaml")
		if err := os.WriteFile(again, out, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Load(again, nil, dev)
		if err != nil {
			t.Fatalf("Load of the marshalled config %q: %v", out, err)
		}
		if diff := cmp.Diff(cfg, got, equateEmpty); diff != "" {
			t.Fatalf("marshalled config %q loads differently (-want +got):\n%s", out, diff)
		}
	})
}

func TestLoadFileFromFOYER_CONFIG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foyer.yaml")
	if err := os.WriteFile(path, []byte("http:\n  addr: \":9999\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("", []string{"FOYER_CONFIG=" + path}, false)
	if err != nil || cfg.HTTP.Addr != ":9999" {
		t.Errorf("Load with FOYER_CONFIG = %q, %v; want the file's addr :9999", cfg.HTTP.Addr, err)
	}
	if _, err := Load("", []string{"FOYER_CONFIG=" + path + ".missing"}, false); err == nil {
		t.Error("Load with FOYER_CONFIG naming a missing file = nil error")
	}
}
