package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// Audit entry types of administrative changes (AD-07):
// admin.<resource>.<verb>. Every mutation of the API records one in the
// transaction of the change, so the change and its entry commit or roll
// back together.
const (
	AuditUserCreated               = "admin.user.created"
	AuditUserUpdated               = "admin.user.updated"
	AuditUserDeleted               = "admin.user.deleted"
	AuditOrganizationCreated       = "admin.organization.created"
	AuditOrganizationUpdated       = "admin.organization.updated"
	AuditOrganizationDeleted       = "admin.organization.deleted"
	AuditMembershipCreated         = "admin.membership.created"
	AuditMembershipUpdated         = "admin.membership.updated"
	AuditMembershipDeleted         = "admin.membership.deleted"
	AuditRoleCreated               = "admin.role.created"
	AuditRoleUpdated               = "admin.role.updated"
	AuditRoleDeleted               = "admin.role.deleted"
	AuditInvitationCreated         = "admin.invitation.created"
	AuditInvitationResent          = "admin.invitation.resent"
	AuditInvitationRevoked         = "admin.invitation.revoked"
	AuditSAMLConnectionCreated     = "admin.saml_connection.created"
	AuditSAMLConnectionUpdated     = "admin.saml_connection.updated"
	AuditSAMLConnectionDeleted     = "admin.saml_connection.deleted"
	AuditSAMLDomainAdded           = "admin.saml_domain.added"
	AuditSAMLDomainVerified        = "admin.saml_domain.verified"
	AuditSAMLDomainRemoved         = "admin.saml_domain.removed"
	AuditUpstreamConnectionCreated = "admin.upstream_connection.created"
	AuditUpstreamConnectionDeleted = "admin.upstream_connection.deleted"
	AuditClientCreated             = "admin.client.created"
	AuditClientUpdated             = "admin.client.updated"
	AuditClientDeleted             = "admin.client.deleted"
	AuditSessionRevoked            = "admin.session.revoked"
	AuditSessionsRevoked           = "admin.session.revoked_all"
	AuditKeyRotated                = "admin.key.rotated"
	AuditKeyRevoked                = "admin.key.revoked"
	AuditWebhookCreated            = "admin.webhook.created"
	AuditWebhookUpdated            = "admin.webhook.updated"
	AuditWebhookDeleted            = "admin.webhook.deleted"
	AuditWebhookDeliveryReplayed   = "admin.webhook.delivery_replayed"
	// AuditConsentRevoked is `foyer consents revoke`'s: the admin API has
	// no consent route, but the operator's change is administrative.
	AuditConsentRevoked = "admin.consent.revoked"
)

// Target types of administrative audit entries: what a change touched.
const (
	TargetUser           = "user"
	TargetOrganization   = "organization"
	TargetMembership     = "membership" // TargetID: the member's user ID
	TargetRole           = "role"
	TargetInvitation     = "invitation"
	TargetSAMLConnection = "saml_connection"
	TargetSAMLDomain     = "saml_domain" // TargetID: the domain
	TargetUpstream       = "upstream_connection"
	TargetClient         = "client"
	TargetSession        = "session" // TargetID: the public sid
	TargetKey            = "key"     // TargetID: the kid
	TargetWebhook        = "webhook"
	TargetDelivery       = "webhook_delivery"
	TargetConsent        = "consent" // TargetID: the client ID; UserID: the person
)

// entry starts the audit entry of a change the caller is making: who (a
// person's token: their user ID; a machine's: its client ID), from where
// (gin's ClientIP, which honours the trusted proxies) and what.
func (a *API) entry(c *gin.Context, typ, targetType, targetID string) storage.AuditEntry {
	k := callerOf(c)
	e := storage.AuditEntry{Type: typ, TargetType: targetType, TargetID: targetID}
	if k.token.UserID != "" {
		e.ActorType, e.ActorID = storage.ActorUser, k.token.UserID
	} else {
		e.ActorType, e.ActorID = storage.ActorClient, k.token.ClientID
	}
	return audit.From(c.Request, c.ClientIP(), e)
}

// record appends e, with the fields that differ between before and after
// as its details, in the transaction ctx carries. Its error fails the
// change: no change without its entry.
func (a *API) record(ctx context.Context, e storage.AuditEntry, before, after map[string]any) error {
	e.Details = audit.Details(audit.Diff(before, after))
	return a.audit.Record(ctx, e)
}

