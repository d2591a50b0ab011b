package authz

import (
	"context"
	"errors"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Security events of the provider go to the audit log (Options.Audit; nil
// records nothing): refresh token reuse, which revokes the token's whole
// grant (RFC 9700 §4.14), and sign-outs at the end-session endpoint. No
// token, code or signature is ever recorded; a grant is named by its
// request ID.

// reuseWatch learns, inside fosite's refresh handler, of a rotated refresh
// token presented again: fosite detects the reuse from the store's answer
// (ErrInactiveToken) and revokes the grant without telling the endpoint
// which grant or whose it was.
type reuseWatch struct {
	grantID, clientID, userID string
}

type reuseWatchKey struct{}

// watchReuse returns ctx with a watch the store fills when it answers a
// reused refresh token.
func watchReuse(ctx context.Context) (context.Context, *reuseWatch) {
	w := &reuseWatch{}
	return context.WithValue(ctx, reuseWatchKey{}, w), w
}

func reuseWatchOf(ctx context.Context) *reuseWatch {
	w, _ := ctx.Value(reuseWatchKey{}).(*reuseWatch)
	return w
}

// recordReuse records a detected reuse once fosite revoked the grant: it
// answers invalid_grant then, and a server error when the revocation
// failed (nothing was revoked, and the client may try again).
func (p *Provider) recordReuse(c *gin.Context, w *reuseWatch, err error) {
	if w == nil || w.grantID == "" || !errors.Is(err, fosite.ErrInvalidGrant) {
		return
	}
	p.record(c, storage.AuditEntry{
		Type: audit.RefreshTokenReused, ActorType: storage.ActorClient, ActorID: w.clientID, UserID: w.userID,
		TargetType: "grant", TargetID: w.grantID, Reason: "refresh_token_reused",
		Details: audit.Details(map[string]string{"client_id": w.clientID}),
	})
}

// recordSignOut records the end of bs at the end-session endpoint, asked
// by clientID ("" when the request named no client).
func (p *Provider) recordSignOut(c *gin.Context, bs *storage.BrowserSession, clientID string) {
	if bs == nil {
		return
	}
	p.record(c, storage.AuditEntry{
		Type: audit.SignOut, ActorType: storage.ActorUser, ActorID: bs.UserID, UserID: bs.UserID,
		TargetType: "session", TargetID: bs.SID,
		Details: audit.Details(map[string]string{"via": "end_session_endpoint", "client_id": clientID}),
	})
}

// record logs an event of this request with its client IP and user agent.
func (p *Provider) record(c *gin.Context, e storage.AuditEntry) {
	p.opts.Audit.Log(c.Request.Context(), audit.From(c.Request, c.ClientIP(), e))
}
