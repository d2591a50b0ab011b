package authz

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Organization claims (PRODUCT.md "Tokens and claims"). They are computed
// from the current membership every time a token is issued, refresh
// included, never taken from the request (TJ-08), and only for the
// organization chosen at sign-in (MT-03).
const (
	scopeOrg  = "org"
	scopeOrgs = "orgs"
)

// orgClaimNames are every claim orgClaims may set, so a refresh can clear
// the ones that no longer apply.
var orgClaimNames = []string{"org_id", "org_slug", "org_role", "org_permissions", "orgs"}

// errNoLongerMember: the membership behind a token's organization is gone.
var errNoLongerMember = errors.New("no longer a member of the organization")

// orgClaims returns the organization claims the granted scopes release.
func (p *Provider) orgClaims(ctx context.Context, userID, orgID string, scopes fosite.Arguments) (map[string]any, error) {
	out := map[string]any{}
	if scopes.Has(scopeOrg) && orgID != "" {
		m, err := p.store.GetMembership(ctx, orgID, userID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errNoLongerMember
		}
		if err != nil {
			return nil, err
		}
		org, err := p.store.GetOrganization(ctx, orgID)
		if err != nil {
			return nil, err
		}
		role, err := p.store.GetRole(ctx, orgID, m.Role)
		if err != nil {
			return nil, err
		}
		out["org_id"], out["org_slug"], out["org_role"] = org.ID, org.Slug, role.Name
		out["org_permissions"] = append([]string{}, role.Permissions...)
	}
	if scopes.Has(scopeOrgs) {
		ms, err := p.store.ListMembershipsByUser(ctx, userID)
		if err != nil {
			return nil, err
		}
		orgs := []map[string]string{}
		for _, m := range ms {
			org, err := p.store.GetOrganization(ctx, m.OrgID)
			if err != nil {
				return nil, err
			}
			orgs = append(orgs, map[string]string{"id": org.ID, "slug": org.Slug, "role": m.Role})
		}
		out["orgs"] = orgs
	}
	return out, nil
}

// setOrgClaims puts fresh organization claims in both tokens of s.
func (p *Provider) setOrgClaims(ctx context.Context, s *Session, scopes fosite.Arguments) error {
	claims, err := p.orgClaims(ctx, s.UserID, s.OrgID, scopes)
	if err != nil {
		return err
	}
	for _, extra := range []map[string]any{s.DefaultSession.Claims.Extra, s.AccessClaims.Extra} {
		for _, k := range orgClaimNames {
			delete(extra, k)
		}
		for k, v := range claims {
			extra[k] = v
		}
	}
	return nil
}

// refreshOrganization sets the organization claims of a refresh. refs is
// the organization parameter: when present, the person switches to that
// organization (ID or slug), which needs the org scope and a membership
// (MT-01/02). An unknown organization gets the same answer as one the
// person is outside, so the answer does not tell which organizations
// exist. Without it, the refresh stays on the session's organization; if
// that membership is gone, the tokens carry no organization claims rather
// than failing (MT-04, issue 5: "a removed member's refresh yields no org
// claims for that org"), and the cleared OrgID is stored with the new
// refresh token, so a later membership does not silently come back.
func (p *Provider) refreshOrganization(ctx context.Context, s *Session, scopes fosite.Arguments, refs []string) error {
	if len(refs) > 0 {
		if len(refs) > 1 || refs[0] == "" {
			return fosite.ErrInvalidRequest.WithHint("The organization parameter must be given once, with an organization ID or slug.")
		}
		if !scopes.Has(scopeOrg) {
			return fosite.ErrInvalidScope.WithHint("Switching organization needs the org scope, which was not granted.")
		}
		org, err := p.organizationByRef(ctx, refs[0])
		if err == nil {
			_, err = p.store.GetMembership(ctx, org.ID, s.UserID)
		}
		if errors.Is(err, storage.ErrNotFound) {
			return fosite.ErrInvalidGrant.WithHint("The person is not a member of the requested organization.")
		}
		if err != nil {
			return err
		}
		s.OrgID = org.ID
	}
	err := p.setOrgClaims(ctx, s, scopes)
	if errors.Is(err, errNoLongerMember) && len(refs) == 0 {
		s.OrgID = ""
		err = p.setOrgClaims(ctx, s, scopes)
	}
	if errors.Is(err, errNoLongerMember) {
		// Removed between the check above and the claims: as if refused.
		err = fosite.ErrInvalidGrant.WithHint("The person is not a member of the requested organization.")
	}
	return err
}

