package storage

import (
	"context"
	"time"
)

// PrefixUpstreamConnection starts the IDs of upstream connections. It
// differs from PrefixSAMLConnection: both kinds key ExternalIdentities by
// connection ID, so their IDs must never collide.
const PrefixUpstreamConnection = "ups_"

// Types of upstream connection.
const (
	UpstreamOIDC   = "oidc"
	UpstreamGitHub = "github"
)

// UpstreamConnection is an identity provider Foyer signs people in with as
// an OAuth 2.0 / OpenID Connect client: any OpenID provider (Google,
// Entra ID, GitLab, Okta, another Foyer), or GitHub.
type UpstreamConnection struct {
	ID string // ups_…
	// OrgID is the organization the connection belongs to; "" for a
	// global connection.
	OrgID string
	Type  string // UpstreamOIDC or UpstreamGitHub
	Name  string
	// Issuer is the OpenID provider's issuer (discovery at
	// Issuer/.well-known/openid-configuration); "" for GitHub.
	Issuer   string
	ClientID string
	// ClientSecret is sealed by the caller.
	ClientSecret []byte
	Scopes       []string
	// AuthURL, TokenURL and APIURL override GitHub's endpoints ("" means
	// github.com's).
	AuthURL  string
	TokenURL string
	APIURL   string
	// Mapping is how claims map to Foyer (the caller's JSON, opaque to
	// storage).
	Mapping []byte
	// MultiFactor marks an upstream that enforces multi-factor sign-in
	// itself: Foyer does not ask for a second factor after it.
	MultiFactor bool
	// LinkByEmail allows linking a first sign-in to an existing account
	// with the same verified address.
	LinkByEmail bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// UpstreamConnections stores upstream connections.
type UpstreamConnections interface {
	// CreateUpstreamConnection stores c; ErrAlreadyExists for a taken ID,
	// ErrNotFound when its organization does not exist.
	CreateUpstreamConnection(ctx context.Context, c UpstreamConnection) (UpstreamConnection, error)
	GetUpstreamConnection(ctx context.Context, id string) (UpstreamConnection, error)
	// ListUpstreamConnections lists every connection, oldest first.
	ListUpstreamConnections(ctx context.Context) ([]UpstreamConnection, error)
	// DeleteUpstreamConnection removes the connection and the external
	// identities of it, in one transaction; ErrNotFound.
	DeleteUpstreamConnection(ctx context.Context, id string) error
}
