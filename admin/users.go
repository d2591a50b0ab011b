package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// User is a person as the API shows them; the password hash never leaves.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"email_verified"`
	Admin         bool      `json:"admin"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func userView(u storage.User) User {
	return User{ID: u.ID, Email: u.Email, Name: u.Name, EmailVerified: u.EmailVerified, Admin: u.Admin,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type createUserRequest struct {
	Email         string `json:"email"`
	Name          string `json:"name,omitempty"`
	Password      string `json:"password,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Admin         bool   `json:"admin,omitempty"`
}

// updateUserRequest: an absent (or null) field keeps its value. Email and
// password are not here: changing them proves control of the account,
// which the person does themselves.
type updateUserRequest struct {
	Name          *string `json:"name,omitempty"`
	EmailVerified *bool   `json:"email_verified,omitempty"`
	Admin         *bool   `json:"admin,omitempty"`
}

const maxSearchLen = 200

func (a *API) listUsers(c *gin.Context) {
	k := callerOf(c)
	p, err := a.page(c)
	if err != nil {
		a.fail(c, "list users", err)
		return
	}
	q := storage.UserQuery{Page: p, Search: c.Query("q"), OrgID: c.Query("organization"), Role: c.Query("role")}
	if utf8.RuneCountInString(q.Search) > maxSearchLen {
		a.fail(c, "list users", invalid("q", "is longer than 200 characters"))
		return
	}
	if !k.instance {
		switch {
		case q.OrgID == "" && len(k.orgs) == 1:
			q.OrgID = k.orgs[0]
		case q.OrgID == "":
			a.fail(c, "list users", invalid("organization", "is required: you administer several organizations"))
			return
		case !k.seesOrg(q.OrgID):
			notFound(c, "organization")
			return
		}
	}
	users, total, err := a.store.SearchUsers(c.Request.Context(), q)
	if err != nil {
		a.fail(c, "list users", err)
		return
	}
	out := List[User]{Items: make([]User, 0, len(users)), Total: &total}
	for _, u := range users {
		out.Items = append(out.Items, userView(u))
	}
	if len(users) > 0 {
		out.NextCursor = a.next(p, len(users), users[len(users)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) getUser(c *gin.Context) {
	if u, ok := a.visibleUser(c, callerOf(c), c.Param("id")); ok {
		c.JSON(http.StatusOK, userView(u))
	}
}

func (a *API) createUser(c *gin.Context) {
	var req createUserRequest
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	u, err := a.dir.PrepareUser(NewUser(req))
	if err != nil {
		a.fail(c, "create user", err)
		return
	}
	err = a.inTx(c, func(ctx context.Context) error {
		var err error
		if u, err = a.dir.StoreUser(ctx, u); err != nil {
			return err
		}
		e := a.entry(c, AuditUserCreated, TargetUser, u.ID)
		e.UserID = u.ID
		return a.record(ctx, e, nil, userFields(u))
	})
	if err != nil {
		a.fail(c, "create user", err)
		return
	}
	c.Header("Location", Prefix+"/users/"+u.ID)
	c.JSON(http.StatusCreated, userView(u))
}

func (a *API) updateUser(c *gin.Context) {
	k := callerOf(c)
	u, ok := a.visibleUser(c, k, c.Param("id"))
	var req updateUserRequest
	// A person's record is theirs across every organization they belong
	// to: an organization admin may read it, never change it — no name
	// seen by another tenant, no instance admin minted, no email vouched
	// for (AD-03).
	if !ok || !instanceOnly(c, k) || !decode(c, &req) {
		return
	}
	if req.Name != nil {
		if err := validateName("name", *req.Name, false); err != nil {
			a.fail(c, "update user", err)
			return
		}
	}
	err := a.inTx(c, func(ctx context.Context) error {
		var before storage.User
		var err error
		u, err = a.store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
			before = u
			if req.Name != nil {
				u.Name = strings.TrimSpace(*req.Name)
			}
			if req.Admin != nil {
				u.Admin = *req.Admin
			}
			if req.EmailVerified != nil {
				u.EmailVerified = *req.EmailVerified
			}
			u.UpdatedAt = a.now()
			return u, nil
		})
		if err != nil {
			return err
		}
		e := a.entry(c, AuditUserUpdated, TargetUser, u.ID)
		e.UserID = u.ID
		return a.record(ctx, e, userFields(before), userFields(u))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "user")
		return
	}
	if err != nil {
		a.fail(c, "update user", err)
		return
	}
	c.JSON(http.StatusOK, userView(u))
}

// deleteUser removes the person and, in the same transaction, revokes
// every grant they hold; the store's cascade ends their browser sessions
// and memberships. A failure, of the audit entry too, leaves the person
// and their tokens as they were.
func (a *API) deleteUser(c *gin.Context) {
	k := callerOf(c)
	u, ok := a.visibleUser(c, k, c.Param("id"))
	if !ok || !instanceOnly(c, k) {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		if _, err := a.store.RevokeUserGrants(ctx, u.ID, a.now().Add(storage.MaxAccessTokenTTL)); err != nil {
			return err
		}
		if err := a.store.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		e := a.entry(c, AuditUserDeleted, TargetUser, u.ID)
		e.UserID = u.ID
		return a.record(ctx, e, userFields(u), nil)
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "user")
		return
	}
	if err != nil {
		a.fail(c, "delete user", err)
		return
	}
	a.log.InfoContext(c.Request.Context(), "admin: user deleted", "user_id", u.ID, "by", k.token.Subject)
	c.Status(http.StatusNoContent)
}

// visibleUser loads the user named in the path if the caller may see them
// — an organization admin sees the members of their organizations only —
// and answers 404 otherwise, the same as for an ID that does not exist.
func (a *API) visibleUser(c *gin.Context, k caller, id string) (storage.User, bool) {
	ctx := c.Request.Context()
	u, err := a.store.GetUser(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "user")
		return u, false
	}
	if err != nil {
		a.fail(c, "get user", err)
		return u, false
	}
	if k.instance {
		return u, true
	}
	for _, org := range k.orgs {
		_, err := a.store.GetMembership(ctx, org, u.ID)
		if err == nil {
			return u, true
		}
		if !errors.Is(err, storage.ErrNotFound) {
			a.fail(c, "get membership", err)
			return u, false
		}
	}
	notFound(c, "user")
	return u, false
}

// validateName checks a display name as idp does: printable text of at
// most 200 characters, required or not.
func validateName(field, name string, required bool) error {
	switch {
	case strings.TrimSpace(name) == "" && required:
		return invalid(field, "is required")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200:
		return invalid(field, "must be valid text of at most 200 characters")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return invalid(field, "must not contain control characters")
	}
	return nil
}