// chooseOrganization decides the organization of a sign-in that asks for
// the org scope: the one the organization parameter names (the person must
// belong to it, MT-01/02), the only one, or the one picked on the picker
// page. ok=false means the response (error or picker) has been written.
func (p *Provider) chooseOrganization(c *gin.Context, ar fosite.AuthorizeRequester, id string, ch challenge, userID string) (orgID string, ok bool) {
	ctx := c.Request.Context()
	if !ar.GetRequestedScopes().Has(scopeOrg) {
		return "", true
	}
	if ref := ar.GetRequestForm().Get("organization"); ref != "" {
		org, err := p.organizationByRef(ctx, ref)
		if err == nil {
			_, err = p.store.GetMembership(ctx, org.ID, userID)
		}
		if errors.Is(err, storage.ErrNotFound) {
			p.authorizeError(c, ar, fosite.ErrAccessDenied.WithHint("The person is not a member of the requested organization."))
			return "", false
		}
		if err != nil {
			p.unavailable(c, err)
			return "", false
		}
		return org.ID, true
	}
	if ch.OrgID != "" {
		if _, err := p.store.GetMembership(ctx, ch.OrgID, userID); err == nil {
			return ch.OrgID, true
		}
	}
	ms, err := p.store.ListMembershipsByUser(ctx, userID)
	if err != nil {
		p.unavailable(c, err)
		return "", false
	}
	switch len(ms) {
	case 0:
		return "", true // no organization: tokens without org claims
	case 1:
		return ms[0].OrgID, true
	}
	if strings.Contains(ar.GetRequestForm().Get("prompt"), "none") {
		p.authorizeError(c, ar, fosite.ErrInteractionRequired.WithHint("The person must choose an organization."))
		return "", false
	}
	p.redirectToStep(c, ar, id, ch, "/select-organization")
	return "", false
}

// requireOrganization enforces a client's RequireOrganization: a person who
// belongs to no organization gets no code (issue 5). The answer is a page
// saying so, with a link to sign in as someone else, or access_denied to
// the redirect URI under prompt=none, where no page may be shown. The flag
// asks for a membership only: it does not need the org scope. Refreshes
// check it again (refreshRequiresOrganization). ok=false means the answer
// has been written.
func (p *Provider) requireOrganization(c *gin.Context, ar fosite.AuthorizeRequester, id string, ch challenge, cl *client, userID string) (ok bool) {
	if !cl.RequireOrganization {
		return true
	}
	ctx := c.Request.Context()
	ms, err := p.store.ListMembershipsByUser(ctx, userID)
	if err != nil {
		p.unavailable(c, err)
		return false
	}
	if len(ms) > 0 {
		return true
	}
	if slices.Contains(strings.Fields(ar.GetRequestForm().Get("prompt")), "none") {
		p.authorizeError(c, ar, fosite.ErrAccessDenied.WithHint("This client requires a member of an organization, and the person belongs to none."))
		return false
	}
	// "Sign in with another account" resumes this authorization after a
	// fresh sign-in, as the account chooser's "Use another account" does.
	ch.Account, ch.AnotherAccount, ch.LoggedInAt = "", true, time.Time{}
	id, err = p.storeChallenge(ctx, ar, id, ch)
	if err != nil {
		p.unavailable(c, err)
		return false
	}
	name := cmp.Or(cl.Name, cl.ID)
	p.page(c, http.StatusForbidden, func(nonce string, buf *bytes.Buffer) error {
		return p.opts.Pages.Error(buf, render.ErrorPage{
			Page:     render.Page{Nonce: nonce, Title: "An organization is required"},
			Message:  "You need to belong to an organization to use " + name + ". Ask an administrator of your organization to invite you.",
			Next:     "/login?challenge=" + url.QueryEscape(id),
			NextText: "Sign in with another account",
		})
	})
	return false
}

// refreshRequiresOrganization refuses the refresh of a client that
// requires an organization when the person no longer belongs to any
// (MT-01: the restriction holds on every path, not only at /authorize).
func (p *Provider) refreshRequiresOrganization(ctx context.Context, ar fosite.AccessRequester, userID string) error {
	if cl, ok := ar.GetClient().(*client); !ok || !cl.RequireOrganization {
		return nil
	}
	ms, err := p.store.ListMembershipsByUser(ctx, userID)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fosite.ErrInvalidGrant.WithHint("This client requires a member of an organization, and the person no longer belongs to any.")
	}
	return nil
}

func (p *Provider) organizationByRef(ctx context.Context, ref string) (storage.Organization, error) {
	if strings.HasPrefix(ref, storage.PrefixOrganization) {
		return p.store.GetOrganization(ctx, ref)
	}
	return p.store.GetOrganizationBySlug(ctx, ref)
}

// selectOrgPage is the organization picker.
func (p *Provider) selectOrgPage(c *gin.Context) {
	ctx := c.Request.Context()
	st, ok := p.beginStep(c, true)
	if !ok {
		return
	}
	id, ch, clientID, bs := st.id, st.ch, st.clientID, st.bs
	ms, err := p.store.ListMembershipsByUser(ctx, bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	data := render.SelectOrgPage{Challenge: id, Action: "/select-organization", ClientName: p.clientName(ctx, clientID)}
	if c.Request.Method == http.MethodPost {
		if !p.opts.Sessions.CheckCSRF(c) {
			p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
			return
		}
		chosen := c.PostForm("organization")
		for _, m := range ms {
			if m.OrgID == chosen {
				ch.OrgID = chosen
				if err := p.saveChallenge(ctx, id, clientID, ch); err != nil {
					p.unavailable(c, err)
					return
				}
				c.Redirect(http.StatusSeeOther, "/oauth2/authorize/continue?challenge="+url.QueryEscape(id))
				return
			}
		}
		data.Error = "Choose one of your organizations to continue."
	}
	for _, m := range ms {
		org, err := p.store.GetOrganization(ctx, m.OrgID)
		if err != nil {
			p.unavailable(c, err)
			return
		}
		data.Organizations = append(data.Organizations, render.Organization{ID: org.ID, Name: org.Name, Role: m.Role})
	}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.SelectOrg(buf, data)
	})
}
