package signin

import (
	"errors"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// loginPages are the sign-in pages and the error page, parsed once by New.
type loginPages struct {
	identifier *render.Template[render.LoginIdentifierPage]
	password   *render.Template[render.LoginPasswordPage]
	checkEmail *render.Template[render.CheckEmailPage]
	magicLink  *render.Template[render.MagicLinkPage]
	errorPage  *render.Template[render.ErrorPage]
}

// parseLoginPages parses the sign-in pages from fsys, reporting every
// broken one at once.
func parseLoginPages(fsys fs.FS) (*loginPages, error) {
	var p loginPages
	var errs []error
	parse := func(err error) { errs = append(errs, err) }
	var err error
	p.identifier, err = render.ParsePage[render.LoginIdentifierPage](fsys, "login_identifier.html")
	parse(err)
	p.password, err = render.ParsePage[render.LoginPasswordPage](fsys, "login_password.html")
	parse(err)
	p.checkEmail, err = render.ParsePage[render.CheckEmailPage](fsys, "check_email.html")
	parse(err)
	p.magicLink, err = render.ParsePage[render.MagicLinkPage](fsys, "magic_link.html")
	parse(err)
	p.errorPage, err = render.ParsePage[render.ErrorPage](fsys, "error.html")
	parse(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &p, nil
}

// show writes page t with data, whose embedded Page is p: it gets this
// browser's CSRF token and the response's CSP nonce. A page that fails to
// render is a bug in a template; render.Write answers 500 without details.
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

// errorPage explains in plain words why a request failed; the cause, if
// any, goes to the log only.
func (s *Service) errorPage(c *gin.Context, status int, title, message string, cause error) {
	s.errorPageWithLink(c, status, title, message, "", "", cause)
}

// errorPageWithLink is errorPage with a link onwards (next, as its text).
func (s *Service) errorPageWithLink(c *gin.Context, status int, title, message, next, text string, cause error) {
	if cause != nil {
		s.o.Logger.WarnContext(c.Request.Context(), "sign-in request failed", "status", status, "err", cause)
	}
	d := render.ErrorPage{Page: render.Page{Title: title}, Message: message, RequestID: c.Writer.Header().Get("X-Request-Id"),
		Next: next, NextText: text}
	show(s, c, status, s.login.errorPage, &d, &d.Page)
}

// unavailable answers a failure of the database (or anything else the
// request needed): 503 and a sentence, never the error, never a 500 with
// details. Not an outage (a bug, say) is logged at Error.
func (s *Service) unavailable(c *gin.Context, err error) {
	if !errors.Is(err, storage.ErrUnavailable) {
		s.o.Logger.ErrorContext(c.Request.Context(), "sign-in request failed", "err", err)
		err = nil
	}
	c.Header("Retry-After", "5")
	s.errorPage(c, http.StatusServiceUnavailable, "Try again shortly",
		"Foyer could not complete this request. Please try again in a moment.", err)
}

// checkCSRF answers 403 and returns false when a form post lacks this
// browser's CSRF token (SC-03): nothing happens, no session starts.
func (s *Service) checkCSRF(c *gin.Context) bool {
	if s.o.Sessions.CheckCSRF(c) {
		return true
	}
	s.errorPage(c, http.StatusForbidden, "Please try again",
		"This form expired. Go back, reload the page and try again.", nil)
	return false
}
