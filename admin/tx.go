package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// inTx runs fn in one store transaction (carried by the context fn gets),
// committing when it returns nil and rolling back otherwise, so a failed
// request leaves nothing half-written.
func (a *API) inTx(c *gin.Context, fn func(ctx context.Context) error) error {
	return inTx(c.Request.Context(), a.store, fn)
}

func inTx(ctx context.Context, store storage.Transactions, fn func(ctx context.Context) error) error {
	ctx, err := store.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx); err != nil {
		if rbErr := store.Rollback(ctx); rbErr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	return store.Commit(ctx)
}
