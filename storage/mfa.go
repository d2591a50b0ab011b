package storage

import (
	"context"
	"time"
)

// TOTPFactor is a person's authenticator app (RFC 6238). The secret is
// sealed (encrypted) by package mfa: it must be usable again, so it is
// never hashed, and never stored in clear (TO-05).
type TOTPFactor struct {
	UserID       string
	SealedSecret []byte
	CreatedAt    time.Time
	// ConfirmedAt is zero while the enrolment waits for the first valid
	// code; only a confirmed factor is asked for at sign-in (TO-04).
	ConfirmedAt time.Time
	// LastStep is the time step of the last accepted code; a code of that
	// step or an earlier one is refused (TO-01).
	LastStep int64
}

// RecoveryCode is one single-use recovery code, stored as a keyed hash.
type RecoveryCode struct {
	UserID    string
	Hash      string
	CreatedAt time.Time
	UsedAt    time.Time // zero until used
}

// Passkey is a WebAuthn credential. Data is the credential as package mfa
// keeps it (go-webauthn's JSON), opaque to storage; the other fields are
// what lists and lookups need.
type Passkey struct {
	// ID is the credential ID (at most 1023 bytes, WA-06), unique across
	// all users.
	ID     []byte
	UserID string
	Name   string
	Data   []byte
	// CloneWarning records a sign counter that went backwards (WA-05).
	CloneWarning bool
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero until first used to sign in
}

// MFAChallenge is short-lived server-side state of a ceremony: a WebAuthn
// challenge (WA-01), or a sign-in that passed its first factor and waits
// for the second. ID is a hash of the handle the browser holds.
type MFAChallenge struct {
	ID        string
	Purpose   string
	UserID    string // empty for a passwordless passkey sign-in, where the user is not yet known
	Data      []byte // opaque to storage
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MFA stores second factors and their ceremonies.
type MFA interface {
	// SaveTOTPFactor stores f as the user's TOTP factor, replacing any
	// unconfirmed one; ErrConflict when the user has a confirmed one (it
	// must be deleted first); ErrNotFound when the user does not exist.
	SaveTOTPFactor(ctx context.Context, f TOTPFactor) error
	// GetTOTPFactor returns the user's factor, confirmed or not;
	// ErrNotFound when there is none.
	GetTOTPFactor(ctx context.Context, userID string) (TOTPFactor, error)
	// UseTOTPStep records that a code of step was accepted (confirming the
	// factor at now if it was not): it succeeds only when step is greater
	// than LastStep, atomically, so of two concurrent uses of one code one
	// fails (TO-01) with ErrConflict. ErrNotFound when there is no factor.
	UseTOTPStep(ctx context.Context, userID string, step int64, now time.Time) (TOTPFactor, error)
	// DeleteTOTPFactor removes the user's factor; ErrNotFound when none.
	DeleteTOTPFactor(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// hashes in their place, in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode marks the user's unused code with hash used at now
	// and returns how many unused codes remain. ErrNotFound when the user
	// has no unused code with that hash (wrong, or used before); of two
	// concurrent uses of one code one gets ErrNotFound.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (remaining int, err error)
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	// CreatePasskey stores p. ErrAlreadyExists when its ID is registered
	// to anyone (WA-06); ErrNotFound when the user does not exist.
	CreatePasskey(ctx context.Context, p Passkey) error
	// GetPasskey returns the passkey with credential ID id; ErrNotFound.
	GetPasskey(ctx context.Context, id []byte) (Passkey, error)
	// ListPasskeys returns the user's passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// UpdatePasskey locks the passkey, applies update and stores Name,
	// Data, CloneWarning and LastUsedAt from its result; ErrNotFound.
	UpdatePasskey(ctx context.Context, id []byte, update func(Passkey) (Passkey, error)) (Passkey, error)
	// DeletePasskey removes the user's passkey id; ErrNotFound when the
	// user has no such passkey (another user's counts as none).
	DeletePasskey(ctx context.Context, userID string, id []byte) error

	// CreateMFAChallenge stores c; ErrAlreadyExists for a taken ID.
	CreateMFAChallenge(ctx context.Context, c MFAChallenge) error
	// GetMFAChallenge returns the unexpired challenge id of purpose;
	// ErrNotFound otherwise.
	GetMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (MFAChallenge, error)
	// TakeMFAChallenge deletes and returns the unexpired challenge id of
	// purpose: of concurrent calls exactly one gets it, the others
	// ErrNotFound (WA-01: single use).
	TakeMFAChallenge(ctx context.Context, id, purpose string, now time.Time) (MFAChallenge, error)
	// DeleteExpiredMFAChallenges removes challenges that expired before now.
	DeleteExpiredMFAChallenges(ctx context.Context, now time.Time) (int64, error)
}
