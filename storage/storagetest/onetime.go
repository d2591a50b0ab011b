package storagetest

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func oneTimeTokenTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetOneTimeToken},
		{"CreateDuplicate", testCreateOneTimeTokenDuplicate},
		{"CreateForUnknownUser", testCreateOneTimeTokenUnknownUser},
		{"NotFound", testOneTimeTokenNotFound},
		{"NewerSupersedesEarlier", testOneTimeTokenSupersedes},
		{"UseOnce", testUseOneTimeToken},
		{"ConcurrentUseOnce", testConcurrentUseOneTimeToken},
		{"ExpiredRefused", testUseExpiredOneTimeToken},
		{"RolledBackCreateLeavesNothing", testCreateOneTimeTokenRollback},
		{"DeleteExpired", testDeleteExpiredOneTimeTokens},
		{"DeleteUserRemovesTokens", testDeleteUserRemovesOneTimeTokens},
	}
}

// newOneTimeToken returns a magic-link token of the user, created at(0) and
// expiring at(10). Its hash stands for the keyed hash of a random token.
func newOneTimeToken(u storage.User) storage.OneTimeToken {
	return storage.OneTimeToken{
		Hash:      rand.Text(),
		Purpose:   storage.PurposeMagicLink,
		UserID:    u.ID,
		Email:     u.Email,
		Binding:   rand.Text(),
		Challenge: rand.Text(),
		CreatedAt: at(0),
		ExpiresAt: at(10),
	}
}

func storedOneTimeToken(t storage.OneTimeToken) storage.OneTimeToken {
	t.CreatedAt, t.ExpiresAt = stored(t.CreatedAt), stored(t.ExpiresAt)
	if !t.UsedAt.IsZero() {
		t.UsedAt = stored(t.UsedAt)
	}
	return t
}

func createOneTimeToken(t *testing.T, s storage.Store, tok storage.OneTimeToken) storage.OneTimeToken {
	t.Helper()
	if err := s.CreateOneTimeToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateOneTimeToken(%s of %q) error = %v", tok.Purpose, tok.UserID, err)
	}
	return storedOneTimeToken(tok)
}

// checkOneTimeToken compares the stored token of want's hash with want.
func checkOneTimeToken(t *testing.T, s storage.Store, call string, want storage.OneTimeToken) {
	t.Helper()
	got, err := s.GetOneTimeToken(t.Context(), want.Hash)
	if err != nil {
		t.Errorf("%s: GetOneTimeToken() error = %v", call, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetOneTimeToken() mismatch (-want +got):\n%s", call, d)
	}
}

func testCreateGetOneTimeToken(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bound := newOneTimeToken(alice)
	bare := newOneTimeToken(alice)
	bare.Purpose, bare.Binding, bare.Challenge = storage.PurposeResetPassword, "", ""

	checkOneTimeToken(t, s, "bound to a browser and an authorization", createOneTimeToken(t, s, bound))
	checkOneTimeToken(t, s, "without binding or challenge", createOneTimeToken(t, s, bare))
}

func testCreateOneTimeTokenDuplicate(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	first := createOneTimeToken(t, s, newOneTimeToken(alice))

	again := newOneTimeToken(bob)
	again.Hash, again.Purpose = first.Hash, storage.PurposeVerifyEmail
	err := s.CreateOneTimeToken(t.Context(), again)
	checkErr(t, "CreateOneTimeToken(taken hash)", err, storage.ErrAlreadyExists)
	// The refused token superseded nothing.
	checkOneTimeToken(t, s, "after the duplicate", first)
}

func testCreateOneTimeTokenUnknownUser(t *testing.T, s storage.Store) {
	ghost := newUser("ghost@example.com") // never created
	tok := newOneTimeToken(ghost)
	err := s.CreateOneTimeToken(t.Context(), tok)
	checkErr(t, "CreateOneTimeToken(unknown user)", err, storage.ErrNotFound)
	_, err = s.GetOneTimeToken(t.Context(), tok.Hash)
	checkErr(t, "GetOneTimeToken(refused token)", err, storage.ErrNotFound)
}

func testOneTimeTokenNotFound(t *testing.T, s storage.Store) {
	_, err := s.GetOneTimeToken(t.Context(), rand.Text())
	checkErr(t, "GetOneTimeToken(unknown)", err, storage.ErrNotFound)
	_, err = s.UseOneTimeToken(t.Context(), rand.Text(), at(1))
	checkErr(t, "UseOneTimeToken(unknown)", err, storage.ErrNotFound)
}

// testOneTimeTokenSupersedes: a new token marks the user's earlier unused
// tokens of its purpose used, at its creation time (ML-03), and leaves
// alone their other purposes, other users' tokens and used tokens.
func testOneTimeTokenSupersedes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))

	used := createOneTimeToken(t, s, newOneTimeToken(alice))
	if _, err := s.UseOneTimeToken(ctx, used.Hash, at(1)); err != nil {
		t.Fatalf("UseOneTimeToken(first) error = %v", err)
	}
	used.UsedAt = stored(at(1))
	earlier := createOneTimeToken(t, s, newOneTimeToken(alice))
	reset := newOneTimeToken(alice)
	reset.Purpose = storage.PurposeResetPassword
	reset = createOneTimeToken(t, s, reset)
	bobs := createOneTimeToken(t, s, newOneTimeToken(bob))

	newer := newOneTimeToken(alice)
	newer.CreatedAt, newer.ExpiresAt = at(2), at(12)
	newer = createOneTimeToken(t, s, newer)

	earlier.UsedAt = stored(at(2))
	checkOneTimeToken(t, s, "earlier token of the same user and purpose", earlier)
	checkOneTimeToken(t, s, "token used before", used)
	checkOneTimeToken(t, s, "same user, other purpose", reset)
	checkOneTimeToken(t, s, "other user, same purpose", bobs)
	checkOneTimeToken(t, s, "newer token", newer)

	_, err := s.UseOneTimeToken(ctx, earlier.Hash, at(3))
	checkErr(t, "UseOneTimeToken(superseded)", err, storage.ErrConflict)
	for _, tok := range []storage.OneTimeToken{newer, reset, bobs} {
		if _, err := s.UseOneTimeToken(ctx, tok.Hash, at(3)); err != nil {
			t.Errorf("UseOneTimeToken(%s of %q) error = %v", tok.Purpose, tok.Email, err)
		}
	}
}

