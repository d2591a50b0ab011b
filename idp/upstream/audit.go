package upstream

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Sign-ins, refusals and links go to the audit log (Options.Audit; nil
// records nothing), naming the connection and its organization. Nothing
// the upstream sent is kept: no token, no subject, no address.

// connectionEntry is an entry about conn, with the request's IP and user
// agent.
func connectionEntry(c *gin.Context, typ string, conn storage.UpstreamConnection) storage.AuditEntry {
	return audit.From(c.Request, c.ClientIP(), storage.AuditEntry{
		Type: typ, OrgID: conn.OrgID, TargetType: "upstream_connection", TargetID: conn.ID,
	})
}

func (s *Service) recordSignIn(c *gin.Context, conn storage.UpstreamConnection, userID string, amr []string) {
	e := connectionEntry(c, audit.SignInSucceeded, conn)
	e.ActorType, e.ActorID, e.UserID = storage.ActorUser, userID, userID
	e.Details = audit.Details(map[string]any{"method": "upstream", "amr": amr})
	s.o.Audit.Log(c.Request.Context(), e)
}

func (s *Service) recordRefusal(c *gin.Context, conn storage.UpstreamConnection, reason string) {
	e := connectionEntry(c, audit.SignInFailed, conn)
	e.ActorType, e.Reason = storage.ActorAnonymous, "upstream_refused"
	e.Details = audit.Details(map[string]any{"method": "upstream", "why": reason})
	s.o.Audit.Log(c.Request.Context(), e)
}

// recordLink records a link made or removed, in the transaction ctx
// carries: it fails with it.
func (s *Service) recordLink(ctx context.Context, c *gin.Context, typ string, conn storage.UpstreamConnection, userID string) error {
	e := connectionEntry(c, typ, conn)
	e.ActorType, e.ActorID, e.UserID = storage.ActorUser, userID, userID
	return s.o.Audit.Record(ctx, e)
}
