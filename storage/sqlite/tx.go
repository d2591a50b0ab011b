package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/foyerdev/foyer/storage"
)

// txKey is the context key under which BeginTx puts its transaction. It
// holds the Store, so that a transaction of one Store means nothing to
// another.
type txKey struct{ s *Store }

// ctxTx returns the transaction ctx carries for s, or nil.
func (s *Store) ctxTx(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(txKey{s}).(*sql.Tx)
	return tx
}

// q returns what a statement runs on: the transaction ctx carries, or the
// database. Every method runs its statements on it, so that a method called
// inside a transaction sees that transaction's writes and never waits on
// another connection for the write lock the transaction holds.
func (s *Store) q(ctx context.Context) querier {
	if tx := s.ctxTx(ctx); tx != nil {
		return tx
	}
	return s.db
}

// BeginTx starts a transaction and returns a context carrying it: every
// method called with that context runs in it until Commit or Rollback.
// BEGIN IMMEDIATE (see dsn) takes the write lock at once and keeps it to the
// end, so writers on other connections wait meanwhile: keep it short. On
// error it returns ctx unchanged.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	if s.ctxTx(ctx) != nil {
		return ctx, errors.New("begin transaction: the context already carries one")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ctx, fmt.Errorf("begin transaction: %w", dbError(err, storage.ErrConflict))
	}
	return context.WithValue(ctx, txKey{s}, tx), nil
}

// Commit commits the transaction ctx carries.
func (s *Store) Commit(ctx context.Context) error {
	tx := s.ctxTx(ctx)
	if tx == nil {
		return errors.New("commit: no transaction in the context")
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", dbError(err, storage.ErrConflict))
	}
	return nil
}

// Rollback discards the transaction ctx carries.
func (s *Store) Rollback(ctx context.Context) error {
	tx := s.ctxTx(ctx)
	if tx == nil {
		return errors.New("rollback: no transaction in the context")
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("rollback: %w", dbError(err, storage.ErrConflict))
	}
	return nil
}

// savepoint runs fn inside the caller's transaction tx, in a savepoint that
// undoes all of fn's writes when it fails. SQLite undoes only the failing
// statement, so without it a method that fails halfway would leave its first
// writes for the caller's Commit. Nothing is retried: the caller owns the
// transaction.
func savepoint(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT foyer`); err != nil {
		return dbError(err, storage.ErrConflict)
	}
	if err := fn(tx); err != nil {
		// Undo even when ctx has ended. ROLLBACK TO keeps the savepoint;
		// RELEASE ends it.
		undo := context.WithoutCancel(ctx)
		if _, rbErr := tx.ExecContext(undo, `ROLLBACK TO foyer`); rbErr != nil {
			return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rbErr))
		}
		tx.ExecContext(undo, `RELEASE foyer`)
		return err
	}
	_, err := tx.ExecContext(ctx, `RELEASE foyer`)
	return dbError(err, storage.ErrConflict)
}
