package storagetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func mfaTests() []test {
	return []test{
		{"TOTPSaveAndGet", testSaveGetTOTP},
		{"TOTPSaveReplacesUnconfirmed", testSaveTOTPReplacesUnconfirmed},
		{"TOTPSaveOverConfirmed", testSaveTOTPOverConfirmed},
		{"TOTPUnknownUser", testTOTPUnknownUser},
		{"TOTPNotFound", testTOTPNotFound},
		{"TOTPUseStep", testUseTOTPStep},
		{"TOTPConcurrentUseStepOnce", testConcurrentUseTOTPStep},
		{"TOTPDelete", testDeleteTOTP},
		{"RecoveryCodesReplace", testReplaceRecoveryCodes},
		{"RecoveryCodesReplaceFailureKeepsOld", testReplaceRecoveryCodesFailure},
		{"RecoveryCodesReplaceUnknownUser", testReplaceRecoveryCodesUnknownUser},
		{"RecoveryCodesConcurrentReplaceKeepsOneSet", testConcurrentReplaceRecoveryCodes},
		{"RecoveryCodesUse", testUseRecoveryCode},
		{"RecoveryCodesConcurrentUseOnce", testConcurrentUseRecoveryCode},
		{"PasskeyCreateGetList", testCreateGetListPasskeys},
		{"PasskeyCreateDuplicate", testCreatePasskeyDuplicate},
		{"PasskeyUnknownUser", testCreatePasskeyUnknownUser},
		{"PasskeyIDLength", testPasskeyIDLength},
		{"PasskeyNotFound", testPasskeyNotFound},
		{"PasskeyUpdate", testUpdatePasskey},
		{"PasskeyUpdateErrorWritesNothing", testUpdatePasskeyError},
		{"PasskeyDelete", testDeletePasskey},
		{"ChallengeCreateAndGet", testCreateGetMFAChallenge},
		{"ChallengeCreateDuplicate", testCreateMFAChallengeDuplicate},
		{"ChallengeCreateRefused", testCreateMFAChallengeRefused},
		{"ChallengeTake", testTakeMFAChallenge},
		{"ChallengeConcurrentTakeOnce", testConcurrentTakeMFAChallenge},
		{"ChallengeDeleteExpired", testDeleteExpiredMFAChallenges},
		{"WritesInTransactionRolledBack", testMFARollback},
		{"DeleteUserRemovesFactors", testDeleteUserRemovesMFA},
	}
}

// errRefused is what an UpdatePasskey closure returns to abort.
var errRefused = errors.New("passkey update refused")

// newTOTPFactor returns an unconfirmed factor of the user created at(0). Its
// sealed secret is not valid UTF-8, so a backend that reads blobs as text
// would not keep it.
func newTOTPFactor(userID string) storage.TOTPFactor {
	return storage.TOTPFactor{
		UserID:       userID,
		SealedSecret: append([]byte("sealed:"+rand.Text()), 0x00, 0xff, '\n'),
		CreatedAt:    at(0),
	}
}

func storedTOTPFactor(f storage.TOTPFactor) storage.TOTPFactor {
	f.CreatedAt = stored(f.CreatedAt)
	if !f.ConfirmedAt.IsZero() {
		f.ConfirmedAt = stored(f.ConfirmedAt)
	}
	return f
}

func saveTOTPFactor(t *testing.T, s storage.Store, f storage.TOTPFactor) storage.TOTPFactor {
	t.Helper()
	if err := s.SaveTOTPFactor(t.Context(), f); err != nil {
		t.Fatalf("SaveTOTPFactor(%q) error = %v", f.UserID, err)
	}
	return storedTOTPFactor(f)
}

// checkTOTPFactor compares the stored factor of want's user with want.
func checkTOTPFactor(t *testing.T, s storage.Store, call string, want storage.TOTPFactor) {
	t.Helper()
	got, err := s.GetTOTPFactor(t.Context(), want.UserID)
	if err != nil {
		t.Errorf("%s: GetTOTPFactor(%q) error = %v", call, want.UserID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetTOTPFactor(%q) mismatch (-want +got):\n%s", call, want.UserID, d)
	}
	checkTime(t, call+": GetTOTPFactor() CreatedAt", got.CreatedAt, want.CreatedAt)
	if !want.ConfirmedAt.IsZero() {
		checkTime(t, call+": GetTOTPFactor() ConfirmedAt", got.ConfirmedAt, want.ConfirmedAt)
	}
}

func checkTOTPFactorGone(t *testing.T, s storage.Store, call, userID string) {
	t.Helper()
	_, err := s.GetTOTPFactor(t.Context(), userID)
	checkErr(t, call+": GetTOTPFactor()", err, storage.ErrNotFound)
}

// testSaveGetTOTP stores an unconfirmed factor and a confirmed one; both
// read back as saved, times in UTC to the microsecond.
func testSaveGetTOTP(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))

	f := saveTOTPFactor(t, s, newTOTPFactor(alice.ID))
	checkTOTPFactor(t, s, "unconfirmed", f)
	got, _ := s.GetTOTPFactor(t.Context(), alice.ID)
	if !got.ConfirmedAt.IsZero() || got.LastStep != 0 {
		t.Errorf("GetTOTPFactor(unconfirmed) = ConfirmedAt %v, LastStep %d; want zero, 0", got.ConfirmedAt, got.LastStep)
	}

	confirmed := newTOTPFactor(bob.ID)
	confirmed.ConfirmedAt, confirmed.LastStep = at(1), 58_000_000
	checkTOTPFactor(t, s, "confirmed", saveTOTPFactor(t, s, confirmed))
	checkTOTPFactor(t, s, "the other user's", f)
}

