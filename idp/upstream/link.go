package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// A first sign-in whose address belongs to an account that may not be
// linked by email waits server-side, under a handle only this browser
// holds (a cookie), for 15 minutes: the person signs in to that account
// the usual way (password, emailed link, passkey, second factor), then
// confirms the link with a POST from a page of this browser. Nobody is
// signed in to the existing account by the upstream alone.

const (
	purposeLink = "upstream_link"
	linkTTL     = 15 * time.Minute
	linkCookie  = "foyer_upstream_link"
	linkPath    = "/login/upstream/link"
)

// pendingLink is an upstream identity waiting to be linked to UserID.
type pendingLink struct {
	ConnectionID string `json:"connection_id"`
	Subject      string `json:"subject"`
	Email        string `json:"email"`
	Challenge    string `json:"challenge,omitempty"`
}

// startLink keeps the identity and shows the link page.
func (s *Service) startLink(c *gin.Context, conn storage.UpstreamConnection, p person, userID, challenge string) {
	ctx := c.Request.Context()
	data, err := json.Marshal(pendingLink{ConnectionID: conn.ID, Subject: p.Subject, Email: p.Email, Challenge: challenge})
	if err != nil {
		s.unavailable(c, err)
		return
	}
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(ctx, storage.MFAChallenge{
		ID: s.handleHash(purposeLink, handle), Purpose: purposeLink, UserID: userID, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(linkTTL),
	}); err != nil {
		s.unavailable(c, err)
		return
	}
	s.setCookie(c, linkCookie, handle, int(linkTTL/time.Second))
	s.o.Logger.InfoContext(ctx, "upstream: first sign-in waits for the account's owner to link it", "connection", conn.ID, "user_id", userID)
	c.Redirect(http.StatusSeeOther, linkPath)
}

// pending reads this browser's waiting identity; storage.ErrNotFound
// when there is none or it expired.
func (s *Service) pending(c *gin.Context) (storage.MFAChallenge, pendingLink, error) {
	var p pendingLink
	handle := s.cookie(c, linkCookie)
	if handle == "" || len(handle) > 64 {
		return storage.MFAChallenge{}, p, storage.ErrNotFound
	}
	ch, err := s.o.Store.GetMFAChallenge(c.Request.Context(), s.handleHash(purposeLink, handle), purposeLink, s.o.Now())
	if err == nil {
		err = json.Unmarshal(ch.Data, &p)
	}
	return ch, p, err
}

