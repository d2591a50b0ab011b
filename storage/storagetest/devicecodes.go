package storagetest

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func deviceCodeTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetDeviceCode},
		{"CreateDuplicate", testCreateDeviceCodeDuplicate},
		{"CreateForUnknownClient", testCreateDeviceCodeUnknownClient},
		{"CreateInvalidStatus", testCreateDeviceCodeInvalidStatus},
		{"NotFound", testDeviceCodeNotFound},
		{"Update", testUpdateDeviceCode},
		{"UpdateKeepsFixedFields", testUpdateDeviceCodeFixedFields},
		{"UpdateUnknownUser", testUpdateDeviceCodeUnknownUser},
		{"UpdateErrorWritesNothing", testUpdateDeviceCodeError},
		{"ConcurrentSpendOnce", testConcurrentSpendDeviceCode},
		{"UpdateInTransactionRolledBack", testUpdateDeviceCodeRollback},
		{"FailedUpdateInTransaction", testUpdateDeviceCodeFailedInTx},
		{"DeleteExpired", testDeleteExpiredDeviceCodes},
		{"DeleteClientRemovesCodes", testDeleteClientRemovesDeviceCodes},
		{"DeleteUserRemovesCodes", testDeleteUserRemovesDeviceCodes},
	}
}

// errSpent is what a poll's update returns when the code is not approved.
var errSpent = errors.New("device code not approved")

// newDeviceCode returns a pending device code of the client, created at(0)
// and expiring at(10). Its hashes stand for keyed hashes of random codes.
func newDeviceCode(clientID string) storage.DeviceCode {
	return storage.DeviceCode{
		DeviceCodeHash: rand.Text(),
		UserCodeHash:   rand.Text(),
		ClientID:       clientID,
		Scopes:         []string{"openid", "profile", "offline_access"},
		Status:         storage.DevicePending,
		Interval:       5 * time.Second,
		CreatedAt:      at(0),
		ExpiresAt:      at(10),
	}
}

func storedDeviceCode(d storage.DeviceCode) storage.DeviceCode {
	d.CreatedAt, d.ExpiresAt = stored(d.CreatedAt), stored(d.ExpiresAt)
	if !d.LastPolledAt.IsZero() {
		d.LastPolledAt = stored(d.LastPolledAt)
	}
	return d
}

func createDeviceCode(t *testing.T, s storage.Store, d storage.DeviceCode) storage.DeviceCode {
	t.Helper()
	if err := s.CreateDeviceCode(t.Context(), d); err != nil {
		t.Fatalf("CreateDeviceCode(%s of %q) error = %v", d.Status, d.ClientID, err)
	}
	return storedDeviceCode(d)
}

// approve returns d approved by userID: what the /device page stores.
func approve(d storage.DeviceCode, userID string) storage.DeviceCode {
	d.Status, d.UserID = storage.DeviceApproved, userID
	// Not valid UTF-8, so a backend that reads blobs as text would not keep it.
	d.Session = append([]byte(`{"subject":"`+userID+`"}`), 0x00, 0xff, '\n')
	return d
}

