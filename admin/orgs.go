package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Organization is a tenant as the API shows it.
type Organization struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func orgView(o storage.Organization) Organization {
	return Organization{ID: o.ID, Slug: o.Slug, Name: o.Name, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

type createOrganizationRequest struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// updateOrganizationRequest: the slug stays, since clients pass it as the
// organization authorization parameter.
type updateOrganizationRequest struct {
	Name *string `json:"name,omitempty"`
}

// listOrganizations: a Foyer admin pages through every organization; an
// organization admin gets the few they manage.
func (a *API) listOrganizations(c *gin.Context) {
	k := callerOf(c)
	p, err := a.page(c)
	if err != nil {
		a.fail(c, "list organizations", err)
		return
	}
	out := List[Organization]{Items: []Organization{}}
	if !k.instance {
		for _, id := range k.orgs {
			o, err := a.store.GetOrganization(c.Request.Context(), id)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				a.fail(c, "list organizations", err)
				return
			}
			if err == nil {
				out.Items = append(out.Items, orgView(o))
			}
		}
		total := len(out.Items)
		out.Total = &total
		c.JSON(http.StatusOK, out)
		return
	}
	orgs, err := a.store.ListOrganizations(c.Request.Context(), p)
	if err != nil {
		a.fail(c, "list organizations", err)
		return
	}
	for _, o := range orgs {
		out.Items = append(out.Items, orgView(o))
	}
	if len(orgs) > 0 {
		out.NextCursor = a.next(p, len(orgs), orgs[len(orgs)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) getOrganization(c *gin.Context) {
	if o, ok := a.visibleOrg(c, callerOf(c), c.Param("id")); ok {
		c.JSON(http.StatusOK, orgView(o))
	}
}

func (a *API) createOrganization(c *gin.Context) {
	var req createOrganizationRequest
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	o, err := a.dir.CreateOrganization(c.Request.Context(), req.Slug, req.Name)
	if err != nil {
		a.fail(c, "create organization", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID)
	c.JSON(http.StatusCreated, orgView(o))
}

func (a *API) updateOrganization(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req updateOrganizationRequest
	if !ok || !decode(c, &req) {
		return
	}
	if req.Name != nil {
		if err := validateName("name", *req.Name, true); err != nil {
			a.fail(c, "update organization", err)
			return
		}
	}
	o, err := a.store.UpdateOrganization(c.Request.Context(), o.ID, func(o storage.Organization) (storage.Organization, error) {
		if req.Name != nil {
			o.Name = strings.TrimSpace(*req.Name)
		}
		o.UpdatedAt = a.now()
		return o, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization")
		return
	}
	if err != nil {
		a.fail(c, "update organization", err)
		return
	}
	c.JSON(http.StatusOK, orgView(o))
}

func (a *API) deleteOrganization(c *gin.Context) {
	k := callerOf(c)
	o, ok := a.visibleOrg(c, k, c.Param("id"))
	if !ok || !instanceOnly(c, k) {
		return
	}
	err := a.store.DeleteOrganization(c.Request.Context(), o.ID)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization")
		return
	}
	if err != nil {
		a.fail(c, "delete organization", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: organization deleted", "org_id", o.ID, "by", k.token.Subject)
	c.Status(http.StatusNoContent)
}

// visibleOrg loads the organization named in the path if the caller may
// see it, and answers 404 otherwise — before touching the database, so
// the answer for another tenant's ID cannot differ from a missing one's.
func (a *API) visibleOrg(c *gin.Context, k caller, id string) (storage.Organization, bool) {
	if !k.seesOrg(id) {
		notFound(c, "organization")
		return storage.Organization{}, false
	}
	o, err := a.store.GetOrganization(c.Request.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization")
		return o, false
	}
	if err != nil {
		a.fail(c, "get organization", err)
		return o, false
	}
	return o, true
}
