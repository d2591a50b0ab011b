package admin

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	foyermail "github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Mailer queues an email in the caller's transaction (mail.Mailer).
type Mailer interface {
	Send(ctx context.Context, m foyermail.Message) error
}

// InvitationLinks makes the tokens of invitation links. signin, which
// checks them when a link is opened, provides it through cmd, so both
// hash alike.
type InvitationLinks interface {
	// NewInvitationToken returns a fresh random token and its keyed hash,
	// the only form stored (ML-01).
	NewInvitationToken() (token, hash string)
}

// InvitationOptions configure invitation emails.
type InvitationOptions struct {
	// Issuer is the public base URL the emailed link starts with, never
	// taken from request headers (LG-09).
	Issuer string
	Links  InvitationLinks
	Mailer Mailer
	Emails *render.InvitationEmails
	// TTL is how long a link works (invitations.ttl).
	TTL time.Duration
}

func (o InvitationOptions) check() error {
	if o.Issuer == "" || o.Links == nil || o.Mailer == nil || o.Emails == nil || o.TTL <= 0 {
		return errors.New("admin: Invitations needs Issuer, Links, Mailer, Emails and a positive TTL")
	}
	return nil
}

// Invitation is an invitation to an organization. Its link is in the email
// only, never in an answer.
type Invitation struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"org_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	InvitedBy  string     `json:"invited_by"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// InvitationView is how the API and the CLI show an invitation at now.
func InvitationView(i storage.Invitation, now time.Time) Invitation {
	v := Invitation{ID: i.ID, OrgID: i.OrgID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy,
		Status: "pending", CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt}
	switch {
	case !i.AcceptedAt.IsZero():
		v.Status, v.AcceptedAt = "accepted", &i.AcceptedAt
	case !i.RevokedAt.IsZero():
		v.Status, v.RevokedAt = "revoked", &i.RevokedAt
	case !now.Before(i.ExpiresAt):
		v.Status = "expired"
	}
	return v
}

func (a *API) invitationView(i storage.Invitation) Invitation { return InvitationView(i, a.now()) }

type createInvitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (a *API) listInvitations(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	is, err := a.store.ListInvitations(c.Request.Context(), o.ID)
	if err != nil {
		a.fail(c, "list invitations", err)
		return
	}
	total := len(is)
	out := List[Invitation]{Items: make([]Invitation, 0, len(is)), Total: &total}
	for _, i := range is {
		out.Items = append(out.Items, a.invitationView(i))
	}
	c.JSON(http.StatusOK, out)
}

// createInvitation stores the invitation and queues its email (Inviter).
func (a *API) createInvitation(c *gin.Context) {
	k := callerOf(c)
	o, ok := a.visibleOrg(c, k, c.Param("id"))
	var req createInvitationRequest
	if !ok || !decode(c, &req) {
		return
	}
	inv, err := a.inviter.Invite(c.Request.Context(), o, req.Email, req.Role, a.invitedBy(c.Request.Context(), k),
		func(ctx context.Context, inv storage.Invitation) error {
			return a.record(ctx, a.invitationEntry(c, AuditInvitationCreated, inv), nil, invitationFields(inv, a.now()))
		})
	if err != nil {
		a.fail(c, "create invitation", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID+"/invitations/"+inv.ID)
	c.JSON(http.StatusCreated, a.invitationView(inv))
}

// resendInvitation gives an open invitation a new link and expiry and
// emails it; the old link stops working.
func (a *API) resendInvitation(c *gin.Context) {
	k := callerOf(c)
	o, ok := a.visibleOrg(c, k, c.Param("id"))
	if !ok {
		return
	}
	inv, ok := a.orgInvitation(c, o.ID)
	if !ok {
		return
	}
	before := inv
	inv, err := a.inviter.Resend(c.Request.Context(), o, inv, a.invitedBy(c.Request.Context(), k),
		func(ctx context.Context, inv storage.Invitation) error {
			return a.record(ctx, a.invitationEntry(c, AuditInvitationResent, inv), invitationFields(before, a.now()), invitationFields(inv, a.now()))
		})
	if errors.Is(err, storage.ErrConflict) {
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "The invitation was accepted or revoked."})
		return
	}
	if err != nil {
		a.fail(c, "resend invitation", err)
		return
	}
	c.JSON(http.StatusOK, a.invitationView(inv))
}

// invitedBy names the caller in the invitation and its email.
func (a *API) invitedBy(ctx context.Context, k caller) InvitedBy {
	by := InvitedBy{Subject: k.token.Subject}
	if k.token.UserID != "" {
		if u, err := a.store.GetUser(ctx, k.token.UserID); err == nil {
			by.Name = u.Name
		}
	}
	return by
}

func (a *API) revokeInvitation(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	inv, ok := a.orgInvitation(c, o.ID)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		revoked, err := a.store.RevokeInvitation(ctx, inv.ID, a.now())
		if err != nil {
			return err
		}
		return a.record(ctx, a.invitationEntry(c, AuditInvitationRevoked, revoked), invitationFields(inv, a.now()), invitationFields(revoked, a.now()))
	})
	if errors.Is(err, storage.ErrConflict) {
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "The invitation was accepted or revoked."})
		return
	}
	if err != nil {
		a.fail(c, "revoke invitation", err)
		return
	}
	c.Status(http.StatusNoContent)
}

