package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/foyerdev/foyer/storage"
)

const keyColumns = `id, algorithm, state, public_jwk, sealed_key, created_at, activated_at, retired_at, remove_after`

func scanKey(row scanner) (storage.SigningKey, error) {
	var k storage.SigningKey
	err := row.Scan(&k.ID, &k.Algorithm, &k.State, &k.PublicJWK, &k.SealedKey, timeColumn{&k.CreatedAt},
		nullTimeColumn{&k.ActivatedAt}, nullTimeColumn{&k.RetiredAt}, nullTimeColumn{&k.RemoveAfter})
	return k, err
}

// ListSigningKeys returns every key, ordered by CreatedAt then ID.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	keys, err := listSigningKeys(ctx, s.q(ctx))
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return keys, nil
}

func listSigningKeys(ctx context.Context, q querier) ([]storage.SigningKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, dbError(err, storage.ErrNotFound)
	}
	return collect(rows, scanKey)
}

// UpdateSigningKeys applies update to the whole key set under the write lock,
// which BEGIN IMMEDIATE takes against every process using the file, and
// stores the difference. It returns the set as stored.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := listSigningKeys(ctx, tx)
		if err != nil {
			return err
		}
		keys, err := update(cloneKeys(old))
		if err != nil {
			return err
		}
		if err := writeSigningKeys(ctx, tx, old, keys); err != nil {
			return err
		}
		out, err = listSigningKeys(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update signing keys: %w", err)
	}
	return out, nil
}

// writeSigningKeys turns old, the set read in this transaction, into keys:
// it deletes the keys keys lacks, inserts those old lacks and updates those
// that changed, keeping their stored CreatedAt.
func writeSigningKeys(ctx context.Context, tx *sql.Tx, old, keys []storage.SigningKey) error {
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE id = ?`, k.ID); err != nil {
			return fmt.Errorf("delete key %s: %w", k.ID, dbError(err, storage.ErrConflict))
		}
	}
	// The unique index is checked row by row, so a rotation (next to active,
	// active to retired) would trip over it if it wrote the new active key
	// first. Keys that leave next or active are retired first: the index
	// then sees only the states keys ends with.
	for _, k := range keys {
		if o, ok := stored[k.ID]; ok && o.State != k.State && o.State != storage.KeyRetired {
			_, err := tx.ExecContext(ctx, `UPDATE signing_keys SET state = ? WHERE id = ?`, storage.KeyRetired, k.ID)
			if err != nil {
				return fmt.Errorf("update key %s: %w", k.ID, keyWriteError(err))
			}
		}
	}
	for _, k := range keys {
		o, ok := stored[k.ID]
		if ok {
			k.CreatedAt = o.CreatedAt
		}
		k.CreatedAt, k.ActivatedAt, k.RetiredAt, k.RemoveAfter = utc(k.CreatedAt), utc(k.ActivatedAt), utc(k.RetiredAt), utc(k.RemoveAfter)
		var err error
		switch {
		case !ok:
			_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				k.ID, k.Algorithm, k.State, k.PublicJWK, k.SealedKey, formatTime(k.CreatedAt),
				nullTime(k.ActivatedAt), nullTime(k.RetiredAt), nullTime(k.RemoveAfter))
		case !sameKey(o, k):
			_, err = tx.ExecContext(ctx, `
				UPDATE signing_keys SET algorithm = ?, state = ?, public_jwk = ?, sealed_key = ?,
					activated_at = ?, retired_at = ?, remove_after = ?
				WHERE id = ?`,
				k.Algorithm, k.State, k.PublicJWK, k.SealedKey,
				nullTime(k.ActivatedAt), nullTime(k.RetiredAt), nullTime(k.RemoveAfter), k.ID)
		}
		if err != nil {
			return fmt.Errorf("write key %s: %w", k.ID, keyWriteError(err))
		}
	}
	return nil
}

// keyWriteError maps an error writing signing_keys. checkSigningKeys made
// the IDs unique, so a unique violation can only be the index that allows
// one next and one active key.
func keyWriteError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return fmt.Errorf("%w: two next or two active keys (%v)", storage.ErrConflict, err)
	}
	return dbError(err, storage.ErrNotFound)
}

// checkSigningKeys refuses a key set that cannot be stored as a set: a key
// without an ID or in an unknown state, or two keys with one ID. Two next or
// two active keys are left to the unique index.
func checkSigningKeys(keys []storage.SigningKey) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		switch {
		case k.ID == "":
			return fmt.Errorf("a key has no ID: %w", storage.ErrInvalid)
		case k.State != storage.KeyNext && k.State != storage.KeyActive && k.State != storage.KeyRetired:
			return fmt.Errorf("key %s: unknown state %q: %w", k.ID, k.State, storage.ErrInvalid)
		case seen[k.ID]:
			return fmt.Errorf("key %s appears twice: %w", k.ID, storage.ErrInvalid)
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
