package authz

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// response_mode=form_post (OAuth 2.0 Form Post Response Mode) answers with a
// page that posts the result to the client. fosite's default page submits
// from an inline onload handler, which Foyer's CSP forbids; this one runs a
// fixed script allowed by its hash, and offers a button without JavaScript.
const formPostScript = `document.forms[0].submit()`

// formPostPage returns the page template; every response names the issuer
// (RFC 9207), which a redirect carries in its query instead (issWriter).
func formPostPage(issuer string) *template.Template {
	return template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Continue · Foyer</title></head>
<body>
<form method="post" action="{{ .RedirURL }}">
{{ range $key, $values := .Parameters }}{{ range $values }}<input type="hidden" name="{{ $key }}" value="{{ . }}">
{{ end }}{{ end }}<input type="hidden" name="iss" value="` + template.HTMLEscapeString(issuer) + `">
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>` + formPostScript + `</script>
</body>
</html>`))
}

var formPostScriptHash = func() string {
	sum := sha256.Sum256([]byte(formPostScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// allowFormPost sets the CSP under which an authorization response page
// (form_post) can submit itself. Redirect responses ignore it.
func allowFormPost(c *gin.Context) {
	c.Header("Content-Security-Policy", "default-src 'none'; script-src "+formPostScriptHash+"; frame-ancestors 'none'; base-uri 'none'")
}

// issWriter adds the iss parameter (RFC 9207) to authorization response
// redirects, success and error alike, so a client talking to several
// servers can tell which one answered (mix-up defence, AZ-13).
func issWriter(c *gin.Context, issuer string) http.ResponseWriter {
	return &issResponseWriter{ResponseWriter: c.Writer, issuer: issuer}
}

type issResponseWriter struct {
	http.ResponseWriter
	issuer string
	wrote  bool
}

func (w *issResponseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if loc := w.Header().Get("Location"); loc != "" && code >= 300 && code < 400 {
			if u, err := url.Parse(loc); err == nil && u.Query().Get("iss") == "" {
				q := u.Query()
				q.Set("iss", w.issuer)
				u.RawQuery = q.Encode()
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *issResponseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
