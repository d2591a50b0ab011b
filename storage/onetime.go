package storage

import (
	"context"
	"time"
)

// TokenPurpose says what a one-time token may be used for; a token of one
// purpose is never accepted for another.
type TokenPurpose string

// Purposes of one-time tokens, each sent by email as a link.
const (
	PurposeMagicLink     TokenPurpose = "magic_link"
	PurposeVerifyEmail   TokenPurpose = "verify_email"
	PurposeResetPassword TokenPurpose = "reset_password"
)

// OneTimeToken is the record of an emailed link. Hash is a keyed hash of
// the token in the link; the token itself is never stored (ML-01).
type OneTimeToken struct {
	Hash    string
	Purpose TokenPurpose
	UserID  string // the account it acts on
	Email   string // the address it was sent to
	// Binding is a hash of the requesting browser's binding cookie, so the
	// link knows whether it is opened on the device that asked (ML-05);
	// empty when there was none.
	Binding string
	// Challenge is the pending authorization to resume after the link is
	// used, if any; never a free URL (ML-07).
	Challenge string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used or superseded
}

// OneTimeTokens stores emailed links' tokens.
type OneTimeTokens interface {
	// CreateOneTimeToken stores t and, in the same transaction, marks used
	// every earlier unused token of the same user and purpose: only the
	// latest link works (ML-03). ErrAlreadyExists for a taken Hash;
	// ErrNotFound when the user does not exist.
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// GetOneTimeToken returns the token, used or not, expired or not;
	// ErrNotFound when there is none.
	GetOneTimeToken(ctx context.Context, hash string) (OneTimeToken, error)
	// UseOneTimeToken marks the token used at now and returns it. Of
	// concurrent callers exactly one succeeds; the others, and any later
	// caller, get ErrConflict (ML-02), as does a caller once the token
	// expired (ExpiresAt at or before now). ErrNotFound when there is none.
	UseOneTimeToken(ctx context.Context, hash string, now time.Time) (OneTimeToken, error)
	// DeleteExpiredOneTimeTokens removes tokens that expired before now and
	// returns how many.
	DeleteExpiredOneTimeTokens(ctx context.Context, now time.Time) (int64, error)
}
