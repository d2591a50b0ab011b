package admin

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Scope is what every token needs to reach the API: a token a person got
// for some other application must not administer Foyer with their rights.
const Scope = "foyer:admin"

// caller is who makes a request and how far their authority reaches.
type caller struct {
	token AccessToken
	// instance: a machine token or a Foyer admin; sees everything.
	instance bool
	// orgs are the organizations an organization admin manages.
	orgs []string
}

// seesOrg reports whether the organization exists for the caller. Every
// handler asks this before it reads or changes anything of an
// organization; a false answer is a 404 (AD-02).
func (k caller) seesOrg(orgID string) bool {
	return k.instance || slices.Contains(k.orgs, orgID)
}

const callerKey = "foyer.admin.caller"

func callerOf(c *gin.Context) caller { return c.MustGet(callerKey).(caller) }

// authenticate admits a bearer of a live access token with the foyer:admin
// scope who is a machine, a Foyer admin or an organization admin: 401 with
// WWW-Authenticate for a missing or bad token (RFC 6750 §3), 403 for a
// valid one without the rights.
func (a *API) authenticate(c *gin.Context) {
	ctx := c.Request.Context()
	raw, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="foyer"`)
		abort(c, http.StatusUnauthorized, "An access token is required (Authorization: Bearer).")
		return
	}
	tok, err := a.tokens.VerifyAccessToken(ctx, raw)
	if errors.Is(err, ErrInvalidToken) {
		unauthorized(c)
		return
	}
	if err != nil {
		a.fail(c, "verify access token", err)
		return
	}
	if !slices.Contains(tok.Scopes, Scope) {
		c.Header("WWW-Authenticate", `Bearer realm="foyer", error="insufficient_scope", scope="`+Scope+`"`)
		abort(c, http.StatusForbidden, "The access token lacks the scope "+Scope+".")
		return
	}
	k, err := a.authority(c, tok)
	if errors.Is(err, storage.ErrNotFound) {
		// The person was deleted: their tokens are worthless.
		unauthorized(c)
		return
	}
	if err != nil {
		a.fail(c, "authorize caller", err)
		return
	}
	if !k.instance && len(k.orgs) == 0 {
		abort(c, http.StatusForbidden, "Only Foyer admins and organization admins may use the admin API.")
		return
	}
	c.Set(callerKey, k)
	c.Next()
}

// authority works out how far tok reaches. It reads the person's record
// and memberships on every request, so a demoted admin loses access at
// once, not when the token expires.
func (a *API) authority(c *gin.Context, tok AccessToken) (caller, error) {
	k := caller{token: tok}
	if tok.UserID == "" {
		// A client that was granted foyer:admin (client credentials).
		k.instance = true
		return k, nil
	}
	ctx := c.Request.Context()
	u, err := a.store.GetUser(ctx, tok.UserID)
	if err != nil {
		return k, err
	}
	if u.Admin {
		k.instance = true
		return k, nil
	}
	ms, err := a.store.ListMembershipsByUser(ctx, u.ID)
	if err != nil {
		return k, err
	}
	for _, m := range ms {
		// A token issued for one organization acts for that one only: no
		// union of rights across organizations (MT-03).
		if m.Role == storage.RoleAdmin && (tok.OrgID == "" || tok.OrgID == m.OrgID) {
			k.orgs = append(k.orgs, m.OrgID)
		}
	}
	return k, nil
}

func unauthorized(c *gin.Context) {
	c.Header("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token", error_description="The access token is not valid."`)
	abort(c, http.StatusUnauthorized, "The access token is not valid.")
}

// bearer reads an RFC 6750 §2.1 Authorization header; the scheme is
// case-insensitive.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// instanceOnly reports whether the caller administers the whole instance,
// and answers 403 when not.
func instanceOnly(c *gin.Context, k caller) bool {
	if k.instance {
		return true
	}
	abort(c, http.StatusForbidden, "Only a Foyer admin may do this.")
	return false
}
