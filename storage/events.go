package storage

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Event types: what changed. A backend records the event of a change in
// the transaction that makes the change (the transactional outbox), so an
// event exists if and only if its change committed, whichever code path
// made it (admin API, CLI, sign-up, single sign-on).
const (
	EventUserCreated         = "user.created"
	EventUserUpdated         = "user.updated"
	EventUserDeleted         = "user.deleted"
	EventOrganizationCreated = "organization.created"
	EventOrganizationUpdated = "organization.updated"
	EventOrganizationDeleted = "organization.deleted"
	EventMembershipCreated   = "membership.created"
	EventMembershipUpdated   = "membership.updated"
	EventMembershipDeleted   = "membership.deleted"
	EventInvitationCreated   = "invitation.created"
	EventInvitationResent    = "invitation.resent"
	EventInvitationAccepted  = "invitation.accepted"
	EventInvitationRevoked   = "invitation.revoked"
	EventSessionCreated      = "session.created"
	EventSessionEnded        = "session.ended"
)

// EventTypes lists every event type, for validating endpoint filters.
var EventTypes = []string{
	EventUserCreated, EventUserUpdated, EventUserDeleted,
	EventOrganizationCreated, EventOrganizationUpdated, EventOrganizationDeleted,
	EventMembershipCreated, EventMembershipUpdated, EventMembershipDeleted,
	EventInvitationCreated, EventInvitationResent, EventInvitationAccepted, EventInvitationRevoked,
	EventSessionCreated, EventSessionEnded,
}

// PrefixEvent starts event IDs; the ID is the webhook-id of every delivery
// of the event, so receivers can drop duplicates.
const PrefixEvent = "evt_"

// Event is one committed change, waiting in or done with the outbox.
type Event struct {
	ID   string // evt_…
	Type string
	// OrgID is the organization the change concerns ("" for users, which
	// belong to no single organization): organization webhook endpoints
	// receive their organization's events only.
	OrgID      string
	OccurredAt time.Time
	// Data is the changed record as JSON (the webhook payload's "data"),
	// without secrets: no password hash, no token hash, no cookie hash.
	Data json.RawMessage
	// DispatchedAt is when the event's deliveries were made; zero while
	// the event waits for a dispatcher.
	DispatchedAt time.Time
}

// EventDelivery states. Only pending deliveries are claimed.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery sinks: where a delivery goes.
const (
	SinkWebhook = "webhook" // EndpointID names the endpoint
	SinkNATS    = "nats"    // the JetStream publisher
)

// PrefixDelivery starts delivery IDs.
const PrefixDelivery = "dlv_"

// EventDelivery is one event on its way to one sink: at least once, retried
// until it is delivered or its retry period ends.
type EventDelivery struct {
	ID         string // dlv_…
	EventID    string
	Sink       string // SinkWebhook or SinkNATS
	EndpointID string // for SinkWebhook
	Status     string // DeliveryPending, DeliveryDelivered or DeliveryFailed
	// NextAttemptAt is when a worker may next claim it: the backoff after
	// a failure, or the lease of the worker sending it.
	NextAttemptAt  time.Time
	Attempts       int // how often a worker claimed it
	LastError      string
	LastStatusCode int // the endpoint's last HTTP status; 0 for none
	CreatedAt      time.Time
	FinishedAt     time.Time // zero while pending
}

// DeliveryQuery selects deliveries, newest first (by ID within a
// creation time), paged after the delivery whose ID is After.
type DeliveryQuery struct {
	EndpointID string
	Status     string // "" for every status
	After      string
	Limit      int
}

// PrefixWebhookEndpoint starts webhook endpoint IDs.
const PrefixWebhookEndpoint = "whe_"

