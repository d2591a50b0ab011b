package idp

import (
	"errors"
	"strings"
	"testing"

	"github.com/foyerdev/foyer/idp/password"
	"github.com/foyerdev/foyer/storage"
)

// TestLG06PasswordPolicy: 8 to 256 characters of anything, no composition
// rules, not a common password (ignoring case); nothing trimmed,
// truncated or case-folded.
func TestLG06PasswordPolicy(t *testing.T) {
	d := newDirectory(t)
	long := strings.Repeat("a long passphrase ", 14)[:252] + "tail" // 256 characters
	for _, tc := range []struct {
		name, pw, wantMsg string
	}{
		{"7 characters", "x7Gq!pz", "must be at least 8 characters"},
		{"8 characters of letters only", "qzvtmwpk", ""},
		{"8 characters counted as runes, not bytes", "пароль12", ""},
		{"7 runes in 14 bytes", "пароль1", "must be at least 8 characters"},
		{"64 characters", strings.Repeat("abcdefgh", 8), ""},
		{"256 characters", long, ""},
		{"257 characters", long + "!", "must be at most 256 characters"},
		{"common", "iloveyou", "This password is too common. Choose another."},
		{"common in another case", "PassWord1", "This password is too common. Choose another."},
		{"common number", "12345678", "This password is too common. Choose another."},
		{"common word with spaces around is not the common word", " password ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hash, err := d.HashPassword(tc.pw)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("HashPassword(%q) error = %v, want nil", tc.pw, err)
				}
				if ok, err := password.Verify(tc.pw, hash); !ok || err != nil {
					t.Errorf("Verify(%q, HashPassword(%q)) = %v, %v; want true", tc.pw, tc.pw, ok, err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "password" || fe.Message != tc.wantMsg {
				t.Errorf("HashPassword(%q) error = %v, want password: %s", tc.pw, err, tc.wantMsg)
			}
		})
	}
}

// TestLG06NoTruncationNoFolding: the whole password counts, as typed.
func TestLG06NoTruncationNoFolding(t *testing.T) {
	d := newDirectory(t)
	pw := strings.Repeat("x", 100) + "A"
	hash, err := d.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{strings.Repeat("x", 100) + "a", strings.Repeat("x", 100), strings.Repeat("x", 72)} {
		if ok, _ := password.Verify(other, hash); ok {
			t.Errorf("a password of %d characters verifies against the hash of another", len(other))
		}
	}
}

// TestLG06PolicyWhereverAPasswordIsSet: the CLI's CreateUser and sign-up
// refuse a common password too.
func TestLG06PolicyWhereverAPasswordIsSet(t *testing.T) {
	d := newDirectory(t)
	_, err := d.CreateUser(t.Context(), NewUser{Email: "bob@example.com", Password: "football"})
	wantField(t, "CreateUser(common password)", err, "password")
	_, err = d.PrepareSignUp("bob@example.com", "", "Football")
	wantField(t, "PrepareSignUp(common password)", err, "password")
}

func TestPrepareSignUp(t *testing.T) {
	d := newDirectory(t)
	u, err := d.PrepareSignUp("Bob@Example.com", " Bob ", "correct horse battery")
	if err != nil {
		t.Fatalf("PrepareSignUp = %v", err)
	}
	if !strings.HasPrefix(u.ID, storage.PrefixUser) || u.Email != "Bob@Example.com" || u.Name != "Bob" || u.EmailVerified || u.Admin || u.CreatedAt.IsZero() {
		t.Errorf("PrepareSignUp = %+v, want an unverified, non-admin user with an ID", u)
	}
	if ok, err := password.Verify("correct horse battery", u.PasswordHash); !ok || err != nil {
		t.Errorf("prepared hash does not verify the password: %v, %v", ok, err)
	}
	if _, err := d.store.GetUser(t.Context(), u.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetUser(prepared user) error = %v, want ErrNotFound: PrepareSignUp stores nothing", err)
	}
	for _, tc := range []struct{ name, email, userName, pw, field string }{
		{"no password", "bob@example.com", "", "", "password"},
		{"bad email", "bob", "", "correct horse battery", "email"},
		{"control character in name", "bob@example.com", "Bob\x07", "correct horse battery", "name"},
	} {
		_, err := d.PrepareSignUp(tc.email, tc.userName, tc.pw)
		wantField(t, "PrepareSignUp("+tc.name+")", err, tc.field)
	}
}

func TestCheckPassword(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	u, err := d.CreateUser(ctx, NewUser{Email: "alice@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	none, err := d.CreateUser(ctx, NewUser{Email: "nopassword@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, userID, pw string
		want             bool
	}{
		{"right password", u.ID, "correct horse", true},
		{"wrong password", u.ID, "correct horsE", false},
		{"empty password", u.ID, "", false},
		{"user without a password", none.ID, "", false},
	} {
		if got, err := d.CheckPassword(ctx, tc.userID, tc.pw); got != tc.want || err != nil {
			t.Errorf("%s: CheckPassword = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
	if ok, err := d.CheckPassword(ctx, "usr_unknown", "x"); ok || !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CheckPassword(unknown user) = %v, %v; want false, ErrNotFound", ok, err)
	}
}

// TestAuthenticateRehashes: a sign-in with a hash made under other
// parameters stores it again under the current ones, once.
func TestAuthenticateRehashes(t *testing.T) {
	store := newStore(t)
	ctx := t.Context()
	older := password.Params{Memory: 64, Time: 1, Threads: 1}
	current := password.Params{Memory: 128, Time: 2, Threads: 1}
	u, err := newDirectoryOn(store, older).CreateUser(ctx, NewUser{Email: "alice@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	d := newDirectoryOn(store, current)

	if _, err := d.Authenticate(ctx, "alice@example.com", "wrong horse"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("Authenticate(wrong password) = %v", err)
	}
	if got := storedHash(t, d, u.ID); got != u.PasswordHash {
		t.Errorf("a wrong password changed the stored hash")
	}

	if _, err := d.Authenticate(ctx, "alice@example.com", "correct horse"); err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	rehashed := storedHash(t, d, u.ID)
	if password.NeedsRehash(rehashed, current) {
		t.Errorf("after sign-in the hash is %q, want one under %+v", rehashed, current)
	}
	if ok, _ := password.Verify("correct horse", rehashed); !ok {
		t.Errorf("the new hash does not verify the password")
	}

	if _, err := d.Authenticate(ctx, "alice@example.com", "correct horse"); err != nil {
		t.Fatalf("Authenticate again = %v", err)
	}
	if got := storedHash(t, d, u.ID); got != rehashed {
		t.Errorf("a hash under the current parameters was hashed again")
	}
}

// TestRehashLeavesAChangedPasswordAlone: a rehash racing a password change
// must not put the old password back.
func TestRehashLeavesAChangedPasswordAlone(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	stale, err := d.CreateUser(ctx, NewUser{Email: "alice@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := d.HashPassword("a brand new passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.UpdateUser(ctx, stale.ID, func(u storage.User) (storage.User, error) {
		u.PasswordHash = changed
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	d.rehash(ctx, stale, "correct horse")
	if got := storedHash(t, d, stale.ID); got != changed {
		t.Errorf("rehash overwrote a password changed meanwhile")
	}
}

func storedHash(t *testing.T, d *Directory, userID string) string {
	t.Helper()
	u, err := d.store.GetUser(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}
