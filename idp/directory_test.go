package idp

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/idp/password"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/sqlite"
)

func newDirectory(t *testing.T) *Directory {
	t.Helper()
	return newDirectoryOn(newStore(t), password.Params{Memory: 64, Time: 1, Threads: 1})
}

func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "foyer.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return store
}

func newDirectoryOn(store *sqlite.Store, params password.Params) *Directory {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return NewDirectory(Options{
		Store:          store,
		PasswordParams: params,
		Now:            func() time.Time { return now },
	})
}

// wantField checks that err is a FieldError on field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Errorf("%s = %v, want a FieldError on %q", what, err, field)
	}
}

func TestCreateUser(t *testing.T) {
	d := newDirectory(t)
	u, err := d.CreateUser(t.Context(), NewUser{Email: "Alice@Example.com", Password: "correct horse", Name: " Alice "})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "Alice@Example.com" || u.Name != "Alice" || u.CreatedAt.IsZero() {
		t.Errorf("CreateUser = %+v", u)
	}
	if ok, err := password.Verify("correct horse", u.PasswordHash); !ok || err != nil {
		t.Errorf("stored hash does not verify the password: %v %v", ok, err)
	}
	_, err = d.CreateUser(t.Context(), NewUser{Email: "alice@example.COM"})
	wantField(t, "CreateUser(duplicate email in another case)", err, "email")
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("duplicate email error %v does not wrap storage.ErrAlreadyExists", err)
	}

	for _, tc := range []struct {
		name  string
		in    NewUser
		field string
	}{
		{"no email", NewUser{}, "email"},
		{"display name form", NewUser{Email: "Bob <bob@example.com>"}, "email"},
		{"spaces around", NewUser{Email: " bob@example.com"}, "email"},
		{"no at sign", NewUser{Email: "bob.example.com"}, "email"},
		{"short password", NewUser{Email: "bob@example.com", Password: "1234567"}, "password"},
		{"huge password", NewUser{Email: "bob@example.com", Password: strings.Repeat("x", 257)}, "password"},
		{"control character in name", NewUser{Email: "bob@example.com", Name: "Bob\x00"}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.CreateUser(t.Context(), tc.in)
			wantField(t, "CreateUser", err, tc.field)
		})
	}
}

func TestOrganizationsAndMembers(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	u, err := d.CreateUser(ctx, NewUser{Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.CreateOrganization(ctx, "acme", "Acme again")
	wantField(t, "CreateOrganization(duplicate slug)", err, "slug")

	for _, tc := range []struct{ slug, name, field string }{
		{"", "X", "slug"},
		{"-acme", "X", "slug"},
		{"acme-", "X", "slug"},
		{"ACME", "X", "slug"},
		{"org_x", "X", "slug"},
		{"good", " ", "name"},
	} {
		_, err := d.CreateOrganization(ctx, tc.slug, tc.name)
		wantField(t, "CreateOrganization("+tc.slug+")", err, tc.field)
	}

	m, err := d.AddMember(ctx, "acme", "ALICE@example.com", storage.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	if m.OrgID != o.ID || m.UserID != u.ID || m.Role != "editor" || m.OrgSlug != "acme" || m.Email != "alice@example.com" {
		t.Errorf("AddMember = %+v", m)
	}
	// The organization may be named by ID as well as by slug.
	_, err = d.AddMember(ctx, o.ID, "alice@example.com", storage.RoleMember)
	wantField(t, "AddMember(already a member)", err, "email")
	_, err = d.AddMember(ctx, "acme", "nobody@example.com", storage.RoleMember)
	wantField(t, "AddMember(unknown email)", err, "email")
	_, err = d.AddMember(ctx, "nope", "alice@example.com", storage.RoleMember)
	wantField(t, "AddMember(unknown org)", err, "org")
	_, err = d.AddMember(ctx, "acme", "alice@example.com", "owner")
	wantField(t, "AddMember(unknown role)", err, "role")
}

// FuzzValidateSlug: whatever the input, a slug that passes is safe in a URL
// path segment and a DNS label.
func FuzzValidateSlug(f *testing.F) {
	for _, s := range []string{"acme", "a", "-a", "a-", "a--b", "ACME", "org_x", "ünï", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateSlug(s) != nil {
			return
		}
		if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
			t.Fatalf("ValidateSlug(%q) accepted a bad slug", s)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("ValidateSlug(%q) accepted %q", s, r)
			}
		}
	})
}

// FuzzValidateEmail: an accepted email is one bare address that round-trips.
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"a@b.c", "Bob <b@c.d>", " a@b.c", "a@b", "\"a b\"@c.d", "a@[127.0.0.1]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateEmail(s) != nil {
			return
		}
		if len(s) > 254 || storage.EmailKey(s) == "" {
			t.Fatalf("ValidateEmail(%q) accepted it", s)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	d := newDirectory(t)
	ctx := t.Context()
	u, err := d.CreateUser(ctx, NewUser{Email: "Alice@Example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, NewUser{Email: "nopassword@example.com"}); err != nil {
		t.Fatal(err)
	}
	if id, err := d.Authenticate(ctx, "alice@example.COM", "correct horse"); err != nil || id != u.ID {
		t.Errorf("Authenticate(right password, other case) = %q, %v; want %q", id, err, u.ID)
	}
	for _, tc := range []struct{ name, email, password string }{
		{"wrong password", "alice@example.com", "correct horsE"},
		{"unknown email", "bob@example.com", "correct horse"},
		{"account without a password", "nopassword@example.com", ""},
		{"empty password", "alice@example.com", ""},
	} {
		if id, err := d.Authenticate(ctx, tc.email, tc.password); !errors.Is(err, ErrBadCredentials) || id != "" {
			t.Errorf("%s: Authenticate = %q, %v; want ErrBadCredentials", tc.name, id, err)
		}
	}
}
