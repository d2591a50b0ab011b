package postgres

import (
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
	"github.com/google/go-cmp/cmp"
)

// addActiveUnlessOne is the bootstrap closure: it adds k unless the set
// already has an active key.
func addActiveUnlessOne(k storage.SigningKey) func([]storage.SigningKey) ([]storage.SigningKey, error) {
	return func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		if slices.ContainsFunc(keys, func(have storage.SigningKey) bool { return have.State == storage.KeyActive }) {
			return keys, nil
		}
		return append(keys, k), nil
	}
}

func activeKey(id string) storage.SigningKey {
	return storage.SigningKey{ID: id, Algorithm: "ES256", State: storage.KeyActive,
		PublicJWK: []byte(`{"kty":"EC"}`), SealedKey: randomBytes(32), CreatedAt: time.Now(), ActivatedAt: time.Now()}
}

// UpdateSigningKeys waits for another process's update of the same schema
// and then sees what it committed: the lock row serializes them, and the
// unique index alone would have made the second one fail. A store in another
// schema of the same database does not wait at all.
func TestSigningKeyLock(t *testing.T) {
	ctx := t.Context()
	app := "foyer-keys-" + hex.EncodeToString(randomBytes(6))
	connString := pgtest.Schema(t)
	waiter := openMigrated(t, pgtest.WithParam(connString, "application_name", app))
	holder := openMigrated(t, connString)
	other := openFresh(t)

	tx, err := holder.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM signing_keys_lock WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	held := activeKey("held")
	if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)`,
		held.ID, held.Algorithm, held.State, held.PublicJWK, held.SealedKey, timestamp(held.CreatedAt), timestamp(held.ActivatedAt)); err != nil {
		t.Fatal(err)
	}

	// Another schema: no waiting for the lock held above.
	if _, err := other.UpdateSigningKeys(ctx, addActiveUnlessOne(activeKey("other"))); err != nil {
		t.Fatalf("UpdateSigningKeys in another schema: %v", err)
	}

	type result struct {
		keys []storage.SigningKey
		err  error
	}
	done := make(chan result, 1)
	go func() {
		keys, err := waiter.UpdateSigningKeys(ctx, addActiveUnlessOne(activeKey("waiter")))
		done <- result{keys, err}
	}()
	// Commit only once the update is blocked on a lock, so that it cannot
	// have read the keys before.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		err := holder.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("UpdateSigningKeys not waiting for the lock after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	var got result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("UpdateSigningKeys still waiting 30s after the lock was released")
	}
	if got.err != nil {
		t.Fatalf("UpdateSigningKeys after waiting: %v", got.err)
	}
	ids := func(keys []storage.SigningKey) []string {
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{"held"}, ids(got.keys)); diff != "" {
		t.Errorf("keys after waiting (-want +got):\n%s", diff)
	}
	otherKeys, err := other.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"other"}, ids(otherKeys)); diff != "" {
		t.Errorf("keys in the other schema (-want +got):\n%s", diff)
	}
}

// A lock row deleted by hand would leave nothing to lock: UpdateSigningKeys
// refuses to run unserialized.
func TestSigningKeyLockRowMissing(t *testing.T) {
	s := openFresh(t)
	if _, err := s.pool.Exec(t.Context(), `DELETE FROM signing_keys_lock`); err != nil {
		t.Fatal(err)
	}
	called := false
	_, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		called = true
		return keys, nil
	})
	if err == nil || called {
		t.Errorf("UpdateSigningKeys without the lock row = %v (closure called: %t), want an error before the closure", err, called)
	}
}
