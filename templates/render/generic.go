package render

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

// Template is one page file parsed with the layout, for a feature that
// keeps its own set of pages (the sign-in pages, the account page): each
// adds pages without touching Renderer. T is the page's data type.
type Template[T any] struct{ p page }

// ParsePage parses file with the layout from fsys and executes it once with
// T's zero value, so escaping errors and unknown fields show at start-up.
func ParsePage[T any](fsys fs.FS, file string) (*Template[T], error) {
	layout, err := template.ParseFS(fsys, layoutFile)
	if err != nil {
		return nil, fmt.Errorf("render: layout: %w", err)
	}
	var zero T
	t, err := parse(layout, fsys, file, zero)
	if err != nil {
		return nil, fmt.Errorf("render: page %s: %w", file, err)
	}
	return &Template[T]{page{file: file, tmpl: t}}, nil
}

// Execute renders the page; nothing is written unless all of it rendered.
func (t *Template[T]) Execute(w *bytes.Buffer, data T) error { return t.p.execute(w, data) }

// Write sends a page rendered by fill with the Content-Security-Policy
// every Foyer page gets: nothing from elsewhere, no script, its one style
// element by nonce, no framing (SC-05). fill gets the nonce to put on the
// style element. No form-action: a sign-in form's answer redirects on to
// the relying party, which Chrome would block. When fill fails nothing of the page is sent: Write
// answers 500 with a plain sentence and returns the error to log.
func Write(w http.ResponseWriter, status int, fill func(nonce string, buf *bytes.Buffer) error) error {
	return write(w, status, "", fill)
}

// WriteWithScript is Write for the pages that need the browser's WebAuthn
// API, which only script can reach: their script elements run by nonce,
// and script may fetch from this origin only.
func WriteWithScript(w http.ResponseWriter, status int, fill func(nonce string, buf *bytes.Buffer) error) error {
	return write(w, status, "; script-src 'nonce-{n}'; connect-src 'self'", fill)
}

func write(w http.ResponseWriter, status int, extra string, fill func(nonce string, buf *bytes.Buffer) error) error {
	b := make([]byte, 18)
	rand.Read(b) // never returns an error (crypto/rand docs)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	var buf bytes.Buffer
	if err := fill(nonce, &buf); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "The page could not be shown.")
		return err
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'"+
		strings.ReplaceAll(extra, "{n}", nonce))
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// WritePage renders t with data, whose embedded Page is p, by Write (or
// WriteWithScript when scripted): p gets the response's nonce. The caller
// sets p.CSRFToken.
func WritePage[T any](w http.ResponseWriter, status int, scripted bool, t *Template[T], data *T, p *Page) error {
	write := Write
	if scripted {
		write = WriteWithScript
	}
	return write(w, status, func(nonce string, buf *bytes.Buffer) error {
		p.Nonce = nonce
		return t.Execute(buf, *data)
	})
}
