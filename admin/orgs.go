package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Organization is a tenant as the API and the CLI show it.
type Organization struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	// LogoURL is the https URL of the logo on sign-in pages, "" for none.
	LogoURL string `json:"logo_url"`
	// BrandColor is #rrggbb in lowercase, "" for Foyer's colour.
	BrandColor string `json:"brand_color"`
	// RequireMFA: members must have a second factor to sign in.
	RequireMFA bool      `json:"require_mfa"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// OrgView is o as the API and the CLI show it.
func OrgView(o storage.Organization) Organization {
	return Organization{
		ID: o.ID, Slug: o.Slug, Name: o.Name, LogoURL: o.LogoURL, BrandColor: o.BrandColor, RequireMFA: o.RequireMFA,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

type createOrganizationRequest struct {
	Slug       string `json:"slug"`
	Name       string `json:"name"`
	LogoURL    string `json:"logo_url,omitempty"`
	BrandColor string `json:"brand_color,omitempty"`
	RequireMFA bool   `json:"require_mfa,omitempty"`
}

// updateOrganizationRequest: an absent (or null) field keeps its value; ""
// removes the logo or restores Foyer's colour. The slug stays, since
// clients pass it as the organization authorization parameter.
type updateOrganizationRequest struct {
	Name       *string `json:"name,omitempty"`
	LogoURL    *string `json:"logo_url,omitempty"`
	BrandColor *string `json:"brand_color,omitempty"`
	RequireMFA *bool   `json:"require_mfa,omitempty"`
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
				out.Items = append(out.Items, OrgView(o))
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
		out.Items = append(out.Items, OrgView(o))
	}
	if len(orgs) > 0 {
		out.NextCursor = a.next(p, len(orgs), orgs[len(orgs)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) getOrganization(c *gin.Context) {
	if o, ok := a.visibleOrg(c, callerOf(c), c.Param("id")); ok {
		c.JSON(http.StatusOK, OrgView(o))
	}
}

func (a *API) createOrganization(c *gin.Context) {
	var req createOrganizationRequest
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	var o storage.Organization
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		if o, err = a.dir.CreateOrganization(ctx, NewOrganization(req)); err != nil {
			return err
		}
		e := a.entry(c, AuditOrganizationCreated, TargetOrganization, o.ID)
		e.OrgID = o.ID
		return a.record(ctx, e, nil, orgFields(o))
	})
	if err != nil {
		a.fail(c, "create organization", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID)
	c.JSON(http.StatusCreated, OrgView(o))
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
	if err := a.dir.CheckBranding(deref(req.LogoURL), deref(req.BrandColor)); err != nil {
		a.fail(c, "update organization", err)
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		var before storage.Organization
		var err error
		o, err = a.store.UpdateOrganization(ctx, o.ID, func(o storage.Organization) (storage.Organization, error) {
			before = o
			if req.Name != nil {
				o.Name = strings.TrimSpace(*req.Name)
			}
			if req.LogoURL != nil {
				o.LogoURL = *req.LogoURL
			}
			if req.BrandColor != nil {
				o.BrandColor = strings.ToLower(*req.BrandColor) // stored lowercase, as on create
			}
			if req.RequireMFA != nil {
				o.RequireMFA = *req.RequireMFA
			}
			o.UpdatedAt = a.now()
			return o, nil
		})
		if err != nil {
			return err
		}
		e := a.entry(c, AuditOrganizationUpdated, TargetOrganization, o.ID)
		e.OrgID = o.ID
		return a.record(ctx, e, orgFields(before), orgFields(o))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization")
		return
	}
	if err != nil {
		a.fail(c, "update organization", err)
		return
	}
	c.JSON(http.StatusOK, OrgView(o))
}

func (a *API) deleteOrganization(c *gin.Context) {
	k := callerOf(c)
	o, ok := a.visibleOrg(c, k, c.Param("id"))
	if !ok || !instanceOnly(c, k) {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		if err := a.store.DeleteOrganization(ctx, o.ID); err != nil {
			return err
		}
		// The entry keeps the organization's ID: Foyer admins find it by
		// organization= after the organization is gone.
		e := a.entry(c, AuditOrganizationDeleted, TargetOrganization, o.ID)
		e.OrgID = o.ID
		return a.record(ctx, e, orgFields(o), nil)
	})
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

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
