package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const keyColumns = `id, algorithm, state, public_jwk, sealed_key, created_at, activated_at, retired_at, remove_after`

func scanKey(row pgx.Row) (storage.SigningKey, error) {
	var k storage.SigningKey
	var activated, retired, removeAfter *time.Time
	if err := row.Scan(&k.ID, &k.Algorithm, &k.State, &k.PublicJWK, &k.SealedKey, &k.CreatedAt,
		&activated, &retired, &removeAfter); err != nil {
		return storage.SigningKey{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ActivatedAt, k.RetiredAt, k.RemoveAfter = orZero(activated), orZero(retired), orZero(removeAfter)
	return k, nil
}

// ListSigningKeys returns every key, ordered by CreatedAt then ID.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	keys, err := listSigningKeys(ctx, s.q(ctx))
	return keys, mapError("list signing keys", err)
}

func listSigningKeys(ctx context.Context, q querier) ([]storage.SigningKey, error) {
	rows, _ := q.Query(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SigningKey, error) { return scanKey(r) })
}

// UpdateSigningKeys locks the one row of signing_keys_lock, so that updates
// from every process sharing the schema take turns, applies update to the
// whole key set and stores the difference. It returns the set as stored.
// update may run more than once.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT id FROM signing_keys_lock WHERE id = 1 FOR UPDATE`).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			// Without the row nothing would be locked; refuse rather than race.
			return errors.New("signing_keys_lock has lost its row")
		}
		if err != nil {
			return err
		}
		// READ COMMITTED: this read, after the lock, sees what the previous
		// holder committed.
		old, err := listSigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		keys, err := update(cloneKeys(old))
		if err != nil {
			return callbackError{err}
		}
		if err := writeSigningKeys(ctx, tx, old, keys); err != nil {
			return err
		}
		out, err = listSigningKeys(ctx, tx)
		return err
	})
	if err != nil {
		return nil, mapError("update signing keys", err)
	}
	return out, nil
}

// writeSigningKeys turns old, the set read in this transaction, into keys:
// it deletes the keys keys lacks, inserts those old lacks and updates those
// that changed, keeping their stored CreatedAt.
func writeSigningKeys(ctx context.Context, tx pgx.Tx, old, keys []storage.SigningKey) error {
	if err := checkSigningKeys(keys); err != nil {
		return err
	}
	kept := make(map[string]bool, len(keys))
	for _, k := range keys {
		kept[k.ID] = true
	}
	stored := make(map[string]storage.SigningKey, len(old))
	for _, k := range old {
		if kept[k.ID] {
			stored[k.ID] = k
			continue
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, k.ID); err != nil {
			return fmt.Errorf("delete key %q: %w", k.ID, err)
		}
	}
	// A unique index is checked row by row, not at the end of the
	// transaction, so a rotation (next to active, active to retired) would
	// trip over it if it wrote the new active key first. Keys that leave next
	// or active are retired first: the index then sees only the states keys
	// ends with.
	for _, k := range keys {
		if o, ok := stored[k.ID]; ok && o.State != k.State && o.State != storage.KeyRetired {
			_, err := tx.Exec(ctx, `UPDATE signing_keys SET state = $2 WHERE id = $1`, k.ID, storage.KeyRetired)
			if err != nil {
				return fmt.Errorf("update key %q: %w", k.ID, keyWriteError(err))
			}
		}
	}
	for _, k := range keys {
		o, ok := stored[k.ID]
		if ok {
			k.CreatedAt = o.CreatedAt
		}
		k.CreatedAt, k.ActivatedAt, k.RetiredAt, k.RemoveAfter = timestamp(k.CreatedAt), timestamp(k.ActivatedAt), timestamp(k.RetiredAt), timestamp(k.RemoveAfter)
		var err error
		switch {
		case !ok:
			_, err = tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				k.ID, k.Algorithm, k.State, k.PublicJWK, k.SealedKey, k.CreatedAt,
				nullTimestamp(k.ActivatedAt), nullTimestamp(k.RetiredAt), nullTimestamp(k.RemoveAfter))
		case !sameKey(o, k):
			_, err = tx.Exec(ctx, `
				UPDATE signing_keys SET algorithm = $2, state = $3, public_jwk = $4, sealed_key = $5,
					activated_at = $6, retired_at = $7, remove_after = $8
				WHERE id = $1`,
				k.ID, k.Algorithm, k.State, k.PublicJWK, k.SealedKey,
				nullTimestamp(k.ActivatedAt), nullTimestamp(k.RetiredAt), nullTimestamp(k.RemoveAfter))
		}
		if err != nil {
			return fmt.Errorf("write key %q: %w", k.ID, keyWriteError(err))
		}
	}
	return nil
}

// keyWriteError maps an error writing signing_keys. checkSigningKeys made
// the IDs unique, so a unique violation can only be the index that allows
// one next and one active key. Other errors are left to mapError.
func keyWriteError(err error) error {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == codeUniqueViolation {
		return fmt.Errorf("%w: two next or two active keys: %w", storage.ErrConflict, err)
	}
	return err
}

// checkSigningKeys refuses a key set that cannot be stored as a set: a key
// without an ID or in an unknown state, or two keys with one ID. Two next or
// two active keys are left to the unique index.
func checkSigningKeys(keys []storage.SigningKey) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		switch {
		case k.ID == "":
			return fmt.Errorf("%w: a key has no ID", storage.ErrInvalid)
		case k.State != storage.KeyNext && k.State != storage.KeyActive && k.State != storage.KeyRetired:
			return fmt.Errorf("%w: key %q has the unknown state %q", storage.ErrInvalid, k.ID, k.State)
		case seen[k.ID]:
			return fmt.Errorf("%w: key %q appears twice", storage.ErrInvalid, k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}

// sameKey reports whether writing b over a would change nothing. Both hold
// times as stored.
func sameKey(a, b storage.SigningKey) bool {
	return a.Algorithm == b.Algorithm && a.State == b.State &&
		bytes.Equal(a.PublicJWK, b.PublicJWK) && bytes.Equal(a.SealedKey, b.SealedKey) &&
		a.ActivatedAt.Equal(b.ActivatedAt) && a.RetiredAt.Equal(b.RetiredAt) && a.RemoveAfter.Equal(b.RemoveAfter)
}

// cloneKeys copies keys down to their bytes, so that an update closure that
// edits its argument in place leaves intact the set it is compared with.
func cloneKeys(keys []storage.SigningKey) []storage.SigningKey {
	out := slices.Clone(keys)
	for i := range out {
		out[i].PublicJWK = bytes.Clone(out[i].PublicJWK)
		out[i].SealedKey = bytes.Clone(out[i].SealedKey)
	}
	return out
}
