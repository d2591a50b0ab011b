package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// txKey is the context key under which BeginTx puts its transaction. It
// holds the Store, so that a transaction of one Store means nothing to
// another.
type txKey struct{ s *Store }

// ctxTx returns the transaction ctx carries for s, or nil.
func (s *Store) ctxTx(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(txKey{s}).(pgx.Tx)
	return tx
}

// q returns what a statement runs on: the transaction ctx carries, or the
// pool. Every method runs its statements on it, so that a method called
// inside a transaction sees that transaction's writes and is undone with it.
func (s *Store) q(ctx context.Context) querier {
	if tx := s.ctxTx(ctx); tx != nil {
		return tx
	}
	return s.pool
}

// BeginTx starts a transaction, at the server's default isolation level
// (READ COMMITTED unless configured otherwise), on one pooled connection,
// and returns a context carrying it: every method called with that context
// runs in it until Commit or Rollback. It is never retried: the caller owns
// it. A statement that fails inside it aborts it (Postgres refuses every
// later statement), except in the methods that write more than one row
// (updates, and the changes that record an event), which run in a
// savepoint; after an error, roll back. On error BeginTx returns ctx unchanged.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if s.ctxTx(ctx) != nil {
		return ctx, errors.New("begin transaction: the context already carries one")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ctx, mapError("begin transaction", err)
	}
	return context.WithValue(ctx, txKey{s}, tx), nil
}

// Commit commits the transaction ctx carries and returns its connection to
// the pool.
func (s *Store) Commit(ctx context.Context) error {
	tx := s.ctxTx(ctx)
	if tx == nil {
		return errors.New("commit: no transaction in the context")
	}
	return mapError("commit", tx.Commit(ctx))
}

// Rollback discards the transaction ctx carries and returns its connection
// to the pool.
func (s *Store) Rollback(ctx context.Context) error {
	tx := s.ctxTx(ctx)
	if tx == nil {
		return errors.New("rollback: no transaction in the context")
	}
	return mapError("rollback", tx.Rollback(ctx))
}
