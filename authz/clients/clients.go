package clients

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyerdev/foyer/storage"
)

// prefixClient starts every generated client ID (storage has no prefix for
// clients: their IDs may also be chosen by the operator).
const prefixClient = "cli_"

// Grant types, by their RFC names.
const (
	GrantAuthorizationCode = "authorization_code"                           // RFC 6749 §4.1
	GrantRefreshToken      = "refresh_token"                                // RFC 6749 §6
	GrantClientCredentials = "client_credentials"                           // RFC 6749 §4.4
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code" // RFC 8628 §3.4
)

// Token endpoint authentication methods (RFC 7591 §2, OIDC Core §9).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none" // public clients
)

// Access token formats.
const (
	FormatJWT    = "jwt"    // RFC 9068, verifiable offline
	FormatOpaque = "opaque" // checked by introspection
)

// Application types (OIDC Dynamic Client Registration §2).
const (
	ApplicationWeb    = "web"
	ApplicationNative = "native"
)

// Limits on registration input.
const (
	maxIDLen     = 128
	maxNameLen   = 200
	maxURIs      = 100
	maxScopes    = 100
	maxScopeLen  = 128
	maxJWKSBytes = 64 << 10
	maxJWKSKeys  = 20
)

// DefaultScopes returns the scopes a client gets when none are given.
func DefaultScopes() []string {
	return []string{"openid", "profile", "email", "offline_access"}
}

// FieldError is a client mistake in one input field. The CLI prints it as
// "field: message"; the admin API turns it into a problem-details body.
type FieldError struct {
	Field   string // the input's name: "id", "secret", "redirect_uris"…
	Message string // plain words, safe to show
	Err     error  // the cause, for logs and errors.Is; may be nil
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }
func (e *FieldError) Unwrap() error { return e.Err }

// LogValue logs a client mistake with its field; such errors are Info, not Error.
func (e *FieldError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("field", e.Field), slog.String("message", e.Message))
}

func fieldError(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// NewClient is the input for Create. Empty fields take the defaults in the
// package documentation.
type NewClient struct {
	ID                      string // optional: generated when empty
	Name                    string // required
	Secret                  string // optional for confidential clients: generated when empty
	Public                  bool
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string // at least one
	Scopes                  []string
	FirstParty              bool
	AccessTokenFormat       string
	TokenEndpointAuthMethod string
	RequirePKCE             bool
	RequirePAR              bool
	ApplicationType         string
	JWKS                    []byte // a JWK Set document; only with private_key_jwt
	// RequireOrganization refuses people who belong to no organization
	// at the authorization endpoint.
	RequireOrganization bool
}

// Registrar creates, reads, updates and deletes registered clients.
type Registrar struct {
	store  storage.Clients
	hasher *SecretHasher
	now    func() time.Time
}

// NewRegistrar returns a Registrar over store. hasher hashes new secrets;
// it may be nil for a Registrar that only lists, reads and deletes, and
// Create then fails. now is the clock; nil means time.Now.
func NewRegistrar(store storage.Clients, hasher *SecretHasher, now func() time.Time) *Registrar {
	if now == nil {
		now = time.Now
	}
	return &Registrar{store: store, hasher: hasher, now: now}
}

// Create validates in, fills in the defaults and stores the client. It
// returns the stored client and the plaintext secret: the only time the
// secret is available, "" for a client without one (public clients and
// private_key_jwt). A mistake in the input is a *FieldError.
func (r *Registrar) Create(ctx context.Context, in NewClient) (storage.Client, string, error) {
	if r.hasher == nil {
		return storage.Client{}, "", errors.New("create client: no secret hasher configured")
	}
	c, secret, err := build(in)
	if err != nil {
		return storage.Client{}, "", err
	}
	if secret != "" {
		c.SecretHash = r.hasher.Hash(secret)
	}
	now := r.now()
	c.CreatedAt, c.UpdatedAt = now, now
	stored, err := r.store.CreateClient(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return storage.Client{}, "", &FieldError{Field: "id", Message: fmt.Sprintf("%q is already taken", c.ID), Err: err}
	}
	if err != nil {
		return storage.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	return stored, secret, nil
}

// List returns a page of clients ordered by ID.
func (r *Registrar) List(ctx context.Context, p storage.Page) ([]storage.Client, error) {
	cs, err := r.store.ListClients(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// Get returns the client with id; a *FieldError on "id" when there is none.
func (r *Registrar) Get(ctx context.Context, id string) (storage.Client, error) {
	c, err := r.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, notFound(id, err)
	}
	if err != nil {
		return storage.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// Changes are what Update may change; a nil field keeps its value.
type Changes struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	GrantTypes             *[]string
	Scopes                 *[]string // an empty list means DefaultScopes, as in Create
	RequireOrganization    *bool
}

// Update applies ch to the client with id and validates the result by the
// rules of Create. A mistake is a *FieldError; a missing client is a
// *FieldError on "id" wrapping storage.ErrNotFound.
func (r *Registrar) Update(ctx context.Context, id string, ch Changes) (storage.Client, error) {
	c, err := r.store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		if ch.Name != nil {
			if err := validateName(*ch.Name); err != nil {
				return c, err
			}
			c.Name = strings.TrimSpace(*ch.Name)
		}
		if ch.RedirectURIs != nil {
			c.RedirectURIs = dedupe(*ch.RedirectURIs)
		}
		if ch.PostLogoutRedirectURIs != nil {
			c.PostLogoutRedirectURIs = dedupe(*ch.PostLogoutRedirectURIs)
		}
		if ch.GrantTypes != nil {
			c.GrantTypes = dedupe(*ch.GrantTypes)
		}
		if ch.Scopes != nil {
			c.Scopes = dedupe(*ch.Scopes)
			if len(c.Scopes) == 0 {
				c.Scopes = DefaultScopes()
			}
		}
		if ch.RequireOrganization != nil {
			c.RequireOrganization = *ch.RequireOrganization
		}
		if err := validateGrants(c); err != nil {
			return c, err
		}
		native := c.ApplicationType == ApplicationNative
		if err := validateURIs("redirect_uris", c.RedirectURIs, native); err != nil {
			return c, err
		}
		if err := validateURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs, native); err != nil {
			return c, err
		}
		if err := validateScopes(c.Scopes); err != nil {
			return c, err
		}
		c.UpdatedAt = r.now()
		return c, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, notFound(id, err)
	}
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return storage.Client{}, fe
		}
		return storage.Client{}, fmt.Errorf("update client: %w", err)
	}
	return c, nil
}

