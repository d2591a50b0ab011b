package authz

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/foyerdev/foyer/storage"
)

// Store is the slice of storage the provider uses.
type Store interface {
	storage.Clients
	storage.OAuthSessions
	storage.Transactions
	storage.Users
	storage.BrowserSessions
	storage.Consents
	storage.Organizations
	storage.Roles
	storage.Memberships
	storage.AssertionJTIs
	storage.DeviceCodes
}

// fositeStore adapts Store to fosite's storage interfaces. fosite hands it
// token signatures (keyed hashes), never the tokens themselves.
type fositeStore struct {
	store       Store
	clients     *clientCache
	revocations *revocationList
	// accessTTL bounds how long a revoked grant must be remembered: until
	// its last JWT access token has expired.
	accessTTL time.Duration
	now       func() time.Time
}

var (
	_ fosite.Storage                     = (*fositeStore)(nil)
	_ oauth2.CoreStorage                 = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage            = (*fositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
	_ fosite.PARStorage                  = (*fositeStore)(nil)
	_ fositestorage.Transactional        = (*fositeStore)(nil)
)

// storedRequest is the JSON form of a fosite request in OAuthSession.Request.
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	ClientID          string     `json:"client_id"`
	RequestedScope    []string   `json:"requested_scope"`
	GrantedScope      []string   `json:"granted_scope"`
	RequestedAudience []string   `json:"requested_audience"`
	GrantedAudience   []string   `json:"granted_audience"`
	Form              url.Values `json:"form"`
	Session           *Session   `json:"session"`
}

func (s *fositeStore) create(ctx context.Context, kind storage.GrantKind, signature string, r fosite.Requester, expires fosite.TokenType) error {
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fmt.Errorf("store %s: session of type %T", kind, r.GetSession())
	}
	data, err := json.Marshal(storedRequest{
		ID: r.GetID(), RequestedAt: r.GetRequestedAt(), ClientID: r.GetClient().GetID(),
		RequestedScope: r.GetRequestedScopes(), GrantedScope: r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: r.GetRequestForm(), Session: sess,
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", kind, err)
	}
	exp := sess.GetExpiresAt(expires)
	if exp.IsZero() {
		// Sessions without their own expiry (PKCE, OIDC) live as long as the code.
		exp = sess.GetExpiresAt(fosite.AuthorizeCode)
	}
	if exp.IsZero() {
		exp = time.Now().Add(24 * time.Hour)
	}
	return s.store.CreateOAuthSession(ctx, storage.OAuthSession{
		Kind: kind, Signature: signature, RequestID: r.GetID(), ClientID: r.GetClient().GetID(),
		Subject: sess.UserID, Active: true, RequestedAt: r.GetRequestedAt(), ExpiresAt: exp, Request: data,
	})
}

// get loads a session and rebuilds the fosite request; inactive is the
// error to return, with the request, when the session was used or revoked.
// The stored session is decoded into into when it is one of ours: fosite
// validates expiry on the session it passed in, so it must be hydrated.
func (s *fositeStore) get(ctx context.Context, kind storage.GrantKind, signature string, into fosite.Session, inactive error) (fosite.Requester, error) {
	row, err := s.store.GetOAuthSession(ctx, kind, signature)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var sr storedRequest
	sr.Session = newSession()
	if ours, ok := into.(*Session); ok && ours != nil {
		sr.Session = ours
	}
	if err := json.Unmarshal(row.Request, &sr); err != nil {
		return nil, fmt.Errorf("load %s: %w", kind, err)
	}
	c, err := s.clients.get(ctx, sr.ClientID)
	if err != nil {
		return nil, err
	}
	r := &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: c,
		RequestedScope: sr.RequestedScope, GrantedScope: sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: sr.Session,
	}
	if !row.Active && inactive != nil {
		return r, inactive
	}
	return r, nil
}

func (s *fositeStore) delete(ctx context.Context, kind storage.GrantKind, signature string) error {
	err := s.store.DeleteOAuthSession(ctx, kind, signature)
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// errCodeUsed marks a code redeemed by a concurrent request; the token
// handler answers invalid_grant for it (DB-01), not server_error.
var errCodeUsed = errors.New("authorization code already redeemed")

// ClientManager.

func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return s.clients.get(ctx, id)
}

// ClientAssertionJWTValid and SetClientAssertionJWT guard private_key_jwt
// assertions against replay. fosite checks, then records; the record is
// one atomic statement, so it alone decides (of two concurrent uses of one
// jti, one fails) and the check has nothing to add.
func (s *fositeStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

func (s *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := s.store.UseAssertionJTI(ctx, hashHandle(jti), exp)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fosite.ErrJTIKnown.WithHint("This client assertion was already used.")
	}
	return err
}

// Authorization codes.

func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, storage.KindAuthorizeCode, sig, r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, sig string, into fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindAuthorizeCode, sig, into, fosite.ErrInvalidatedAuthorizeCode)
}

func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	err := s.store.DeactivateOAuthSession(ctx, storage.KindAuthorizeCode, sig)
	if errors.Is(err, storage.ErrConflict) {
		return errCodeUsed
	}
	return err
}

