package saml

import (
	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Every refused response and every sign-in goes to the audit log
// (Options.Audit; nil records nothing), naming the connection and its
// organization. Nothing of the assertion is kept: no subject, no
// attributes, and the person only by the ID of their account.

// Why a response was refused (AuditEntry.Reason of saml.assertion_refused).
const (
	reasonMissing        = "response_missing"   // no SAMLResponse, or too large
	reasonMalformed      = "response_malformed" // not base64, or XML with a DTD (SP-13)
	reasonUnsolicited    = "not_requested_here" // RelayState of no sign-in of this browser (SP-10, SP-12)
	reasonRequestExpired = "request_expired"    // the sign-in expired or was used (SP-14)
	reasonInvalid        = "invalid_response"   // crewjam's checks or the audience (SP-01…SP-09)
	reasonReplayed       = "assertion_replayed" // the assertion was accepted before (SP-11)
	reasonNoSubject      = "no_subject"         // no NameID
	reasonNoEmail        = "no_email"           // no usable email address
	reasonDomain         = "domain_not_claimed" // the address's domain is not this connection's (MT-07)
	reasonUnverified     = "email_unverified"   // an account with the address never verified it (MT-06)
	reasonUnknownRole    = "unknown_role"       // the mapped role is not the organization's
)

// refusal is an assertion that cannot sign in the person it names: reason
// for the audit log, message for the person.
type refusal struct{ reason, message string }

func (r *refusal) Error() string { return r.message }

// connectionEntry is an entry about conn: its organization, and the
// connection as target.
func connectionEntry(typ string, conn storage.SAMLConnection) storage.AuditEntry {
	return storage.AuditEntry{Type: typ, OrgID: conn.OrgID, TargetType: "saml_connection", TargetID: conn.ID}
}

// record logs an event of this request with its client IP and user agent.
func (s *Service) record(c *gin.Context, e storage.AuditEntry) {
	s.o.Audit.Log(c.Request.Context(), audit.From(c.Request, c.ClientIP(), e))
}

func (s *Service) recordRefusal(c *gin.Context, conn storage.SAMLConnection, reason string) {
	e := connectionEntry(audit.SAMLAssertionRefused, conn)
	e.ActorType, e.Reason = storage.ActorAnonymous, reason
	s.record(c, e)
}

// recordSignIn records a sign-in through conn; idpInitiated when the
// identity provider started it (SP-12) and the person confirmed it.
func (s *Service) recordSignIn(c *gin.Context, conn storage.SAMLConnection, userID string, idpInitiated bool) {
	e := connectionEntry(audit.SignInSucceeded, conn)
	e.ActorType, e.ActorID, e.UserID = storage.ActorUser, userID, userID
	e.Details = audit.Details(map[string]any{"method": "saml", "amr": []string{"ext"}, "idp_initiated": idpInitiated})
	s.record(c, e)
}