// Delete removes the client with id; a *FieldError on "id" when there is none.
func (r *Registrar) Delete(ctx context.Context, id string) error {
	err := r.store.DeleteClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound(id, err)
	}
	if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return nil
}

func notFound(id string, err error) *FieldError {
	return &FieldError{Field: "id", Message: fmt.Sprintf("no client %q", id), Err: err}
}

// build validates in and returns the record to store (without times and
// hash) and the plaintext secret, if the client has one.
func build(in NewClient) (storage.Client, string, error) {
	c := storage.Client{
		ID:                     in.ID,
		Name:                   strings.TrimSpace(in.Name),
		Public:                 in.Public,
		FirstParty:             in.FirstParty,
		RequirePKCE:            in.RequirePKCE || in.Public,
		RequirePAR:             in.RequirePAR,
		RequireOrganization:    in.RequireOrganization,
		AccessTokenFormat:      cmp.Or(in.AccessTokenFormat, FormatJWT),
		ApplicationType:        cmp.Or(in.ApplicationType, ApplicationWeb),
		GrantTypes:             dedupe(in.GrantTypes),
		RedirectURIs:           dedupe(in.RedirectURIs),
		PostLogoutRedirectURIs: dedupe(in.PostLogoutRedirectURIs),
		Scopes:                 dedupe(in.Scopes),
	}
	if c.ID == "" {
		c.ID = storage.NewID(prefixClient)
	} else if err := validateID(c.ID); err != nil {
		return storage.Client{}, "", err
	}
	if err := validateName(in.Name); err != nil {
		return storage.Client{}, "", err
	}
	if c.ApplicationType != ApplicationWeb && c.ApplicationType != ApplicationNative {
		return storage.Client{}, "", fieldError("application_type", "%q is not web or native", c.ApplicationType)
	}
	if c.AccessTokenFormat != FormatJWT && c.AccessTokenFormat != FormatOpaque {
		return storage.Client{}, "", fieldError("access_token_format", "%q is not jwt or opaque", c.AccessTokenFormat)
	}

	method, err := authMethod(in)
	if err != nil {
		return storage.Client{}, "", err
	}
	c.TokenEndpointAuthMethod = method
	secret, err := clientSecret(in, method)
	if err != nil {
		return storage.Client{}, "", err
	}
	if c.JWKS, err = clientJWKS(in.JWKS, method); err != nil {
		return storage.Client{}, "", err
	}

	if err := validateGrants(c); err != nil {
		return storage.Client{}, "", err
	}
	native := c.ApplicationType == ApplicationNative
	if err := validateURIs("redirect_uris", c.RedirectURIs, native); err != nil {
		return storage.Client{}, "", err
	}
	if err := validateURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs, native); err != nil {
		return storage.Client{}, "", err
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	}
	if err := validateScopes(c.Scopes); err != nil {
		return storage.Client{}, "", err
	}
	return c, secret, nil
}

