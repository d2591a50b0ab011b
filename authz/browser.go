package authz

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never returns an error (crypto/rand docs)
	return base64.RawURLEncoding.EncodeToString(b)
}

// page renders a server page with a fresh CSP nonce for its style element.
func (p *Provider) page(c *gin.Context, status int, fill func(nonce string, buf *bytes.Buffer) error) {
	if err := render.Write(c.Writer, status, fill); err != nil {
		p.opts.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
	}
}

// errorPage shows a public message; the cause goes to the log only.
func (p *Provider) errorPage(c *gin.Context, status int, title, message string, cause error) {
	if cause != nil {
		p.opts.Logger.WarnContext(c.Request.Context(), "browser request failed", "status", status, "err", cause)
	}
	p.page(c, status, func(nonce string, buf *bytes.Buffer) error {
		return p.opts.Pages.Error(buf, render.ErrorPage{
			Page: render.Page{Nonce: nonce, Title: title}, Message: message,
			RequestID: c.Writer.Header().Get("X-Request-Id"),
		})
	})
}

func (p *Provider) now() time.Time { return p.opts.Now() }

// unavailable answers a storage failure on a browser route.
func (p *Provider) unavailable(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, storage.ErrUnavailable) {
		status = http.StatusServiceUnavailable
		c.Header("Retry-After", "5")
	}
	p.errorPage(c, status, "Try again shortly", "Foyer could not complete this request. Please try again in a moment.", err)
}
