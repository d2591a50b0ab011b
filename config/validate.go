package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Problem is one wrong configuration key. Load and Validate return
// errors.Join of them, one per key; walk them with errors.As or the joined
// error's Unwrap() []error.
type Problem struct {
	// Key is the key as the user wrote it: the environment variable
	// (FOYER_DATABASE_URL) when the value came from there, else the YAML
	// path (database.url). For a file that is not YAML at all it is the
	// file's path.
	Key string
	// Message says what is wrong and what would be right, in one plain line.
	// It never repeats a password or the encryption key.
	Message string
}

func (p *Problem) Error() string { return p.Key + ": " + p.Message }

// Validate reports every problem with c at once, one *Problem per key,
// joined with errors.Join; nil means c is usable. It changes nothing. Keys are
// YAML paths: Validate does not know where a value came from (Load does, and
// renames the keys that came from the environment).
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// problems checks each key in the order of settings.
func (c Config) problems() []*Problem {
	var ps []*Problem
	check := func(key, msg string) {
		if msg != "" {
			ps = append(ps, &Problem{Key: key, Message: msg})
		}
	}
	check("issuer", issuerProblem(c.Issuer, c.Dev))
	check("http.addr", addrProblem(c.HTTP.Addr))
	if c.HTTP.AdminAddr != "" {
		msg := addrProblem(c.HTTP.AdminAddr)
		if _, port, _ := net.SplitHostPort(c.HTTP.AdminAddr); msg == "" && c.HTTP.AdminAddr == c.HTTP.Addr && port != "0" {
			msg = "must differ from http.addr (leave it unset to serve the admin API there)"
		}
		check("http.admin_addr", msg)
	}
	check("http.shutdown_timeout", durationProblem(c.HTTP.ShutdownTimeout, time.Nanosecond, 10*time.Minute))
	check("http.trusted_proxies", proxiesProblem(c.HTTP.TrustedProxies))
	check("database.url", serviceURLProblem(c.Database.URL, "postgres://user:password@db.example.com:5432/foyer", false, "postgres", "postgresql"))
	if c.Database.URL == "" && strings.TrimSpace(c.Database.DataDir) == "" {
		check("database.data_dir", "must be set when there is no database URL: the embedded database lives there")
	}
	check("database.connect_retry", durationProblem(c.Database.ConnectRetry, 0, time.Hour))
	if n := c.Database.MaxConns; n < 1 || n > 1000 {
		check("database.max_conns", fmt.Sprintf("must be between 1 and 1000, got %d", n))
	}
	check("smtp.url", serviceURLProblem(c.SMTP.URL, "smtp://user:password@mail.example.com:587", true, "smtp", "smtps"))
	if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
		check("smtp.from", fmt.Sprintf("must be an email address such as Foyer <no-reply@example.com>, got %s", quoted(c.SMTP.From)))
	}
	check("log.level", oneOfProblem(c.Log.Level, "debug", "info", "warn", "error"))
	check("log.format", oneOfProblem(c.Log.Format, "text", "json"))
	if _, err := c.Secrets.Key(); err != nil {
		check("secrets.encryption_key", mustBeKey) // never the value: it is the key
	}
	check("keys.algorithm", oneOfProblem(c.Keys.Algorithm, "RS256", "ES256", "EdDSA"))
	check("keys.rotation_period", durationProblem(c.Keys.RotationPeriod, minRotation, maxRotation))
	check("keys.prepublish", prepublishProblem(c.Keys.Prepublish, c.Keys.RotationPeriod))
	check("tokens.access_token_ttl", durationProblem(c.Tokens.AccessTokenTTL, time.Minute, 24*time.Hour))
	check("tokens.id_token_ttl", durationProblem(c.Tokens.IDTokenTTL, time.Minute, 24*time.Hour))
	check("sessions.idle_timeout", durationProblem(c.Sessions.IdleTimeout, time.Minute, 30*24*time.Hour))
	check("sessions.absolute_timeout", durationProblem(c.Sessions.AbsoluteTimeout, time.Minute, 365*24*time.Hour))
	check("signup.mode", oneOfProblem(c.Signup.Mode, "open", "invite_only", "disabled"))
	check("invitations.ttl", durationProblem(c.Invitations.TTL, time.Hour, 30*24*time.Hour))
	check("mfa.rp_id", rpIDProblem(c.MFA.RPID, c.Issuer))
	check("audit.retention", durationProblem(c.Audit.Retention, 24*time.Hour, 10*365*24*time.Hour))
	check("webhooks.timeout", durationProblem(c.Webhooks.Timeout, 100*time.Millisecond, time.Minute))
	check("webhooks.retry_min", durationProblem(c.Webhooks.RetryMin, 10*time.Millisecond, time.Hour))
	check("webhooks.retry_max", durationProblem(c.Webhooks.RetryMax, c.Webhooks.RetryMin, 24*time.Hour))
	check("webhooks.retry_for", durationProblem(c.Webhooks.RetryFor, time.Second, 30*24*time.Hour))
	check("webhooks.retention", durationProblem(c.Webhooks.Retention, time.Hour, 365*24*time.Hour))
	if c.NATS.URL != "" {
		check("nats.url", serviceURLProblem(c.NATS.URL, "nats://nats.example.com:4222", false, "nats", "tls"))
		check("nats.stream", natsNameProblem(c.NATS.Stream, false))
		check("nats.subject", natsNameProblem(c.NATS.Subject, true))
	}
	ps = append(ps, connectionProblems(c.Connections, c.Dev)...)
	return ps
}

