package render

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

type greeting struct {
	Page
	Name string
}

func TestParsePage(t *testing.T) {
	fsys := fstest.MapFS{
		"layout.html": {Data: []byte(`<style nonce="{{.Nonce}}"></style>{{template "content" .}}`)},
		"hello.html":  {Data: []byte(`{{define "content"}}<p>Hello {{.Name}}</p>{{end}}`)},
		"broken.html": {Data: []byte(`{{define "content"}}{{.Missing}}{{end}}`)},
		"nocont.html": {Data: []byte(`<p>no content</p>`)},
	}
	tmpl, err := ParsePage[greeting](fsys, "hello.html")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, greeting{Page: Page{Nonce: "n1"}, Name: "<Ada>"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `<style nonce="n1"></style><p>Hello &lt;Ada&gt;</p>`; got != want {
		t.Errorf("Execute = %q, want %q", got, want)
	}
	// Mistakes show at start-up, not on the first request.
	for _, file := range []string{"broken.html", "nocont.html", "absent.html"} {
		if _, err := ParsePage[greeting](fsys, file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("ParsePage(%s) error = %v, want one naming the file", file, err)
		}
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	var nonce string
	err := Write(w, http.StatusUnauthorized, func(n string, buf *bytes.Buffer) error {
		nonce = n
		buf.WriteString("<p>page</p>")
		return nil
	})
	csp := w.Header().Get("Content-Security-Policy")
	if err != nil || w.Code != http.StatusUnauthorized || w.Body.String() != "<p>page</p>" || len(nonce) < 22 ||
		!strings.Contains(csp, "style-src 'nonce-"+nonce+"'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "script-src") || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("Write = %v, %d %q, CSP %q, nonce %q", err, w.Code, w.Body, csp, nonce)
	}

	// A page that fails to render sends none of itself.
	w = httptest.NewRecorder()
	boom := errors.New("boom")
	err = Write(w, http.StatusOK, func(_ string, buf *bytes.Buffer) error {
		buf.WriteString("<p>half a page")
		return boom
	})
	if !errors.Is(err, boom) || w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "half") {
		t.Errorf("failed render: %v, %d %q", err, w.Code, w.Body)
	}
}
