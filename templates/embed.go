package templates

import "embed"

// FS holds the page templates (*.html) and the email templates
// (email_*.html and email_*.txt). cmd/foyer hands it to render.New and
// render.NewEmails; tests may pass their own fs.FS instead.
//
//go:embed *.html *.txt
var FS embed.FS
