package storagetest

import (
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func signingKeyTests() []test {
	return []test{
		{"ListEmpty", testListSigningKeysEmpty},
		{"CreateAndList", testCreateSigningKeys},
		{"ListOrder", testListSigningKeysOrder},
		{"Rotate", testRotateSigningKeys},
		{"SwapNextAndActive", testSwapSigningKeys},
		{"DeleteByOmission", testDeleteSigningKey},
		{"TwoNextOrActiveConflict", testSigningKeysConflict},
		{"Invalid", testSigningKeysInvalid},
		{"UpdateAbortedByClosure", testUpdateSigningKeysAborted},
		{"CreatedAtKept", testSigningKeyCreatedAtKept},
		{"ChangedIDIsAnotherKey", testSigningKeyIDChanged},
	}
}

// newSigningKey returns a key in state created at at(m), whose bytes a
// backend that reformats JSON or reads blobs as text would not keep: a JWK
// with unusual spacing and a trailing newline, and a sealed key that is not
// UTF-8.
func newSigningKey(state storage.KeyState, m int) storage.SigningKey {
	id := storage.NewID("kid_")
	sealed := append([]byte{0x00, 0xff, 0xfe, '\n', 0x00}, rand.Text()...)
	return storage.SigningKey{
		ID:        id,
		Algorithm: "ES256",
		State:     state,
		PublicJWK: []byte(`{"kty":"EC",  "crv":"P-256", "kid":"` + id + `",` + "\n\t" +
			`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}` + "\n"),
		SealedKey: sealed,
		CreatedAt: at(m),
	}
}

// storedKey is k as the store returns it; zero times stay zero.
func storedKey(k storage.SigningKey) storage.SigningKey {
	k.CreatedAt, k.ActivatedAt, k.RetiredAt, k.RemoveAfter = stored(k.CreatedAt), stored(k.ActivatedAt), stored(k.RetiredAt), stored(k.RemoveAfter)
	return k
}

func storedKeys(keys ...storage.SigningKey) []storage.SigningKey {
	var out []storage.SigningKey
	for _, k := range keys {
		out = append(out, storedKey(k))
	}
	return out
}

// setKeys replaces the whole key set with keys and returns it as stored.
func setKeys(t *testing.T, s storage.Store, keys ...storage.SigningKey) []storage.SigningKey {
	t.Helper()
	got, err := s.UpdateSigningKeys(t.Context(), func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return keys, nil
	})
	if err != nil {
		t.Fatalf("UpdateSigningKeys(set %d keys) error = %v", len(keys), err)
	}
	return got
}

// checkKeys compares the set an UpdateSigningKeys call returned, and then
// the one ListSigningKeys returns, with want.
func checkKeys(t *testing.T, s storage.Store, call string, got []storage.SigningKey, err error, want []storage.SigningKey) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s error = %v", call, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, d)
	}
	checkListedKeys(t, s, "ListSigningKeys() after "+call, want)
}

// checkListedKeys compares what ListSigningKeys returns with want.
func checkListedKeys(t *testing.T, s storage.Store, call string, want []storage.SigningKey) {
	t.Helper()
	got, err := s.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatalf("%s error = %v", call, err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, d)
	}
}

func testListSigningKeysEmpty(t *testing.T, s storage.Store) {
	checkListedKeys(t, s, "ListSigningKeys() on an empty store", nil)

	called := false
	var seen []storage.SigningKey
	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		called, seen = true, keys
		return keys, nil
	})
	if !called || len(seen) != 0 {
		t.Errorf("UpdateSigningKeys(no change) on an empty store: closure called %t with %d keys, want called with none", called, len(seen))
	}
	checkKeys(t, s, "UpdateSigningKeys(no change)", got, err, nil)
}

// testCreateSigningKeys adds an active and a next key in one update and
// reads them back as given: the bytes exact, the times in UTC truncated to
// microseconds, and the times not yet reached still zero.
func testCreateSigningKeys(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	active.ActivatedAt = at(1).Add(999 * time.Nanosecond)
	next := newSigningKey(storage.KeyNext, 2)
	want := storedKeys(active, next)

	// Given in the opposite of the stored order, which the store sets.
	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(keys, next, active), nil
	})
	checkKeys(t, s, "UpdateSigningKeys(add active and next)", got, err, want)

	listed, err := s.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatalf("ListSigningKeys() error = %v", err)
	}
	for i, k := range listed {
		if i >= len(want) {
			break
		}
		for _, tm := range []struct {
			name      string
			got, want time.Time
		}{
			{"CreatedAt", k.CreatedAt, want[i].CreatedAt},
			{"ActivatedAt", k.ActivatedAt, want[i].ActivatedAt},
			{"RetiredAt", k.RetiredAt, want[i].RetiredAt},
			{"RemoveAfter", k.RemoveAfter, want[i].RemoveAfter},
		} {
			what := "ListSigningKeys() " + string(k.State) + " key " + tm.name
			if tm.want.IsZero() {
				if !tm.got.IsZero() {
					t.Errorf("%s = %v, want the zero time", what, tm.got)
				}
				continue
			}
			checkTime(t, what, tm.got, tm.want)
		}
	}
}