// WebhookEndpoint is a URL that receives events, signed per the Standard
// Webhooks specification with its own secret.
type WebhookEndpoint struct {
	ID string // whe_…
	// OrgID limits the endpoint to one organization's events; "" receives
	// every event.
	OrgID       string
	URL         string
	Description string
	// EventTypes filters the events: empty for all; an entry "invitation.*"
	// takes every invitation event.
	EventTypes []string
	// Secret is the signing key, sealed (encrypted) by the caller: it is
	// needed in the clear to sign, so it cannot be hashed.
	Secret    []byte
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Wants reports whether the endpoint takes ev: enabled, created no later
// than the event, of its organization (or global), and matching a filter.
func (e WebhookEndpoint) Wants(ev Event) bool {
	if e.Disabled || e.CreatedAt.After(ev.OccurredAt) || (e.OrgID != "" && e.OrgID != ev.OrgID) {
		return false
	}
	if len(e.EventTypes) == 0 {
		return true
	}
	return slices.ContainsFunc(e.EventTypes, func(f string) bool { return EventTypeMatches(f, ev.Type) })
}

// EventTypeMatches reports whether filter (a type, "group.*" or "*") takes
// typ.
func EventTypeMatches(filter, typ string) bool {
	if filter == "*" || filter == typ {
		return true
	}
	group, ok := strings.CutSuffix(filter, ".*")
	return ok && strings.HasPrefix(typ, group+".")
}

// Events stores the outbox of events, their deliveries and the webhook
// endpoints. The events themselves are written by the backends inside the
// changes they describe (see the Event* types), never by callers.
type Events interface {
	GetEvent(ctx context.Context, id string) (Event, error)
	// ListEvents lists events oldest first (by OccurredAt, then ID),
	// those after the event whose ID is after (all when after is "");
	// ErrNotFound when after names no event.
	ListEvents(ctx context.Context, after string, limit int) ([]Event, error)
	// DispatchEvents, in one transaction, takes up to limit undispatched
	// events (oldest first; on Postgres skipping the rows another
	// dispatcher holds), stores the deliveries route returns for each
	// (their IDs, times and state set by route), and marks them
	// dispatched at now. It returns how many events it dispatched.
	// ErrInvalid for a limit below 1 or a nil route.
	DispatchEvents(ctx context.Context, now time.Time, limit int, route func(Event) []EventDelivery) (int, error)
	// DeleteEventsBefore deletes the events dispatched before before none
	// of whose deliveries is pending, with their deliveries, and returns
	// how many events.
	DeleteEventsBefore(ctx context.Context, before time.Time) (int64, error)

	// ClaimDeliveries atomically leases up to limit pending deliveries due
	// at now, oldest NextAttemptAt first: NextAttemptAt becomes now+lease
	// and Attempts grows by one. Of concurrent claimers none gets a
	// delivery another got, until that lease runs out (Postgres: FOR
	// UPDATE SKIP LOCKED).
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]EventDelivery, error)
	// RetryDelivery keeps a pending delivery pending until next, recording
	// the failure. ErrNotFound, or ErrConflict when it is not pending.
	RetryDelivery(ctx context.Context, id string, next time.Time, lastError string, statusCode int) error
	// FinishDelivery moves a pending delivery to delivered or failed at at.
	// ErrNotFound; ErrConflict when it is not pending; ErrInvalid for
	// another status.
	FinishDelivery(ctx context.Context, id, status string, at time.Time, lastError string, statusCode int) error
	GetDelivery(ctx context.Context, id string) (EventDelivery, error)
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]EventDelivery, error)
	// ReplayDelivery stores a new pending delivery d of a finished one's
	// event to the same sink (d.EventID, Sink and EndpointID are taken from
	// the delivery id; the rest from d). ErrNotFound; ErrConflict when the
	// delivery id is still pending; ErrInvalid when d.Status is not
	// pending.
	ReplayDelivery(ctx context.Context, id string, d EventDelivery) (EventDelivery, error)

	// CreateWebhookEndpoint stores e. ErrNotFound when its organization
	// does not exist; ErrAlreadyExists for a taken ID.
	CreateWebhookEndpoint(ctx context.Context, e WebhookEndpoint) (WebhookEndpoint, error)
	GetWebhookEndpoint(ctx context.Context, id string) (WebhookEndpoint, error)
	// ListWebhookEndpoints lists endpoints ordered by ID: every endpoint
	// when orgID is "", else that organization's.
	ListWebhookEndpoints(ctx context.Context, orgID string) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint applies update in a transaction; ID, OrgID and
	// CreatedAt keep their stored values.
	UpdateWebhookEndpoint(ctx context.Context, id string, update func(WebhookEndpoint) (WebhookEndpoint, error)) (WebhookEndpoint, error)
	// DeleteWebhookEndpoint removes the endpoint with its deliveries.
	// Deleting an organization deletes its endpoints.
	DeleteWebhookEndpoint(ctx context.Context, id string) error
}

// The payloads of events: the records as receivers see them. Backends
// build Event.Data from these, so both write the same JSON.

