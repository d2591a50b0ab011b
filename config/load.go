package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// A setting is one configuration key: its path in the YAML file, the
// environment variable that overrides it, and the field it fills.
type setting struct {
	key   string              // YAML path, "database.url"
	env   string              // "FOYER_DATABASE_URL"; empty when the environment cannot set it
	field func(c *Config) any // *string, *bool, *int, *time.Duration or *[]string
}

// settings lists every key in the order problems are reported. The
// variable names are fixed: scripts and the Docker image rely on them.
var settings = []setting{
	{"issuer", "FOYER_ISSUER", func(c *Config) any { return &c.Issuer }},
	{"dev", "", func(c *Config) any { return &c.Dev }},
	{"http.addr", "FOYER_HTTP_ADDR", func(c *Config) any { return &c.HTTP.Addr }},
	{"http.admin_addr", "FOYER_HTTP_ADMIN_ADDR", func(c *Config) any { return &c.HTTP.AdminAddr }},
	{"http.shutdown_timeout", "FOYER_HTTP_SHUTDOWN_TIMEOUT", func(c *Config) any { return &c.HTTP.ShutdownTimeout }},
	{"http.trusted_proxies", "FOYER_HTTP_TRUSTED_PROXIES", func(c *Config) any { return &c.HTTP.TrustedProxies }},
	{"database.url", "FOYER_DATABASE_URL", func(c *Config) any { return &c.Database.URL }},
	{"database.data_dir", "FOYER_DATA_DIR", func(c *Config) any { return &c.Database.DataDir }},
	{"database.connect_retry", "FOYER_DATABASE_CONNECT_RETRY", func(c *Config) any { return &c.Database.ConnectRetry }},
	{"database.max_conns", "FOYER_DATABASE_MAX_CONNS", func(c *Config) any { return &c.Database.MaxConns }},
	{"smtp.url", "FOYER_SMTP_URL", func(c *Config) any { return &c.SMTP.URL }},
	{"smtp.from", "FOYER_SMTP_FROM", func(c *Config) any { return &c.SMTP.From }},
	{"log.level", "FOYER_LOG_LEVEL", func(c *Config) any { return &c.Log.Level }},
	{"log.format", "FOYER_LOG_FORMAT", func(c *Config) any { return &c.Log.Format }},
	{"secrets.encryption_key", "FOYER_ENCRYPTION_KEY", func(c *Config) any { return &c.Secrets.EncryptionKey }},
	{"keys.algorithm", "FOYER_KEYS_ALGORITHM", func(c *Config) any { return &c.Keys.Algorithm }},
	{"keys.rotation_period", "FOYER_KEYS_ROTATION_PERIOD", func(c *Config) any { return &c.Keys.RotationPeriod }},
	{"keys.prepublish", "FOYER_KEYS_PREPUBLISH", func(c *Config) any { return &c.Keys.Prepublish }},
	{"tokens.access_token_ttl", "FOYER_TOKENS_ACCESS_TOKEN_TTL", func(c *Config) any { return &c.Tokens.AccessTokenTTL }},
	{"tokens.id_token_ttl", "FOYER_TOKENS_ID_TOKEN_TTL", func(c *Config) any { return &c.Tokens.IDTokenTTL }},
	{"sessions.idle_timeout", "FOYER_SESSIONS_IDLE_TIMEOUT", func(c *Config) any { return &c.Sessions.IdleTimeout }},
	{"sessions.absolute_timeout", "FOYER_SESSIONS_ABSOLUTE_TIMEOUT", func(c *Config) any { return &c.Sessions.AbsoluteTimeout }},
	{"signup.mode", "FOYER_SIGNUP_MODE", func(c *Config) any { return &c.Signup.Mode }},
	{"invitations.ttl", "FOYER_INVITATIONS_TTL", func(c *Config) any { return &c.Invitations.TTL }},
	{"mfa.required", "FOYER_MFA_REQUIRED", func(c *Config) any { return &c.MFA.Required }},
	{"mfa.rp_id", "FOYER_MFA_RP_ID", func(c *Config) any { return &c.MFA.RPID }},
	{"audit.retention", "FOYER_AUDIT_RETENTION", func(c *Config) any { return &c.Audit.Retention }},
	{"webhooks.timeout", "FOYER_WEBHOOKS_TIMEOUT", func(c *Config) any { return &c.Webhooks.Timeout }},
	{"webhooks.retry_min", "FOYER_WEBHOOKS_RETRY_MIN", func(c *Config) any { return &c.Webhooks.RetryMin }},
	{"webhooks.retry_max", "FOYER_WEBHOOKS_RETRY_MAX", func(c *Config) any { return &c.Webhooks.RetryMax }},
	{"webhooks.retry_for", "FOYER_WEBHOOKS_RETRY_FOR", func(c *Config) any { return &c.Webhooks.RetryFor }},
	{"webhooks.retention", "FOYER_WEBHOOKS_RETENTION", func(c *Config) any { return &c.Webhooks.Retention }},
	{"nats.url", "FOYER_NATS_URL", func(c *Config) any { return &c.NATS.URL }},
	{"nats.stream", "FOYER_NATS_STREAM", func(c *Config) any { return &c.NATS.Stream }},
	{"nats.subject", "FOYER_NATS_SUBJECT", func(c *Config) any { return &c.NATS.Subject }},
}

