// Package signin is everything a person sees between "Sign in" and being
// sent back to the application: identifier-first sign-in with a password
// or an emailed link, sign-up with email verification, password reset, and
// the account page with its sessions.
//
// It owns no OAuth logic: a pending authorization is an opaque challenge
// ID it gets from the authorization endpoint (through Authorizations) and
// hands back once the person signed in. It never imports authz or idp;
// cmd/foyer wires them in through the interfaces below.
package signin

import (
	"context"
	"io/fs"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Store is the slice of storage the sign-in pages use.
type Store interface {
	// RevokeUserGrants ends every token grant of a person (a password
	// reset signs an intruder out of the applications too).
	RevokeUserGrants(ctx context.Context, subject string, until time.Time) (int64, error)
	storage.Users
	storage.BrowserSessions
	storage.OneTimeTokens
	storage.Invitations
	storage.Organizations
	storage.Memberships
	storage.ExternalIdentities // links made before an address was proven go (addressProved)
	storage.Transactions
}

// Accounts checks and changes people's passwords (idp.Directory). Bad
// input is an error with a FieldMessage() (field, message string) method.
type Accounts interface {
	// Authenticate returns the user whose email and password these are;
	// an unknown email costs the same time as a wrong password (LG-02).
	// An error wrapping storage.ErrUnavailable is an outage (503); any
	// other error is a wrong email or password.
	Authenticate(ctx context.Context, email, password string) (userID string, err error)
	// PrepareSignUp checks a sign-up under the password policy (LG-06)
	// and returns the new, unverified user with the password hashed,
	// unstored: sign-up stores it in one transaction with its
	// verification link and email.
	PrepareSignUp(email, name, password string) (storage.User, error)
	// HashPassword applies the password policy to a new password and
	// returns the hash to store.
	HashPassword(password string) (string, error)
	// CheckPassword reports whether password is the user's current one.
	CheckPassword(ctx context.Context, userID, password string) (bool, error)
}

// Authorizations is the authorization endpoint's side of a sign-in
// (authz.Provider): what a pending authorization asks, and where to send
// the browser once the person signed in.
type Authorizations interface {
	LoginChallenge(ctx context.Context, id string) (clientName, loginHint string, err error)
	CompleteLogin(ctx context.Context, id string) (next string, err error)
}

// SecondFactor takes over a sign-in whose first factor passed, when the
// person has a second factor or must set one up (mfa.Service).
type SecondFactor interface {
	// BeginSignIn returns handled=false when no second factor is needed: the
	// caller starts the session. Otherwise it has answered (a redirect),
	// and starts the session itself once the second factor passed, then
	// resumes the authorization challenge or goes to next (a local path).
	// method is how the first factor passed ("pwd", "magic_link", …), for
	// the audit entry of the sign-in it finishes.
	BeginSignIn(c *gin.Context, userID, method string, amr []string, challenge, next string) (handled bool, err error)
}

// Federation sends people whose email domain belongs to an organization's
// identity provider there (idp/saml).
type Federation interface {
	// RouteEmail returns the path where a sign-in as email continues,
	// resuming the authorization challenge, or "" when it stays here.
	RouteEmail(ctx context.Context, email, challenge string) (string, error)
}

// Connections are the upstream identity providers people may sign in
// with (idp/upstream).
type Connections interface {
	// LoginButtons are the "Continue with …" buttons of the sign-in page.
	LoginButtons(ctx context.Context) ([]render.ConnectionButton, error)
	// AccountLinks lists userID's linked upstream accounts for the account
	// page, and one waiting in this browser to be linked, if any.
	AccountLinks(c *gin.Context, userID string) ([]render.AccountLink, *render.AccountPendingLink, error)
}

// Mailer queues an email; it never waits on SMTP (mail.Mailer).
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// Options configure the sign-in pages.
type Options struct {
	// Issuer is the public base URL; every emailed link is built from it,
	// never from request headers (LG-09).
	Issuer         string
	Store          Store
	Accounts       Accounts
	Authorizations Authorizations
	// SecondFactor, when set, is asked after every first factor.
	SecondFactor SecondFactor
	// Passkeys shows "Sign in with a passkey" on the sign-in page (mfa
	// serves the ceremony).
	Passkeys bool
	// Federation, when set, routes emails of claimed domains to their
	// organization's single sign-on.
	Federation Federation
	// Connections, when set, adds "Continue with …" buttons to the sign-in
	// page and linked accounts to the account page.
	Connections Connections
	Sessions    *session.Manager
	Limiter     *ratelimit.Limiter
	Policies    ratelimit.Policies
	Mailer      Mailer
	Emails      *render.Emails
	// Templates holds the page templates (templates.FS).
	Templates fs.FS
	// TokenKey (32 bytes) keys the hashes of emailed tokens at rest.
	TokenKey []byte
	// SignupMode is "open", "invite_only" or "disabled".
	SignupMode string
	// Audit records the security events (audit.go); nil records nothing.
	Audit  *audit.Recorder
	Logger *slog.Logger
	Now    func() time.Time
}

// Service serves the sign-in and account pages.
type Service struct {
	o       Options
	login   *loginPages   // the sign-in pages (login.go)
	account *accountPages // sign-up, verification, reset, account (account.go)
}

// New checks the options and parses the pages.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o}
	if err := s.initLogin(); err != nil {
		return nil, err
	}
	if err := s.initAccount(); err != nil {
		return nil, err
	}
	return s, nil
}

// Mount adds the pages to the browser route group (cookies, CSRF).
func (s *Service) Mount(r gin.IRouter) {
	s.mountLogin(r)
	s.mountAccount(r)
	s.mountInvitations(r)
}
