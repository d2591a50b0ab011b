package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/foyerdev/foyer/idp/password"
	"github.com/foyerdev/foyer/storage"
)

// DirectoryStore is the slice of storage a Directory uses.
type DirectoryStore interface {
	storage.Users
	storage.Organizations
	storage.Roles
	storage.Memberships
}

// Options configure a Directory. cmd fills them.
type Options struct {
	Store          DirectoryStore
	PasswordParams password.Params  // zero means password.DefaultParams
	Now            func() time.Time // zero means time.Now
	Logger         *slog.Logger     // nil means no logs
}

// Directory creates users and organizations and manages memberships.
type Directory struct {
	store     DirectoryStore
	params    password.Params
	now       func() time.Time
	logger    *slog.Logger
	decoyOnce sync.Once
	decoy     string
}

// NewDirectory returns a Directory over opts.Store.
func NewDirectory(opts Options) *Directory {
	d := &Directory{store: opts.Store, params: opts.PasswordParams, now: opts.Now, logger: opts.Logger}
	if d.params == (password.Params{}) {
		d.params = password.DefaultParams
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// NewUser is the input for CreateUser.
type NewUser struct {
	Email         string
	Password      string // optional: a person may sign in without one
	Name          string
	EmailVerified bool
	Admin         bool
}

// CreateUser validates in, hashes the password and stores the user.
func (d *Directory) CreateUser(ctx context.Context, in NewUser) (storage.User, error) {
	u, err := d.PrepareUser(in)
	if err != nil {
		return storage.User{}, err
	}
	return d.StoreUser(ctx, u)
}

// StoreUser stores a user PrepareUser made; a taken email is a
// *FieldError.
func (d *Directory) StoreUser(ctx context.Context, u storage.User) (storage.User, error) {
	u, err := d.store.CreateUser(ctx, u)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return storage.User{}, &FieldError{Field: "email", Message: "is already used by another account", Err: err}
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// PrepareSignUp checks a sign-up (email, optional name, password under the
// policy) and returns the new user, unverified, with an ID and the
// password hashed, but does not store it: the sign-up page stores it in
// one transaction with the verification link and its email, and the
// hashing (tens of milliseconds) stays outside that transaction. Bad input
// is a *FieldError.
func (d *Directory) PrepareSignUp(email, name, pw string) (storage.User, error) {
	if pw == "" {
		return storage.User{}, &FieldError{Field: "password", Message: "is required"}
	}
	return d.PrepareUser(NewUser{Email: email, Name: name, Password: pw})
}

// PrepareUser checks in and returns the user to store, with an ID and the
// password hashed, without storing it: a caller that stores it in a
// transaction with other writes (an audit entry) hashes first, so the
// hashing (tens of milliseconds) holds no transaction open. Bad input is a
// *FieldError.
func (d *Directory) PrepareUser(in NewUser) (storage.User, error) {
	if err := ValidateEmail(in.Email); err != nil {
		return storage.User{}, err
	}
	if err := validateName("name", in.Name, false); err != nil {
		return storage.User{}, err
	}
	var hash string
	if in.Password != "" {
		var err error
		if hash, err = d.HashPassword(in.Password); err != nil {
			return storage.User{}, err
		}
	}
	now := d.now()
	return storage.User{
		ID:            storage.NewID(storage.PrefixUser),
		Email:         in.Email,
		EmailVerified: in.EmailVerified,
		Name:          strings.TrimSpace(in.Name),
		PasswordHash:  hash,
		Admin:         in.Admin,
		CreatedAt:     now,
		UpdatedAt:     now,
	}, nil
}

// HashPassword applies the password policy (LG-06) to a new password and
// returns its hash to store; a refused password is a *FieldError on
// "password". Callers store the hash themselves, so that changing a
// password can share a transaction with ending sessions and the notice
// email.
func (d *Directory) HashPassword(pw string) (string, error) {
	if err := validatePassword(pw); err != nil {
		return "", err
	}
	return password.Hash(pw, d.params), nil
}

// CheckPassword reports whether pw is the user's current password, as the
// account page asks before changing it. A user without a password has
// none to match. ErrNotFound (wrapped) for an unknown user.
func (d *Directory) CheckPassword(ctx context.Context, userID, pw string) (bool, error) {
	u, err := d.store.GetUser(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("check password: %w", err)
	}
	if u.PasswordHash == "" {
		return false, nil
	}
	ok, err := password.Verify(pw, u.PasswordHash)
	if err != nil {
		return false, fmt.Errorf("check password of %s: %w", userID, err)
	}
	return ok, nil
}

// CreateOrganization validates and stores a new organization with no
// branding and no second-factor requirement.
func (d *Directory) CreateOrganization(ctx context.Context, slug, name string) (storage.Organization, error) {
	return d.CreateOrganizationWith(ctx, NewOrganization{Slug: slug, Name: name})
}

// NewOrganization is the input of Directory.CreateOrganizationWith.
type NewOrganization struct {
	Slug       string
	Name       string
	LogoURL    string // optional: ValidateLogoURL
	BrandColor string // optional: ValidateBrandColor
	RequireMFA bool
}

// CreateOrganizationWith validates and stores a new organization with its
// optional settings.
func (d *Directory) CreateOrganizationWith(ctx context.Context, n NewOrganization) (storage.Organization, error) {
	if err := ValidateSlug(n.Slug); err != nil {
		return storage.Organization{}, err
	}
	if err := validateName("name", n.Name, true); err != nil {
		return storage.Organization{}, err
	}
	if err := validateBranding(n.LogoURL, n.BrandColor); err != nil {
		return storage.Organization{}, err
	}
	now := d.now()
	o, err := d.store.CreateOrganization(ctx, storage.Organization{
		ID:         storage.NewID(storage.PrefixOrganization),
		Slug:       n.Slug,
		Name:       strings.TrimSpace(n.Name),
		LogoURL:    n.LogoURL,
		BrandColor: NormalizeBrandColor(n.BrandColor),
		RequireMFA: n.RequireMFA,
		CreatedAt:  now,
		UpdatedAt:  now,
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return storage.Organization{}, &FieldError{Field: "slug", Message: fmt.Sprintf("%q is already taken", n.Slug), Err: err}
	}
	if err != nil {
		return storage.Organization{}, fmt.Errorf("create organization: %w", err)
	}
	return o, nil
}

// OrgChanges are what Directory.UpdateOrganization changes: nil leaves a
// setting as it is. The slug stays, since clients pass it as the
// organization authorization parameter.
type OrgChanges struct {
	Name       *string
	LogoURL    *string // "" removes the logo
	BrandColor *string // "" restores Foyer's colour
	RequireMFA *bool
}

// UpdateOrganization validates ch and applies it to the organization named
// by ref (a slug or an org_ ID).
func (d *Directory) UpdateOrganization(ctx context.Context, ref string, ch OrgChanges) (storage.Organization, error) {
	if ch.Name != nil {
		if err := validateName("name", *ch.Name, true); err != nil {
			return storage.Organization{}, err
		}
	}
	if err := validateBranding(deref(ch.LogoURL), deref(ch.BrandColor)); err != nil {
		return storage.Organization{}, err
	}
	o, err := d.organization(ctx, ref)
	if err != nil {
		return storage.Organization{}, err
	}
	o, err = d.store.UpdateOrganization(ctx, o.ID, func(o storage.Organization) (storage.Organization, error) {
		if ch.Name != nil {
			o.Name = strings.TrimSpace(*ch.Name)
		}
		if ch.LogoURL != nil {
			o.LogoURL = *ch.LogoURL
		}
		if ch.BrandColor != nil {
			o.BrandColor = NormalizeBrandColor(*ch.BrandColor)
		}
		if ch.RequireMFA != nil {
			o.RequireMFA = *ch.RequireMFA
		}
		o.UpdatedAt = d.now()
		return o, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return o, &FieldError{Field: "org", Message: fmt.Sprintf("no organization %q", ref), Err: err}
	}
	if err != nil {
		return o, fmt.Errorf("update organization: %w", err)
	}
	return o, nil
}

// validateBranding checks a logo URL and a brand colour, either may be
// empty.
func validateBranding(logoURL, brandColor string) error {
	if err := ValidateLogoURL(logoURL); err != nil {
		return err
	}
	return ValidateBrandColor(brandColor)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Member is a membership with the names a person reads.
type Member struct {
	storage.Membership
	OrgSlug string
	Email   string
}

// AddMember puts the user with email into the organization named by org (a
// slug or an org_ ID) with role.
func (d *Directory) AddMember(ctx context.Context, org, email, role string) (Member, error) {
	o, err := d.organization(ctx, org)
	if err != nil {
		return Member{}, err
	}
	u, err := d.store.GetUserByEmail(ctx, email)
	if errors.Is(err, storage.ErrNotFound) {
		return Member{}, &FieldError{Field: "email", Message: "no user has this email", Err: err}
	}
	if err != nil {
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	if _, err := d.store.GetRole(ctx, o.ID, role); errors.Is(err, storage.ErrNotFound) {
		return Member{}, &FieldError{Field: "role", Message: fmt.Sprintf("%q is not a role of %s", role, o.Slug), Err: err}
	} else if err != nil {
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	now := d.now()
	m, err := d.store.CreateMembership(ctx, storage.Membership{
		OrgID: o.ID, UserID: u.ID, Role: role, CreatedAt: now, UpdatedAt: now,
	})
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return Member{}, &FieldError{Field: "email", Message: "is already a member of " + o.Slug, Err: err}
	case errors.Is(err, storage.ErrNotFound):
		// The organization, user or role went away since we looked.
		return Member{}, &FieldError{Field: "org", Message: "changed while adding the member; try again", Err: err}
	case err != nil:
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	return Member{Membership: m, OrgSlug: o.Slug, Email: u.Email}, nil
}

// organization finds an organization by org_ ID or slug.
func (d *Directory) organization(ctx context.Context, ref string) (storage.Organization, error) {
	var o storage.Organization
	var err error
	if strings.HasPrefix(ref, storage.PrefixOrganization) {
		o, err = d.store.GetOrganization(ctx, ref)
	} else {
		o, err = d.store.GetOrganizationBySlug(ctx, ref)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return o, &FieldError{Field: "org", Message: fmt.Sprintf("no organization %q", ref), Err: err}
	}
	if err != nil {
		return o, fmt.Errorf("find organization: %w", err)
	}
	return o, nil
}

// ErrBadCredentials: the email or the password is wrong. Which one is never
// said, so the answer does not reveal whether an account exists.
var ErrBadCredentials = errors.New("wrong email or password")

// Authenticate checks an email and password and returns the user's ID. An
// unknown email costs the same hashing work as a known one, so timing does
// not reveal which accounts exist. The caller rate-limits. A right password
// whose hash was made with other parameters than the current ones is
// hashed again under them, so stored hashes follow a change of parameters.
func (d *Directory) Authenticate(ctx context.Context, email, pw string) (string, error) {
	u, err := d.store.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = d.decoyHash()
	}
	ok, verr := password.Verify(pw, hash)
	if err != nil || u.PasswordHash == "" || verr != nil || !ok {
		return "", ErrBadCredentials
	}
	if password.NeedsRehash(u.PasswordHash, d.params) {
		d.rehash(ctx, u, pw)
	}
	return u.ID, nil
}

// errPasswordChanged stops a rehash when the password changed meanwhile.
var errPasswordChanged = errors.New("password changed since it was checked")

// rehash stores pw, just proved right for u, hashed under the current
// parameters. It leaves a password changed meanwhile alone, and a failure
// only keeps the old hash, which still verifies: the sign-in goes on.
func (d *Directory) rehash(ctx context.Context, u storage.User, pw string) {
	hash := password.Hash(pw, d.params)
	_, err := d.store.UpdateUser(ctx, u.ID, func(cur storage.User) (storage.User, error) {
		if cur.PasswordHash != u.PasswordHash {
			return cur, errPasswordChanged
		}
		cur.PasswordHash = hash
		return cur, nil
	})
	if err != nil && !errors.Is(err, errPasswordChanged) {
		d.logger.WarnContext(ctx, "rehash password", "user_id", u.ID, "err", err)
	}
}

// decoyHash is a hash of a random password under the current parameters,
// made once, for unknown emails to verify against.
func (d *Directory) decoyHash() string {
	d.decoyOnce.Do(func() { d.decoy = password.Hash(storage.NewID(""), d.params) })
	return d.decoy
}