// testSaveTOTPReplacesUnconfirmed: an enrolment started again replaces the
// unconfirmed factor.
func testSaveTOTPReplacesUnconfirmed(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	saveTOTPFactor(t, s, newTOTPFactor(alice.ID))

	again := newTOTPFactor(alice.ID)
	again.CreatedAt = at(5)
	again = saveTOTPFactor(t, s, again)
	checkTOTPFactor(t, s, "after saving over an unconfirmed factor", again)
}

// testSaveTOTPOverConfirmed: a confirmed factor is not replaced (it must be
// deleted first), whether confirmed by UseTOTPStep or saved so.
func testSaveTOTPOverConfirmed(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	saveTOTPFactor(t, s, newTOTPFactor(alice.ID))
	confirmed, err := s.UseTOTPStep(ctx, alice.ID, 100, at(1))
	if err != nil {
		t.Fatalf("UseTOTPStep() error = %v", err)
	}
	bobs := newTOTPFactor(bob.ID)
	bobs.ConfirmedAt, bobs.LastStep = at(1), 7
	bobs = saveTOTPFactor(t, s, bobs)

	for _, want := range []storage.TOTPFactor{confirmed, bobs} {
		f := newTOTPFactor(want.UserID)
		f.CreatedAt = at(5)
		err := s.SaveTOTPFactor(ctx, f)
		checkErr(t, "SaveTOTPFactor(over a confirmed factor)", err, storage.ErrConflict)
		checkTOTPFactor(t, s, "after saving over a confirmed factor", want)
	}

	if err := s.DeleteTOTPFactor(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteTOTPFactor() error = %v", err)
	}
	f := newTOTPFactor(alice.ID)
	f.CreatedAt = at(6)
	checkTOTPFactor(t, s, "saved after deleting the confirmed factor", saveTOTPFactor(t, s, f))
}

func testTOTPUnknownUser(t *testing.T, s storage.Store) {
	missing := storage.NewID(storage.PrefixUser)
	err := s.SaveTOTPFactor(t.Context(), newTOTPFactor(missing))
	checkErr(t, "SaveTOTPFactor(unknown user)", err, storage.ErrNotFound)
	checkTOTPFactorGone(t, s, "refused factor", missing)
}

// testTOTPNotFound: a user without a factor has none to get, use or delete.
func testTOTPNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	saveTOTPFactor(t, s, newTOTPFactor(bob.ID))
	missing := storage.NewID(storage.PrefixUser)

	for _, userID := range []string{alice.ID, missing} {
		_, err := s.GetTOTPFactor(ctx, userID)
		checkErr(t, "GetTOTPFactor(no factor)", err, storage.ErrNotFound)
		_, err = s.UseTOTPStep(ctx, userID, 1, at(1))
		checkErr(t, "UseTOTPStep(no factor)", err, storage.ErrNotFound)
		checkErr(t, "DeleteTOTPFactor(no factor)", s.DeleteTOTPFactor(ctx, userID), storage.ErrNotFound)
	}
}

// testUseTOTPStep accepts only a step after the last accepted one (TO-01);
// the first accepted step confirms the factor, and later ones keep that
// time.
func testUseTOTPStep(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	want := saveTOTPFactor(t, s, newTOTPFactor(alice.ID))

	steps := []struct {
		name string
		step int64
		now  time.Time
		err  error
	}{
		{"first code confirms", 100, at(1).Add(999 * time.Nanosecond), nil},
		{"same step again", 100, at(2), storage.ErrConflict},
		{"earlier step", 99, at(2), storage.ErrConflict},
		{"next step keeps ConfirmedAt", 101, at(3), nil},
		{"a later step", 150, at(4), nil},
		{"a step in between", 120, at(5), storage.ErrConflict},
	}
	for _, st := range steps {
		got, err := s.UseTOTPStep(ctx, alice.ID, st.step, st.now)
		if st.err != nil {
			checkErr(t, "UseTOTPStep("+st.name+")", err, st.err)
			checkTOTPFactor(t, s, "after refused "+st.name, want)
			continue
		}
		if err != nil {
			t.Fatalf("UseTOTPStep(%s) error = %v", st.name, err)
		}
		want.LastStep = st.step
		if want.ConfirmedAt.IsZero() {
			want.ConfirmedAt = stored(st.now)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("UseTOTPStep(%s) mismatch (-want +got):\n%s", st.name, d)
		}
		checkTime(t, "UseTOTPStep("+st.name+") ConfirmedAt", got.ConfirmedAt, want.ConfirmedAt)
		checkTOTPFactor(t, s, "after "+st.name, want)
	}
}

// testConcurrentUseTOTPStep submits one code from writers requests at
// once: exactly one is accepted (TO-01).
func testConcurrentUseTOTPStep(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	want := saveTOTPFactor(t, s, newTOTPFactor(alice.ID))

	checkExactlyOne(t, "uses of one TOTP step", storage.ErrConflict, func() error {
		_, err := s.UseTOTPStep(t.Context(), alice.ID, 42, at(1))
		return err
	})
	want.LastStep, want.ConfirmedAt = 42, stored(at(1))
	checkTOTPFactor(t, s, "after concurrent uses", want)
}

func testDeleteTOTP(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	saveTOTPFactor(t, s, newTOTPFactor(alice.ID))
	if _, err := s.UseTOTPStep(ctx, alice.ID, 100, at(1)); err != nil {
		t.Fatalf("UseTOTPStep() error = %v", err)
	}
	bobs := saveTOTPFactor(t, s, newTOTPFactor(bob.ID))

	if err := s.DeleteTOTPFactor(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteTOTPFactor() error = %v", err)
	}
	checkTOTPFactorGone(t, s, "deleted factor", alice.ID)
	_, err := s.UseTOTPStep(ctx, alice.ID, 101, at(2))
	checkErr(t, "UseTOTPStep(deleted factor)", err, storage.ErrNotFound)
	checkErr(t, "DeleteTOTPFactor(deleted factor)", s.DeleteTOTPFactor(ctx, alice.ID), storage.ErrNotFound)
	checkTOTPFactor(t, s, "the other user's factor", bobs)
}

