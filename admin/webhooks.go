package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/events"
	"github.com/foyerdev/foyer/outbound"
	"github.com/foyerdev/foyer/storage"
)

// Webhook endpoints receive events signed with their own secret (Standard
// Webhooks; see events). A global endpoint (no organization) takes every
// event and is for Foyer admins only; an organization's endpoint takes
// that organization's events, and its admins manage it. Anything of
// another organization answers 404 (AD-02).

// Webhook is an endpoint as the API and the CLI show it. Secret is set in
// the answer to its creation only: it is stored sealed and never shown
// again.
type Webhook struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id,omitempty"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	Disabled    bool      `json:"disabled"`
	Secret      string    `json:"secret,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// WebhookView is e as the API and the CLI show it: never its secret.
func WebhookView(e storage.WebhookEndpoint) Webhook {
	return Webhook{ID: e.ID, OrgID: e.OrgID, URL: e.URL, Description: e.Description, EventTypes: orEmpty(e.EventTypes),
		Disabled: e.Disabled, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// NewWebhook is the body of POST /webhooks and POST
// /organizations/{id}/webhooks, and the input of CreateWebhook.
type NewWebhook struct {
	OrgID       string `json:"-"` // from the path; "" for a global endpoint
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes filters what the endpoint receives: event types,
	// "group.*" (such as "user.*") or "*"; empty for every event.
	EventTypes []string `json:"event_types,omitempty"`
	Disabled   bool     `json:"disabled,omitempty"`
}

// WebhookChanges is the body of PATCH /webhooks/{id}: an absent (or null)
// field keeps its value.
type WebhookChanges struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// WebhookDelivery is one event on its way to an endpoint.
type WebhookDelivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"` // while pending
	CreatedAt      time.Time  `json:"created_at"`
	FinishedAt     *time.Time `json:"finished_at,omitempty"`
}

// DeliveryView is d as the API and the CLI show it.
func DeliveryView(d storage.EventDelivery) WebhookDelivery {
	v := WebhookDelivery{ID: d.ID, EventID: d.EventID, Status: d.Status, Attempts: d.Attempts, LastError: d.LastError,
		LastStatusCode: d.LastStatusCode, CreatedAt: d.CreatedAt, FinishedAt: optionalTime(d.FinishedAt)}
	if d.Status == storage.DeliveryPending {
		v.NextAttemptAt = optionalTime(d.NextAttemptAt)
	}
	return v
}

// Limits of an endpoint.
const (
	maxWebhookURL    = 2048
	maxEventFilters  = 50
	maxEventTypeName = 100
)

// CheckWebhookURL checks an endpoint's URL: absolute https, without user
// info or fragment, not a literal internal address or localhost. With
// allowPrivate (development), plain http and internal addresses pass.
// The sender refuses internal addresses again when it connects, after
// DNS (outbound).
func CheckWebhookURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return invalid("url", "is required")
	}
	if len(raw) > maxWebhookURL {
		return invalid("url", fmt.Sprintf("is longer than %d characters", maxWebhookURL))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return invalid("url", "must be an absolute https URL such as https://hooks.example.com/foyer")
	}
	switch {
	case u.User != nil || strings.Contains(u.Host, "@"):
		return invalid("url", "must not contain user info; put credentials in the path or rely on the signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return invalid("url", "must not contain a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return invalid("url", "must be an https URL")
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip := net.ParseIP(host); (ip != nil && outbound.Internal(ip)) || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return invalid("url", "must not point to an internal address")
	}
	return nil
}

// CheckEventTypes checks an endpoint's filters: each an event type of
// storage.EventTypes, a group of them ("user.*") or "*", none twice.
func CheckEventTypes(types []string) error {
	if len(types) > maxEventFilters {
		return invalid("event_types", fmt.Sprintf("holds more than %d filters", maxEventFilters))
	}
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] {
			return invalid("event_types", "lists a filter twice")
		}
		seen[t] = true
		if !knownEventFilter(t) {
			shown := t
			if len(shown) > maxEventTypeName {
				shown = shown[:maxEventTypeName] + "…"
			}
			return invalid("event_types", fmt.Sprintf("%q is not an event type; use a type such as user.created, a group such as user.*, or *", shown))
		}
	}
	return nil
}

func knownEventFilter(f string) bool {
	if f == "*" || slices.Contains(storage.EventTypes, f) {
		return true
	}
	group, ok := strings.CutSuffix(f, ".*")
	return ok && group != "" && slices.ContainsFunc(storage.EventTypes, func(t string) bool { return strings.HasPrefix(t, group+".") })
}

// checkWebhook checks what an endpoint is made of.
func checkWebhook(rawURL, description string, types []string, allowPrivate bool) error {
	if err := CheckWebhookURL(rawURL, allowPrivate); err != nil {
		return err
	}
	if err := validateName("description", description, false); err != nil {
		return err
	}
	return CheckEventTypes(types)
}

