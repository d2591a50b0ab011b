package storage

import (
	"strings"
	"time"
)

// User is a person who can sign in.
type User struct {
	ID            string // usr_…
	Email         string // as typed; unique by EmailKey
	EmailVerified bool
	Name          string
	// PasswordHash is a PHC string (argon2id), or empty when the person has
	// no password.
	PasswordHash string
	Admin        bool // a Foyer operator, not an organization role
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Organization is a tenant: a company or team whose members get its role and
// permissions in their tokens.
type Organization struct {
	ID         string // org_…
	Slug       string // unique, URL-safe
	Name       string
	LogoURL    string // https URL of the logo shown on sign-in pages; empty for none
	BrandColor string // #rrggbb; empty for Foyer's colour
	RequireMFA bool   // members must have a second factor to sign in
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Role is a named set of permission strings. Built-in roles have no OrgID
// and exist in every organization; custom roles belong to one organization.
type Role struct {
	ID          string // rol_… (built-ins: rol_admin, rol_editor, rol_member)
	OrgID       string // empty for a built-in role
	Name        string // unique within the organization, built-ins included
	Description string
	Permissions []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Builtin reports whether r is one of the roles every organization has.
func (r Role) Builtin() bool { return r.OrgID == "" }

// Membership puts a user in an organization with one role.
type Membership struct {
	OrgID     string
	UserID    string
	Role      string // a built-in role name or a custom role of OrgID
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Client is a registered OAuth 2.0 client. The OIDC core fills in how it is
// used; storage only keeps it.
type Client struct {
	ID                     string
	Name                   string
	SecretHash             string // empty for public clients
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	FirstParty             bool
	AccessTokenFormat      string // "jwt" or "opaque"
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt or none (public clients).
	TokenEndpointAuthMethod string
	RequirePKCE             bool   // also for a confidential client (public ones always need it)
	RequirePAR              bool   // authorization requests must be pushed (RFC 9126)
	ApplicationType         string // "web" or "native" (RFC 8252 loopback ports)
	JWKS                    []byte // public keys for private_key_jwt, as a JWK Set document
	// RequireOrganization refuses sign-in at the authorization endpoint
	// to a person who belongs to no organization (issue 5).
	RequireOrganization bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Page selects a slice of a list ordered by ID: records with an ID greater
// than After, at most Limit of them.
type Page struct {
	After string
	Limit int
}

// UserQuery selects users. Every set field narrows the result.
type UserQuery struct {
	Page
	// Search matches a substring of the email or the name, ignoring ASCII
	// case; it is matched literally (% and _ are not wildcards).
	Search string
	// OrgID keeps the members of that organization.
	OrgID string
	// Role keeps the users who hold a role of that name: in OrgID when it
	// is set, in any organization otherwise.
	Role string
}

// LikePattern is s as a SQL LIKE pattern matching any string that
// contains s, with the wildcards in s escaped by a backslash (ESCAPE '\').
func LikePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// Page limits.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// EffectiveLimit is the limit a backend applies: DefaultPageLimit when unset,
// never more than MaxPageLimit.
func (p Page) EffectiveLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// MigrationReport says what a Migrate call did.
type MigrationReport struct {
	Applied []string // file names of migrations applied by this call, in order
	Version int64    // schema version after the call
}
