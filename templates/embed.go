package templates

import "embed"

// FS holds the page templates (*.html). cmd/foyer hands it to render.New;
// tests may pass their own fs.FS instead.
//
//go:embed *.html
var FS embed.FS
