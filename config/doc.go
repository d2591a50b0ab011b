// Package config turns Foyer's YAML file and FOYER_* environment variables
// into a typed Config and checks it. It owns the key names, the variable
// names, the defaults and the rules for valid values; it imports no other
// Foyer package, and no feature imports it: cmd/foyer calls Load and hands
// each feature only the values it needs.
//
// It is the only package that reads the environment, and even it does not
// call os.Getenv: cmd/foyer passes os.Environ() to Load, so tests pass their
// own slice.
//
// # Precedence
//
// Each layer overrides the one before it, key by key:
//
//  1. Defaults(dev), where dev comes from `foyer serve --dev`;
//  2. the YAML file given by --config, or else the one FOYER_CONFIG names;
//  3. FOYER_* environment variables.
//
// `dev: true` in the file counts as --dev: defaults that depend on dev
// (log.format) follow it unless the file sets them. `dev: false` does not
// undo --dev.
//
// # Keys
//
//	YAML key                 environment variable            default
//	issuer                   FOYER_ISSUER                    http://localhost:8080
//	dev                      (--dev)                         false
//	http.addr                FOYER_HTTP_ADDR                 :8080
//	http.admin_addr          FOYER_HTTP_ADMIN_ADDR           none (the admin API is on http.addr)
//	http.shutdown_timeout    FOYER_HTTP_SHUTDOWN_TIMEOUT     20s
//	http.trusted_proxies     FOYER_HTTP_TRUSTED_PROXIES      none (comma-separated in the environment)
//	database.url             FOYER_DATABASE_URL              empty: the embedded database
//	database.data_dir        FOYER_DATA_DIR                  ./foyer-data
//	database.connect_retry   FOYER_DATABASE_CONNECT_RETRY    30s
//	database.max_conns       FOYER_DATABASE_MAX_CONNS        10
//	smtp.url                 FOYER_SMTP_URL                  empty: the log (and the dev mailbox)
//	smtp.from                FOYER_SMTP_FROM                 Foyer <no-reply@localhost>
//	log.level                FOYER_LOG_LEVEL                 info (debug, info, warn, error)
//	log.format               FOYER_LOG_FORMAT                json; text with --dev
//	secrets.encryption_key   FOYER_ENCRYPTION_KEY            empty: <data_dir>/encryption.key
//	keys.algorithm           FOYER_KEYS_ALGORITHM            RS256 (RS256, ES256, EdDSA)
//	keys.rotation_period     FOYER_KEYS_ROTATION_PERIOD      720h (30 days)
//	keys.prepublish          FOYER_KEYS_PREPUBLISH           1h
//	tokens.access_token_ttl  FOYER_TOKENS_ACCESS_TOKEN_TTL   15m
//	tokens.id_token_ttl      FOYER_TOKENS_ID_TOKEN_TTL       1h
//	sessions.idle_timeout    FOYER_SESSIONS_IDLE_TIMEOUT     8h
//	sessions.absolute_timeout FOYER_SESSIONS_ABSOLUTE_TIMEOUT 168h (7 days)
//	signup.mode              FOYER_SIGNUP_MODE               disabled; open with --dev (open, invite_only, disabled)
//	invitations.ttl          FOYER_INVITATIONS_TTL           168h (7 days)
//	mfa.required             FOYER_MFA_REQUIRED              false
//	mfa.rp_id                FOYER_MFA_RP_ID                 the issuer's host
//	audit.retention          FOYER_AUDIT_RETENTION           8760h (365 days)
//	webhooks.timeout         FOYER_WEBHOOKS_TIMEOUT          10s
//	webhooks.retry_min       FOYER_WEBHOOKS_RETRY_MIN        5s
//	webhooks.retry_max       FOYER_WEBHOOKS_RETRY_MAX        1h
//	webhooks.retry_for       FOYER_WEBHOOKS_RETRY_FOR        24h
//	webhooks.retention       FOYER_WEBHOOKS_RETENTION        168h (7 days)
//	nats.url                 FOYER_NATS_URL                  empty: no NATS
//	nats.stream              FOYER_NATS_STREAM               FOYER_EVENTS
//	nats.subject             FOYER_NATS_SUBJECT              foyer.events
//
// Durations use Go's syntax (30s, 5m, 1h30m, or 0) in the file and the
// environment alike; a bare number has no unit and is an error.
//
// # Strictness
//
// An unknown YAML key, an unknown FOYER_* variable and a value of the wrong
// type are errors, not warnings: a misspelt FOYER_DATABASE_URL must not
// quietly start Foyer on the embedded database. In the file, a key with no
// value (`addr:` or `http:` with everything under it commented out) keeps
// its default, while "" sets an empty string. Anchors and aliases work;
// merge keys (<<) do not. In the environment an empty value sets an empty
// string or list (FOYER_DATABASE_URL= means no URL), and when a variable
// appears twice the last one wins.
//
// # Errors
//
// Load and Validate report every problem at once, one *Problem per key,
// joined with errors.Join, so printing the error gives one line per key:
//
//	FOYER_DATABASE_URL: must start with postgres:// or postgresql://, as in postgres://user:password@db.example.com:5432/foyer
//	http.adr: unknown key (line 3)
//	issuer: must be an https URL outside --dev, got http://id.example.com
//
// A problem names the key the way the user wrote it: the variable when the
// value came from the environment, the YAML path otherwise. No message
// repeats a password or the encryption key, and Config.LogValue replaces
// them with xxxxx.
//
// # Connections
//
// connections is a list of upstream identity providers (Connection), set
// in the file only: id (ups_…), type (oidc or github), name, organization
// (a slug; empty for a global connection), issuer (oidc), client_id,
// client_secret, scopes, auth_url, token_url and api_url (github),
// email_claim, email_verified_claim, name_claim, multi_factor and
// link_by_email. Problems name them as connections[0].client_id; the
// client secret is never logged or repeated.
//
// # Secrets
//
// secrets.encryption_key is 32 random bytes in base64, standard or URL
// alphabet, padded or not (openssl rand -base64 32); Secrets.Key decodes it.
// It encrypts signing keys at rest, so keep it apart from the database
// backups. Left empty, cmd/foyer reads <data_dir>/encryption.key, and
// generates that file with --dev.
package config