// The bounds of keys.rotation_period: a key signs for at least a minute and
// at most a year.
const (
	minRotation = time.Minute
	maxRotation = 365 * 24 * time.Hour
)

// prepublishProblem checks how long a new key is in the JWKS before it
// signs. Relying parties cache the JWKS, so a key must be published before
// it signs (2s at the least, a floor against a zero that would let every
// instance start signing with a key no verifier has fetched yet); and the
// next key is published while the current one signs, so rotation must not
// outrun publication: prepublish is less than the rotation period. When the
// rotation period is out of range (a problem of its own) the longest valid
// one stands in for it, so that a prepublish no rotation period allows is
// still reported.
// minPrepublish is twice the keys' refresh interval on every instance.
const minPrepublish = 10 * time.Second

func prepublishProblem(prepublish, rotation time.Duration) string {
	limit := fmt.Sprintf("the rotation period (%s)", shortDuration(rotation))
	if rotation < minRotation || rotation > maxRotation {
		rotation = maxRotation
		limit = fmt.Sprintf("the rotation period (at most %s)", shortDuration(maxRotation))
	}
	// Every instance re-reads the keys every 5 s: a shorter window would let
	// one instance sign with a key another does not publish yet.
	if prepublish < minPrepublish || prepublish >= rotation {
		return fmt.Sprintf("must be at least %s and less than %s, got %s", shortDuration(minPrepublish), limit, shortDuration(prepublish))
	}
	return ""
}

// issuerProblem checks the OIDC issuer: clients compare it byte for byte
// with the iss claim and build discovery URLs by appending to it (OpenID
// Connect Discovery 1.0 §3: https, no query or fragment), so it is
// rejected rather than tidied.
func issuerProblem(issuer string, dev bool) string {
	const example = "https://id.example.com"
	if issuer == "" {
		return "must be set, such as " + example
	}
	u, err := url.Parse(issuer)
	switch {
	case err == nil && u.User != nil:
		return "must not contain a user name or password"
	case err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Sprintf("must be an absolute http or https URL such as %s, got %s", example, quoted(issuer))
	case u.Hostname() == "":
		return fmt.Sprintf("must include a host, such as %s, got %s", example, issuer)
	case u.Port() != "" && !validPort(u.Port(), 1):
		return fmt.Sprintf("port must be a number from 1 to 65535, got %s", issuer)
	case strings.Contains(issuer, "?"):
		return fmt.Sprintf("must not have a query (?…), got %s", issuer)
	case strings.Contains(issuer, "#"):
		return fmt.Sprintf("must not have a fragment (#…), got %s", issuer)
	case strings.HasSuffix(issuer, "/"):
		return fmt.Sprintf("must not end with a slash, got %s", issuer)
	case u.Scheme == "http" && !dev && !isLoopback(u.Hostname()):
		return fmt.Sprintf("must be an https URL outside --dev, got %s", issuer)
	}
	return ""
}

// isLoopback reports whether host names this machine: localhost or an
// address in 127.0.0.0/8 or ::1. Plain http is safe only there.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func addrProblem(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("must be host:port such as :8080 or 127.0.0.1:8080, got %s", quoted(addr))
	}
	if !validPort(port, 0) {
		return fmt.Sprintf("port must be a number from 0 to 65535, got %s", quoted(port))
	}
	return ""
}

// validPort reports whether port is a decimal number from lowest to 65535.
// Port 0 means any free port, which suits a listener but not a URL.
func validPort(port string, lowest uint64) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= lowest
}

