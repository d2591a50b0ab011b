package admin

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

var webhookURLCases = []struct {
	url          string
	allowPrivate bool
	ok           bool
}{
	{"https://hooks.example.com/foyer", false, true},
	{"https://hooks.example.com:8443/foyer?tenant=a", false, true},
	{"HTTPS://hooks.example.com/x", false, true},
	{"https://93.184.216.34/x", false, true},
	{"", false, false},
	{"/relative/path", false, false},
	{"hooks.example.com/x", false, false},
	{"http://hooks.example.com/x", false, false}, // plain http outside development
	{"http://hooks.example.com/x", true, true},
	{"ftp://hooks.example.com/x", false, false},
	{"ftp://hooks.example.com/x", true, false},
	{"javascript:alert(1)", false, false},
	{"https:opaque", false, false},
	{"https://user:pass@hooks.example.com/x", false, false},
	{"https://user@hooks.example.com/x", true, false},
	{"https://hooks.example.com@evil.example/x", false, false},
	{"https://hooks.example.com/x#frag", false, false},
	{"https://hooks.example.com/x#", false, false},
	{"https://127.0.0.1/x", false, false},
	{"https://[::1]/x", false, false},
	{"https://10.1.2.3/x", false, false},
	{"https://169.254.169.254/latest/meta-data", false, false},
	{"https://localhost/x", false, false},
	{"https://api.localhost./x", false, false},
	{"http://127.0.0.1:9/x", true, true},
	{"https://:443/x", false, false},
	{"https://hooks.example.com/" + strings.Repeat("a", maxWebhookURL), false, false},
}

func TestCheckWebhookURL(t *testing.T) {
	for _, tc := range webhookURLCases {
		err := CheckWebhookURL(tc.url, tc.allowPrivate)
		if (err == nil) != tc.ok {
			t.Errorf("CheckWebhookURL(%q, %v) = %v, want ok %v", tc.url, tc.allowPrivate, err, tc.ok)
		}
		var fe *FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "url") {
			t.Errorf("CheckWebhookURL(%q) = %v, want a FieldError on url", tc.url, err)
		}
	}
}

// FuzzCheckWebhookURL: no input panics, and what passes outside
// development is an absolute https URL without user info or fragment.
func FuzzCheckWebhookURL(f *testing.F) {
	for _, tc := range webhookURLCases {
		f.Add(tc.url)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckWebhookURL(raw, false) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
			t.Errorf("CheckWebhookURL accepted %q (%+v, %v)", raw, u, err)
		}
	})
}

func TestCheckEventTypes(t *testing.T) {
	for _, tc := range []struct {
		types []string
		ok    bool
	}{
		{nil, true},
		{[]string{}, true},
		{[]string{"*"}, true},
		{[]string{storage.EventUserCreated, storage.EventInvitationAccepted}, true},
		{[]string{"user.*", "organization.*", "membership.*", "invitation.*", "session.*"}, true},
		{[]string{"user.nope"}, false},
		{[]string{"nope.*"}, false},
		{[]string{".*"}, false},
		{[]string{"*.*"}, false},
		{[]string{"user"}, false},
		{[]string{""}, false},
		{[]string{"USER.CREATED"}, false},
		{[]string{"admin.user.updated"}, false}, // an audit type, not an event
		{[]string{"user.created", "user.created"}, false},
		{[]string{strings.Repeat("x", 10000)}, false},
		{make([]string, maxEventFilters+1), false},
	} {
		err := CheckEventTypes(tc.types)
		if (err == nil) != tc.ok {
			t.Errorf("CheckEventTypes(%q) = %v, want ok %v", tc.types, err, tc.ok)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("CheckEventTypes error is %d bytes long: it echoes the input", len(err.Error()))
		}
	}
}

// TestAuditFieldsHoldNoSecrets (AD-07): the field maps audit entries are
// made of leave out every secret a record holds, and the timestamps every
// change moves.
func TestAuditFieldsHoldNoSecrets(t *testing.T) {
	now := time.Now()
	for name, m := range map[string]map[string]any{
		"user":    userFields(storage.User{ID: "usr_a", Email: "a@example.com", PasswordHash: "$argon2id$SECRET", CreatedAt: now}),
		"client":  clientFields(storage.Client{ID: "c", SecretHash: "SECRET", Name: "C"}),
		"webhook": webhookFields(storage.WebhookEndpoint{ID: "whe_a", URL: "https://h.example", Secret: []byte("SECRET")}),
		"invitation": invitationFields(storage.Invitation{ID: "inv_a", Email: "g@example.com", TokenHash: "SECRET",
			ExpiresAt: now.Add(time.Hour)}, now),
		"saml": samlFields(storage.SAMLConnection{ID: "sso_a", Name: "IdP", SPKey: []byte("SECRET"), Metadata: []byte("<md/>")}),
	} {
		for k, v := range m {
			if s, _ := v.(string); strings.Contains(s, "SECRET") || k == "secret" || k == "created_at" || k == "updated_at" {
				t.Errorf("%s fields hold %s: %v", name, k, v)
			}
		}
		if len(m) == 0 {
			t.Errorf("%s fields are empty", name)
		}
	}
}

// TestAuditCursorAD05: an audit cursor is the position of the last entry
// shown, MACed; a cursor of another list (a valid MAC over a user ID) is
// not a position, and an edited one fails its MAC.
func TestAuditCursorAD05(t *testing.T) {
	cc := cursorCodec{key: []byte(strings.Repeat("k", 32))}
	at := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	pos := auditPosition(storage.AuditEntry{ID: "aud_b", OccurredAt: at})
	got, ok := cc.decode(cc.encode(pos))
	if !ok || got != pos {
		t.Fatalf("decode(encode(%q)) = %q, %v", pos, got, ok)
	}
	when, id, _ := strings.Cut(got, " ")
	if parsed, err := time.Parse(time.RFC3339Nano, when); err != nil || !parsed.Equal(at) || id != "aud_b" {
		t.Errorf("position %q parses as %v, %q, %v", got, parsed, id, err)
	}
	forged := cc.encode(pos)
	forged = forged[:3] + string(forged[3]^1) + forged[4:]
	if _, ok := cc.decode(forged); ok {
		t.Errorf("an edited audit cursor %q is accepted", forged)
	}
}