// invitationEntry starts the audit entry of a change to invitation inv:
// never its link or the link's hash, which no view holds.
func (a *API) invitationEntry(c *gin.Context, typ string, inv storage.Invitation) storage.AuditEntry {
	e := a.entry(c, typ, TargetInvitation, inv.ID)
	e.OrgID = inv.OrgID
	return e
}

// orgInvitation reads the invitation named in the path; one of another
// organization is answered 404 like a missing one (AD-02).
func (a *API) orgInvitation(c *gin.Context, orgID string) (storage.Invitation, bool) {
	inv, err := a.store.GetInvitation(c.Request.Context(), c.Param("invitation_id"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && inv.OrgID != orgID) {
		notFound(c, "invitation")
		return storage.Invitation{}, false
	}
	if err != nil {
		a.fail(c, "get invitation", err)
		return storage.Invitation{}, false
	}
	return inv, true
}

// InvitedBy is who sends an invitation: Subject is recorded with it, Name
// (optional) signs its email.
type InvitedBy struct {
	Subject string
	Name    string
}

// Inviter creates and resends invitations. The API and the CLI share it,
// so an invitation is checked, stored and emailed alike whichever way it
// was made.
type Inviter struct {
	store Store
	o     InvitationOptions
	now   func() time.Time
}

// NewInviter returns an Inviter; now is its clock (nil: time.Now).
func NewInviter(store Store, o InvitationOptions, now func() time.Time) (*Inviter, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Inviter{store: store, o: o, now: now}, nil
}

// Invite invites email into o with role. The invitation is stored and its
// email queued in one transaction: no invitation without its email, no
// email for an invitation that was not stored. A newer invitation of the
// same address supersedes the open one. then, when not nil, runs last in
// the same transaction (the audit entry), and its error undoes the rest.
// Bad input is a *FieldError.
func (iv *Inviter) Invite(ctx context.Context, o storage.Organization, email, role string, by InvitedBy,
	then func(ctx context.Context, inv storage.Invitation) error) (storage.Invitation, error) {
	addr, err := mail.ParseAddress(email)
	if email == "" || err != nil || addr.Address != email {
		return storage.Invitation{}, invalid("email", "must be an email address such as ada@example.com")
	}
	if err := checkRole(ctx, iv.store, o.ID, role); err != nil {
		return storage.Invitation{}, err
	}
	token, hash := iv.o.Links.NewInvitationToken()
	now := iv.now()
	inv := storage.Invitation{
		ID: storage.NewID(storage.PrefixInvitation), OrgID: o.ID, Email: email, Role: role,
		TokenHash: hash, InvitedBy: by.Subject, CreatedAt: now, ExpiresAt: now.Add(iv.o.TTL),
	}
	err = inTx(ctx, iv.store, func(ctx context.Context) error {
		var err error
		if inv, err = iv.store.CreateInvitation(ctx, inv); err != nil {
			return err
		}
		if err := iv.send(ctx, o, inv, token, by); err != nil {
			return err
		}
		return andThen(ctx, then, inv)
	})
	return inv, err
}

// Resend gives the open invitation inv of o a new link and expiry and
// emails it; the old link stops working. then is as for Invite.
// storage.ErrConflict when it was accepted or revoked meanwhile.
func (iv *Inviter) Resend(ctx context.Context, o storage.Organization, inv storage.Invitation, by InvitedBy,
	then func(ctx context.Context, inv storage.Invitation) error) (storage.Invitation, error) {
	token, hash := iv.o.Links.NewInvitationToken()
	err := inTx(ctx, iv.store, func(ctx context.Context) error {
		var err error
		if inv, err = iv.store.ResendInvitation(ctx, inv.ID, hash, iv.now().Add(iv.o.TTL)); err != nil {
			return err
		}
		if err := iv.send(ctx, o, inv, token, by); err != nil {
			return err
		}
		return andThen(ctx, then, inv)
	})
	return inv, err
}

// andThen runs then, if any, on inv.
func andThen(ctx context.Context, then func(context.Context, storage.Invitation) error, inv storage.Invitation) error {
	if then == nil {
		return nil
	}
	return then(ctx, inv)
}

// send queues the invitation's email in ctx's transaction. The link is
// built from the configured issuer, never from request headers (LG-09).
func (iv *Inviter) send(ctx context.Context, o storage.Organization, inv storage.Invitation, token string, by InvitedBy) error {
	name := by.Name
	if name == "" {
		name = "An administrator"
	}
	msg, err := iv.o.Emails.Invitation(render.InvitationEmail{
		Email: inv.Email, OrgName: o.Name, Role: inv.Role, InvitedBy: name,
		Link:     strings.TrimSuffix(iv.o.Issuer, "/") + "/invitations/accept?token=" + url.QueryEscape(token),
		ValidFor: inv.ExpiresAt.Sub(iv.now()).Round(time.Hour),
	})
	if err != nil {
		return err
	}
	return iv.o.Mailer.Send(ctx, foyermail.Message{
		To: inv.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, NotAfter: inv.ExpiresAt,
	})
}