// durationProblem checks that d is from lowest to highest; a lowest of 1ns
// means any positive duration.
func durationProblem(d, lowest, highest time.Duration) string {
	if d < lowest || d > highest {
		if lowest == time.Nanosecond {
			return fmt.Sprintf("must be more than 0s and at most %s, got %s", shortDuration(highest), shortDuration(d))
		}
		return fmt.Sprintf("must be between %s and %s, got %s", shortDuration(lowest), shortDuration(highest), shortDuration(d))
	}
	return ""
}

// shortDuration writes 10m rather than 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// proxiesProblem checks each entry the way gin's SetTrustedProxies reads
// it: an IP address or a CIDR.
func proxiesProblem(proxies []string) string {
	var bad []string
	for _, p := range proxies {
		if net.ParseIP(p) != nil {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil {
			bad = append(bad, quoted(p))
		}
	}
	if len(bad) > 0 {
		return "each entry must be an IP address or a CIDR such as 10.0.0.0/8, got " + strings.Join(bad, ", ")
	}
	return ""
}

// serviceURLProblem checks the URL of a server Foyer connects to. Such URLs
// carry a password, so no message repeats any part of the URL.
func serviceURLProblem(raw, example string, needPort bool, schemes ...string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is not a valid URL; write it like " + example + ", percent-encoding special characters in the user name and password (%40 for @, %2F for /)"
	case !slices.Contains(schemes, u.Scheme):
		return fmt.Sprintf("must start with %s://, as in %s", strings.Join(schemes, ":// or "), example)
	case u.Opaque != "" || u.Hostname() == "":
		return "must include a host, like " + example
	case atAfterHost(u):
		// url.Parse took the end of an unescaped password for the host.
		return "has an @ after the host; percent-encode special characters in the user name and password (%40 for @, %2F for /)"
	case needPort && u.Port() == "":
		return "must include a port, like " + example
	case u.Port() != "" && !validPort(u.Port(), 1):
		return "port must be a number from 1 to 65535"
	}
	return ""
}

// atAfterHost reports whether an @ follows the host: then the URL's user
// info held an unescaped / ? or #, and part of the password sits in the
// host, path, query or fragment.
func atAfterHost(u *url.URL) bool {
	return strings.Contains(u.EscapedPath()+u.RawQuery+u.EscapedFragment(), "@")
}

func oneOfProblem(value string, allowed ...string) string {
	if slices.Contains(allowed, value) {
		return ""
	}
	return fmt.Sprintf("must be one of %s, got %s", strings.Join(allowed, ", "), quoted(value))
}

// quoted quotes a value for a message, unless it looks as if it holds a
// password (user:pass@host, password=…), as when a URL lands in the wrong
// key, or is an encryption key in the wrong place.
func quoted(value string) string {
	if strings.Contains(value, ":") && strings.Contains(value, "@") ||
		strings.Contains(strings.ToLower(value), "password") {
		return "a value that may hold a password (not shown)"
	}
	if _, ok := decodeKey(value); ok {
		return "a value that may be an encryption key (not shown)"
	}
	return strconv.Quote(value)
}

// rpIDProblem checks that a WebAuthn relying party ID is the issuer's host
// or a parent domain of it (a browser refuses any other).
func rpIDProblem(rpID, issuer string) string {
	if rpID == "" {
		return ""
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return "" // issuer reports its own problem
	}
	host := strings.ToLower(u.Hostname())
	id := strings.ToLower(rpID)
	if net.ParseIP(host) != nil || (host != id && !strings.HasSuffix(host, "."+id)) || !strings.Contains(id, ".") && id != "localhost" {
		return fmt.Sprintf("must be the issuer's host %s or a parent domain of it, got %s", quoted(host), quoted(rpID))
	}
	return ""
}

// natsNameProblem checks a stream name or a subject prefix: NATS gives
// meaning to spaces, dots (in stream names), and the wildcards * and >.
func natsNameProblem(name string, subject bool) string {
	bad := " \t\r\n*>/\\"
	if !subject {
		bad += "."
	}
	switch {
	case name == "":
		return "must not be empty when nats.url is set"
	case strings.ContainsAny(name, bad):
		return fmt.Sprintf("must not contain spaces or any of %q, got %s", strings.TrimLeft(bad, " \t\r\n"), quoted(name))
	case subject && (strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..")):
		return fmt.Sprintf("must be dot-separated tokens, got %s", quoted(name))
	}
	return ""
}
