package admin

import (
	"context"

	"github.com/gin-gonic/gin"
)

// inTx runs fn in one store transaction (carried by the context fn gets),
// committing when it returns nil and rolling back otherwise, so a failed
// request leaves nothing half-written.
func (a *API) inTx(c *gin.Context, fn func(ctx context.Context) error) error {
	ctx, err := a.store.BeginTx(c.Request.Context())
	if err != nil {
		return err
	}
	if err := fn(ctx); err != nil {
		if rbErr := a.store.Rollback(ctx); rbErr != nil {
			a.log.WarnContext(ctx, "admin: rollback", "err", rbErr)
		}
		return err
	}
	return a.store.Commit(ctx)
}