// fields is v, a view that holds no secret (no hash, key or token ever
// reaches a view), as a field map for audit.Diff, without the timestamps
// every change moves and without the keys in drop.
func fields(v any, drop ...string) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	m := map[string]any{}
	if json.Unmarshal(b, &m) != nil {
		return map[string]any{}
	}
	for _, k := range append(drop, "created_at", "updated_at") {
		delete(m, k)
	}
	return m
}

// AuditFields is fields for the CLI, which records its changes alike.
func AuditFields(v any, drop ...string) map[string]any { return fields(v, drop...) }

// The field maps of the API's entries, for the CLI, which records the same
// changes with the same details, so one filter finds both.

func UserAuditFields(u storage.User) map[string]any             { return userFields(u) }
func OrgAuditFields(o storage.Organization) map[string]any      { return orgFields(o) }
func MemberAuditFields(m storage.Membership) map[string]any     { return memberFields(m) }
func RoleAuditFields(r storage.Role) map[string]any             { return roleFields(r) }
func ClientAuditFields(c storage.Client) map[string]any         { return clientFields(c) }
func SAMLAuditFields(c storage.SAMLConnection) map[string]any   { return samlFields(c) }
func SAMLDomainAuditFields(d storage.SAMLDomain) map[string]any { return samlDomainFields(d) }
func KeyAuditStates(ks []storage.SigningKey) map[string]any     { return keyStates(ks) }
func UpstreamAuditFields(u UpstreamConnection) map[string]any   { return upstreamFields(u) }

func userFields(u storage.User) map[string]any { return fields(userView(u)) }

func orgFields(o storage.Organization) map[string]any { return fields(OrgView(o)) }

func memberFields(m storage.Membership) map[string]any { return fields(memberView(m)) }

func roleFields(r storage.Role) map[string]any { return fields(roleView(r)) }

func clientFields(c storage.Client) map[string]any { return fields(ClientView(c), "client_secret") }

func invitationFields(i storage.Invitation, now time.Time) map[string]any {
	return fields(InvitationView(i, now))
}

// samlFields are a connection's settings. The IdP metadata stands as its
// SHA-256, so a replaced document shows without copying it; the SP's
// private key is never in a view.
func samlFields(c storage.SAMLConnection) map[string]any {
	m := fields(SAMLConnectionView(c, nil, SAMLServiceProvider{}), "domains", "sp_entity_id", "sp_acs_url", "sp_metadata_url",
		"metadata_fetched_at", "metadata_error")
	sum := sha256.Sum256(c.Metadata)
	m["metadata_sha256"] = hex.EncodeToString(sum[:])
	return m
}

func samlDomainFields(d storage.SAMLDomain) map[string]any {
	return map[string]any{"domain": d.Domain, "connection_id": d.ConnectionID, "verified": !d.VerifiedAt.IsZero()}
}

// upstreamFields never hold the client secret, which no view has.
func upstreamFields(u UpstreamConnection) map[string]any {
	return fields(u, "callback_url", "configured")
}

// upstreamEntry starts the audit entry of a change to connection u.
func (a *API) upstreamEntry(c *gin.Context, typ string, u UpstreamConnection) storage.AuditEntry {
	e := a.entry(c, typ, TargetUpstream, u.ID)
	e.OrgID = u.OrgID
	return e
}

// webhookFields never hold the endpoint's secret.
func webhookFields(e storage.WebhookEndpoint) map[string]any {
	return fields(WebhookView(e), "secret")
}

// --- reading the log ---

// AuditEvent is an audit entry as the API shows it.
type AuditEvent struct {
	ID             string          `json:"id"`
	OccurredAt     time.Time       `json:"occurred_at"`
	Type           string          `json:"type"`
	Actor          AuditActor      `json:"actor"`
	UserID         string          `json:"user_id"`
	OrganizationID string          `json:"organization_id"`
	Target         AuditTarget     `json:"target"`
	IP             string          `json:"ip"`
	UserAgent      string          `json:"user_agent"`
	Reason         string          `json:"reason"`
	Details        json.RawMessage `json:"details"`
}