// testListSigningKeysOrder lists keys by CreatedAt, then by ID among keys
// created in the same microsecond.
func testListSigningKeysOrder(t *testing.T, s storage.Store) {
	var keys []storage.SigningKey
	for _, m := range []int{2, 0, 2, 1, 2} {
		keys = append(keys, newSigningKey(storage.KeyRetired, m))
	}
	keys[4].CreatedAt = keys[4].CreatedAt.Add(50 * time.Nanosecond) // still the microsecond of keys[0]
	want := storedKeys(keys...)
	slices.SortFunc(want, func(a, b storage.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	got, err := s.UpdateSigningKeys(t.Context(), func([]storage.SigningKey) ([]storage.SigningKey, error) { return keys, nil })
	checkKeys(t, s, "UpdateSigningKeys(add five keys)", got, err, want)
}

// testRotateSigningKeys runs a rotation in one update: the active key
// retires, the next one becomes active and a new next key is added. The
// closure edits its argument in place and returns the keys in another order;
// neither matters.
func testRotateSigningKeys(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	active.ActivatedAt = at(0)
	next := newSigningKey(storage.KeyNext, 1)
	before := setKeys(t, s, active, next)
	newNext := newSigningKey(storage.KeyNext, 10)

	wantRetired, wantActive := active, next
	wantRetired.State, wantRetired.RetiredAt, wantRetired.RemoveAfter = storage.KeyRetired, at(10), at(70)
	wantActive.State, wantActive.ActivatedAt = storage.KeyActive, at(10)
	want := storedKeys(wantRetired, wantActive, newNext)

	var seen []storage.SigningKey
	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		seen = slices.Clone(keys)
		keys[0].State, keys[0].RetiredAt, keys[0].RemoveAfter = storage.KeyRetired, at(10), at(70)
		keys[1].State, keys[1].ActivatedAt = storage.KeyActive, at(10)
		return []storage.SigningKey{keys[1], newNext, keys[0]}, nil
	})
	if d := diff(before, seen); d != "" {
		t.Errorf("UpdateSigningKeys(rotate) closure got (-want +got):\n%s", d)
	}
	checkKeys(t, s, "UpdateSigningKeys(rotate)", got, err, want)
}

// testSwapSigningKeys makes the next key active and the active one next in
// one update: a valid end state, though each change alone would be two
// active keys or two next ones.
func testSwapSigningKeys(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	active.ActivatedAt = at(0)
	next := newSigningKey(storage.KeyNext, 1)
	setKeys(t, s, active, next)

	wasActive, wasNext := active, next
	wasActive.State, wasActive.ActivatedAt = storage.KeyNext, time.Time{}
	wasNext.State, wasNext.ActivatedAt = storage.KeyActive, at(5)
	want := storedKeys(wasActive, wasNext)

	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		keys[0].State, keys[0].ActivatedAt = storage.KeyNext, time.Time{}
		keys[1].State, keys[1].ActivatedAt = storage.KeyActive, at(5)
		return keys, nil
	})
	checkKeys(t, s, "UpdateSigningKeys(swap next and active)", got, err, want)
}

// testDeleteSigningKey deletes the keys the closure leaves out.
func testDeleteSigningKey(t *testing.T, s storage.Store) {
	retired := newSigningKey(storage.KeyRetired, 0)
	retired.RetiredAt, retired.RemoveAfter = at(1), at(2)
	active := newSigningKey(storage.KeyActive, 1)
	next := newSigningKey(storage.KeyNext, 2)
	setKeys(t, s, retired, active, next)

	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		return slices.DeleteFunc(keys, func(k storage.SigningKey) bool { return k.ID == retired.ID }), nil
	})
	checkKeys(t, s, "UpdateSigningKeys(drop the retired key)", got, err, storedKeys(active, next))

	got, err = s.UpdateSigningKeys(t.Context(), func([]storage.SigningKey) ([]storage.SigningKey, error) { return nil, nil })
	checkKeys(t, s, "UpdateSigningKeys(drop every key)", got, err, nil)
}