// validateID checks an operator-chosen client ID: 1–128 unreserved URI
// characters (RFC 3986 §2.3), so it needs no escaping in a URL, a form or
// HTTP Basic credentials.
func validateID(id string) error {
	if len(id) > maxIDLen {
		return fieldError("id", "is longer than %d characters", maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0) {
			return fieldError("id", "%q may contain only letters, digits and - . _ ~", id)
		}
	}
	return nil
}

// validateName checks the display name shown on consent pages.
func validateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fieldError("name", "is required")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen:
		return fieldError("name", "must be valid text of at most %d characters", maxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fieldError("name", "must not contain control characters")
	}
	return nil
}

// authMethod returns the token endpoint authentication method: the given
// one or the default, allowed for the client type.
func authMethod(in NewClient) (string, error) {
	m := in.TokenEndpointAuthMethod
	switch {
	case m == "" && in.Public:
		return AuthNone, nil
	case m == "":
		return AuthClientSecretBasic, nil
	case m == AuthNone && !in.Public:
		return "", fieldError("token_endpoint_auth_method", "none is only for public clients")
	case m == AuthNone:
		return m, nil
	case m == AuthClientSecretBasic || m == AuthClientSecretPost || m == AuthPrivateKeyJWT:
		if in.Public {
			return "", fieldError("token_endpoint_auth_method", "%q is for confidential clients; public clients use none", m)
		}
		return m, nil
	}
	return "", fieldError("token_endpoint_auth_method", "%q is not client_secret_basic, client_secret_post, private_key_jwt or none", m)
}

// clientSecret returns the secret for a client that authenticates with one:
// the operator's, checked, or a new one.
func clientSecret(in NewClient, method string) (string, error) {
	switch {
	case method == AuthNone && in.Secret != "":
		return "", fieldError("secret", "public clients have no secret")
	case method == AuthPrivateKeyJWT && in.Secret != "":
		return "", fieldError("secret", "private_key_jwt clients authenticate with their keys and have no secret")
	case method == AuthNone || method == AuthPrivateKeyJWT:
		return "", nil
	case in.Secret == "":
		return newSecret(), nil
	case len(in.Secret) < MinSecretLen:
		return "", fieldError("secret", "must be at least %d characters; leave it out to have one generated", MinSecretLen)
	case len(in.Secret) > MaxSecretLen:
		return "", fieldError("secret", "must be at most %d characters", MaxSecretLen)
	}
	for i := 0; i < len(in.Secret); i++ {
		// RFC 6749 Appendix A.2: client-secret = *VSCHAR.
		if c := in.Secret[i]; c < 0x20 || c > 0x7e {
			return "", fieldError("secret", "may contain only printable ASCII characters")
		}
	}
	return in.Secret, nil
}

// clientJWKS checks the public keys of a private_key_jwt client and returns
// them as a normalized JWK Set document.
func clientJWKS(doc []byte, method string) ([]byte, error) {
	switch {
	case method != AuthPrivateKeyJWT && len(doc) > 0:
		return nil, fieldError("jwks", "is only used with private_key_jwt")
	case method != AuthPrivateKeyJWT:
		return nil, nil
	case len(doc) == 0:
		return nil, fieldError("jwks", "is required for private_key_jwt: the client's public keys as a JWK Set")
	case len(doc) > maxJWKSBytes:
		return nil, fieldError("jwks", "is larger than %d KiB", maxJWKSBytes>>10)
	}
	// go-jose parses private keys too, and that is not safe for untrusted
	// input: look for private members first.
	var raw struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fieldError("jwks", "is not a JWK Set (a JSON object with a \"keys\" array)")
	}
	switch {
	case len(raw.Keys) == 0:
		return nil, fieldError("jwks", "has no keys")
	case len(raw.Keys) > maxJWKSKeys:
		return nil, fieldError("jwks", "has more than %d keys", maxJWKSKeys)
	}
	for i, k := range raw.Keys {
		for member := range k {
			// encoding/json matches member names regardless of case.
			switch strings.ToLower(member) {
			case "d", "p", "q", "dp", "dq", "qi", "k", "oth", "priv":
				return nil, fieldError("jwks", "key %d holds private or symmetric key material; register public keys only", i+1)
			}
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, &FieldError{Field: "jwks", Message: "is not a valid JWK Set of RSA, EC or Ed25519 public keys", Err: err}
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if err := checkJWK(k); err != nil {
			return nil, fieldError("jwks", "key %d: %s", i+1, err)
		}
		if kids[k.KeyID] {
			return nil, fieldError("jwks", "key %d: kid %q is used twice; keys need distinct kids", i+1, k.KeyID)
		}
		kids[k.KeyID] = true
	}
	normalized, err := json.Marshal(set)
	if err != nil {
		return nil, &FieldError{Field: "jwks", Message: "cannot be encoded again", Err: err}
	}
	return normalized, nil
}