// AuditActor is who acted: user (ID a user ID), client (a client ID),
// cli, system or anonymous (no ID).
type AuditActor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditTarget is what an administrative change touched.
type AuditTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AuditEventView is how the API and the CLI show an entry.
func AuditEventView(e storage.AuditEntry) AuditEvent {
	details := e.Details
	if !json.Valid(details) {
		details = json.RawMessage(`{}`)
	}
	return AuditEvent{
		ID: e.ID, OccurredAt: e.OccurredAt.UTC(), Type: e.Type, Actor: AuditActor{Type: e.ActorType, ID: e.ActorID},
		UserID: e.UserID, OrganizationID: e.OrgID, Target: AuditTarget{Type: e.TargetType, ID: e.TargetID},
		IP: e.IP, UserAgent: e.UserAgent, Reason: e.Reason, Details: details,
	}
}

var auditParams = []param{
	{"from", "Entries at or after this RFC 3339 time.", "string"},
	{"to", "Entries before this RFC 3339 time.", "string"},
	{"actor", "Entries of this actor ID (a user ID or client ID).", "string"},
	{"user", "Entries concerning this user ID.", "string"},
	{"type", "Entries of this type, such as admin.user.updated or signin.failed.", "string"},
}

var globalAuditParams = append(append(append([]param{}, auditParams...),
	param{"organization", "Entries concerning this organization ID.", "string"}), pageParams...)

var orgAuditParams = append(append([]param{}, auditParams...), pageParams...)

// listAuditEvents reads the whole log: Foyer admins only.
func (a *API) listAuditEvents(c *gin.Context) {
	if !instanceOnly(c, callerOf(c)) {
		return
	}
	q, err := a.auditQuery(c)
	if err == nil {
		q.OrgID, err = auditFilter("organization", c.Query("organization"))
	}
	if err != nil {
		a.fail(c, "list audit events", err)
		return
	}
	a.writeAuditEvents(c, q)
}

// listOrgAuditEvents reads the entries of one organization: its admins
// and Foyer admins; another organization's is a 404 (AD-02).
func (a *API) listOrgAuditEvents(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	q, err := a.auditQuery(c)
	if err != nil {
		a.fail(c, "list audit events", err)
		return
	}
	q.OrgID = o.ID
	a.writeAuditEvents(c, q)
}

func (a *API) writeAuditEvents(c *gin.Context, q storage.AuditQuery) {
	es, err := a.store.ListAuditEntries(c.Request.Context(), q)
	if err != nil {
		a.fail(c, "list audit events", err)
		return
	}
	out := List[AuditEvent]{Items: make([]AuditEvent, 0, len(es))}
	for _, e := range es {
		out.Items = append(out.Items, AuditEventView(e))
	}
	if n := len(es); n > 0 && n >= q.Limit {
		out.NextCursor = a.cursors.encode(auditPosition(es[n-1]))
	}
	c.JSON(http.StatusOK, out)
}

// auditQuery reads the filters and the page: the cursor holds the time
// and ID of the last entry shown, MACed like every cursor (AD-05).
func (a *API) auditQuery(c *gin.Context) (storage.AuditQuery, error) {
	var q storage.AuditQuery
	p, err := a.page(c)
	if err != nil {
		return q, err
	}
	q.Limit = p.Limit
	if p.After != "" {
		at, id, ok := strings.Cut(p.After, " ")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || id == "" {
			return q, invalid("cursor", "is not a cursor this API returned")
		}
		q.BeforeTime, q.BeforeID = t, id
	}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := c.Query(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, invalid(f.name, "must be an RFC 3339 time such as 2025-01-02T15:04:05Z")
			}
			*f.to = t
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, invalid("to", "must be later than from")
	}
	if q.ActorID, err = auditFilter("actor", c.Query("actor")); err != nil {
		return q, err
	}
	if q.UserID, err = auditFilter("user", c.Query("user")); err != nil {
		return q, err
	}
	if s := c.Query("type"); s != "" {
		if err := validateToken("type", s, 100); err != nil {
			return q, err
		}
		q.Type = s
	}
	return q, nil
}

// auditFilter checks an ID filter: printable text of at most 200 bytes.
func auditFilter(field, s string) (string, error) {
	if len(s) > 200 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		return "", invalid(field, "must be an ID")
	}
	return s, nil
}

// auditPosition is where a page of the log ends: the entry's time and ID.
func auditPosition(e storage.AuditEntry) string {
	return e.OccurredAt.UTC().Format(time.RFC3339Nano) + " " + e.ID
}