// envConfig names the config file when no path is given.
const envConfig = "FOYER_CONFIG"

// Load reads the configuration in three layers, each overriding the one
// before it key by key: Defaults(dev), the YAML file at path (when path is
// empty, the one FOYER_CONFIG names, if any) and the FOYER_* variables in
// environ, given as "KEY=value" like os.Environ. `dev: true` in the file counts as --dev, and the defaults that
// depend on it follow unless the file sets them; `dev: false` does not undo
// --dev. The result is validated.
//
// The error is the one from reading the file, or errors.Join of one *Problem
// per wrong key: unknown YAML keys and FOYER_* variables, values of the wrong
// type, and whatever Validate finds. A problem names the key as the user
// wrote it: the variable when the value came from the environment, the YAML
// path otherwise, and the file's path for a file that is not YAML at all.
func Load(path string, environ []string, dev bool) (Config, error) {
	if path == "" {
		path = lookup(environ, envConfig)
	}
	var doc *yaml.Node
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, err
		}
		if doc, err = parseYAML(path, data); err != nil {
			return Config{}, errors.Join(err)
		}
	}

	l := newLoader(Defaults(dev))
	l.file(doc, path)
	if l.cfg.Dev && !dev {
		// The file turned dev on: start again from the dev defaults, so
		// that those the file leaves alone (log.format) follow it.
		l = newLoader(Defaults(true))
		l.file(doc, path)
	}
	l.cfg.Dev = l.cfg.Dev || dev
	l.environ(environ)

	for _, p := range l.cfg.problems() {
		if l.failed[p.Key] {
			continue // already reported: the value could not be read
		}
		if name, ok := l.fromEnv[p.Key]; ok {
			p.Key = name
		}
		l.add(p.Key, "", p.Message)
	}
	if len(l.problems) > 0 {
		return Config{}, errors.Join(l.problems...)
	}
	return l.cfg, nil
}

// parseYAML parses data as one YAML document. It returns nil for a file with
// no document at all (empty, or only comments).
func parseYAML(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, &Problem{Key: path, Message: yamlMessage(err)}
	}
	var next yaml.Node
	if err := dec.Decode(&next); errors.Is(err, io.EOF) {
		return &doc, nil
	} else if err != nil {
		return nil, &Problem{Key: path, Message: yamlMessage(err)}
	}
	return nil, &Problem{Key: path, Message: fmt.Sprintf("line %d: a second YAML document starts here; keep one", next.Line)}
}

// yamlMessage is a YAML syntax error as one line, such as
// "line 3: did not find expected key".
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return strings.Join(strings.Fields(msg), " ")
}