// recoveryHashes returns n random strings standing for keyed hashes of
// recovery codes.
func recoveryHashes(n int) []string {
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = rand.Text()
	}
	return hashes
}

func replaceRecoveryCodes(t *testing.T, s storage.Store, userID string, hashes []string) {
	t.Helper()
	if err := s.ReplaceRecoveryCodes(t.Context(), userID, hashes, at(0)); err != nil {
		t.Fatalf("ReplaceRecoveryCodes(%q, %d codes) error = %v", userID, len(hashes), err)
	}
}

func checkRecoveryCount(t *testing.T, s storage.Store, call, userID string, want int) {
	t.Helper()
	n, err := s.CountRecoveryCodes(t.Context(), userID)
	if err != nil || n != want {
		t.Errorf("%s: CountRecoveryCodes(%q) = %d, %v; want %d, nil", call, userID, n, err, want)
	}
}

// testReplaceRecoveryCodes: replacing drops every old code, used or not.
func testReplaceRecoveryCodes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	checkRecoveryCount(t, s, "before any", alice.ID, 0)

	old := recoveryHashes(10)
	replaceRecoveryCodes(t, s, alice.ID, old)
	checkRecoveryCount(t, s, "after the first set", alice.ID, 10)
	if _, err := s.UseRecoveryCode(ctx, alice.ID, old[0], at(1)); err != nil {
		t.Fatalf("UseRecoveryCode() error = %v", err)
	}

	fresh := recoveryHashes(3)
	fresh = append(fresh, old[0]) // a hash used before, in a new set, is unused
	replaceRecoveryCodes(t, s, alice.ID, fresh)
	checkRecoveryCount(t, s, "after replacing", alice.ID, 4)
	for _, h := range old[1:] {
		_, err := s.UseRecoveryCode(ctx, alice.ID, h, at(2))
		checkErr(t, "UseRecoveryCode(replaced code)", err, storage.ErrNotFound)
	}
	if n, err := s.UseRecoveryCode(ctx, alice.ID, old[0], at(2)); err != nil || n != 3 {
		t.Errorf("UseRecoveryCode(hash of the old set in the new) = %d, %v; want 3, nil", n, err)
	}

	replaceRecoveryCodes(t, s, alice.ID, nil)
	checkRecoveryCount(t, s, "after replacing with none", alice.ID, 0)
	_, err := s.UseRecoveryCode(ctx, alice.ID, fresh[0], at(3))
	checkErr(t, "UseRecoveryCode(after replacing with none)", err, storage.ErrNotFound)
}

// testReplaceRecoveryCodesFailure: a set the database refuses (a hash twice)
// leaves the old codes: the delete and the inserts are one transaction.
func testReplaceRecoveryCodesFailure(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	old := recoveryHashes(5)
	replaceRecoveryCodes(t, s, alice.ID, old)

	dup := recoveryHashes(2)
	err := s.ReplaceRecoveryCodes(t.Context(), alice.ID, append(dup, dup[0]), at(1))
	checkErr(t, "ReplaceRecoveryCodes(a hash twice)", err, storage.ErrAlreadyExists)
	checkRecoveryCount(t, s, "after the refused set", alice.ID, 5)
	if n, err := s.UseRecoveryCode(t.Context(), alice.ID, old[4], at(2)); err != nil || n != 4 {
		t.Errorf("UseRecoveryCode(old code after the refused set) = %d, %v; want 4, nil", n, err)
	}

	err = s.ReplaceRecoveryCodes(t.Context(), alice.ID, []string{rand.Text(), ""}, at(1))
	checkErr(t, "ReplaceRecoveryCodes(an empty hash)", err, storage.ErrInvalid)
	checkRecoveryCount(t, s, "after the invalid set", alice.ID, 4)
}

func testReplaceRecoveryCodesUnknownUser(t *testing.T, s storage.Store) {
	missing := storage.NewID(storage.PrefixUser)
	for _, hashes := range [][]string{recoveryHashes(3), nil} {
		err := s.ReplaceRecoveryCodes(t.Context(), missing, hashes, at(0))
		checkErr(t, "ReplaceRecoveryCodes(unknown user)", err, storage.ErrNotFound)
	}
	checkRecoveryCount(t, s, "unknown user", missing, 0)
}

