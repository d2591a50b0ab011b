package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite/token/jwt"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// logout is OpenID Connect RP-Initiated Logout 1.0 (GET and POST). With a
// valid id_token_hint for the signed-in person it ends the session at once;
// without one it asks the person to confirm. It redirects only to a
// post_logout_redirect_uri registered for the client, and never when the
// hint is invalid or modified (TJ-01, CS rp-initiated-logout tests).
func (p *Provider) logout(c *gin.Context) {
	ctx := c.Request.Context()
	if c.Request.Method == http.MethodPost && c.PostForm("challenge") != "" {
		p.confirmLogout(c)
		return
	}
	hint, clientID := c.Request.FormValue("id_token_hint"), c.Request.FormValue("client_id")
	var hintSub string
	if hint != "" {
		claims, err := p.verifyIDTokenHint(ctx, hint)
		if err != nil {
			p.errorPage(c, http.StatusBadRequest, "This sign-out request is not valid",
				"The application sent an ID token Foyer did not issue or that was changed.", err)
			return
		}
		hintSub = claims.Subject
		aud := claims.Audience
		if len(aud) == 0 || clientID != "" && !slices.Contains(aud, clientID) {
			p.errorPage(c, http.StatusBadRequest, "This sign-out request is not valid", "The ID token was issued to another application.", nil)
			return
		}
		if clientID == "" {
			clientID = aud[0]
		}
	}
	redirect, problem := p.postLogoutRedirect(ctx, clientID, c.Request.FormValue("post_logout_redirect_uri"), c.Request.FormValue("state"))
	if problem != "" {
		p.errorPage(c, http.StatusBadRequest, "This sign-out request is not valid", problem, nil)
		return
	}
	bs, err := p.opts.Sessions.Current(c)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	if bs != nil && (hintSub == "" || hintSub != bs.UserID) {
		// Not proven to come from the person's own application: ask.
		p.askLogout(c, bs, clientID, redirect)
		return
	}
	if err := p.opts.Sessions.End(c); err != nil {
		p.unavailable(c, err)
		return
	}
	p.recordSignOut(c, bs, clientID)
	p.afterLogout(c, redirect)
}

// postLogoutRedirect validates the redirect against the client's
// registration and returns it with state ("" when none was asked for), or a
// problem to show the person.
func (p *Provider) postLogoutRedirect(ctx context.Context, clientID, uri, state string) (redirect, problem string) {
	if uri == "" {
		return "", ""
	}
	if clientID == "" {
		return "", "A return address needs an id_token_hint or client_id to check it against."
	}
	cl, err := p.store.GetClient(ctx, clientID)
	if err != nil || !slices.Contains(cl.PostLogoutRedirectURIs, uri) {
		return "", "The return address is not registered for this application."
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", "The return address is not valid."
	}
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	return u.String(), ""
}

// idTokenHint is what logout reads from a hint.
type idTokenHint struct {
	Subject  string
	Audience []string
}

// verifyIDTokenHint checks that Foyer signed the hint and that it is an ID
// token. An expired hint is fine: logout often comes after the ID token's
// short life (OIDC RP-Initiated Logout §2).
func (p *Provider) verifyIDTokenHint(ctx context.Context, hint string) (idTokenHint, error) {
	s := &signer{keys: p.opts.Keys}
	tok, err := s.Decode(ctx, hint)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Errors == jwt.ValidationErrorExpired && tok != nil) {
		return idTokenHint{}, fmt.Errorf("id_token_hint: %w", err)
	}
	if typ, _ := tok.Header["typ"].(string); typ == "at+jwt" {
		return idTokenHint{}, errors.New("id_token_hint is an access token")
	}
	claims := tok.Claims
	if iss, _ := claims["iss"].(string); iss != p.opts.Issuer {
		return idTokenHint{}, fmt.Errorf("id_token_hint from issuer %q", iss)
	}
	var out idTokenHint
	out.Subject, _ = claims["sub"].(string)
	switch aud := claims["aud"].(type) {
	case string:
		out.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok {
				out.Audience = append(out.Audience, s)
			}
		}
	}
	return out, nil
}

// pendingLogout is a logout waiting for the person to confirm.
type pendingLogout struct {
	Redirect string `json:"redirect,omitempty"`
}

func (p *Provider) askLogout(c *gin.Context, bs *storage.BrowserSession, clientID, redirect string) {
	ctx := c.Request.Context()
	id := randomToken()
	if clientID != "" {
		data, _ := json.Marshal(pendingLogout{Redirect: redirect})
		now := p.now()
		if err := p.store.CreateOAuthSession(ctx, storage.OAuthSession{
			Kind: storage.KindChallenge, Signature: hashHandle(id), RequestID: id, ClientID: clientID,
			Active: true, RequestedAt: now, ExpiresAt: now.Add(10 * time.Minute), Request: data,
		}); err != nil {
			p.unavailable(c, err)
			return
		}
	}
	u, err := p.store.GetUser(ctx, bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	data := render.LogoutPage{Action: "/oauth2/logout", Challenge: id, Email: u.Email}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.Logout(buf, data)
	})
}

func (p *Provider) confirmLogout(c *gin.Context) {
	if !p.opts.Sessions.CheckCSRF(c) {
		p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
		return
	}
	ctx := c.Request.Context()
	var redirect, clientID string
	sig := hashHandle(c.PostForm("challenge"))
	if row, err := p.store.GetOAuthSession(ctx, storage.KindChallenge, sig); err == nil && p.now().Before(row.ExpiresAt) {
		var pl pendingLogout
		if json.Unmarshal(row.Request, &pl) == nil {
			redirect = pl.Redirect
		}
		p.store.DeleteOAuthSession(ctx, storage.KindChallenge, sig)
		clientID = row.ClientID
	}
	bs, err := p.opts.Sessions.Current(c)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	if err := p.opts.Sessions.End(c); err != nil {
		p.unavailable(c, err)
		return
	}
	p.recordSignOut(c, bs, clientID)
	p.afterLogout(c, redirect)
}

func (p *Provider) afterLogout(c *gin.Context, redirect string) {
	if redirect != "" {
		c.Redirect(http.StatusSeeOther, redirect)
		return
	}
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		return p.opts.Pages.LoggedOut(buf, render.LoggedOutPage{Page: render.Page{Nonce: nonce}})
	})
}