// checkDeviceCode compares the stored code of want's user code with want.
func checkDeviceCode(t *testing.T, s storage.Store, call string, want storage.DeviceCode) {
	t.Helper()
	got, err := s.GetDeviceCodeByUserCode(t.Context(), want.UserCodeHash)
	if err != nil {
		t.Errorf("%s: GetDeviceCodeByUserCode() error = %v", call, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetDeviceCodeByUserCode() mismatch (-want +got):\n%s", call, d)
	}
}

// checkDeviceCodeGone checks that no code has d's user code.
func checkDeviceCodeGone(t *testing.T, s storage.Store, call string, d storage.DeviceCode) {
	t.Helper()
	_, err := s.GetDeviceCodeByUserCode(t.Context(), d.UserCodeHash)
	checkErr(t, call+": GetDeviceCodeByUserCode()", err, storage.ErrNotFound)
}

// testCreateGetDeviceCode stores a pending code, whose optional fields are
// empty, and an approved one, whose are all set; both read back as stored,
// times in UTC to the microsecond.
func testCreateGetDeviceCode(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))

	pending := createDeviceCode(t, s, newDeviceCode(client.ID))
	checkDeviceCode(t, s, "pending", pending)
	got, err := s.GetDeviceCodeByUserCode(t.Context(), pending.UserCodeHash)
	if err != nil {
		t.Fatalf("GetDeviceCodeByUserCode(pending) error = %v", err)
	}
	if got.Session != nil || got.UserID != "" || !got.LastPolledAt.IsZero() {
		t.Errorf("GetDeviceCodeByUserCode(pending) = Session %q, UserID %q, LastPolledAt %v; want nil, empty, zero",
			got.Session, got.UserID, got.LastPolledAt)
	}
	checkTime(t, "pending CreatedAt", got.CreatedAt, stored(at(0)))
	checkTime(t, "pending ExpiresAt", got.ExpiresAt, stored(at(10)))

	a := approve(newDeviceCode(client.ID), alice.ID)
	a.Scopes = []string{"openid"}
	a.Interval = 7 * time.Second
	a.LastPolledAt = at(1).Add(999 * time.Nanosecond)
	a.CreatedAt, a.ExpiresAt = at(0).Add(1*time.Nanosecond), at(15).Add(500*time.Nanosecond)
	approved := createDeviceCode(t, s, a)
	checkDeviceCode(t, s, "approved", approved)
	got, err = s.GetDeviceCodeByUserCode(t.Context(), approved.UserCodeHash)
	if err != nil {
		t.Fatalf("GetDeviceCodeByUserCode(approved) error = %v", err)
	}
	checkTime(t, "approved LastPolledAt", got.LastPolledAt, stored(a.LastPolledAt))
	checkTime(t, "approved CreatedAt", got.CreatedAt, stored(a.CreatedAt))
	checkTime(t, "approved ExpiresAt", got.ExpiresAt, stored(a.ExpiresAt))

	// Any status and expired or not: the store does not judge.
	for _, status := range []storage.DeviceStatus{storage.DeviceDenied, storage.DeviceUsed} {
		d := newDeviceCode(client.ID)
		d.Status, d.UserID = status, alice.ID
		d.ExpiresAt = at(-5)
		checkDeviceCode(t, s, string(status)+" and expired", createDeviceCode(t, s, d))
	}
}

// testCreateDeviceCodeDuplicate: either hash taken is ErrAlreadyExists, so
// the caller draws new codes; the first code is untouched.
func testCreateDeviceCodeDuplicate(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	first := createDeviceCode(t, s, newDeviceCode(client.ID))

	sameDevice := newDeviceCode(client.ID)
	sameDevice.DeviceCodeHash = first.DeviceCodeHash
	err := s.CreateDeviceCode(t.Context(), sameDevice)
	checkErr(t, "CreateDeviceCode(taken device code)", err, storage.ErrAlreadyExists)
	checkDeviceCodeGone(t, s, "refused code with a taken device code", sameDevice)

	sameUser := newDeviceCode(client.ID)
	sameUser.UserCodeHash = first.UserCodeHash
	sameUser.Interval = time.Minute
	err = s.CreateDeviceCode(t.Context(), sameUser)
	checkErr(t, "CreateDeviceCode(taken user code)", err, storage.ErrAlreadyExists)
	_, err = s.UpdateDeviceCode(t.Context(), sameUser.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		t.Error("UpdateDeviceCode(refused code) called update")
		return d, nil
	})
	checkErr(t, "UpdateDeviceCode(refused code with a taken user code)", err, storage.ErrNotFound)

	checkDeviceCode(t, s, "after the duplicates", first)
}

func testCreateDeviceCodeUnknownClient(t *testing.T, s storage.Store) {
	d := newDeviceCode(storage.NewID("cli_")) // never created
	err := s.CreateDeviceCode(t.Context(), d)
	checkErr(t, "CreateDeviceCode(unknown client)", err, storage.ErrNotFound)
	checkDeviceCodeGone(t, s, "refused code", d)
}

func testCreateDeviceCodeInvalidStatus(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	d := newDeviceCode(client.ID)
	d.Status = "granted"
	err := s.CreateDeviceCode(t.Context(), d)
	checkErr(t, "CreateDeviceCode(unknown status)", err, storage.ErrInvalid)
	checkDeviceCodeGone(t, s, "refused code", d)
}