// testConcurrentReplaceRecoveryCodes replaces a user's codes from writers
// requests at once: each succeeds, and one set remains, not several.
func testConcurrentReplaceRecoveryCodes(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	replaceRecoveryCodes(t, s, alice.ID, recoveryHashes(10))

	sets := make([][]string, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range sets {
		sets[i] = recoveryHashes(10)
		wg.Go(func() {
			<-start
			if err := s.ReplaceRecoveryCodes(t.Context(), alice.ID, sets[i], at(1)); err != nil {
				t.Errorf("ReplaceRecoveryCodes() #%d error = %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	checkRecoveryCount(t, s, "after concurrent replacements", alice.ID, 10)
}

// testUseRecoveryCode: each code works once, for its own user only, and
// each use returns how many are left.
func testUseRecoveryCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	codes := recoveryHashes(3)
	replaceRecoveryCodes(t, s, alice.ID, codes)
	bobs := recoveryHashes(2)
	replaceRecoveryCodes(t, s, bob.ID, bobs)

	if n, err := s.UseRecoveryCode(ctx, alice.ID, codes[1], at(1)); err != nil || n != 2 {
		t.Errorf("UseRecoveryCode(first use) = %d, %v; want 2, nil", n, err)
	}
	_, err := s.UseRecoveryCode(ctx, alice.ID, codes[1], at(2))
	checkErr(t, "UseRecoveryCode(used code)", err, storage.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, alice.ID, rand.Text(), at(2))
	checkErr(t, "UseRecoveryCode(unknown code)", err, storage.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, alice.ID, bobs[0], at(2))
	checkErr(t, "UseRecoveryCode(another user's code)", err, storage.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, storage.NewID(storage.PrefixUser), codes[0], at(2))
	checkErr(t, "UseRecoveryCode(unknown user)", err, storage.ErrNotFound)
	checkRecoveryCount(t, s, "after refused uses", alice.ID, 2)
	checkRecoveryCount(t, s, "the other user", bob.ID, 2)

	if n, err := s.UseRecoveryCode(ctx, alice.ID, codes[0], at(3)); err != nil || n != 1 {
		t.Errorf("UseRecoveryCode(second code) = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.UseRecoveryCode(ctx, alice.ID, codes[2], at(4)); err != nil || n != 0 {
		t.Errorf("UseRecoveryCode(last code) = %d, %v; want 0, nil", n, err)
	}
	checkRecoveryCount(t, s, "all used", alice.ID, 0)
	if n, err := s.UseRecoveryCode(ctx, bob.ID, bobs[0], at(5)); err != nil || n != 1 {
		t.Errorf("UseRecoveryCode(the other user's own code) = %d, %v; want 1, nil", n, err)
	}
}

// testConcurrentUseRecoveryCode uses one code from writers requests at
// once: exactly one succeeds.
func testConcurrentUseRecoveryCode(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	codes := recoveryHashes(10)
	replaceRecoveryCodes(t, s, alice.ID, codes)

	checkExactlyOne(t, "uses of one recovery code", storage.ErrNotFound, func() error {
		n, err := s.UseRecoveryCode(t.Context(), alice.ID, codes[3], at(1))
		if err == nil && n != 9 {
			t.Errorf("UseRecoveryCode() = %d remaining, want 9", n)
		}
		return err
	})
	checkRecoveryCount(t, s, "after concurrent uses", alice.ID, 9)
}

// newPasskey returns a passkey of the user created at(m). Its ID and data
// hold 0x00 and 0xff, which a backend that reads blobs as text would not
// keep.
func newPasskey(userID string, m int) storage.Passkey {
	id := append([]byte{0x00, 0xff}, []byte(rand.Text())...)
	return storage.Passkey{
		ID:        append(id, 0xff, 0x00),
		UserID:    userID,
		Name:      "YubiKey",
		Data:      append([]byte(`{"credential":{"publicKey":"pQECAyYgASFYIA"}}`), 0x00, 0xff, '\n'),
		CreatedAt: at(m),
	}
}

func storedPasskey(p storage.Passkey) storage.Passkey {
	p.CreatedAt = stored(p.CreatedAt)
	if !p.LastUsedAt.IsZero() {
		p.LastUsedAt = stored(p.LastUsedAt)
	}
	return p
}

func createPasskey(t *testing.T, s storage.Store, p storage.Passkey) storage.Passkey {
	t.Helper()
	if err := s.CreatePasskey(t.Context(), p); err != nil {
		t.Fatalf("CreatePasskey(%q, %q) error = %v", p.UserID, p.Name, err)
	}
	return storedPasskey(p)
}

// checkPasskey compares the stored passkey of want's ID with want.
func checkPasskey(t *testing.T, s storage.Store, call string, want storage.Passkey) {
	t.Helper()
	got, err := s.GetPasskey(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetPasskey(%q) error = %v", call, want.Name, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetPasskey(%q) mismatch (-want +got):\n%s", call, want.Name, d)
	}
	checkTime(t, call+": GetPasskey() CreatedAt", got.CreatedAt, want.CreatedAt)
	if !want.LastUsedAt.IsZero() {
		checkTime(t, call+": GetPasskey() LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	}
}

func checkPasskeyGone(t *testing.T, s storage.Store, call string, id []byte) {
	t.Helper()
	_, err := s.GetPasskey(t.Context(), id)
	checkErr(t, call+": GetPasskey()", err, storage.ErrNotFound)
}

func checkPasskeys(t *testing.T, s storage.Store, call, userID string, want []storage.Passkey) {
	t.Helper()
	got, err := s.ListPasskeys(t.Context(), userID)
	if err != nil {
		t.Errorf("%s: ListPasskeys(%q) error = %v", call, userID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: ListPasskeys(%q) mismatch (-want +got):\n%s", call, userID, d)
	}
}

// testCreateGetListPasskeys stores passkeys with and without their optional
// fields; they read back as stored and list oldest first, each user's own.
func testCreateGetListPasskeys(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	carol := createUser(t, s, newUser("carol@example.com"))

	newer := createPasskey(t, s, newPasskey(alice.ID, 2))
	used := newPasskey(alice.ID, 1)
	used.Name, used.CloneWarning, used.LastUsedAt = "Phone", true, at(3).Add(999*time.Nanosecond)
	used = createPasskey(t, s, used)
	single := newPasskey(alice.ID, 5)
	single.ID = []byte{0x00} // one byte, and that one zero
	single = createPasskey(t, s, single)
	bobs := newPasskey(bob.ID, 0)
	bobs.ID = bytes.Repeat([]byte{0xff}, 1023) // the longest allowed
	bobs = createPasskey(t, s, bobs)

	for _, p := range []storage.Passkey{newer, used, single, bobs} {
		checkPasskey(t, s, "created", p)
	}
	checkPasskeys(t, s, "oldest first", alice.ID, []storage.Passkey{used, newer, single})
	checkPasskeys(t, s, "the other user", bob.ID, []storage.Passkey{bobs})
	checkPasskeys(t, s, "a user with none", carol.ID, nil)
	checkPasskeys(t, s, "an unknown user", storage.NewID(storage.PrefixUser), nil)
}

// testCreatePasskeyDuplicate: a credential ID is registered once, across
// all users (WA-06).
func testCreatePasskeyDuplicate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	first := createPasskey(t, s, newPasskey(alice.ID, 0))

	for _, userID := range []string{alice.ID, bob.ID} {
		p := newPasskey(userID, 1)
		p.ID, p.Name = first.ID, "Duplicate"
		err := s.CreatePasskey(t.Context(), p)
		checkErr(t, "CreatePasskey(taken ID)", err, storage.ErrAlreadyExists)
	}
	checkPasskey(t, s, "after the duplicates", first)
	checkPasskeys(t, s, "the other user after the duplicate", bob.ID, nil)
}

func testCreatePasskeyUnknownUser(t *testing.T, s storage.Store) {
	p := newPasskey(storage.NewID(storage.PrefixUser), 0)
	err := s.CreatePasskey(t.Context(), p)
	checkErr(t, "CreatePasskey(unknown user)", err, storage.ErrNotFound)
	checkPasskeyGone(t, s, "refused passkey", p.ID)
}

// testPasskeyIDLength: an ID is 1 to 1023 bytes (WA-06).
func testPasskeyIDLength(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	for _, id := range [][]byte{make([]byte, 1024), bytes.Repeat([]byte{0xff}, 4096), {}} {
		p := newPasskey(alice.ID, 0)
		p.ID = id
		err := s.CreatePasskey(t.Context(), p)
		checkErr(t, fmt.Sprintf("CreatePasskey(ID of %d bytes)", len(id)), err, storage.ErrInvalid)
	}
	checkPasskeys(t, s, "after the refused IDs", alice.ID, nil)
}

func testPasskeyNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	p := createPasskey(t, s, newPasskey(alice.ID, 0))
	missing := append(slices.Clone(p.ID), 0x01) // shares a prefix

	_, err := s.GetPasskey(ctx, missing)
	checkErr(t, "GetPasskey(unknown)", err, storage.ErrNotFound)
	_, err = s.GetPasskey(ctx, p.ID[:len(p.ID)-1])
	checkErr(t, "GetPasskey(prefix of an ID)", err, storage.ErrNotFound)
	_, err = s.UpdatePasskey(ctx, missing, func(p storage.Passkey) (storage.Passkey, error) {
		t.Error("UpdatePasskey(unknown) called update")
		return p, nil
	})
	checkErr(t, "UpdatePasskey(unknown)", err, storage.ErrNotFound)
	checkErr(t, "DeletePasskey(unknown)", s.DeletePasskey(ctx, alice.ID, missing), storage.ErrNotFound)
	checkPasskey(t, s, "after the misses", p)
}

// testUpdatePasskey: update sees the stored passkey, and only Name, Data,
// CloneWarning and LastUsedAt change; clearing LastUsedAt stores it zero.
func testUpdatePasskey(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	want := createPasskey(t, s, newPasskey(alice.ID, 0))
	other := createPasskey(t, s, newPasskey(alice.ID, 1))

	steps := []struct {
		name   string
		change func(storage.Passkey) storage.Passkey
	}{
		{"sign-in", func(p storage.Passkey) storage.Passkey {
			p.Data = append([]byte(`{"signCount":7}`), 0x00, 0xff)
			p.LastUsedAt = at(1).Add(999 * time.Nanosecond)
			return p
		}},
		{"rename", func(p storage.Passkey) storage.Passkey {
			p.Name = "Laptop — Touch ID"
			return p
		}},
		{"clone warning", func(p storage.Passkey) storage.Passkey {
			p.CloneWarning, p.LastUsedAt = true, at(2)
			return p
		}},
		{"cleared", func(p storage.Passkey) storage.Passkey {
			p.Name, p.CloneWarning, p.LastUsedAt = "", false, time.Time{}
			return p
		}},
	}
	for _, step := range steps {
		got, err := s.UpdatePasskey(t.Context(), want.ID, func(p storage.Passkey) (storage.Passkey, error) {
			if d := diff(want, p); d != "" {
				t.Errorf("%s: update got (-want +got):\n%s", step.name, d)
			}
			p = step.change(p)
			// Fixed: whatever update returns here is ignored.
			p.ID, p.UserID, p.CreatedAt = other.ID, bob.ID, at(100)
			return p, nil
		})
		if err != nil {
			t.Fatalf("UpdatePasskey(%s) error = %v", step.name, err)
		}
		want = storedPasskey(step.change(want))
		if d := diff(want, got); d != "" {
			t.Errorf("UpdatePasskey(%s) mismatch (-want +got):\n%s", step.name, d)
		}
		checkPasskey(t, s, "after "+step.name, want)
	}
	checkPasskey(t, s, "the other passkey", other)
	checkPasskeys(t, s, "the other user", bob.ID, nil)
}

// testUpdatePasskeyError: update's error comes back, and nothing it changed
// before failing is written.
func testUpdatePasskeyError(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	p := createPasskey(t, s, newPasskey(alice.ID, 0))
	_, err := s.UpdatePasskey(t.Context(), p.ID, func(p storage.Passkey) (storage.Passkey, error) {
		p.Name, p.CloneWarning, p.LastUsedAt = "Changed", true, at(1)
		return p, errRefused
	})
	checkErr(t, "UpdatePasskey(update fails)", err, errRefused)
	checkPasskey(t, s, "after the failed update", p)
}

// testDeletePasskey: only the owner deletes a passkey; another user's
// attempt is ErrNotFound and leaves it.
func testDeletePasskey(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	gone := createPasskey(t, s, newPasskey(alice.ID, 0))
	kept := createPasskey(t, s, newPasskey(alice.ID, 1))

	err := s.DeletePasskey(ctx, bob.ID, gone.ID)
	checkErr(t, "DeletePasskey(another user's)", err, storage.ErrNotFound)
	checkPasskey(t, s, "after another user's delete", gone)

	if err := s.DeletePasskey(ctx, alice.ID, gone.ID); err != nil {
		t.Fatalf("DeletePasskey(owner) error = %v", err)
	}
	checkPasskeyGone(t, s, "deleted passkey", gone.ID)
	checkErr(t, "DeletePasskey(deleted)", s.DeletePasskey(ctx, alice.ID, gone.ID), storage.ErrNotFound)
	checkPasskeys(t, s, "after the delete", alice.ID, []storage.Passkey{kept})
	// The ID can be registered again.
	createPasskey(t, s, gone)
}

const (
	purposeWebAuthn = "webauthn_login"
	purposeSignIn   = "second_factor"
)

// newChallenge returns a challenge of the user created at(0) and expiring
// at(10). Its ID stands for a hash of a random handle; its data is not
// valid UTF-8.
func newChallenge(purpose, userID string) storage.MFAChallenge {
	return storage.MFAChallenge{
		ID:        rand.Text(),
		Purpose:   purpose,
		UserID:    userID,
		Data:      append([]byte(`{"challenge":"`+rand.Text()+`"}`), 0x00, 0xff, '\n'),
		CreatedAt: at(0),
		ExpiresAt: at(10),
	}
}

func storedChallenge(c storage.MFAChallenge) storage.MFAChallenge {
	c.CreatedAt, c.ExpiresAt = stored(c.CreatedAt), stored(c.ExpiresAt)
	return c
}

func createChallenge(t *testing.T, s storage.Store, c storage.MFAChallenge) storage.MFAChallenge {
	t.Helper()
	if err := s.CreateMFAChallenge(t.Context(), c); err != nil {
		t.Fatalf("CreateMFAChallenge(%s of %q) error = %v", c.Purpose, c.UserID, err)
	}
	return storedChallenge(c)
}

// checkChallenge compares the stored challenge of want's ID, read at(1),
// with want.
func checkChallenge(t *testing.T, s storage.Store, call string, want storage.MFAChallenge) {
	t.Helper()
	got, err := s.GetMFAChallenge(t.Context(), want.ID, want.Purpose, at(1))
	if err != nil {
		t.Errorf("%s: GetMFAChallenge(%s) error = %v", call, want.Purpose, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetMFAChallenge(%s) mismatch (-want +got):\n%s", call, want.Purpose, d)
	}
	checkTime(t, call+": GetMFAChallenge() CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, call+": GetMFAChallenge() ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func checkChallengeGone(t *testing.T, s storage.Store, call string, c storage.MFAChallenge) {
	t.Helper()
	_, err := s.GetMFAChallenge(t.Context(), c.ID, c.Purpose, at(1))
	checkErr(t, call+": GetMFAChallenge()", err, storage.ErrNotFound)
}

// testCreateGetMFAChallenge: a challenge of a user and one of nobody yet
// (passwordless) read back as stored, only for their purpose and only
// before they expire.
func testCreateGetMFAChallenge(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	signIn := createChallenge(t, s, newChallenge(purposeSignIn, alice.ID))
	passwordless := newChallenge(purposeWebAuthn, "")
	passwordless.Data = nil
	passwordless = createChallenge(t, s, passwordless)

	checkChallenge(t, s, "of a user", signIn)
	checkChallenge(t, s, "of nobody yet", passwordless)
	got, err := s.GetMFAChallenge(ctx, passwordless.ID, passwordless.Purpose, at(1))
	if err == nil && got.UserID != "" {
		t.Errorf("GetMFAChallenge(of nobody yet) UserID = %q, want empty", got.UserID)
	}

	_, err = s.GetMFAChallenge(ctx, signIn.ID, purposeWebAuthn, at(1))
	checkErr(t, "GetMFAChallenge(wrong purpose)", err, storage.ErrNotFound)
	_, err = s.GetMFAChallenge(ctx, rand.Text(), purposeSignIn, at(1))
	checkErr(t, "GetMFAChallenge(unknown)", err, storage.ErrNotFound)
	if _, err := s.GetMFAChallenge(ctx, signIn.ID, signIn.Purpose, at(10).Add(-time.Microsecond)); err != nil {
		t.Errorf("GetMFAChallenge(1µs before expiry) error = %v", err)
	}
	for _, now := range []time.Time{at(10), at(11)} {
		_, err = s.GetMFAChallenge(ctx, signIn.ID, signIn.Purpose, now)
		checkErr(t, "GetMFAChallenge(expired)", err, storage.ErrNotFound)
	}
	// Neither a miss nor an expiry removes it.
	checkChallenge(t, s, "after the misses", signIn)
}

func testCreateMFAChallengeDuplicate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	first := createChallenge(t, s, newChallenge(purposeSignIn, alice.ID))

	for _, purpose := range []string{purposeSignIn, purposeWebAuthn} {
		c := newChallenge(purpose, "")
		c.ID = first.ID
		err := s.CreateMFAChallenge(t.Context(), c)
		checkErr(t, "CreateMFAChallenge(taken ID, "+purpose+")", err, storage.ErrAlreadyExists)
	}
	checkChallenge(t, s, "after the duplicates", first)
}

// testCreateMFAChallengeRefused: an unknown user is ErrNotFound, a
// challenge without a purpose ErrInvalid; neither is stored.
func testCreateMFAChallengeRefused(t *testing.T, s storage.Store) {
	c := newChallenge(purposeSignIn, storage.NewID(storage.PrefixUser))
	err := s.CreateMFAChallenge(t.Context(), c)
	checkErr(t, "CreateMFAChallenge(unknown user)", err, storage.ErrNotFound)
	checkChallengeGone(t, s, "refused challenge", c)

	c = newChallenge("", "")
	err = s.CreateMFAChallenge(t.Context(), c)
	checkErr(t, "CreateMFAChallenge(no purpose)", err, storage.ErrInvalid)
	_, err = s.TakeMFAChallenge(t.Context(), c.ID, "", at(1))
	checkErr(t, "TakeMFAChallenge(refused challenge)", err, storage.ErrNotFound)
}

// testTakeMFAChallenge: a challenge is taken once (WA-01), only for its
// purpose and only before it expires.
func testTakeMFAChallenge(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	c := createChallenge(t, s, newChallenge(purposeWebAuthn, alice.ID))
	expired := createChallenge(t, s, newChallenge(purposeWebAuthn, alice.ID))

	_, err := s.TakeMFAChallenge(ctx, c.ID, purposeSignIn, at(1))
	checkErr(t, "TakeMFAChallenge(wrong purpose)", err, storage.ErrNotFound)
	checkChallenge(t, s, "after a take for the wrong purpose", c)

	got, err := s.TakeMFAChallenge(ctx, c.ID, c.Purpose, at(1))
	if err != nil {
		t.Fatalf("TakeMFAChallenge() error = %v", err)
	}
	if d := diff(c, got); d != "" {
		t.Errorf("TakeMFAChallenge() mismatch (-want +got):\n%s", d)
	}
	checkTime(t, "TakeMFAChallenge() ExpiresAt", got.ExpiresAt, c.ExpiresAt)
	_, err = s.TakeMFAChallenge(ctx, c.ID, c.Purpose, at(1))
	checkErr(t, "TakeMFAChallenge(taken)", err, storage.ErrNotFound)
	checkChallengeGone(t, s, "taken challenge", c)

	_, err = s.TakeMFAChallenge(ctx, expired.ID, expired.Purpose, at(10))
	checkErr(t, "TakeMFAChallenge(expired)", err, storage.ErrNotFound)
	_, err = s.TakeMFAChallenge(ctx, rand.Text(), purposeWebAuthn, at(1))
	checkErr(t, "TakeMFAChallenge(unknown)", err, storage.ErrNotFound)
}

// testConcurrentTakeMFAChallenge takes one challenge from writers requests
// at once: exactly one gets it.
func testConcurrentTakeMFAChallenge(t *testing.T, s storage.Store) {
	c := createChallenge(t, s, newChallenge(purposeWebAuthn, ""))
	checkExactlyOne(t, "takes of one challenge", storage.ErrNotFound, func() error {
		got, err := s.TakeMFAChallenge(t.Context(), c.ID, c.Purpose, at(1))
		if err == nil {
			if d := diff(c, got); d != "" {
				t.Errorf("TakeMFAChallenge() mismatch (-want +got):\n%s", d)
			}
		}
		return err
	})
	checkChallengeGone(t, s, "after concurrent takes", c)
}

// testDeleteExpiredMFAChallenges deletes challenges that expired strictly
// before now.
func testDeleteExpiredMFAChallenges(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	var cs []storage.MFAChallenge
	for i := range 4 {
		c := newChallenge(purposeSignIn, alice.ID)
		if i%2 == 1 {
			c.Purpose, c.UserID = purposeWebAuthn, ""
		}
		c.ExpiresAt = at(10 * (i + 1)) // at(10), at(20), at(30), at(40)
		cs = append(cs, createChallenge(t, s, c))
	}

	// at(10) and at(20) are before at(20)+1µs; at(30) is not.
	if n, err := s.DeleteExpiredMFAChallenges(ctx, at(20).Add(time.Microsecond)); err != nil || n != 2 {
		t.Errorf("DeleteExpiredMFAChallenges(at(20)+1µs) = %d, %v; want 2, nil", n, err)
	}
	// at(30) is not before at(30).
	if n, err := s.DeleteExpiredMFAChallenges(ctx, at(30)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredMFAChallenges(at(30)) = %d, %v; want 0, nil", n, err)
	}
	checkChallengeGone(t, s, "challenge expired at(10)", cs[0])
	checkChallengeGone(t, s, "challenge expired at(20)", cs[1])
	checkChallenge(t, s, "challenge expiring at(30)", cs[2])
	checkChallenge(t, s, "challenge expiring at(40)", cs[3])
}

// testMFARollback: every kind of write with a transaction's context happens
// in it: seen there, unseen outside, and undone by Rollback.
func testMFARollback(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	f := saveTOTPFactor(t, s, newTOTPFactor(alice.ID))
	codes := recoveryHashes(3)
	replaceRecoveryCodes(t, s, alice.ID, codes)
	p := createPasskey(t, s, newPasskey(alice.ID, 0))
	taken := createChallenge(t, s, newChallenge(purposeWebAuthn, alice.ID))

	ctx := beginTx(t, s)
	confirmed, err := s.UseTOTPStep(ctx, alice.ID, 9, at(1))
	if err != nil {
		t.Fatalf("UseTOTPStep() in a transaction error = %v", err)
	}
	if got, err := s.GetTOTPFactor(ctx, alice.ID); err != nil || got.LastStep != 9 {
		t.Errorf("GetTOTPFactor() in the transaction = step %d, %v; want 9, nil", got.LastStep, err)
	}
	if n, err := s.UseRecoveryCode(ctx, alice.ID, codes[0], at(1)); err != nil || n != 2 {
		t.Errorf("UseRecoveryCode() in a transaction = %d, %v; want 2, nil", n, err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, alice.ID, recoveryHashes(5), at(1)); err != nil {
		t.Errorf("ReplaceRecoveryCodes() in a transaction error = %v", err)
	}
	if n, err := s.CountRecoveryCodes(ctx, alice.ID); err != nil || n != 5 {
		t.Errorf("CountRecoveryCodes() in the transaction = %d, %v; want 5, nil", n, err)
	}
	added := newPasskey(alice.ID, 1)
	if err := s.CreatePasskey(ctx, added); err != nil {
		t.Errorf("CreatePasskey() in a transaction error = %v", err)
	}
	if _, err := s.UpdatePasskey(ctx, p.ID, func(p storage.Passkey) (storage.Passkey, error) {
		p.Name = "Renamed"
		return p, nil
	}); err != nil {
		t.Errorf("UpdatePasskey() in a transaction error = %v", err)
	}
	if keys, err := s.ListPasskeys(ctx, alice.ID); err != nil || len(keys) != 2 || keys[0].Name != "Renamed" {
		t.Errorf("ListPasskeys() in the transaction = %v, %v; want the renamed one and the new one", keys, err)
	}
	if _, err := s.TakeMFAChallenge(ctx, taken.ID, taken.Purpose, at(1)); err != nil {
		t.Errorf("TakeMFAChallenge() in a transaction error = %v", err)
	}
	created := newChallenge(purposeSignIn, alice.ID)
	if err := s.CreateMFAChallenge(ctx, created); err != nil {
		t.Errorf("CreateMFAChallenge() in a transaction error = %v", err)
	}
	if _, err := s.GetMFAChallenge(ctx, created.ID, created.Purpose, at(1)); err != nil {
		t.Errorf("GetMFAChallenge() in the transaction error = %v", err)
	}

	checkTOTPFactor(t, s, "outside the transaction before Rollback", f)
	checkRecoveryCount(t, s, "outside the transaction before Rollback", alice.ID, 3)
	checkPasskeys(t, s, "outside the transaction before Rollback", alice.ID, []storage.Passkey{p})
	checkChallenge(t, s, "outside the transaction before Rollback", taken)
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}

	checkTOTPFactor(t, s, "after Rollback", f)
	checkRecoveryCount(t, s, "after Rollback", alice.ID, 3)
	checkPasskeys(t, s, "after Rollback", alice.ID, []storage.Passkey{p})
	checkChallenge(t, s, "after Rollback", taken)
	checkChallengeGone(t, s, "created in the rolled-back transaction", storedChallenge(created))
	// What was spent in the rolled-back transaction can be spent again.
	if got, err := s.UseTOTPStep(t.Context(), alice.ID, 9, at(1)); err != nil {
		t.Errorf("UseTOTPStep() after Rollback error = %v", err)
	} else if d := diff(confirmed, got); d != "" {
		t.Errorf("UseTOTPStep() after Rollback mismatch (-want +got):\n%s", d)
	}
	if n, err := s.UseRecoveryCode(t.Context(), alice.ID, codes[0], at(1)); err != nil || n != 2 {
		t.Errorf("UseRecoveryCode() after Rollback = %d, %v; want 2, nil", n, err)
	}
}

// testDeleteUserRemovesMFA: deleting a user removes their factors and
// challenges, and nobody else's.
func testDeleteUserRemovesMFA(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	saveTOTPFactor(t, s, newTOTPFactor(alice.ID))
	bobsFactor := saveTOTPFactor(t, s, newTOTPFactor(bob.ID))
	replaceRecoveryCodes(t, s, alice.ID, recoveryHashes(3))
	replaceRecoveryCodes(t, s, bob.ID, recoveryHashes(2))
	alicesKey := createPasskey(t, s, newPasskey(alice.ID, 0))
	bobsKey := createPasskey(t, s, newPasskey(bob.ID, 0))
	alicesChallenge := createChallenge(t, s, newChallenge(purposeSignIn, alice.ID))
	bobsChallenge := createChallenge(t, s, newChallenge(purposeSignIn, bob.ID))
	nobodys := createChallenge(t, s, newChallenge(purposeWebAuthn, ""))

	if err := s.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatalf("DeleteUser() error = %v", err)
	}
	checkTOTPFactorGone(t, s, "factor of a deleted user", alice.ID)
	checkRecoveryCount(t, s, "codes of a deleted user", alice.ID, 0)
	checkPasskeyGone(t, s, "passkey of a deleted user", alicesKey.ID)
	checkPasskeys(t, s, "passkeys of a deleted user", alice.ID, nil)
	checkChallengeGone(t, s, "challenge of a deleted user", alicesChallenge)

	checkTOTPFactor(t, s, "factor of another user", bobsFactor)
	checkRecoveryCount(t, s, "codes of another user", bob.ID, 2)
	checkPasskey(t, s, "passkey of another user", bobsKey)
	checkChallenge(t, s, "challenge of another user", bobsChallenge)
	checkChallenge(t, s, "challenge of nobody yet", nobodys)

	// A user created again with the ID starts with no factor.
	again := newUser("alice@example.com")
	again.ID = alice.ID
	createUser(t, s, again)
	checkTOTPFactorGone(t, s, "factor of a recreated user", alice.ID)
	checkRecoveryCount(t, s, "codes of a recreated user", alice.ID, 0)
}