// A loader applies the file and the environment to cfg and collects
// problems on the way.
type loader struct {
	cfg      Config
	problems []error
	reported map[string]bool   // keys, as shown, that already have a problem
	failed   map[string]bool   // YAML keys whose value could not be read
	fromEnv  map[string]string // YAML key -> the variable that set it
}

func newLoader(cfg Config) *loader {
	return &loader{
		cfg:      cfg,
		reported: map[string]bool{},
		failed:   map[string]bool{},
		fromEnv:  map[string]string{},
	}
}

// add records a problem for the key shown to the user, once per key;
// key, when not empty, is the YAML key whose value is now unusable.
func (l *loader) add(shown, key, msg string) {
	if key != "" {
		l.failed[key] = true
	}
	if l.reported[shown] {
		return
	}
	l.reported[shown] = true
	l.problems = append(l.problems, &Problem{Key: shown, Message: msg})
}

// file applies the parsed YAML document. Keys are matched exactly, as
// yaml.v3's Decoder.KnownFields does, but by walking the nodes ourselves
// each problem names the full key path and the line, and a section or value
// left empty (`http:` with everything under it commented out) keeps its
// defaults instead of zeroing them.
func (l *loader) file(doc *yaml.Node, path string) {
	if doc == nil || len(doc.Content) == 0 {
		return
	}
	root := deref(doc.Content[0])
	switch {
	case isNull(root):
	case root.Kind == yaml.MappingNode:
		l.mapping(root, "")
	default:
		l.add(path, "", fmt.Sprintf("line %d: must be a mapping of keys such as issuer and http", root.Line))
	}
}

// mapping applies the keys of the mapping n found under prefix ("" for the
// top level, else a section such as "http").
func (l *loader) mapping(n *yaml.Node, prefix string) {
	lines := map[string]int{} // key -> line it was first set on
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		name := keyName(k)
		key := joinKey(prefix, name)
		if first, dup := lines[key]; dup {
			l.add(key, key, fmt.Sprintf("set twice (lines %d and %d)", first, k.Line))
			continue
		}
		lines[key] = k.Line

		s, isSetting := settingByKey(key)
		sub := sectionKeys(key)
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			l.add(key, "", fmt.Sprintf("merge keys (<<) are not supported; write the keys out (line %d)", k.Line))
		case strings.Contains(k.Value, "."):
			// A dotted name is not a path: "http.addr: x" is not addr under http.
			l.add(key, "", fmt.Sprintf("unknown key (line %d)", k.Line))
		case key == "connections":
			l.connections(v)
		case isSetting:
			l.value(s, v)
		case sub != nil && isNull(v):
		case sub != nil && v.Kind == yaml.MappingNode:
			l.mapping(v, key)
		case sub != nil:
			l.add(key, "", fmt.Sprintf("must be a mapping with the keys %s (line %d)", strings.Join(sub, ", "), v.Line))
		default:
			l.add(key, "", fmt.Sprintf("unknown key (line %d)", k.Line))
		}
	}
}

// value decodes v into the field of s. A null value (`addr:` or `addr: ~`)
// keeps the default; "" sets the empty string.
func (l *loader) value(s setting, v *yaml.Node) {
	if isNull(v) {
		return
	}
	if msg := decodeNode(v, s.field(&l.cfg)); msg != "" {
		l.add(s.key, s.key, fmt.Sprintf("%s (line %d)", msg, v.Line))
	}
}

