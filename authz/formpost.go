package authz

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"

	"github.com/gin-gonic/gin"
)

// response_mode=form_post (OAuth 2.0 Form Post Response Mode) answers with a
// page that posts the result to the client. fosite's default page submits
// from an inline onload handler, which Foyer's CSP forbids; this one runs a
// fixed script allowed by its hash, and offers a button without JavaScript.
const formPostScript = `document.forms[0].submit()`

var formPostTemplate = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Continue · Foyer</title></head>
<body>
<form method="post" action="{{ .RedirURL }}">
{{ range $key, $values := .Parameters }}{{ range $values }}<input type="hidden" name="{{ $key }}" value="{{ . }}">
{{ end }}{{ end }}<noscript><button type="submit">Continue</button></noscript>
</form>
<script>` + formPostScript + `</script>
</body>
</html>`))

var formPostScriptHash = func() string {
	sum := sha256.Sum256([]byte(formPostScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// allowFormPost sets the CSP under which an authorization response page
// (form_post) can submit itself. Redirect responses ignore it.
func allowFormPost(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; script-src "+formPostScriptHash+"; frame-ancestors 'none'; base-uri 'none'")
}
