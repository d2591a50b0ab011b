package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Member is a membership: a user in an organization with one role.
type Member struct {
	OrgID     string    `json:"org_id"`
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func memberView(m storage.Membership) Member {
	return Member{OrgID: m.OrgID, UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

type addMemberRequest struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

type updateMemberRequest struct {
	Role string `json:"role"`
}

func (a *API) listMembers(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	p, err := a.page(c)
	if err != nil {
		a.fail(c, "list members", err)
		return
	}
	ctx := c.Request.Context()
	ms, err := a.store.ListMembershipsByOrganization(ctx, o.ID, p)
	if err != nil {
		a.fail(c, "list members", err)
		return
	}
	// Members are the users with a membership here: the user search
	// counts them without a storage method of its own.
	_, total, err := a.store.SearchUsers(ctx, storage.UserQuery{OrgID: o.ID, Page: storage.Page{Limit: 1}})
	if err != nil {
		a.fail(c, "count members", err)
		return
	}
	out := List[Member]{Items: make([]Member, 0, len(ms)), Total: &total}
	for _, m := range ms {
		out.Items = append(out.Items, memberView(m))
	}
	if len(ms) > 0 {
		out.NextCursor = a.next(p, len(ms), ms[len(ms)-1].UserID)
	}
	c.JSON(http.StatusOK, out)
}

// addMember is for Foyer admins: an organization admin who could add any
// account by ID could then read it. They invite people instead
// (invitations.go): the person accepts, or not.
func (a *API) addMember(c *gin.Context) {
	k := callerOf(c)
	o, ok := a.visibleOrg(c, k, c.Param("id"))
	var req addMemberRequest
	if !ok || !instanceOnly(c, k) || !decode(c, &req) {
		return
	}
	ctx := c.Request.Context()
	if req.UserID == "" {
		a.fail(c, "add member", invalid("user_id", "is required"))
		return
	}
	if _, err := a.store.GetUser(ctx, req.UserID); err != nil {
		a.fail(c, "add member", orField(err, "user_id", "names no user"))
		return
	}
	if err := checkRole(ctx, a.store, o.ID, req.Role); err != nil {
		a.fail(c, "add member", err)
		return
	}
	now := a.now()
	var m storage.Membership
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		m, err = a.store.CreateMembership(ctx, storage.Membership{OrgID: o.ID, UserID: req.UserID, Role: req.Role, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			return err
		}
		return a.record(ctx, a.memberEntry(c, AuditMembershipCreated, m), nil, memberFields(m))
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "The user is already a member."})
		return
	}
	if err != nil {
		a.fail(c, "add member", orField(err, "user_id", "names no user"))
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID+"/members/"+m.UserID)
	c.JSON(http.StatusCreated, memberView(m))
}

func (a *API) updateMember(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req updateMemberRequest
	if !ok || !decode(c, &req) {
		return
	}
	ctx := c.Request.Context()
	if err := checkRole(ctx, a.store, o.ID, req.Role); err != nil {
		a.fail(c, "update member", err)
		return
	}
	var m storage.Membership
	err := a.inTx(c, func(ctx context.Context) error {
		var before storage.Membership
		var err error
		m, err = a.store.UpdateMembership(ctx, o.ID, c.Param("user_id"), func(m storage.Membership) (storage.Membership, error) {
			before = m
			m.Role, m.UpdatedAt = req.Role, a.now()
			return m, nil
		})
		if err != nil {
			return err
		}
		return a.record(ctx, a.memberEntry(c, AuditMembershipUpdated, m), memberFields(before), memberFields(m))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "member")
		return
	}
	if err != nil {
		a.fail(c, "update member", err)
		return
	}
	c.JSON(http.StatusOK, memberView(m))
}

func (a *API) removeMember(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		m, err := a.store.GetMembership(ctx, o.ID, c.Param("user_id"))
		if err != nil {
			return err
		}
		if err := a.store.DeleteMembership(ctx, o.ID, m.UserID); err != nil {
			return err
		}
		return a.record(ctx, a.memberEntry(c, AuditMembershipDeleted, m), memberFields(m), nil)
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "member")
		return
	}
	if err != nil {
		a.fail(c, "remove member", err)
		return
	}
	c.Status(http.StatusNoContent)
}

// memberEntry starts the audit entry of a change to membership m.
func (a *API) memberEntry(c *gin.Context, typ string, m storage.Membership) storage.AuditEntry {
	e := a.entry(c, typ, TargetMembership, m.UserID)
	e.OrgID, e.UserID = m.OrgID, m.UserID
	return e
}

// checkRole reports a role that the organization does not have as a field
// error on "role".
func checkRole(ctx context.Context, roles storage.Roles, orgID, role string) error {
	if role == "" {
		return invalid("role", "is required")
	}
	_, err := roles.GetRole(ctx, orgID, role)
	return orField(err, "role", "is not a role of this organization")
}

// orField turns ErrNotFound into a field error, and passes any other
// error (an outage) on.
func orField(err error, field, message string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return invalid(field, message)
	}
	return err
}
