package upstream

import (
	"context"
	"errors"
	"strings"

	"github.com/foyerdev/foyer/storage"
)

// needsLinkError: an account with the person's address exists but may not
// be linked by email; the person must sign in to it first.
type needsLinkError struct{ userID string }

func (e *needsLinkError) Error() string {
	return "an account with this address must be signed in to first"
}

// provision finds the person by (connection, subject) (MT-05), or links a
// first sign-in to the account with their address when the rules allow
// (MT-06), or creates an account; an organization's connection makes them
// a member of its organization (MT-07).
func (s *Service) provision(ctx context.Context, conn storage.UpstreamConnection, p person) (string, error) {
	var userID string
	err := s.inTx(ctx, func(ctx context.Context) error {
		now := s.o.Now()
		id, err := s.o.Store.GetExternalIdentity(ctx, conn.ID, p.Subject)
		switch {
		case err == nil:
			userID = id.UserID
			if err := s.o.Store.TouchExternalIdentity(ctx, conn.ID, p.Subject, now); err != nil {
				return err
			}
		case errors.Is(err, storage.ErrNotFound):
			if userID, err = s.linkOrCreate(ctx, conn, p); err != nil {
				return err
			}
			if err := s.o.Store.CreateExternalIdentity(ctx, storage.ExternalIdentity{
				ConnectionID: conn.ID, Subject: p.Subject, UserID: userID, CreatedAt: now, LastLoginAt: now,
			}); err != nil {
				return err
			}
		default:
			return err
		}
		return s.join(ctx, conn, userID)
	})
	return userID, err
}

// trustsEmail reports whether the connection's word that p's address is
// verified counts: the upstream says so in the same claims as the address
// and, for an organization's connection, the address is of a domain the
// organization proved (an organization's identity provider speaks for its
// own domains only).
func (s *Service) trustsEmail(ctx context.Context, conn storage.UpstreamConnection, p person) (bool, error) {
	if p.Email == "" || !p.EmailVerified {
		return false, nil
	}
	if conn.OrgID == "" {
		return true, nil
	}
	return s.orgOwnsDomain(ctx, conn.OrgID, p.Email)
}

// orgOwnsDomain reports whether email's domain is claimed, and verified,
// by a SAML connection of the organization (the DNS TXT proof).
func (s *Service) orgOwnsDomain(ctx context.Context, orgID, email string) (bool, error) {
	domain := strings.ToLower(email[strings.LastIndex(email, "@")+1:])
	d, err := s.o.Store.GetSAMLDomain(ctx, domain)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if d.VerifiedAt.IsZero() {
		return false, nil
	}
	sc, err := s.o.Store.GetSAMLConnection(ctx, d.ConnectionID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil && sc.OrgID == orgID, err
}

// linkOrCreate is a subject's first sign-in. An account with the address
// is linked only when the upstream's verified flag counts (trustsEmail),
// the account's address is verified and the connection links by email
// (MT-06); otherwise the person signs in to it first (needsLinkError). A
// new account takes the address, verified when the upstream's word
// counts; global connections create accounts only while sign-up is open,
// an organization's only for addresses of its proved domains.
func (s *Service) linkOrCreate(ctx context.Context, conn storage.UpstreamConnection, p person) (string, error) {
	if p.Email == "" {
		return "", &FieldError{"email", "the provider did not share a verified email address, which Foyer needs"}
	}
	trusted, err := s.trustsEmail(ctx, conn, p)
	if err != nil {
		return "", err
	}
	u, err := s.o.Store.GetUserByEmail(ctx, p.Email)
	switch {
	case err == nil && trusted && u.EmailVerified && conn.LinkByEmail:
		return u.ID, nil
	case err == nil:
		return "", &needsLinkError{userID: u.ID}
	case !errors.Is(err, storage.ErrNotFound):
		return "", err
	}
	if !s.o.SignupOpen && (conn.OrgID == "" || !trusted) {
		return "", &FieldError{"email", "there is no Foyer account for " + p.Email + " and sign-up is closed"}
	}
	now := s.o.Now()
	u, err = s.o.Store.CreateUser(ctx, storage.User{
		ID: storage.NewID(storage.PrefixUser), Email: p.Email, Name: p.Name, EmailVerified: trusted,
		CreatedAt: now, UpdatedAt: now,
	})
	return u.ID, err
}

// join makes the person a member of an organization's connection's
// organization (role member), keeping a role they have. A global
// connection joins nobody to anything (MT-07).
func (s *Service) join(ctx context.Context, conn storage.UpstreamConnection, userID string) error {
	if conn.OrgID == "" {
		return nil
	}
	_, err := s.o.Store.GetMembership(ctx, conn.OrgID, userID)
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	_, err = s.o.Store.CreateMembership(ctx, storage.Membership{OrgID: conn.OrgID, UserID: userID, Role: storage.RoleMember, CreatedAt: s.o.Now()})
	return err
}

func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := s.o.Store.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, s.o.Store.Rollback(context.WithoutCancel(tx)))
	}
	return s.o.Store.Commit(tx)
}
