package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Session is a signed-in browser as the API shows it, named by its public
// sid; the stored ID (the hash of the cookie) never leaves.
type Session struct {
	SID        string    `json:"sid"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	AuthTime   time.Time `json:"auth_time"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func sessionView(s storage.BrowserSession) Session {
	return Session{SID: s.SID, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, AuthTime: s.AuthTime,
		IP: s.IP, UserAgent: s.UserAgent, ExpiresAt: s.ExpiresAt}
}

// A person's sessions span every organization they belong to, so only a
// Foyer admin sees or ends them; an organization admin gets 403 for their
// members and 404 for anyone else, as for PATCH /users/{id}.

// sessionsOf loads the user of the path and their sessions, newest first.
func (a *API) sessionsOf(c *gin.Context) (storage.User, []storage.BrowserSession, bool) {
	k := callerOf(c)
	u, ok := a.visibleUser(c, k, c.Param("id"))
	if !ok || !instanceOnly(c, k) {
		return u, nil, false
	}
	list, err := a.store.ListBrowserSessions(c.Request.Context(), u.ID)
	if err != nil {
		a.fail(c, "list sessions", err)
		return u, nil, false
	}
	return u, list, true
}

func (a *API) listSessions(c *gin.Context) {
	_, list, ok := a.sessionsOf(c)
	if !ok {
		return
	}
	total := len(list)
	out := List[Session]{Items: make([]Session, 0, len(list)), Total: &total}
	for _, s := range list {
		out.Items = append(out.Items, sessionView(s))
	}
	c.JSON(http.StatusOK, out)
}

// endSession ends one session, named by its sid: that browser is signed
// out at its next request.
func (a *API) endSession(c *gin.Context) {
	u, list, ok := a.sessionsOf(c)
	if !ok {
		return
	}
	sid := c.Param("sid")
	for _, s := range list {
		if s.SID != sid {
			continue
		}
		err := a.inTx(c, func(ctx context.Context) error {
			if err := a.store.DeleteBrowserSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			e := a.entry(c, AuditSessionRevoked, TargetSession, s.SID)
			e.UserID, e.OrgID = u.ID, s.OrgID
			return a.record(ctx, e, fields(sessionView(s)), nil)
		})
		if err != nil {
			a.fail(c, "end session", err)
			return
		}
		a.log.InfoContext(c.Request.Context(), "admin: session ended", "user_id", u.ID, "sid", sid, "by", callerOf(c).token.Subject)
		c.Status(http.StatusNoContent)
		return
	}
	notFound(c, "session")
}

// endSessions ends every session of the person.
func (a *API) endSessions(c *gin.Context) {
	u, list, ok := a.sessionsOf(c)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		sids := make([]string, 0, len(list))
		for _, s := range list {
			if err := a.store.DeleteBrowserSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			sids = append(sids, s.SID)
		}
		e := a.entry(c, AuditSessionsRevoked, TargetUser, u.ID)
		e.UserID = u.ID
		return a.record(ctx, e, map[string]any{"sessions": sids}, map[string]any{"sessions": []string{}})
	})
	if err != nil {
		a.fail(c, "end sessions", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: sessions ended", "user_id", u.ID, "count", len(list), "by", callerOf(c).token.Subject)
	c.Status(http.StatusNoContent)
}