// WebhookStore is what CreateWebhook needs of storage.
type WebhookStore interface {
	storage.Events
	storage.Transactions
}

// CreateWebhook checks in, makes the endpoint's signing secret (sealed by
// sealer, which the events worker opens) and stores the endpoint; record,
// when not nil, runs in the same transaction (the audit entry). It
// returns the endpoint and its secret as shown to its owner — the only
// time it is. The API and the CLI share it. Bad input is a *FieldError;
// storage.ErrNotFound when the organization does not exist.
func CreateWebhook(ctx context.Context, store WebhookStore, sealer events.Sealer, in NewWebhook, allowPrivate bool, now time.Time,
	record func(ctx context.Context, e storage.WebhookEndpoint) error) (storage.WebhookEndpoint, string, error) {
	if err := checkWebhook(in.URL, in.Description, in.EventTypes, allowPrivate); err != nil {
		return storage.WebhookEndpoint{}, "", err
	}
	e := storage.WebhookEndpoint{
		ID: storage.NewID(storage.PrefixWebhookEndpoint), OrgID: in.OrgID, URL: in.URL, Description: strings.TrimSpace(in.Description),
		EventTypes: in.EventTypes, Disabled: in.Disabled, CreatedAt: now, UpdatedAt: now,
	}
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	shown, sealed := events.NewSecret(sealer, e.ID)
	e.Secret = sealed
	err := inTx(ctx, store, func(ctx context.Context) error {
		var err error
		if e, err = store.CreateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		if record != nil {
			return record(ctx, e)
		}
		return nil
	})
	if err != nil {
		return storage.WebhookEndpoint{}, "", err
	}
	return e, shown, nil
}

// --- handlers ---

func (a *API) createWebhook(c *gin.Context) {
	var req NewWebhook
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	a.storeWebhook(c, req)
}

func (a *API) createOrgWebhook(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req NewWebhook
	if !ok || !decode(c, &req) {
		return
	}
	req.OrgID = o.ID
	a.storeWebhook(c, req)
}

func (a *API) storeWebhook(c *gin.Context, req NewWebhook) {
	e, secret, err := CreateWebhook(c.Request.Context(), a.store, a.sealer, req, a.allowPrivateWebhooks, a.now(),
		func(ctx context.Context, e storage.WebhookEndpoint) error {
			entry := a.entry(c, AuditWebhookCreated, TargetWebhook, e.ID)
			entry.OrgID = e.OrgID
			return a.record(ctx, entry, nil, webhookFields(e))
		})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization") // deleted meanwhile
		return
	}
	if err != nil {
		a.fail(c, "create webhook", err)
		return
	}
	v := WebhookView(e)
	v.Secret = secret
	c.Header("Location", Prefix+"/webhooks/"+e.ID)
	c.Header("Cache-Control", "no-store") // the secret
	c.JSON(http.StatusCreated, v)
}

// listWebhooks: a Foyer admin sees every endpoint (or one organization's
// with organization=); an organization admin the endpoints of the
// organizations they manage.
func (a *API) listWebhooks(c *gin.Context) {
	k := callerOf(c)
	org := c.Query("organization")
	var orgs []string
	switch {
	case org != "" && !k.seesOrg(org):
		notFound(c, "organization")
		return
	case org != "":
		orgs = []string{org}
	case k.instance:
		orgs = []string{""} // every endpoint
	default:
		orgs = k.orgs
	}
	var es []storage.WebhookEndpoint
	for _, o := range orgs {
		list, err := a.store.ListWebhookEndpoints(c.Request.Context(), o)
		if err != nil {
			a.fail(c, "list webhooks", err)
			return
		}
		es = append(es, list...)
	}
	a.writeWebhooks(c, es)
}

func (a *API) listOrgWebhooks(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	es, err := a.store.ListWebhookEndpoints(c.Request.Context(), o.ID)
	if err != nil {
		a.fail(c, "list webhooks", err)
		return
	}
	a.writeWebhooks(c, es)
}

func (a *API) writeWebhooks(c *gin.Context, es []storage.WebhookEndpoint) {
	total := len(es)
	out := List[Webhook]{Items: make([]Webhook, 0, len(es)), Total: &total}
	for _, e := range es {
		out.Items = append(out.Items, WebhookView(e))
	}
	c.JSON(http.StatusOK, out)
}

// visibleWebhook loads the endpoint named in the path if the caller may
// see it: a global endpoint is a Foyer admin's, an organization's is its
// admins'; anything else answers 404 like a missing one (AD-02).
func (a *API) visibleWebhook(c *gin.Context) (storage.WebhookEndpoint, bool) {
	k := callerOf(c)
	e, err := a.store.GetWebhookEndpoint(c.Request.Context(), c.Param("id"))
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.fail(c, "get webhook", err)
		return e, false
	}
	if err != nil || !(k.instance || (e.OrgID != "" && k.seesOrg(e.OrgID))) {
		notFound(c, "webhook")
		return storage.WebhookEndpoint{}, false
	}
	return e, true
}

