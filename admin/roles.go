package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Role is a named set of permissions usable in an organization. Built-in
// roles exist in every organization and cannot change.
type Role struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Builtin     bool      `json:"builtin"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func roleView(r storage.Role) Role {
	perms := r.Permissions
	if perms == nil {
		perms = []string{}
	}
	return Role{ID: r.ID, Name: r.Name, Description: r.Description, Permissions: perms, Builtin: r.Builtin(),
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type createRoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

// updateRoleRequest: the name stays, since memberships and tokens
// (org_role) carry it.
type updateRoleRequest struct {
	Description *string  `json:"description,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// Limits on custom roles: permissions travel in every token of the role's
// members (org_permissions), so they stay few and short.
const (
	maxRoleName    = 63
	maxPermissions = 100
	maxPermission  = 128
)

func (a *API) listRoles(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	roles, err := a.store.ListRoles(c.Request.Context(), o.ID)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization")
		return
	}
	if err != nil {
		a.fail(c, "list roles", err)
		return
	}
	total := len(roles)
	out := List[Role]{Items: make([]Role, 0, total), Total: &total}
	for _, r := range roles {
		out.Items = append(out.Items, roleView(r))
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) createRole(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req createRoleRequest
	if !ok || !decode(c, &req) {
		return
	}
	if err := ValidateRole(req.Name, req.Description, req.Permissions); err != nil {
		a.fail(c, "create role", err)
		return
	}
	now := a.now()
	var r storage.Role
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		r, err = a.store.CreateRole(ctx, storage.Role{
			ID: storage.NewID(storage.PrefixRole), OrgID: o.ID, Name: req.Name, Description: req.Description,
			Permissions: req.Permissions, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return err
		}
		return a.record(ctx, a.roleEntry(c, AuditRoleCreated, r), nil, roleFields(r))
	})
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		a.fail(c, "create role", invalid("name", "is already a role of this organization"))
		return
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "organization")
		return
	case err != nil:
		a.fail(c, "create role", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID+"/roles/"+r.Name)
	c.JSON(http.StatusCreated, roleView(r))
}

func (a *API) updateRole(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req updateRoleRequest
	if !ok || !decode(c, &req) {
		return
	}
	name := c.Param("name")
	var r storage.Role
	err := a.inTx(c, func(ctx context.Context) error {
		var before storage.Role
		var err error
		r, err = a.store.UpdateRole(ctx, o.ID, name, func(r storage.Role) (storage.Role, error) {
			before = r
			if req.Description != nil {
				r.Description = *req.Description
			}
			if req.Permissions != nil {
				r.Permissions = req.Permissions
			}
			r.UpdatedAt = a.now()
			return r, ValidateRole(r.Name, r.Description, r.Permissions)
		})
		if err != nil {
			return err
		}
		return a.record(ctx, a.roleEntry(c, AuditRoleUpdated, r), roleFields(before), roleFields(r))
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "role")
	case errors.Is(err, storage.ErrConflict):
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "Built-in roles cannot change."})
	case err != nil:
		a.fail(c, "update role", err)
	default:
		c.JSON(http.StatusOK, roleView(r))
	}
}

func (a *API) deleteRole(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		r, err := a.store.GetRole(ctx, o.ID, c.Param("name"))
		if err != nil {
			return err
		}
		if err := a.store.DeleteRole(ctx, o.ID, r.Name); err != nil {
			return err
		}
		return a.record(ctx, a.roleEntry(c, AuditRoleDeleted, r), roleFields(r), nil)
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "role")
	case errors.Is(err, storage.ErrConflict):
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict,
			Detail: "Built-in roles, and roles members still hold, cannot be deleted."})
	case err != nil:
		a.fail(c, "delete role", err)
	default:
		c.Status(http.StatusNoContent)
	}
}

// roleEntry starts the audit entry of a change to role r.
func (a *API) roleEntry(c *gin.Context, typ string, r storage.Role) storage.AuditEntry {
	e := a.entry(c, typ, TargetRole, r.ID)
	e.OrgID = r.OrgID
	return e
}

// ValidateRole checks a custom role (the API and the CLI): a name like a slug (it appears in
// tokens as org_role), and permission strings such as org:billing:read.
func ValidateRole(name, description string, permissions []string) error {
	if err := validateToken("name", name, maxRoleName); err != nil {
		return err
	}
	if err := validateName("description", description, false); err != nil {
		return err
	}
	if len(permissions) > maxPermissions {
		return invalid("permissions", "holds more than 100 permissions")
	}
	for _, p := range permissions {
		if err := validateToken("permissions", p, maxPermission); err != nil {
			return err
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(permissions)))) != len(permissions) {
		return invalid("permissions", "lists a permission twice")
	}
	return nil
}

// validateToken checks a machine-readable name: 1 to max characters of
// lowercase letters, digits and : _ . -
func validateToken(field, s string, max int) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > max {
		return invalid(field, "is too long")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == ':' || r == '_' || r == '.' || r == '-') {
			return invalid(field, "may contain only lowercase letters, digits and : _ . -")
		}
	}
	return nil
}
