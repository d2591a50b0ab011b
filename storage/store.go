package storage

import "context"

// Store is everything a backend provides. Consumers depend on the slices they
// use (Users, Organizations, …), not on Store.
type Store interface {
	Users
	Organizations
	Roles
	Memberships
	Clients
	Keys
	OAuthSessions
	BrowserSessions
	Consents
	AssertionJTIs
	Outbox
	RateLimits
	OneTimeTokens
	Invitations
	DeviceCodes
	MFA
	SAML
	ExternalIdentities
	UpstreamConnections
	Events
	AuditLog
	Transactions

	// Migrate applies pending schema migrations, safely when several
	// processes start at once, and seeds the built-in roles.
	Migrate(ctx context.Context) (MigrationReport, error)
	// Ping reports whether the database answers; ErrUnavailable when not.
	Ping(ctx context.Context) error
	// Close releases connections; the Store is unusable afterwards.
	Close() error
}

// Users stores people. Emails are unique by EmailKey.
type Users interface {
	// CreateUser stores u (ID and times set by the caller) and returns it as
	// stored. ErrAlreadyExists when the ID or the email is taken.
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail finds a user by email, ignoring case.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context, p Page) ([]User, error)
	// SearchUsers lists the users q matches, ordered by ID and paged by
	// q.Page, and how many match in all (every page), for the admin API.
	SearchUsers(ctx context.Context, q UserQuery) (users []User, total int, err error)
	// UpdateUser reads the user in a transaction, applies update and writes
	// the result; ID and CreatedAt cannot change. An error from update aborts
	// the transaction and is returned wrapped.
	UpdateUser(ctx context.Context, id string, update func(User) (User, error)) (User, error)
	// DeleteUser removes the user and their memberships.
	DeleteUser(ctx context.Context, id string) error
}

// Organizations stores tenants. Slugs are unique.
type Organizations interface {
	CreateOrganization(ctx context.Context, o Organization) (Organization, error)
	GetOrganization(ctx context.Context, id string) (Organization, error)
	GetOrganizationBySlug(ctx context.Context, slug string) (Organization, error)
	ListOrganizations(ctx context.Context, p Page) ([]Organization, error)
	UpdateOrganization(ctx context.Context, id string, update func(Organization) (Organization, error)) (Organization, error)
	// DeleteOrganization removes the organization with its memberships and
	// custom roles.
	DeleteOrganization(ctx context.Context, id string) error
}

// Roles stores custom roles and reads built-in ones.
type Roles interface {
	// CreateRole stores a custom role (OrgID required). ErrAlreadyExists when
	// the organization has a role of that name, built-ins included;
	// ErrNotFound when the organization does not exist.
	CreateRole(ctx context.Context, r Role) (Role, error)
	// GetRole finds a role usable in the organization by name: a built-in
	// role or one of the organization's custom roles. ErrNotFound when the
	// organization does not exist, even for a built-in name.
	GetRole(ctx context.Context, orgID, name string) (Role, error)
	// ListRoles lists the built-in roles, then the organization's custom
	// roles, each group ordered by name. ErrNotFound when the organization
	// does not exist.
	ListRoles(ctx context.Context, orgID string) ([]Role, error)
	// UpdateRole changes a custom role's description and permissions; the
	// name, ID and organization cannot change. ErrConflict for a built-in.
	UpdateRole(ctx context.Context, orgID, name string, update func(Role) (Role, error)) (Role, error)
	// DeleteRole removes a custom role. ErrConflict for a built-in role or
	// one that memberships still use.
	DeleteRole(ctx context.Context, orgID, name string) error
}

// Memberships stores who belongs to which organization with which role.
type Memberships interface {
	// CreateMembership adds m. ErrNotFound when the organization, the user
	// or the role (in that organization) does not exist; ErrAlreadyExists
	// when the user is already a member.
	CreateMembership(ctx context.Context, m Membership) (Membership, error)
	GetMembership(ctx context.Context, orgID, userID string) (Membership, error)
	// ListMembershipsByOrganization lists members ordered by user ID; Page.After is a user ID.
	ListMembershipsByOrganization(ctx context.Context, orgID string, p Page) ([]Membership, error)
	// ListMembershipsByUser lists every membership of a user ordered by organization ID.
	ListMembershipsByUser(ctx context.Context, userID string) ([]Membership, error)
	// UpdateMembership changes the role (validated like CreateMembership).
	UpdateMembership(ctx context.Context, orgID, userID string, update func(Membership) (Membership, error)) (Membership, error)
	DeleteMembership(ctx context.Context, orgID, userID string) error
}

// Clients stores OAuth 2.0 clients.
type Clients interface {
	CreateClient(ctx context.Context, c Client) (Client, error)
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context, p Page) ([]Client, error)
	UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) (Client, error)
	DeleteClient(ctx context.Context, id string) error
}