func testDeviceCodeNotFound(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	createDeviceCode(t, s, newDeviceCode(client.ID))

	_, err := s.GetDeviceCodeByUserCode(t.Context(), rand.Text())
	checkErr(t, "GetDeviceCodeByUserCode(unknown)", err, storage.ErrNotFound)
	_, err = s.UpdateDeviceCode(t.Context(), rand.Text(), func(d storage.DeviceCode) (storage.DeviceCode, error) {
		t.Error("UpdateDeviceCode(unknown) called update")
		return d, nil
	})
	checkErr(t, "UpdateDeviceCode(unknown)", err, storage.ErrNotFound)
}

// testUpdateDeviceCode walks a code through a poll, an approval, a slow_down
// and its spending; each update sees the stored code and returns what it
// stored. Clearing UserID, Session and LastPolledAt stores them empty.
func testUpdateDeviceCode(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	want := createDeviceCode(t, s, newDeviceCode(client.ID))

	steps := []struct {
		name   string
		change func(storage.DeviceCode) storage.DeviceCode
	}{
		{"first poll", func(d storage.DeviceCode) storage.DeviceCode {
			d.LastPolledAt = at(1).Add(999 * time.Nanosecond)
			return d
		}},
		{"approval", func(d storage.DeviceCode) storage.DeviceCode { return approve(d, alice.ID) }},
		{"slow_down", func(d storage.DeviceCode) storage.DeviceCode {
			d.Interval += 5 * time.Second
			d.LastPolledAt = at(2)
			return d
		}},
		{"spent", func(d storage.DeviceCode) storage.DeviceCode {
			d.Status = storage.DeviceUsed
			return d
		}},
		{"cleared", func(d storage.DeviceCode) storage.DeviceCode {
			d.Status, d.UserID, d.Session, d.LastPolledAt, d.Interval = storage.DevicePending, "", nil, time.Time{}, 0
			return d
		}},
	}
	for _, step := range steps {
		got, err := s.UpdateDeviceCode(t.Context(), want.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
			if m := diff(want, d); m != "" {
				t.Errorf("%s: update got (-want +got):\n%s", step.name, m)
			}
			return step.change(d), nil
		})
		if err != nil {
			t.Fatalf("UpdateDeviceCode(%s) error = %v", step.name, err)
		}
		want = storedDeviceCode(step.change(want))
		if d := diff(want, got); d != "" {
			t.Errorf("UpdateDeviceCode(%s) mismatch (-want +got):\n%s", step.name, d)
		}
		if !got.LastPolledAt.IsZero() {
			checkTime(t, "UpdateDeviceCode("+step.name+") LastPolledAt", got.LastPolledAt, want.LastPolledAt)
		}
		checkDeviceCode(t, s, "after "+step.name, want)
	}
	got, err := s.GetDeviceCodeByUserCode(t.Context(), want.UserCodeHash)
	if err != nil {
		t.Fatalf("GetDeviceCodeByUserCode(cleared) error = %v", err)
	}
	if got.Session != nil || got.UserID != "" || !got.LastPolledAt.IsZero() {
		t.Errorf("GetDeviceCodeByUserCode(cleared) = Session %q, UserID %q, LastPolledAt %v; want nil, empty, zero",
			got.Session, got.UserID, got.LastPolledAt)
	}
}

// testUpdateDeviceCodeFixedFields: what update returns in the fields that
// cannot change is ignored, while the others are stored.
func testUpdateDeviceCodeFixedFields(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	other := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	code := createDeviceCode(t, s, newDeviceCode(client.ID))

	got, err := s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		d = approve(d, alice.ID)
		d.Interval, d.LastPolledAt = 10*time.Second, at(3)
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID = rand.Text(), rand.Text(), other.ID
		d.Scopes = []string{"admin"}
		d.CreatedAt, d.ExpiresAt = at(100), at(200)
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDeviceCode() error = %v", err)
	}
	want := approve(code, alice.ID)
	want.Interval, want.LastPolledAt = 10*time.Second, stored(at(3))
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateDeviceCode() mismatch (-want +got):\n%s", d)
	}
	checkDeviceCode(t, s, "after changing fixed fields", want)
}