// testUseOneTimeToken: the first use returns the token marked used; the
// second is refused (ML-02) and changes nothing.
func testUseOneTimeToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	tok := createOneTimeToken(t, s, newOneTimeToken(alice))

	got, err := s.UseOneTimeToken(ctx, tok.Hash, at(1))
	if err != nil {
		t.Fatalf("UseOneTimeToken() error = %v", err)
	}
	tok.UsedAt = stored(at(1))
	if d := diff(tok, got); d != "" {
		t.Errorf("UseOneTimeToken() mismatch (-want +got):\n%s", d)
	}
	_, err = s.UseOneTimeToken(ctx, tok.Hash, at(2))
	checkErr(t, "UseOneTimeToken(second use)", err, storage.ErrConflict)
	checkOneTimeToken(t, s, "after the second use", tok)
}

// testConcurrentUseOneTimeToken opens one link from writers requests at
// once: exactly one signs in.
func testConcurrentUseOneTimeToken(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	tok := createOneTimeToken(t, s, newOneTimeToken(alice))
	checkExactlyOne(t, "uses of one token", storage.ErrConflict, func() error {
		_, err := s.UseOneTimeToken(t.Context(), tok.Hash, at(1))
		return err
	})
}

// testUseExpiredOneTimeToken: a token is refused from its expiry on (ML-03)
// and stays unused.
func testUseExpiredOneTimeToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	tok := createOneTimeToken(t, s, newOneTimeToken(alice))
	for _, now := range []time.Time{at(10), at(11)} {
		_, err := s.UseOneTimeToken(ctx, tok.Hash, now)
		checkErr(t, "UseOneTimeToken(expired)", err, storage.ErrConflict)
	}
	checkOneTimeToken(t, s, "after expired uses", tok)
}

// testCreateOneTimeTokenRollback: a token created in a transaction that
// rolls back is gone, and the earlier token it superseded works again.
func testCreateOneTimeTokenRollback(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	earlier := createOneTimeToken(t, s, newOneTimeToken(alice))

	ctx := beginTx(t, s)
	newer := newOneTimeToken(alice)
	newer.CreatedAt = at(1)
	if err := s.CreateOneTimeToken(ctx, newer); err != nil {
		t.Fatalf("CreateOneTimeToken(in a transaction) error = %v", err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	_, err := s.GetOneTimeToken(t.Context(), newer.Hash)
	checkErr(t, "GetOneTimeToken(rolled back)", err, storage.ErrNotFound)
	checkOneTimeToken(t, s, "earlier token after the rollback", earlier)
}

// testDeleteExpiredOneTimeTokens deletes tokens that expired strictly
// before now, used or not.
func testDeleteExpiredOneTimeTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	var toks []storage.OneTimeToken
	for i, purpose := range []storage.TokenPurpose{storage.PurposeMagicLink, storage.PurposeVerifyEmail, storage.PurposeResetPassword} {
		tok := newOneTimeToken(alice)
		tok.Purpose, tok.ExpiresAt = purpose, at(10*(i+1)) // at(10), at(20), at(30)
		toks = append(toks, createOneTimeToken(t, s, tok))
	}
	if _, err := s.UseOneTimeToken(ctx, toks[0].Hash, at(1)); err != nil {
		t.Fatalf("UseOneTimeToken() error = %v", err)
	}

	// The used token that expired at(10); at(20) is not before at(20).
	if n, err := s.DeleteExpiredOneTimeTokens(ctx, at(20)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredOneTimeTokens(at(20)) = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.DeleteExpiredOneTimeTokens(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredOneTimeTokens(at(20)) again = %d, %v; want 0, nil", n, err)
	}
	_, err := s.GetOneTimeToken(ctx, toks[0].Hash)
	checkErr(t, "GetOneTimeToken(deleted)", err, storage.ErrNotFound)
	checkOneTimeToken(t, s, "token expiring at(20)", toks[1])
	checkOneTimeToken(t, s, "token expiring at(30)", toks[2])
}

func testDeleteUserRemovesOneTimeTokens(t *testing.T, s storage.Store) {
	alice := createUser(t, s, newUser("alice@example.com"))
	tok := createOneTimeToken(t, s, newOneTimeToken(alice))
	if err := s.DeleteUser(t.Context(), alice.ID); err != nil {
		t.Fatalf("DeleteUser() error = %v", err)
	}
	_, err := s.GetOneTimeToken(t.Context(), tok.Hash)
	checkErr(t, "GetOneTimeToken(of a deleted user)", err, storage.ErrNotFound)
}