// Access tokens. A JWT access token carries everything introspection
// needs and verifies against the JWKS, so it gets no row: one write less
// per token. Its grant can still be revoked (RevokeGrant, jwtAccessTokens).

func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	if issuesJWT(r.GetClient()) {
		return nil
	}
	return s.create(ctx, storage.KindAccessToken, sig, r, fosite.AccessToken)
}

func (s *fositeStore) GetAccessTokenSession(ctx context.Context, sig string, into fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindAccessToken, sig, into, fosite.ErrInactiveToken)
}

func (s *fositeStore) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return s.delete(ctx, storage.KindAccessToken, sig)
}

// Refresh tokens.

func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, sig, _ string, r fosite.Requester) error {
	return s.create(ctx, storage.KindRefreshToken, sig, r, fosite.RefreshToken)
}

// GetRefreshTokenSession returns ErrInactiveToken for a rotated token, which
// makes fosite revoke the whole family (RFC 9700 §4.14). The token
// endpoint learns of it through the reuse watch in ctx, for the audit log.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, sig string, into fosite.Session) (fosite.Requester, error) {
	r, err := s.get(ctx, storage.KindRefreshToken, sig, into, fosite.ErrInactiveToken)
	if w := reuseWatchOf(ctx); w != nil && errors.Is(err, fosite.ErrInactiveToken) && r != nil {
		// A token of a grant revoked already (a revocation, a password
		// reset) is inactive too, but no new sign of theft: only reuse
		// that ends a live family is reported. The store says, not the
		// in-memory list, which learns of a reset only at its next reload.
		if revoked, rerr := s.store.GrantRevoked(ctx, r.GetID()); rerr == nil && !revoked {
			w.grantID, w.clientID = r.GetID(), r.GetClient().GetID()
			if sess, ok := r.GetSession().(*Session); ok {
				w.userID = sess.UserID
			}
		}
	}
	return r, err
}

func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	return s.delete(ctx, storage.KindRefreshToken, sig)
}

// RotateRefreshToken marks the presented refresh token used, so presenting it
// again is reuse, and ends the opaque access tokens issued with it (JWT
// access tokens live out their short lives: refusing them would need a
// record per token). Of concurrent rotations of one token only one wins.
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	err := s.store.DeactivateOAuthSession(ctx, storage.KindRefreshToken, sig)
	switch {
	case errors.Is(err, storage.ErrConflict):
		return fosite.ErrInactiveToken
	case errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound
	case err != nil:
		return err
	}
	_, err = s.store.RevokeOAuthSessions(ctx, requestID, storage.KindAccessToken)
	return err
}

// Revocation (RFC 7009), and reuse of a code or a rotated refresh token
// (RFC 9700 §4.14): either ends the whole grant, JWT access tokens
// included. fosite calls both methods; the second changes nothing.

func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.revokeGrant(ctx, requestID)
}

func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.revokeGrant(ctx, requestID)
}

func (s *fositeStore) revokeGrant(ctx context.Context, requestID string) error {
	if err := s.store.RevokeGrant(ctx, requestID, s.now().Add(s.accessTTL)); err != nil {
		return err
	}
	s.revocations.add(requestID)
	return nil
}

// PKCE.

func (s *fositeStore) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return s.create(ctx, storage.KindPKCE, sig, r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, storage.KindPKCE, sig, nil, nil)
}

// DeletePKCERequestSession: a concurrent redemption of the same code may
// have deleted it first; that request lost the race (DB-01).
func (s *fositeStore) DeletePKCERequestSession(ctx context.Context, sig string) error {
	err := s.delete(ctx, storage.KindPKCE, sig)
	if errors.Is(err, fosite.ErrNotFound) {
		return errCodeUsed
	}
	return err
}

// OpenID Connect sessions, keyed by the authorization code's signature.

func (s *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, storage.KindOpenID, code, r, fosite.AuthorizeCode)
}

func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	r, err := s.get(ctx, storage.KindOpenID, code, nil, nil)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return r, err
}

func (s *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.delete(ctx, storage.KindOpenID, code)
}

// Pushed authorization requests (RFC 9126), keyed by a hash of the
// request_uri so the handle is not stored in the clear.

func (s *fositeStore) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	return s.create(ctx, storage.KindPAR, hashHandle(requestURI), r, fosite.PushedAuthorizeRequestContext)
}

func (s *fositeStore) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	r, err := s.get(ctx, storage.KindPAR, hashHandle(requestURI), nil, nil)
	if err != nil {
		return nil, err
	}
	ar := fosite.NewAuthorizeRequest()
	ar.Request = *r.(*fosite.Request)
	return ar, nil
}

func (s *fositeStore) DeletePARSession(ctx context.Context, requestURI string) error {
	return s.delete(ctx, storage.KindPAR, hashHandle(requestURI))
}

// Transactions (fosite's storage.Transactional).

func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	return s.store.BeginTx(ctx)
}
func (s *fositeStore) Commit(ctx context.Context) error   { return s.store.Commit(ctx) }
func (s *fositeStore) Rollback(ctx context.Context) error { return s.store.Rollback(ctx) }

// hashHandle is the at-rest form of a random handle (a request_uri, a
// challenge ID): SHA-256 suffices for 256-bit random values.
func hashHandle(h string) string {
	sum := sha256.Sum256([]byte(h))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
