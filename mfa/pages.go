package mfa

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/templates/render"
)

type pages struct {
	secondFactor  *render.Template[render.SecondFactorPage]
	totpSetup     *render.Template[render.TOTPSetupPage]
	recoveryCodes *render.Template[render.RecoveryCodesPage]
	security      *render.Template[render.SecurityPage]
	errorPage     *render.Template[render.ErrorPage]
}

func parsePages(fsys fs.FS) (*pages, error) {
	p := new(pages)
	var errs [5]error
	p.secondFactor, errs[0] = render.ParsePage[render.SecondFactorPage](fsys, "mfa_second_factor.html")
	p.totpSetup, errs[1] = render.ParsePage[render.TOTPSetupPage](fsys, "mfa_totp_setup.html")
	p.recoveryCodes, errs[2] = render.ParsePage[render.RecoveryCodesPage](fsys, "mfa_recovery_codes.html")
	p.security, errs[3] = render.ParsePage[render.SecurityPage](fsys, "mfa_security.html")
	p.errorPage, errs[4] = render.ParsePage[render.ErrorPage](fsys, "error.html")
	return p, errors.Join(errs[:]...)
}

// show renders a page with this browser's CSRF token.
func show[T any](s *Service, c *gin.Context, status int, t *render.Template[T], data *T, p *render.Page) {
	showWith(render.Write, s, c, status, t, data, p)
}

// showScripted is show for pages with a passkey button: their script runs
// by nonce (render.WriteWithScript).
func showScripted[T any](s *Service, c *gin.Context, status int, t *render.Template[T], data *T, p *render.Page) {
	showWith(render.WriteWithScript, s, c, status, t, data, p)
}

func showWith[T any](write func(http.ResponseWriter, int, func(string, *bytes.Buffer) error) error,
	s *Service, c *gin.Context, status int, t *render.Template[T], data *T, p *render.Page) {
	p.CSRFToken = s.o.Sessions.CSRFToken(c)
	err := write(c.Writer, status, func(nonce string, buf *bytes.Buffer) error {
		p.Nonce = nonce
		return t.Execute(buf, *data)
	})
	if err != nil {
		s.o.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
	}
}