// testUpdateDeviceCodeUnknownUser: approving for a user who does not exist
// fails the foreign key (ErrNotFound) and writes nothing.
func testUpdateDeviceCodeUnknownUser(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	code := createDeviceCode(t, s, newDeviceCode(client.ID))
	_, err := s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		return approve(d, storage.NewID(storage.PrefixUser)), nil
	})
	checkErr(t, "UpdateDeviceCode(approved by an unknown user)", err, storage.ErrNotFound)
	checkDeviceCode(t, s, "after the failed update", code)
}

// testUpdateDeviceCodeError: update's error comes back, and nothing it
// changed before failing is written.
func testUpdateDeviceCodeError(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	code := createDeviceCode(t, s, newDeviceCode(client.ID))
	_, err := s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		d = approve(d, alice.ID)
		d.LastPolledAt = at(1)
		return d, errSpent
	})
	checkErr(t, "UpdateDeviceCode(update fails)", err, errSpent)
	checkDeviceCode(t, s, "after the failed update", code)
}

// testConcurrentSpendDeviceCode polls one approved code from writers
// requests at once: exactly one sees it approved and spends it, every other
// sees it used.
func testConcurrentSpendDeviceCode(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	code := createDeviceCode(t, s, approve(newDeviceCode(client.ID), alice.ID))

	checkExactlyOne(t, "polls of one approved code", errSpent, func() error {
		_, err := s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
			if d.Status != storage.DeviceApproved {
				return d, errSpent
			}
			d.Status = storage.DeviceUsed
			return d, nil
		})
		return err
	})
	used := code
	used.Status = storage.DeviceUsed
	checkDeviceCode(t, s, "after concurrent polls", used)
}

// testUpdateDeviceCodeRollback: a code spent in a transaction that rolls
// back (the token response failed) stays approved, and is spent once
// afterwards.
func testUpdateDeviceCodeRollback(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	code := createDeviceCode(t, s, approve(newDeviceCode(client.ID), alice.ID))
	used := code
	used.Status, used.LastPolledAt = storage.DeviceUsed, stored(at(1))
	spend := func(d storage.DeviceCode) (storage.DeviceCode, error) {
		if d.Status != storage.DeviceApproved {
			return d, errSpent
		}
		d.Status, d.LastPolledAt = storage.DeviceUsed, at(1)
		return d, nil
	}

	ctx := beginTx(t, s)
	got, err := s.UpdateDeviceCode(ctx, code.DeviceCodeHash, spend)
	if err != nil {
		t.Fatalf("UpdateDeviceCode() in a transaction error = %v", err)
	}
	if d := diff(used, got); d != "" {
		t.Errorf("UpdateDeviceCode() in a transaction mismatch (-want +got):\n%s", d)
	}
	if got, err := s.GetDeviceCodeByUserCode(ctx, code.UserCodeHash); err != nil || got.Status != storage.DeviceUsed {
		t.Errorf("GetDeviceCodeByUserCode() in the transaction = %s, %v; want used", got.Status, err)
	}
	checkDeviceCode(t, s, "outside the transaction before Rollback", code)
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	checkDeviceCode(t, s, "after Rollback", code)

	if _, err := s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, spend); err != nil {
		t.Errorf("UpdateDeviceCode() after Rollback error = %v", err)
	}
	_, err = s.UpdateDeviceCode(t.Context(), code.DeviceCodeHash, spend)
	checkErr(t, "UpdateDeviceCode() spent twice", err, errSpent)
	checkDeviceCode(t, s, "spent after Rollback", used)
}

