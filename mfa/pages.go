package mfa

import (
	"errors"
	"io/fs"

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
	showPage(s, c, status, false, t, data, p)
}

// showScripted is show for a page with a passkey button, whose script runs
// by nonce (render.WriteWithScript).
func showScripted[T any](s *Service, c *gin.Context, status int, t *render.Template[T], data *T, p *render.Page) {
	showPage(s, c, status, true, t, data, p)
}

func showPage[T any](s *Service, c *gin.Context, status int, scripted bool, t *render.Template[T], data *T, p *render.Page) {
	p.CSRFToken = s.o.Sessions.CSRFToken(c)
	if err := render.WritePage(c.Writer, status, scripted, t, data, p); err != nil {
		s.o.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
	}
}