// testSigningKeysConflict refuses a result with two next or two active keys
// and writes nothing of it.
func testSigningKeysConflict(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	active.ActivatedAt = at(0)
	before := setKeys(t, s, active, newSigningKey(storage.KeyNext, 1))

	tests := []struct {
		name   string
		update func(keys []storage.SigningKey) []storage.SigningKey
	}{
		{"a second active key", func(keys []storage.SigningKey) []storage.SigningKey {
			return append(keys, newSigningKey(storage.KeyActive, 5))
		}},
		{"a second next key while the active one retires", func(keys []storage.SigningKey) []storage.SigningKey {
			keys[0].State = storage.KeyRetired
			return append(keys, newSigningKey(storage.KeyNext, 5))
		}},
		{"the next key made active beside the active one", func(keys []storage.SigningKey) []storage.SigningKey {
			keys[1].State = storage.KeyActive
			return keys
		}},
	}
	for _, tc := range tests {
		_, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
			return tc.update(keys), nil
		})
		checkErr(t, "UpdateSigningKeys("+tc.name+")", err, storage.ErrConflict)
		checkListedKeys(t, s, "ListSigningKeys() after UpdateSigningKeys("+tc.name+")", before)
	}
}

// testSigningKeysInvalid refuses a result the schema does not allow and
// writes nothing of it.
func testSigningKeysInvalid(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	before := setKeys(t, s, active)
	retired := func(change func(k *storage.SigningKey)) func([]storage.SigningKey) []storage.SigningKey {
		return func(keys []storage.SigningKey) []storage.SigningKey {
			k := newSigningKey(storage.KeyRetired, 5)
			change(&k)
			return append(keys, k)
		}
	}

	tests := []struct {
		name   string
		update func(keys []storage.SigningKey) []storage.SigningKey
	}{
		{"a key without an ID", retired(func(k *storage.SigningKey) { k.ID = "" })},
		{"a key in an unknown state", retired(func(k *storage.SigningKey) { k.State = "bogus" })},
		{"a key without an algorithm", retired(func(k *storage.SigningKey) { k.Algorithm = "" })},
		{"a key without a public JWK", retired(func(k *storage.SigningKey) { k.PublicJWK = nil })},
		{"a key without a sealed private key", retired(func(k *storage.SigningKey) { k.SealedKey = []byte{} })},
		{"the stored key put in an unknown state", func(keys []storage.SigningKey) []storage.SigningKey {
			keys[0].State = "bogus"
			return keys
		}},
		{"a new key twice", func(keys []storage.SigningKey) []storage.SigningKey {
			k := newSigningKey(storage.KeyRetired, 5)
			return append(keys, k, k)
		}},
		{"the stored key twice", func(keys []storage.SigningKey) []storage.SigningKey {
			return append(keys, keys[0])
		}},
	}
	for _, tc := range tests {
		_, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
			return tc.update(keys), nil
		})
		checkErr(t, "UpdateSigningKeys("+tc.name+")", err, storage.ErrInvalid)
		checkListedKeys(t, s, "ListSigningKeys() after UpdateSigningKeys("+tc.name+")", before)
	}
}

func testUpdateSigningKeysAborted(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	before := setKeys(t, s, active, newSigningKey(storage.KeyNext, 1))
	errAbort := errors.New("abort")

	_, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		keys[0].State = storage.KeyRetired
		return append(keys[1:], newSigningKey(storage.KeyRetired, 5)), errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Errorf("UpdateSigningKeys(closure fails) error = %v, want %v", err, errAbort)
	}
	checkListedKeys(t, s, "ListSigningKeys() after an aborted update", before)
}

// testSigningKeyCreatedAtKept keeps a stored key's CreatedAt whatever the
// closure returns, while its other changes are stored.
func testSigningKeyCreatedAtKept(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	setKeys(t, s, active)
	want := active
	want.ActivatedAt = at(3)

	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		keys[0].CreatedAt, keys[0].ActivatedAt = at(100), at(3)
		return keys, nil
	})
	checkKeys(t, s, "UpdateSigningKeys(change CreatedAt and ActivatedAt)", got, err, storedKeys(want))
}

// testSigningKeyIDChanged: keys are matched by ID, so a key whose ID the
// closure changes is another key. The stored one, absent from the result, is
// deleted and the other inserted as given.
func testSigningKeyIDChanged(t *testing.T, s storage.Store) {
	active := newSigningKey(storage.KeyActive, 0)
	setKeys(t, s, active)
	want := active
	want.ID = storage.NewID("kid_")

	got, err := s.UpdateSigningKeys(t.Context(), func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		keys[0].ID = want.ID
		return keys, nil
	})
	checkKeys(t, s, "UpdateSigningKeys(change the ID)", got, err, storedKeys(want))
}
