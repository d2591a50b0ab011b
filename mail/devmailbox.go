package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Handler serves the dev mailbox: an HTML page listing the kept messages,
// newest first, each with its subject, recipient, time and text body, its
// links clickable. Everything is escaped. Mount it only with --dev.
func (d *DevSender) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var page devMailboxPage
		for _, m := range d.Messages() {
			page.Messages = append(page.Messages, devMailboxEntry{
				Subject: m.Subject, To: m.To, SentAt: m.SentAt.Format(time.RFC3339), Text: linkify(m.Text),
			})
		}
		var buf bytes.Buffer
		if err := devMailboxTemplate.Execute(&buf, page); err != nil {
			http.Error(w, "render mailbox", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// No script at all; the one inline <style> is allowed by its hash.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src '"+devMailboxStyleHash+"'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer") // the links carry tokens
		buf.WriteTo(w)
	})
}

type devMailboxPage struct{ Messages []devMailboxEntry }

type devMailboxEntry struct {
	Subject, To, SentAt string
	Text                []textPart
}

// textPart is a run of a text body: plain text, or a link when URL is set.
type textPart struct{ Text, URL string }

var linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify cuts text into plain runs and http(s) links, for the template to
// escape and to turn into anchors. A link's trailing punctuation stays text.
func linkify(text string) []textPart {
	var parts []textPart
	rest := 0
	for _, loc := range linkRE.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		for end > start && strings.IndexByte(".,;:!?)", text[end-1]) >= 0 {
			end--
		}
		if start > rest {
			parts = append(parts, textPart{Text: text[rest:start]})
		}
		parts = append(parts, textPart{Text: text[start:end], URL: text[start:end]})
		rest = end
	}
	if rest < len(text) {
		parts = append(parts, textPart{Text: text[rest:]})
	}
	return parts
}

// devMailboxStyle is the page's only style, allowed by its hash in the
// Content-Security-Policy.
const devMailboxStyle = `
body { margin: 0; padding: 1rem; font: 16px/1.5 system-ui, sans-serif; background: #f3f4f6; color: #1a1c20; }
main { max-width: 48rem; margin: 0 auto; }
article { margin: 0 0 1rem; padding: 1rem; background: #fff; border: 1px solid #c5cad3; border-radius: 8px; }
h2 { margin: 0 0 .25rem; font-size: 1.125rem; }
.meta { margin: 0 0 .75rem; color: #585e68; font-size: .875rem; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: .9375rem/1.5 ui-monospace, monospace; }
a { color: #1f4fc1; }
`

var devMailboxStyleHash = func() string {
	sum := sha256.Sum256([]byte(devMailboxStyle))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

var devMailboxTemplate = template.Must(template.New("mailbox").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Dev mailbox · Foyer</title>
<style>` + devMailboxStyle + `</style>
</head>
<body>
<main>
<h1>Dev mailbox</h1>
<p class="meta">The last 50 messages this server sent, newest first. Only in --dev; nothing here left the machine.</p>
{{range .Messages -}}
<article>
<h2>{{.Subject}}</h2>
<p class="meta">To {{.To}} · {{.SentAt}}</p>
<pre>{{range .Text}}{{if .URL}}<a href="{{.URL}}">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}</pre>
</article>
{{else -}}
<p>No messages yet.</p>
{{end -}}
</main>
</body>
</html>
`))