// showLink tells the person to sign in to the account first, or, signed
// in as it, offers the link.
func (s *Service) showLink(c *gin.Context) {
	ctx := c.Request.Context()
	ch, p, err := s.pending(c)
	if errors.Is(err, storage.ErrNotFound) {
		s.page(c, http.StatusBadRequest, "This sign-in has expired", "Sign in again to continue.", "/login", "Sign in")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	conn, err := s.Get(ctx, p.ConnectionID)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	d := render.UpstreamLinkPage{
		Page:           render.Page{Title: "Link your " + conn.Name + " account", CSRFToken: s.o.Sessions.CSRFToken(c)},
		ConnectionName: conn.Name, Email: p.Email, SignedIn: bs != nil && bs.UserID == ch.UserID, Action: linkPath,
	}
	if err := render.WritePage(c.Writer, http.StatusOK, false, s.linkPage, &d, &d.Page); err != nil {
		s.o.Logger.ErrorContext(ctx, "render page", "err", err)
	}
}

// makeLink links the waiting identity to the signed-in account, which
// must be the one with its address, then resumes the authorization.
func (s *Service) makeLink(c *gin.Context) {
	ctx := c.Request.Context()
	if !s.o.Sessions.CheckCSRF(c) {
		s.page(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", "/account", "Your account")
		return
	}
	ch, p, err := s.pending(c)
	if errors.Is(err, storage.ErrNotFound) {
		s.page(c, http.StatusBadRequest, "This sign-in has expired", "Sign in with your provider again to link it.", "/login", "Sign in")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if bs == nil || bs.UserID != ch.UserID {
		s.page(c, http.StatusForbidden, "Sign in first", "Sign in to the account of "+p.Email+" first, then link it.", "/login", "Sign in")
		return
	}
	conn, err := s.Get(ctx, p.ConnectionID)
	if errors.Is(err, storage.ErrNotFound) {
		s.page(c, http.StatusBadRequest, "Unknown sign-in connection", "This sign-in connection no longer exists.", "/account", "Your account")
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	err = s.inTx(ctx, func(ctx context.Context) error {
		if _, err := s.o.Store.TakeMFAChallenge(ctx, ch.ID, purposeLink, s.o.Now()); err != nil {
			return err
		}
		now := s.o.Now()
		if err := s.o.Store.CreateExternalIdentity(ctx, storage.ExternalIdentity{
			ConnectionID: conn.ID, Subject: p.Subject, UserID: ch.UserID, CreatedAt: now, LastLoginAt: now,
		}); err != nil {
			return err
		}
		if err := s.join(ctx, conn.UpstreamConnection, ch.UserID); err != nil {
			return err
		}
		return s.recordLink(ctx, c, audit.IdentityLinked, conn.UpstreamConnection, ch.UserID)
	})
	s.setCookie(c, linkCookie, "", -1)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.page(c, http.StatusBadRequest, "This sign-in has expired", "Sign in with your provider again to link it.", "/login", "Sign in")
		return
	case errors.Is(err, storage.ErrAlreadyExists):
		s.page(c, http.StatusConflict, "Already linked", "This "+conn.Name+" account is already linked to a Foyer account.", "/account", "Your account")
		return
	case err != nil:
		s.unavailable(c, err)
		return
	}
	s.o.Logger.InfoContext(ctx, "upstream: account linked", "connection", conn.ID, "user_id", ch.UserID)
	s.resume(c, p.Challenge, "/account?done=linked")
}

// AccountLinks lists the person's links to upstream connections for the
// account page, and the link waiting in this browser for them, if any
// (signin.Connections).
func (s *Service) AccountLinks(c *gin.Context, userID string) ([]render.AccountLink, *render.AccountPendingLink, error) {
	ctx := c.Request.Context()
	ids, err := s.o.Store.ListExternalIdentities(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	others, err := s.otherWays(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	var out []render.AccountLink
	for _, id := range ids {
		if !strings.HasPrefix(id.ConnectionID, storage.PrefixUpstreamConnection) {
			continue
		}
		name := "A removed connection"
		if conn, err := s.Get(ctx, id.ConnectionID); err == nil {
			name = conn.Name
		}
		out = append(out, render.AccountLink{
			ConnectionID: id.ConnectionID, Subject: id.Subject, Name: name,
			Removable: others+len(ids) > 1,
		})
	}
	var pending *render.AccountPendingLink
	if ch, p, err := s.pending(c); err == nil && ch.UserID == userID {
		if conn, err := s.Get(ctx, p.ConnectionID); err == nil {
			pending = &render.AccountPendingLink{ConnectionName: conn.Name, Email: p.Email, Action: linkPath}
		}
	}
	return out, pending, nil
}

// otherWays counts the ways to sign in that are not links: a password, a
// verified address (emailed sign-in links), passkeys.
func (s *Service) otherWays(ctx context.Context, userID string) (int, error) {
	u, err := s.o.Store.GetUser(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	if u.PasswordHash != "" {
		n++
	}
	if u.EmailVerified {
		n++
	}
	pks, err := s.o.Store.ListPasskeys(ctx, userID)
	return n + len(pks), err
}

// removeLink removes one of the signed-in person's links, unless it is
// their last way to sign in.
func (s *Service) removeLink(c *gin.Context) {
	ctx := c.Request.Context()
	if !s.o.Sessions.CheckCSRF(c) {
		s.page(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", "/account", "Your account")
		return
	}
	bs, err := s.o.Sessions.Current(c)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if bs == nil {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	connID, subject := c.PostForm("connection_id"), c.PostForm("subject")
	err = s.inTx(ctx, func(ctx context.Context) error {
		ids, err := s.o.Store.ListExternalIdentities(ctx, bs.UserID)
		if err != nil {
			return err
		}
		found := false
		for _, id := range ids {
			found = found || (id.ConnectionID == connID && id.Subject == subject && strings.HasPrefix(connID, storage.PrefixUpstreamConnection))
		}
		if !found {
			return storage.ErrNotFound
		}
		others, err := s.otherWays(ctx, bs.UserID)
		if err != nil {
			return err
		}
		if others+len(ids) <= 1 {
			return errLastWay
		}
		if err := s.o.Store.DeleteExternalIdentity(ctx, bs.UserID, connID, subject); err != nil {
			return err
		}
		conn := storage.UpstreamConnection{ID: connID}
		if stored, err := s.Get(ctx, connID); err == nil {
			conn = stored.UpstreamConnection
		}
		return s.recordLink(ctx, c, audit.IdentityUnlinked, conn, bs.UserID)
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.page(c, http.StatusNotFound, "Not linked", "This sign-in is not linked to your account.", "/account", "Your account")
	case errors.Is(err, errLastWay):
		s.page(c, http.StatusConflict, "This is your only way to sign in",
			"Set a password or add a passkey first, then remove this sign-in.", "/account", "Your account")
	case err != nil:
		s.unavailable(c, err)
	default:
		c.Redirect(http.StatusSeeOther, "/account?done=unlinked")
	}
}

var errLastWay = errors.New("the last way to sign in")
