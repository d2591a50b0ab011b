package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// redacted replaces a password; it is what url.URL.Redacted writes.
const redacted = "xxxxx"

// LogValue implements slog.LogValuer, so that logging a Config shows every
// key by its YAML name but no secret: the password in database.url or
// smtp.url (user info, or a password= query parameter) becomes xxxxx, and so
// does the whole of secrets.encryption_key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", redactURL(c.Issuer)),
		slog.Bool("dev", c.Dev),
		slog.Group("http",
			slog.String("addr", c.HTTP.Addr),
			slog.String("admin_addr", c.HTTP.AdminAddr),
			slog.String("shutdown_timeout", c.HTTP.ShutdownTimeout.String()),
			slog.Any("trusted_proxies", c.HTTP.TrustedProxies),
		),
		slog.Group("database",
			slog.String("url", redactURL(c.Database.URL)),
			slog.String("data_dir", c.Database.DataDir),
			slog.String("connect_retry", c.Database.ConnectRetry.String()),
			slog.Int("max_conns", c.Database.MaxConns),
		),
		slog.Group("smtp",
			slog.String("url", redactURL(c.SMTP.URL)),
			slog.String("from", c.SMTP.From),
		),
		slog.Group("log",
			slog.String("level", c.Log.Level),
			slog.String("format", c.Log.Format),
		),
		// The group itself, not slog.Any: a handler that forgot to resolve
		// a LogValuer would print the struct, key and all.
		slog.Attr{Key: "secrets", Value: c.Secrets.LogValue()},
		slog.Group("keys",
			slog.String("algorithm", c.Keys.Algorithm),
			slog.String("rotation_period", c.Keys.RotationPeriod.String()),
			slog.String("prepublish", c.Keys.Prepublish.String()),
		),
		slog.Group("tokens",
			slog.String("access_token_ttl", c.Tokens.AccessTokenTTL.String()),
			slog.String("id_token_ttl", c.Tokens.IDTokenTTL.String()),
		),
		slog.Group("sessions",
			slog.String("idle_timeout", c.Sessions.IdleTimeout.String()),
			slog.String("absolute_timeout", c.Sessions.AbsoluteTimeout.String()),
		),
		slog.Group("signup", slog.String("mode", c.Signup.Mode)),
		slog.Group("invitations", slog.String("ttl", c.Invitations.TTL.String())),
		slog.Group("mfa", slog.Bool("required", c.MFA.Required), slog.String("rp_id", c.MFA.RPID)),
		slog.Group("audit", slog.String("retention", c.Audit.Retention.String())),
		slog.Group("webhooks",
			slog.String("timeout", c.Webhooks.Timeout.String()),
			slog.String("retry_min", c.Webhooks.RetryMin.String()),
			slog.String("retry_max", c.Webhooks.RetryMax.String()),
			slog.String("retry_for", c.Webhooks.RetryFor.String()),
			slog.String("retention", c.Webhooks.Retention.String()),
		),
		slog.Group("nats", slog.String("url", redactURL(c.NATS.URL)), slog.String("stream", c.NATS.Stream),
			slog.String("subject", c.NATS.Subject)),
		slog.Attr{Key: "connections", Value: connectionsLogValue(c.Connections)},
	)
}

// LogValue implements slog.LogValuer: it shows whether the encryption key
// is set (xxxxx) and nothing of it, valid or not, so Secrets can be logged
// on its own as well as within Config.
func (s Secrets) LogValue() slog.Value {
	key := ""
	if s.EncryptionKey != "" {
		key = redacted
	}
	return slog.GroupValue(slog.String("encryption_key", key))
}

// redactURL replaces the passwords in raw, a URL that may carry them in its
// user info (postgres://user:pass@host) or in a query parameter such as
// pgx's password= and sslpassword=. It hides the whole value when it cannot
// tell where a password would be: not an absolute URL (a key=value
// connection string, say), or an unescaped password that spilled out of the
// user info.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || atAfterHost(u) {
		return redacted
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return redacted
		}
		changed := false
		for k, vs := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				for i := range vs {
					vs[i] = redacted
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}