// decodeNode stores v in dst, or says what v should have been. Durations
// are parsed by time.ParseDuration, as in the environment, so "0" works and
// a bare number (no unit) does not.
func decodeNode(v *yaml.Node, dst any) (problem string) {
	switch dst := dst.(type) {
	case *string:
		if v.Kind != yaml.ScalarNode || v.Decode(dst) != nil {
			return "must be a string"
		}
	case *bool:
		if v.Kind != yaml.ScalarNode {
			return "must be true or false"
		}
		if v.Decode(dst) != nil {
			return "must be true or false, got " + quoted(v.Value)
		}
	case *int:
		if v.Kind != yaml.ScalarNode {
			return "must be a whole number"
		}
		// yaml.v3 would truncate 1.5 to 1.
		if v.ShortTag() != "!!int" || v.Decode(dst) != nil {
			return "must be a whole number, got " + quoted(v.Value)
		}
	case *time.Duration:
		if v.Kind != yaml.ScalarNode {
			return mustBeDuration
		}
		d, err := time.ParseDuration(v.Value)
		if err != nil {
			return mustBeDuration + ", got " + quoted(v.Value)
		}
		*dst = d
	case *[]string:
		var list []string
		if v.Kind != yaml.SequenceNode || v.Decode(&list) != nil {
			return "must be a list of strings, such as [10.0.0.0/8, 192.168.1.10]"
		}
		*dst = list
	}
	return ""
}

const mustBeDuration = "must be a duration such as 30s, 5m or 1h30m"

// environ applies the FOYER_* variables. When a variable appears more than
// once the last one wins, as with exec.Cmd.
func (l *loader) environ(environ []string) {
	values := map[string]string{}
	var names []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "FOYER_") || name == envConfig {
			continue
		}
		if _, seen := values[name]; !seen {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, name := range names {
		s, ok := settingByEnv(name)
		if !ok {
			// A typo must not fall back to a default silently: a
			// misspelt FOYER_DATABASE_URL would mean the embedded database.
			l.add(quoteOdd(name), "", "unknown environment variable")
			continue
		}
		if msg := parseEnv(values[name], s.field(&l.cfg)); msg != "" {
			l.add(name, s.key, msg)
			continue
		}
		l.fromEnv[s.key] = name
		delete(l.failed, s.key) // a good value here replaces a bad one in the file
	}
}

// parseEnv stores value in dst, or says what it should have been. An empty
// value sets an empty string or list: FOYER_DATABASE_URL= means no URL.
func parseEnv(value string, dst any) (problem string) {
	switch dst := dst.(type) {
	case *string:
		*dst = value
	case *int:
		n, err := strconv.Atoi(value)
		if err != nil {
			return "must be a whole number, got " + quoted(value)
		}
		*dst = n
	case *bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return "must be true or false, got " + quoted(value)
		}
		*dst = b
	case *time.Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return mustBeDuration + ", got " + quoted(value)
		}
		*dst = d
	case *[]string:
		var list []string
		for item := range strings.SplitSeq(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		*dst = list
	}
	return ""
}

func settingByKey(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

func settingByEnv(name string) (setting, bool) {
	for _, s := range settings {
		if s.env == name {
			return s, true
		}
	}
	return setting{}, false
}

// sectionKeys lists the keys under section, such as addr for "http", or
// returns nil when section is not one.
func sectionKeys(section string) []string {
	var keys []string
	for _, s := range settings {
		if rest, ok := strings.CutPrefix(s.key, section+"."); ok {
			keys = append(keys, rest)
		}
	}
	return keys
}

// deref follows an alias (*name) to the node it stands for. The parser only
// makes aliases of anchored nodes, never of other aliases, but loop a
// bounded number of times rather than trust that.
func deref(n *yaml.Node) *yaml.Node {
	for range 8 {
		if n.Kind != yaml.AliasNode || n.Alias == nil {
			break
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// keyName is a mapping key as shown in a problem.
func keyName(k *yaml.Node) string {
	if k.Kind != yaml.ScalarNode {
		return fmt.Sprintf("(a non-scalar key on line %d)", k.Line)
	}
	if strings.Contains(k.Value, ".") {
		return strconv.Quote(k.Value) // "http.addr" is one key, not a path
	}
	return quoteOdd(k.Value)
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// quoteOdd quotes a name that is empty or holds spaces or unprintable
// characters, so each problem stays one readable line.
func quoteOdd(name string) string {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(name)
	}
	return name
}

// lookup returns the last value of name in environ ("KEY=value" lines).
func lookup(environ []string, name string) string {
	var v string
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