// signingAlgs lists the JWS algorithms each key type may declare (RFC 7518
// §3.1, RFC 8037), so a key cannot be registered for an algorithm it does
// not fit (TJ-02).
var signingAlgs = map[string][]string{
	"RSA": {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	"EC":  {"ES256", "ES384", "ES512"},
	"OKP": {"EdDSA", "Ed25519"},
}

// checkJWK checks that k is a usable public signing key.
func checkJWK(k jose.JSONWebKey) error {
	if !k.Valid() || !k.IsPublic() {
		return errors.New("is not a valid public key")
	}
	var kty string
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		kty = "RSA"
		if n := key.N.BitLen(); n < 2048 || n > 8192 {
			return fmt.Errorf("an RSA key of %d bits; use 2048 to 8192 bits", n)
		}
	case *ecdsa.PublicKey:
		kty = "EC"
		if c := key.Curve; c != elliptic.P256() && c != elliptic.P384() && c != elliptic.P521() {
			return errors.New("use the P-256, P-384 or P-521 curve")
		}
	case ed25519.PublicKey:
		kty = "OKP"
	default:
		return errors.New("use an RSA, EC or Ed25519 key")
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use is %q; client authentication keys are for sig", k.Use)
	}
	if k.Algorithm != "" && !slices.Contains(signingAlgs[kty], k.Algorithm) {
		return fmt.Errorf("alg %q does not fit a %s key", k.Algorithm, kty)
	}
	return nil
}

// validateGrants checks the grant types and how they fit the client.
func validateGrants(c storage.Client) error {
	if len(c.GrantTypes) == 0 {
		return fieldError("grant_types", "at least one is required: authorization_code, refresh_token, client_credentials or %s", GrantDeviceCode)
	}
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantDeviceCode:
		default:
			return fieldError("grant_types", "%q is not authorization_code, refresh_token, client_credentials or %s", g, GrantDeviceCode)
		}
	}
	has := func(g string) bool { return slices.Contains(c.GrantTypes, g) }
	switch {
	case c.Public && has(GrantClientCredentials):
		return fieldError("grant_types", "public clients cannot use client_credentials: they have no credentials")
	case has(GrantAuthorizationCode) && len(c.RedirectURIs) == 0:
		return fieldError("redirect_uris", "authorization_code needs at least one redirect URI")
	case has(GrantRefreshToken) && !has(GrantAuthorizationCode) && !has(GrantDeviceCode):
		return fieldError("grant_types", "refresh_token needs authorization_code or %s to issue the first token", GrantDeviceCode)
	}
	return nil
}

// validateURIs checks a list of redirect or post-logout redirect URIs.
func validateURIs(field string, uris []string, native bool) error {
	if len(uris) > maxURIs {
		return fieldError(field, "more than %d URIs", maxURIs)
	}
	for _, u := range uris {
		if err := ValidateRedirectURI(u, native); err != nil {
			return &FieldError{Field: field, Message: err.Error()}
		}
	}
	return nil
}

// validateScopes checks each scope is a scope-token (RFC 6749 §3.3):
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validateScopes(scopes []string) error {
	if len(scopes) > maxScopes {
		return fieldError("scopes", "more than %d scopes", maxScopes)
	}
	for _, s := range scopes {
		if err := validateScope(s); err != nil {
			return err
		}
	}
	return nil
}

func validateScope(s string) error {
	if s == "" {
		return fieldError("scopes", "an empty string is not a scope")
	}
	if len(s) > maxScopeLen {
		return fieldError("scopes", "%q… is longer than %d characters", s[:20], maxScopeLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return fieldError("scopes", "%q may contain only printable ASCII without spaces, quotes or backslashes", s)
		}
	}
	return nil
}

// dedupe returns a copy of list without repeated values, in order.
func dedupe(list []string) []string {
	var out []string
	seen := make(map[string]bool, len(list))
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
