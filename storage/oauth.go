package storage

import (
	"context"
	"time"
)

// GrantKind says what an OAuthSession stores.
type GrantKind string

// Kinds of OAuthSession, one per fosite storage interface.
const (
	KindAuthorizeCode GrantKind = "authorize_code"
	KindAccessToken   GrantKind = "access_token"
	KindRefreshToken  GrantKind = "refresh_token"
	KindPKCE          GrantKind = "pkce"
	KindOpenID        GrantKind = "openid"
	KindPAR           GrantKind = "par"
	// KindChallenge is an authorization request waiting for the person to
	// sign in or consent.
	KindChallenge GrantKind = "challenge"
)

// OAuthSession is one stored authorization request: an authorization code,
// an access or refresh token, a PKCE or OpenID Connect session, or a pushed
// authorization request. It is keyed by (Kind, Signature), where Signature
// is a keyed hash of the token or code: the token itself is never stored.
type OAuthSession struct {
	Kind      GrantKind
	Signature string
	// RequestID names the grant. Every token issued from one authorization,
	// across refresh rotations, shares it: it is the token family that reuse
	// detection revokes (RFC 9700 §4.14).
	RequestID   string
	ClientID    string
	Subject     string // the user ID; empty for client_credentials
	Active      bool
	RequestedAt time.Time
	ExpiresAt   time.Time // the row may be deleted after this
	Request     []byte    // the serialized request and session (authz's JSON)
}

// MaxAccessTokenTTL is the longest access-token lifetime configuration
// allows (tokens.access_token_ttl). A grant revoked now, by a caller that
// does not know the configured lifetime, is remembered this long: past it
// no access token of the grant can be live.
const MaxAccessTokenTTL = 24 * time.Hour

// OAuthSessions stores fosite's requests.
type OAuthSessions interface {
	// CreateOAuthSession stores s. ErrAlreadyExists for a taken (Kind, Signature).
	CreateOAuthSession(ctx context.Context, s OAuthSession) error
	// GetOAuthSession returns the session, active or not.
	GetOAuthSession(ctx context.Context, kind GrantKind, signature string) (OAuthSession, error)
	// DeactivateOAuthSession marks an active session used (a redeemed code, a
	// rotated refresh token). Of concurrent callers exactly one succeeds;
	// the others get ErrConflict (DB-01). ErrNotFound when there is none.
	DeactivateOAuthSession(ctx context.Context, kind GrantKind, signature string) error
	// DeleteOAuthSession removes one session; ErrNotFound when there is none.
	DeleteOAuthSession(ctx context.Context, kind GrantKind, signature string) error
	// RevokeOAuthSessions deactivates every session of the given kinds that
	// belongs to requestID, and returns how many it changed. ErrInvalid when
	// no kind is given (never a silent no-op).
	RevokeOAuthSessions(ctx context.Context, requestID string, kinds ...GrantKind) (int64, error)
	// RevokeGrant ends the grant of requestID: it deactivates the grant's
	// access and refresh token sessions and records the grant as revoked
	// until until, so that tokens without a row of their own (JWT access
	// tokens) can be refused. Revoking a revoked grant changes nothing.
	RevokeGrant(ctx context.Context, requestID string, until time.Time) error
	// RevokeUserGrants revokes, as RevokeGrant does, every grant that has a
	// session stored for subject (a user ID) and returns how many grants.
	// JWT access tokens of a grant with no stored session left (no refresh
	// token, code swept) are out of its reach and live out their lifetime.
	RevokeUserGrants(ctx context.Context, subject string, until time.Time) (int64, error)
	// GrantRevoked reports whether RevokeGrant recorded requestID (and the
	// record has not been swept).
	GrantRevoked(ctx context.Context, requestID string) (bool, error)
	// RevokedGrants lists the request IDs of the grants whose revocation
	// records expire at or after now.
	RevokedGrants(ctx context.Context, now time.Time) ([]string, error)
	// DeleteExpiredOAuthSessions removes sessions, revoked grants and
	// assertion jtis whose expiry is before now, and returns how many rows
	// it removed.
	DeleteExpiredOAuthSessions(ctx context.Context, now time.Time) (int64, error)
}

// Transactions lets fosite run a grant's writes in one transaction: BeginTx
// returns a context carrying the transaction, every Store method called with
// that context uses it, and Commit or Rollback ends it. This is the only
// place a transaction travels in a context (fosite's storage.Transactional).
// After any error inside it the caller rolls back; nothing is retried inside
// a caller's transaction. Nested BeginTx, and use of an ended transaction's
// context, are errors.
type Transactions interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// BrowserSession is a signed-in browser. ID is a keyed hash of the cookie
// value; the cookie value itself is never stored.
type BrowserSession struct {
	ID         string
	SID        string // public random ID: the ID token's sid claim, logout
	UserID     string
	AuthTime   time.Time // when the person last proved who they are
	AMR        []string  // RFC 8176 methods used: pwd, otp, …
	OrgID      string    // the organization chosen at sign-in, if any
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry
}

// BrowserSessions stores signed-in browsers.
type BrowserSessions interface {
	CreateBrowserSession(ctx context.Context, s BrowserSession) (BrowserSession, error)
	GetBrowserSession(ctx context.Context, id string) (BrowserSession, error)
	// UpdateBrowserSession applies update in a transaction (CAS); ID, SID,
	// UserID and CreatedAt keep their stored values.
	UpdateBrowserSession(ctx context.Context, id string, update func(BrowserSession) (BrowserSession, error)) (BrowserSession, error)
	DeleteBrowserSession(ctx context.Context, id string) error
	// ListBrowserSessions lists a user's sessions, newest first.
	ListBrowserSessions(ctx context.Context, userID string) ([]BrowserSession, error)
	// DeleteExpiredBrowserSessions removes the sessions whose absolute
	// expiry is before now or that were last seen before idleSince, and
	// returns how many.
	DeleteExpiredBrowserSessions(ctx context.Context, now, idleSince time.Time) (int64, error)
}

// Consent remembers which scopes a user granted a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Consents stores granted consents, one per (user, client).
type Consents interface {
	// SaveConsent creates or replaces the consent of (UserID, ClientID).
	// ErrNotFound when the user or client does not exist.
	SaveConsent(ctx context.Context, c Consent) (Consent, error)
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID string) error
	// ListConsents lists a user's consents ordered by client ID.
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
}

// AssertionJTIs remembers the jti of every client assertion (private_key_jwt,
// RFC 7523) until it expires, so an assertion cannot be replayed.
type AssertionJTIs interface {
	// UseAssertionJTI records a jti (a keyed hash of it) until expiresAt.
	// Of concurrent callers with one jti exactly one succeeds; a jti seen
	// before and not yet expired is ErrAlreadyExists. Expired records are
	// replaced, and may be deleted by DeleteExpiredOAuthSessions.
	UseAssertionJTI(ctx context.Context, jti string, expiresAt time.Time) error
}
