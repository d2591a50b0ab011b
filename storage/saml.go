package storage

import (
	"context"
	"time"
)

// PrefixSAMLConnection starts the IDs of SAML connections.
const PrefixSAMLConnection = "sso_"

// SAMLConnection is an organization's SAML identity provider, for which
// Foyer is the service provider.
type SAMLConnection struct {
	ID    string // sso_…
	OrgID string
	Name  string
	// MetadataURL, when set, is where the IdP's metadata is fetched and
	// refreshed from. Metadata is the last good copy (or the XML an admin
	// gave), MetadataFetchedAt when it was fetched, and MetadataError the
	// last refresh's failure, if it failed.
	MetadataURL       string
	Metadata          []byte
	MetadataFetchedAt time.Time
	MetadataError     string
	// SPKey is the service provider's private key (PKCS#8), sealed by the
	// caller; SPCertificate its self-signed certificate (DER).
	SPKey         []byte
	SPCertificate []byte
	// AllowIDPInitiated accepts responses no AuthnRequest asked for.
	AllowIDPInitiated bool
	// Mapping is how attributes and groups map to Foyer (the caller's
	// JSON, opaque to storage).
	Mapping   []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SAMLDomain is an email domain claimed by a SAML connection: addresses
// of it sign in there. A domain is claimed by at most one connection.
type SAMLDomain struct {
	Domain       string // lowercase
	ConnectionID string
	// VerificationToken is the value of the DNS TXT record that proves
	// the domain; VerifiedAt is zero until an admin asserted it or the
	// record was found.
	VerificationToken string
	VerifiedAt        time.Time
	CreatedAt         time.Time
}

// ExternalIdentity links a person to an account at another identity
// provider: a SAML connection's NameID, an upstream provider's subject.
// People are found by it, never by email alone (MT-05).
type ExternalIdentity struct {
	ConnectionID string
	Subject      string
	UserID       string
	CreatedAt    time.Time
	LastLoginAt  time.Time
}

// SAML stores SAML connections, their domains and the identities people
// have at them.
type SAML interface {
	// CreateSAMLConnection stores c; ErrNotFound when its organization
	// does not exist, ErrAlreadyExists for a taken ID.
	CreateSAMLConnection(ctx context.Context, c SAMLConnection) (SAMLConnection, error)
	GetSAMLConnection(ctx context.Context, id string) (SAMLConnection, error)
	// ListSAMLConnections lists an organization's connections (every
	// connection when orgID is empty), oldest first.
	ListSAMLConnections(ctx context.Context, orgID string) ([]SAMLConnection, error)
	// UpdateSAMLConnection locks the connection, applies update and stores
	// its result; ID, OrgID and CreatedAt cannot change.
	UpdateSAMLConnection(ctx context.Context, id string, update func(SAMLConnection) (SAMLConnection, error)) (SAMLConnection, error)
	// DeleteSAMLConnection removes the connection with its domains and
	// the external identities of it, in one transaction.
	DeleteSAMLConnection(ctx context.Context, id string) error

	// AddSAMLDomain claims d.Domain for d.ConnectionID; ErrAlreadyExists
	// when any connection claims it, ErrNotFound when the connection does
	// not exist.
	AddSAMLDomain(ctx context.Context, d SAMLDomain) error
	// GetSAMLDomain returns the claim of domain; ErrNotFound.
	GetSAMLDomain(ctx context.Context, domain string) (SAMLDomain, error)
	ListSAMLDomains(ctx context.Context, connectionID string) ([]SAMLDomain, error)
	// VerifySAMLDomain marks the domain verified at now; ErrNotFound.
	VerifySAMLDomain(ctx context.Context, domain string, now time.Time) (SAMLDomain, error)
	// DeleteSAMLDomain removes the connection's claim of domain;
	// ErrNotFound when the connection does not claim it.
	DeleteSAMLDomain(ctx context.Context, connectionID, domain string) error
}

// ExternalIdentities stores the links of people to other identity
// providers.
type ExternalIdentities interface {
	// CreateExternalIdentity links e.Subject at e.ConnectionID to e.UserID;
	// ErrAlreadyExists when that subject is linked already, ErrNotFound
	// when the user does not exist.
	CreateExternalIdentity(ctx context.Context, e ExternalIdentity) error
	GetExternalIdentity(ctx context.Context, connectionID, subject string) (ExternalIdentity, error)
	// TouchExternalIdentity records a sign-in through the identity.
	TouchExternalIdentity(ctx context.Context, connectionID, subject string, now time.Time) error
	// ListExternalIdentities lists a user's identities, oldest first.
	ListExternalIdentities(ctx context.Context, userID string) ([]ExternalIdentity, error)
	// DeleteExternalIdentity removes the user's link; ErrNotFound when the
	// user has no such link.
	DeleteExternalIdentity(ctx context.Context, userID, connectionID, subject string) error
}