// UserData is a user in an event.
type UserData struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	HasPassword   bool      `json:"has_password"`
	Admin         bool      `json:"admin"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// OrganizationData is an organization in an event.
type OrganizationData struct {
	ID         string    `json:"id"`
	Slug       string    `json:"slug"`
	Name       string    `json:"name"`
	LogoURL    string    `json:"logo_url"`
	BrandColor string    `json:"brand_color"`
	RequireMFA bool      `json:"require_mfa"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// MembershipData is a membership in an event.
type MembershipData struct {
	OrganizationID string    `json:"organization_id"`
	UserID         string    `json:"user_id"`
	Role           string    `json:"role"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// InvitationData is an invitation in an event (never its link).
type InvitationData struct {
	ID             string     `json:"id"`
	OrganizationID string     `json:"organization_id"`
	Email          string     `json:"email"`
	Role           string     `json:"role"`
	InvitedBy      string     `json:"invited_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	AcceptedAt     *time.Time `json:"accepted_at,omitempty"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
}

// SessionData is a browser session in an event: its public sid, never the
// hash of its cookie.
type SessionData struct {
	ID             string    `json:"id"` // the ID token's sid
	UserID         string    `json:"user_id"`
	OrganizationID string    `json:"organization_id,omitempty"`
	AMR            []string  `json:"amr"`
	IP             string    `json:"ip,omitempty"`
	UserAgent      string    `json:"user_agent,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	// Expired is true when the session ended by running out rather than
	// by sign-out or revocation.
	Expired bool `json:"expired,omitempty"`
}

// NewUserEvent is the event of a change to u.
func NewUserEvent(typ string, u User) Event {
	return newEvent(typ, "", UserData{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		HasPassword: u.PasswordHash != "", Admin: u.Admin, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	})
}

// UserChanged reports whether an update changed what a user event shows.
// UpdatedAt alone does not count: a rehashed password or a reset moves it
// and changes nothing a receiver keeps (beyond has_password, which does).
func UserChanged(before, after User) bool {
	before.UpdatedAt, after.UpdatedAt = time.Time{}, time.Time{}
	return string(NewUserEvent("", before).Data) != string(NewUserEvent("", after).Data)
}

// NewOrganizationEvent is the event of a change to o.
func NewOrganizationEvent(typ string, o Organization) Event {
	// A conversion: a field added to Organization must be added here too
	// (or the conversion stops compiling), on purpose.
	return newEvent(typ, o.ID, OrganizationData(o))
}

// OrganizationChanged reports whether an update changed what an
// organization event shows, UpdatedAt aside (UserChanged).
func OrganizationChanged(before, after Organization) bool {
	before.UpdatedAt, after.UpdatedAt = time.Time{}, time.Time{}
	return before != after
}

// NewMembershipEvent is the event of a change to m.
func NewMembershipEvent(typ string, m Membership) Event {
	return newEvent(typ, m.OrgID, MembershipData{
		OrganizationID: m.OrgID, UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	})
}

// NewInvitationEvent is the event of a change to inv.
func NewInvitationEvent(typ string, inv Invitation) Event {
	d := InvitationData{
		ID: inv.ID, OrganizationID: inv.OrgID, Email: inv.Email, Role: inv.Role, InvitedBy: inv.InvitedBy,
		CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt,
	}
	if !inv.AcceptedAt.IsZero() {
		d.AcceptedAt = &inv.AcceptedAt
	}
	if !inv.RevokedAt.IsZero() {
		d.RevokedAt = &inv.RevokedAt
	}
	return newEvent(typ, inv.OrgID, d)
}

// NewSessionEvent is the event of a browser session starting or ending.
func NewSessionEvent(typ string, s BrowserSession, expired bool) Event {
	amr := s.AMR
	if amr == nil {
		amr = []string{}
	}
	return newEvent(typ, s.OrgID, SessionData{
		ID: s.SID, UserID: s.UserID, OrganizationID: s.OrgID, AMR: amr, IP: s.IP, UserAgent: s.UserAgent,
		CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Expired: expired,
	})
}

// newEvent stamps an event with a new ID and the time of the change. The
// clock is the host's: an event's time is when it was recorded.
func newEvent(typ, orgID string, data any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic("storage: event data does not marshal: " + err.Error()) // plain structs always do
	}
	return Event{ID: NewID(PrefixEvent), Type: typ, OrgID: orgID, OccurredAt: time.Now().UTC(), Data: b}
}
