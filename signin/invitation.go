package signin

import (
	"github.com/foyerdev/foyer/keyed"

	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Invitations, on the browser group:
//
//	GET  /invitations/accept?token=T  "<Org> invited you as <role>": consumes
//	                                  nothing (mail scanners fetch links)
//	POST /invitations/accept          signed in as the invited address: uses
//	                                  the invitation once, adds the membership;
//	                                  303 to /account
//	POST /invitations/accept/signup   nobody signed in and no account: creates
//	                                  a verified account (the emailed link
//	                                  proves the address), uses the
//	                                  invitation, adds the membership and signs
//	                                  in, in one transaction; 303 to /account
//
// An address that has an account signs in first through
// /login?invitation=T, which brings the browser back to the GET with the
// same token, never to a URL it names (ML-07). Sign-up mode invite_only
// allows the sign-up here, which is its point; disabled refuses it. A
// scanner that submits forms gets nowhere (ML-04): Accept needs the
// invited person's session, and sign-up a password they choose. The
// admin API creates invitations; the link's token is stored only as a
// keyed hash (ML-01), and of concurrent uses exactly one succeeds (ML-02).

const (
	acceptInvitationPath = "/invitations/accept"
	invitationHashLabel  = "invitation"
)

func (s *Service) mountInvitations(r gin.IRouter) {
	r.GET(acceptInvitationPath, s.showInvitation)
	r.POST(acceptInvitationPath, s.acceptInvitation)
	r.POST(acceptInvitationPath+"/signup", s.acceptInvitationSignUp)
}

// InvitationLinks makes the tokens of invitation links for whoever sends
// them (the admin API, the CLI), hashed as the Service checks them when
// one is opened. Its key is Options.TokenKey.
type InvitationLinks struct{ TokenKey []byte }

// NewInvitationToken returns a fresh token for an invitation link and the
// keyed hash to store.
func (l InvitationLinks) NewInvitationToken() (token, hash string) {
	token = newToken()
	return token, keyed.Hash(l.TokenKey, invitationHashLabel, token)
}

// NewInvitationToken is InvitationLinks.NewInvitationToken with the
// Service's key.
func (s *Service) NewInvitationToken() (token, hash string) {
	return InvitationLinks{s.o.TokenKey}.NewInvitationToken()
}

// invitationPath is the invitation page of token, for the redirect after
// signing in; token was checked by validToken.
func invitationPath(token string) string { return acceptInvitationPath + "?token=" + token }

// openInvitation finds the pending invitation of a link and its
// organization; errLinkInvalid, errLinkUsed or errLinkExpired say why not.
func (s *Service) openInvitation(ctx context.Context, token string) (storage.Invitation, storage.Organization, error) {
	if !validToken(token) {
		return storage.Invitation{}, storage.Organization{}, errLinkInvalid
	}
	inv, err := s.o.Store.GetInvitationByTokenHash(ctx, s.keyedHash(invitationHashLabel, token))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return inv, storage.Organization{}, errLinkInvalid
	case err != nil:
		return inv, storage.Organization{}, err
	case !inv.Open():
		return inv, storage.Organization{}, errLinkUsed
	case !s.o.Now().Before(inv.ExpiresAt):
		return inv, storage.Organization{}, errLinkExpired
	}
	o, err := s.o.Store.GetOrganization(ctx, inv.OrgID)
	if errors.Is(err, storage.ErrNotFound) {
		err = errLinkInvalid
	}
	return inv, o, err
}

// invitationError explains why an invitation link does not work: 400 for
// one that never did, 410 for one that was used, revoked or expired.
func (s *Service) invitationError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, errLinkInvalid):
		s.errorPage(c, http.StatusBadRequest, "This invitation link does not work",
			"Check that you opened the whole link from the email, or ask for a new invitation.", nil)
	case errors.Is(err, errLinkUsed), errors.Is(err, errLinkExpired):
		s.errorPageWithLink(c, http.StatusGone, "This invitation is no longer valid",
			"It was accepted already, withdrawn, replaced by a newer one, or it expired. Ask the organization's administrator for a new invitation.",
			"/login", "Sign in", nil)
	default:
		s.unavailable(c, err)
	}
}

// showInvitation is what the emailed link opens. It reads and changes
// nothing but the page (ML-04).
func (s *Service) showInvitation(c *gin.Context) {
	token := c.Query("token")
	inv, o, err := s.openInvitation(c.Request.Context(), token)
	if err != nil {
		s.invitationError(c, err)
		return
	}
	d, err := s.invitationPage(c, token, inv, o)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	show(s, c, http.StatusOK, s.account.invitation, &d, &d.Page)
}

