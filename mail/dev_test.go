package mail_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/mail"
)

func TestDevSenderLogsAndKeepsTheLast50(t *testing.T) {
	logs := new(logBuffer)
	d := mail.NewDevSender(slog.New(slog.NewTextHandler(logs, nil)))
	for i := range 53 {
		m := testMessage(fmt.Sprintf("msg_%02d", i))
		if err := d.Send(t.Context(), m); err != nil {
			t.Fatalf("Send(%s) error = %v", m.ID, err)
		}
	}
	got := d.Messages()
	if len(got) != 50 || got[0].ID != "msg_52" || got[49].ID != "msg_03" {
		t.Errorf("Messages() = %d messages from %s to %s, want 50 from msg_52 to msg_03", len(got), got[0].ID, got[len(got)-1].ID)
	}
	// The link is in the log: in --dev that is how a person signs in.
	if !logLine(logs.String(), "level=INFO", "id=msg_52", "to=", "subject=", "https://id.example.com/magic-link?token=tok_msg_52") {
		t.Errorf("no Info line with the subject, recipient and text of msg_52:\n%s", logs)
	}
}

func TestDevMailboxPage(t *testing.T) {
	d := mail.NewDevSender(nil)
	first := testMessage("msg_first")
	evilMsg := mail.Message{
		ID:      "msg_evil",
		To:      `"<script>alert(1)</script>" <evil@example.com>`,
		Subject: `<img src=x onerror=alert(1)>`,
		Text:    "Click https://id.example.com/verify?token=a&b=<c>. Or javascript:alert(1) or <b>bold</b>.\n",
	}
	for _, m := range []mail.Message{first, evilMsg} {
		if err := d.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}

	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/mailbox", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /dev/mailbox = %d %q, want 200 text/html", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	for _, bad := range []string{"<script", "<img", "<b>bold", `href="javascript`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped:\n%s", bad, page)
		}
	}
	for _, want := range []string{
		// Escaped, and the link stops before the trailing period.
		`<a href="https://id.example.com/verify?token=a&amp;b=">https://id.example.com/verify?token=a&amp;b=</a>&lt;c&gt;.`,
		`<a href="https://id.example.com/magic-link?token=tok_msg_first&amp;flow=f_1">`,
		`&lt;img src=x onerror=alert(1)&gt;`,
		"Your Foyer sign-in link — café",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	if strings.Index(page, "onerror") > strings.Index(page, "tok_msg_first") {
		t.Errorf("messages are not newest first:\n%s", page)
	}

	// The CSP allows the page's one <style> by its hash, and no script.
	csp := rec.Header().Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*)</style>`).FindStringSubmatch(page)
	if style == nil {
		t.Fatal("page has no <style>")
	}
	sum := sha256.Sum256([]byte(style[1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src "+hash) || strings.Contains(csp, "script") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and style-src %s", csp, hash)
	}
	if rec.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy = %q, want no-referrer: the links carry tokens", rec.Header().Get("Referrer-Policy"))
	}

	rec = httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/mailbox", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /dev/mailbox = %d, want 405", rec.Code)
	}
}

func TestDevMailboxEmpty(t *testing.T) {
	rec := httptest.NewRecorder()
	mail.NewDevSender(nil).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/mailbox", nil))
	if !strings.Contains(rec.Body.String(), "No messages yet.") {
		t.Errorf("empty mailbox page:\n%s", rec.Body)
	}
}
