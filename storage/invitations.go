package storage

import (
	"context"
	"time"
)

// PrefixInvitation starts invitation IDs.
const PrefixInvitation = "inv_"

// Invitation is an emailed offer to join an organization with a role.
// TokenHash is a keyed hash of the token in the emailed link; the token
// itself is never stored (ML-01).
type Invitation struct {
	ID        string
	OrgID     string
	Email     string
	Role      string // a role name usable in OrgID: built-in or custom
	TokenHash string
	InvitedBy string // the subject that invited: a user ID or a client ID
	CreatedAt time.Time
	ExpiresAt time.Time
	// AcceptedAt and RevokedAt are zero until the invitation is accepted,
	// or revoked (by an admin, or superseded by a newer invitation).
	AcceptedAt time.Time
	RevokedAt  time.Time
}

// Open reports whether the invitation was neither accepted nor revoked;
// it may still have expired.
func (i Invitation) Open() bool { return i.AcceptedAt.IsZero() && i.RevokedAt.IsZero() }

// Pending reports whether the invitation can still be accepted at now.
func (i Invitation) Pending(now time.Time) bool { return i.Open() && now.Before(i.ExpiresAt) }

// Invitations stores invitations to organizations.
type Invitations interface {
	// CreateInvitation stores inv and, in the same transaction, revokes at
	// inv.CreatedAt the open invitation of the same organization and email
	// (by EmailKey), if any: only the newest link works. ErrNotFound when
	// the organization does not exist; ErrAlreadyExists for a taken ID or
	// TokenHash.
	CreateInvitation(ctx context.Context, inv Invitation) (Invitation, error)
	// GetInvitation returns the invitation, whatever its state.
	GetInvitation(ctx context.Context, id string) (Invitation, error)
	// GetInvitationByTokenHash returns the invitation whose current link
	// has this hash; ErrNotFound when none has.
	GetInvitationByTokenHash(ctx context.Context, hash string) (Invitation, error)
	// ListInvitations lists the organization's invitations: open ones
	// first, each group newest first.
	ListInvitations(ctx context.Context, orgID string) ([]Invitation, error)
	// AcceptInvitation marks the invitation accepted at now in one
	// conditional update. Of concurrent callers exactly one succeeds; the
	// others, and callers once it is accepted, revoked or expired, get
	// ErrConflict. ErrNotFound when there is none.
	AcceptInvitation(ctx context.Context, id string, now time.Time) (Invitation, error)
	// RevokeInvitation marks an open invitation revoked at now.
	// ErrConflict when it was accepted or revoked already.
	RevokeInvitation(ctx context.Context, id string, now time.Time) (Invitation, error)
	// ResendInvitation gives an open invitation a new link: tokenHash
	// replaces the old hash (the old link stops working) and expiresAt the
	// old expiry. ErrConflict when it was accepted or revoked;
	// ErrAlreadyExists for a taken hash.
	ResendInvitation(ctx context.Context, id, tokenHash string, expiresAt time.Time) (Invitation, error)
}