// invitationPage works out what the page offers the browser.
func (s *Service) invitationPage(c *gin.Context, token string, inv storage.Invitation, o storage.Organization) (render.InvitationPage, error) {
	ctx := c.Request.Context()
	d := render.InvitationPage{Page: render.Page{Title: "Join " + o.Name}, Token: token,
		OrgName: o.Name, Role: inv.Role, Email: inv.Email}
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		return d, err
	}
	if bs != nil {
		u, err := s.o.Store.GetUser(ctx, bs.UserID)
		if err == nil {
			d.Mode, d.SignedInAs = render.InvitationOtherAccount, u.Email
			if storage.EmailKey(u.Email) == storage.EmailKey(inv.Email) {
				d.Mode = render.InvitationAccept
			}
			return d, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return d, err
		}
		// A deleted account's session: as if nobody were signed in.
	}
	_, err = s.o.Store.GetUserByEmail(ctx, inv.Email)
	switch {
	case err == nil:
		d.Mode = render.InvitationSignIn
	case !errors.Is(err, storage.ErrNotFound):
		return d, err
	case s.o.SignupMode == "disabled":
		d.Mode = render.InvitationClosed
	default:
		d.Mode = render.InvitationSignUp
	}
	return d, nil
}

// acceptInvitation is the Accept button of a browser signed in as the
// invited address.
func (s *Service) acceptInvitation(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	ctx := c.Request.Context()
	token := c.PostForm("token")
	inv, _, err := s.openInvitation(ctx, token)
	if err != nil {
		s.invitationError(c, err)
		return
	}
	bs, u, ok := s.signedIn(c)
	if !ok {
		return
	}
	if storage.EmailKey(u.Email) != storage.EmailKey(inv.Email) {
		s.errorPageWithLink(c, http.StatusForbidden, "This invitation is for someone else",
			"You are signed in with another address. Sign out, then open the link in the email again.",
			invitationPath(token), "Back to the invitation", nil)
		return
	}
	err = s.inTransaction(ctx, func(ctx context.Context) error { return s.join(ctx, inv, bs.UserID) })
	if err != nil {
		s.invitationError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, accountPath)
}

// acceptInvitationSignUp creates the invited person's account, verified,
// accepts the invitation and signs them in.
func (s *Service) acceptInvitationSignUp(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	ctx := c.Request.Context()
	token := c.PostForm("token")
	inv, o, err := s.openInvitation(ctx, token)
	if err != nil {
		s.invitationError(c, err)
		return
	}
	d, err := s.invitationPage(c, token, inv, o)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if d.Mode != render.InvitationSignUp {
		// Signed in meanwhile, an account was created, or sign-up is
		// disabled: the page says what to do instead (LG-08).
		show(s, c, http.StatusConflict, s.account.invitation, &d, &d.Page)
		return
	}
	d.Name = c.PostForm("name")
	u, err := s.o.Accounts.PrepareSignUp(inv.Email, d.Name, c.PostForm("password"))
	if field, msg, ok := fieldProblem(err); ok {
		if field == "name" {
			d.NameError = msg
		} else {
			d.PasswordError = msg
		}
		show(s, c, http.StatusBadRequest, s.account.invitation, &d, &d.Page)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	// The link came to this address: opening it proves the address, as a
	// verification link does.
	u.EmailVerified = true
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.o.Store.CreateUser(ctx, u); err != nil {
			return err
		}
		return s.join(ctx, inv, u.ID)
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		// An account for the address was created a moment ago.
		d.Mode = render.InvitationSignIn
		show(s, c, http.StatusConflict, s.account.invitation, &d, &d.Page)
		return
	}
	if err != nil {
		s.invitationError(c, err)
		return
	}
	amr := []string{"email", "pwd"}
	if _, err := s.o.Sessions.Start(c, u.ID, amr); err != nil {
		s.unavailable(c, err)
		return
	}
	s.recordSignIn(c, u.ID, methodInvitation, amr, inv.OrgID)
	c.Redirect(http.StatusSeeOther, accountPath)
}

// join uses the invitation, once, and gives userID the membership; ctx
// carries the caller's transaction, so both or neither happen. A member
// already gets the invited role. A role deleted since the invitation
// makes the link invalid.
func (s *Service) join(ctx context.Context, inv storage.Invitation, userID string) error {
	now := s.o.Now()
	_, err := s.o.Store.AcceptInvitation(ctx, inv.ID, now)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return errLinkUsed // by a request a moment ago, or revoked
	case errors.Is(err, storage.ErrNotFound):
		return errLinkInvalid
	case err != nil:
		return err
	}
	_, err = s.o.Store.CreateMembership(ctx, storage.Membership{OrgID: inv.OrgID, UserID: userID, Role: inv.Role, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, storage.ErrAlreadyExists) {
		_, err = s.o.Store.UpdateMembership(ctx, inv.OrgID, userID, func(m storage.Membership) (storage.Membership, error) {
			m.Role, m.UpdatedAt = inv.Role, now
			return m, nil
		})
	}
	if errors.Is(err, storage.ErrNotFound) {
		return errLinkInvalid
	}
	return err
}