func (a *API) getWebhook(c *gin.Context) {
	if e, ok := a.visibleWebhook(c); ok {
		c.JSON(http.StatusOK, WebhookView(e))
	}
}

func (a *API) updateWebhook(c *gin.Context) {
	e, ok := a.visibleWebhook(c)
	var req WebhookChanges
	if !ok || !decode(c, &req) {
		return
	}
	var before storage.WebhookEndpoint
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		e, err = a.store.UpdateWebhookEndpoint(ctx, e.ID, func(cur storage.WebhookEndpoint) (storage.WebhookEndpoint, error) {
			before = cur
			if req.URL != nil {
				cur.URL = *req.URL
			}
			if req.Description != nil {
				cur.Description = strings.TrimSpace(*req.Description)
			}
			if req.EventTypes != nil {
				cur.EventTypes = orEmpty(*req.EventTypes)
			}
			if req.Disabled != nil {
				cur.Disabled = *req.Disabled
			}
			cur.UpdatedAt = a.now()
			return cur, checkWebhook(cur.URL, cur.Description, cur.EventTypes, a.allowPrivateWebhooks)
		})
		if err != nil {
			return err
		}
		entry := a.entry(c, AuditWebhookUpdated, TargetWebhook, e.ID)
		entry.OrgID = e.OrgID
		return a.record(ctx, entry, webhookFields(before), webhookFields(e))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "webhook")
		return
	}
	if err != nil {
		a.fail(c, "update webhook", err)
		return
	}
	c.JSON(http.StatusOK, WebhookView(e))
}

func (a *API) deleteWebhook(c *gin.Context) {
	e, ok := a.visibleWebhook(c)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		if err := a.store.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
			return err
		}
		entry := a.entry(c, AuditWebhookDeleted, TargetWebhook, e.ID)
		entry.OrgID = e.OrgID
		return a.record(ctx, entry, webhookFields(e), nil)
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "webhook")
		return
	}
	if err != nil {
		a.fail(c, "delete webhook", err)
		return
	}
	c.Status(http.StatusNoContent)
}

var deliveryParams = append([]param{
	{"status", "pending, delivered or failed; every status when absent.", "string"},
}, pageParams...)

// listDeliveries lists an endpoint's deliveries, newest first.
func (a *API) listDeliveries(c *gin.Context) {
	e, ok := a.visibleWebhook(c)
	if !ok {
		return
	}
	p, err := a.page(c)
	if err != nil {
		a.fail(c, "list deliveries", err)
		return
	}
	status := c.Query("status")
	if status != "" && status != storage.DeliveryPending && status != storage.DeliveryDelivered && status != storage.DeliveryFailed {
		a.fail(c, "list deliveries", invalid("status", "must be pending, delivered or failed"))
		return
	}
	ds, err := a.store.ListDeliveries(c.Request.Context(), storage.DeliveryQuery{EndpointID: e.ID, Status: status, After: p.After, Limit: p.Limit})
	if errors.Is(err, storage.ErrNotFound) {
		// The cursor's delivery is gone (deleted with old events).
		a.fail(c, "list deliveries", invalid("cursor", "names a delivery that no longer exists; start again"))
		return
	}
	if err != nil {
		a.fail(c, "list deliveries", err)
		return
	}
	out := List[WebhookDelivery]{Items: make([]WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		out.Items = append(out.Items, DeliveryView(d))
	}
	if len(ds) > 0 {
		out.NextCursor = a.next(p, len(ds), ds[len(ds)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

// replayDelivery sends a finished (delivered or failed) delivery's event
// to the endpoint again, as a new pending delivery; 409 while the
// delivery is pending, since it is still being tried.
func (a *API) replayDelivery(c *gin.Context) {
	e, ok := a.visibleWebhook(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	old, err := a.store.GetDelivery(ctx, c.Param("delivery_id"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (old.Sink != storage.SinkWebhook || old.EndpointID != e.ID)) {
		notFound(c, "delivery")
		return
	}
	if err != nil {
		a.fail(c, "get delivery", err)
		return
	}
	now := a.now()
	var d storage.EventDelivery
	err = a.inTx(c, func(ctx context.Context) error {
		var err error
		d, err = a.store.ReplayDelivery(ctx, old.ID, storage.EventDelivery{
			ID: storage.NewID(storage.PrefixDelivery), Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
		})
		if err != nil {
			return err
		}
		entry := a.entry(c, AuditWebhookDeliveryReplayed, TargetDelivery, d.ID)
		entry.OrgID = e.OrgID
		return a.record(ctx, entry, nil, map[string]any{"webhook_id": e.ID, "event_id": d.EventID, "replay_of": old.ID})
	})
	switch {
	case errors.Is(err, storage.ErrConflict):
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict,
			Detail: "The delivery is still pending: it is retried on its own. Replay it once it has failed or been delivered."})
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "delivery")
	case err != nil:
		a.fail(c, "replay delivery", err)
	default:
		c.JSON(http.StatusCreated, DeliveryView(d))
	}
}