// testUpdateDeviceCodeFailedInTx: a failed update inside a transaction,
// whether update or the database refused it, undoes only itself: the
// transaction stays usable and the caller's other writes commit.
func testUpdateDeviceCodeFailedInTx(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	code := createDeviceCode(t, s, newDeviceCode(client.ID))

	ctx := beginTx(t, s)
	_, err := s.UpdateDeviceCode(ctx, code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		return approve(d, alice.ID), errSpent
	})
	checkErr(t, "UpdateDeviceCode(update fails) in a transaction", err, errSpent)
	_, err = s.UpdateDeviceCode(ctx, code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		return approve(d, storage.NewID(storage.PrefixUser)), nil
	})
	checkErr(t, "UpdateDeviceCode(unknown user) in a transaction", err, storage.ErrNotFound)
	denied, err := s.UpdateDeviceCode(ctx, code.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		d.Status, d.UserID = storage.DeviceDenied, alice.ID
		return d, nil
	})
	if err != nil {
		t.Fatalf("UpdateDeviceCode() after failed updates in the transaction error = %v", err)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() after failed updates error = %v", err)
	}
	want := code
	want.Status, want.UserID = storage.DeviceDenied, alice.ID
	if d := diff(want, denied); d != "" {
		t.Errorf("UpdateDeviceCode() in the transaction mismatch (-want +got):\n%s", d)
	}
	checkDeviceCode(t, s, "after Commit", want)
}

// testDeleteExpiredDeviceCodes deletes codes that expired strictly before
// now, whatever their status.
func testDeleteExpiredDeviceCodes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	var codes []storage.DeviceCode
	for i, status := range []storage.DeviceStatus{storage.DeviceUsed, storage.DevicePending, storage.DeviceApproved, storage.DeviceDenied} {
		d := newDeviceCode(client.ID)
		d.ExpiresAt = at(10 * (i + 1)) // at(10), at(20), at(30), at(40)
		if status != storage.DevicePending {
			d = approve(d, alice.ID)
			d.Status = status
		}
		codes = append(codes, createDeviceCode(t, s, d))
	}

	// at(10) and at(20) are before at(20)+1µs; at(30) is not.
	if n, err := s.DeleteExpiredDeviceCodes(ctx, at(20).Add(time.Microsecond)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredDeviceCodes(at(20)+1µs) = %d, %v; want 2, nil", n, err)
	}
	// at(30) is not before at(30).
	if n, err := s.DeleteExpiredDeviceCodes(ctx, at(30)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredDeviceCodes(at(30)) = %d, %v; want 0, nil", n, err)
	}
	checkDeviceCodeGone(t, s, "used code expired at(10)", codes[0])
	checkDeviceCodeGone(t, s, "pending code expired at(20)", codes[1])
	checkDeviceCode(t, s, "approved code expiring at(30)", codes[2])
	checkDeviceCode(t, s, "denied code expiring at(40)", codes[3])
}

func testDeleteClientRemovesDeviceCodes(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	other := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	pending := createDeviceCode(t, s, newDeviceCode(client.ID))
	approved := createDeviceCode(t, s, approve(newDeviceCode(client.ID), alice.ID))
	kept := createDeviceCode(t, s, newDeviceCode(other.ID))

	if err := s.DeleteClient(t.Context(), client.ID); err != nil {
		t.Fatalf("DeleteClient() error = %v", err)
	}
	checkDeviceCodeGone(t, s, "pending code of a deleted client", pending)
	checkDeviceCodeGone(t, s, "approved code of a deleted client", approved)
	checkDeviceCode(t, s, "code of another client", kept)
}

func testDeleteUserRemovesDeviceCodes(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	approved := createDeviceCode(t, s, approve(newDeviceCode(client.ID), alice.ID))
	denied := newDeviceCode(client.ID)
	denied.Status, denied.UserID = storage.DeviceDenied, alice.ID
	denied = createDeviceCode(t, s, denied)
	bobs := createDeviceCode(t, s, approve(newDeviceCode(client.ID), bob.ID))
	pending := createDeviceCode(t, s, newDeviceCode(client.ID))

	if err := s.DeleteUser(t.Context(), alice.ID); err != nil {
		t.Fatalf("DeleteUser() error = %v", err)
	}
	checkDeviceCodeGone(t, s, "code approved by a deleted user", approved)
	checkDeviceCodeGone(t, s, "code denied by a deleted user", denied)
	checkDeviceCode(t, s, "code approved by another user", bobs)
	checkDeviceCode(t, s, "pending code", pending)
}
