package authz

import (
	"bytes"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/templates/render"
)

// errAccountSelectionRequired is OIDC Core §3.1.2.6's answer to
// prompt=none when the person would have to choose an account; fosite
// has no such error.
var errAccountSelectionRequired = &fosite.RFC6749Error{
	ErrorField:       "account_selection_required",
	DescriptionField: "The End-User is required to select a session at the Authorization Server.",
	CodeField:        http.StatusBadRequest,
}

// selectAccountPage is the account chooser of prompt=select_account. A
// browser holds one session, so the choice is to continue as its person or
// to sign in afresh as someone else (which replaces the session).
func (p *Provider) selectAccountPage(c *gin.Context) {
	ctx := c.Request.Context()
	st, ok := p.beginStep(c, true)
	if !ok {
		return
	}
	id, ch, clientID, bs := st.id, st.ch, st.clientID, st.bs
	if c.Request.Method == http.MethodPost {
		if !p.opts.Sessions.CheckCSRF(c) {
			p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
			return
		}
		next := "/oauth2/authorize/continue"
		switch c.PostForm("decision") {
		case "continue":
			// The account signed in now, not the one the page showed:
			// proceed issues the code for this session, so the two agree.
			ch.Account, ch.AnotherAccount = bs.UserID, false
		case "another":
			ch.Account, ch.AnotherAccount = "", true
			next = "/login"
		default:
			p.errorPage(c, http.StatusBadRequest, "Please try again", "Choose an account to continue.", nil)
			return
		}
		if err := p.saveChallenge(ctx, id, clientID, ch); err != nil {
			p.unavailable(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, next+"?challenge="+url.QueryEscape(id))
		return
	}
	u, err := p.store.GetUser(ctx, bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	data := render.SelectAccountPage{Challenge: id, Action: "/select-account", ClientName: p.clientName(ctx, clientID), Email: u.Email}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.SelectAccount(buf, data)
	})
}
