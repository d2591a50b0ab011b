package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// Keys manages the token-signing keys as `foyer keys` does (the
// authz/keys.Manager, through cmd).
type Keys interface {
	// List returns every stored key, ordered by creation.
	List(ctx context.Context) ([]storage.SigningKey, error)
	// Rotate activates the next key now; ErrRotateTooSoon (wrapped) while
	// the next key is younger than the pre-publication window, unless force.
	Rotate(ctx context.Context, force bool) error
	// Revoke withdraws the key kid at once; storage.ErrNotFound when there
	// is none.
	Revoke(ctx context.Context, kid string) error
}

// ErrRotateTooSoon is what Keys.Rotate returns when verifiers may not
// have the next key yet.
var ErrRotateTooSoon = errors.New("the next key has not been published long enough")

// SigningKey is a token-signing key as the API shows it: never its private
// part.
type SigningKey struct {
	KID         string     `json:"kid"`
	Algorithm   string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	RemoveAfter *time.Time `json:"remove_after,omitempty"`
}

type rotateKeysRequest struct {
	Force bool `json:"force,omitempty"`
}

func keyView(k storage.SigningKey) SigningKey {
	return SigningKey{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt,
		ActivatedAt: optionalTime(k.ActivatedAt), RetiredAt: optionalTime(k.RetiredAt), RemoveAfter: optionalTime(k.RemoveAfter)}
}

// keyIn is the kid of the first key in state, or "".
func keyIn(ks []storage.SigningKey, state storage.KeyState) string {
	for _, k := range ks {
		if k.State == state {
			return k.ID
		}
	}
	return ""
}

// keyStates maps each kid to its state, for the audit entry of a
// rotation: the diff shows which key became active and which retired.
func keyStates(ks []storage.SigningKey) map[string]any {
	m := make(map[string]any, len(ks))
	for _, k := range ks {
		m[k.ID] = string(k.State)
	}
	return m
}

// recordedAfter reports an audit entry that could not be recorded after a
// change made outside a store transaction: the change stands (undoing a
// key rotation would be worse), so the failure is logged as an error for
// the operator rather than answered.
func (a *API) recordedAfter(c *gin.Context, op string, err error) {
	if err != nil {
		a.log.ErrorContext(c.Request.Context(), "admin: "+op+": the audit entry was not recorded", "err", err)
	}
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Keys are the instance's: every route is for Foyer admins and machines.

func (a *API) listKeys(c *gin.Context) {
	if instanceOnly(c, callerOf(c)) {
		a.writeKeys(c, "list keys")
	}
}

// writeKeys answers the stored key set.
func (a *API) writeKeys(c *gin.Context, op string) {
	stored, err := a.keys.List(c.Request.Context())
	if err != nil {
		a.fail(c, op, err)
		return
	}
	total := len(stored)
	out := List[SigningKey]{Items: make([]SigningKey, 0, len(stored)), Total: &total}
	for _, k := range stored {
		out.Items = append(out.Items, keyView(k))
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) rotateKeys(c *gin.Context) {
	var req rotateKeysRequest
	if !instanceOnly(c, callerOf(c)) || !decode(c, &req) {
		return
	}
	ctx := c.Request.Context()
	before, err := a.keys.List(ctx)
	if err != nil {
		a.fail(c, "rotate keys", err)
		return
	}
	err = a.keys.Rotate(ctx, req.Force)
	if errors.Is(err, ErrRotateTooSoon) {
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict,
			Detail: "The next key has not been published for the pre-publication window, so verifiers may not have it yet; retry later or send force: true."})
		return
	}
	if err != nil {
		a.fail(c, "rotate keys", err)
		return
	}
	a.log.InfoContext(ctx, "admin: keys rotated", "force", req.Force, "by", callerOf(c).token.Subject)
	// The key manager rotates in transactions of its own (a state machine
	// safe across instances), so the entry follows its success.
	after, err := a.keys.List(ctx)
	if err == nil {
		e := a.entry(c, AuditKeyRotated, TargetKey, keyIn(after, storage.KeyActive))
		err = a.record(ctx, e, keyStates(before), keyStates(after))
	}
	a.recordedAfter(c, "rotate keys", err)
	a.writeKeys(c, "rotate keys")
}

func (a *API) revokeKey(c *gin.Context) {
	if !instanceOnly(c, callerOf(c)) {
		return
	}
	kid := c.Param("kid")
	ctx := c.Request.Context()
	before, err := a.keys.List(ctx)
	if err != nil {
		a.fail(c, "revoke key", err)
		return
	}
	err = a.keys.Revoke(ctx, kid)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "signing key")
		return
	}
	if err != nil {
		a.fail(c, "revoke key", err)
		return
	}
	a.log.WarnContext(ctx, "admin: signing key revoked", "kid", kid, "by", callerOf(c).token.Subject)
	after, err := a.keys.List(ctx)
	if err == nil {
		err = a.record(ctx, a.entry(c, AuditKeyRevoked, TargetKey, kid), keyStates(before), keyStates(after))
	}
	a.recordedAfter(c, "revoke key", err)
	a.writeKeys(c, "revoke key")
}
