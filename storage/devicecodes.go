package storage

import (
	"context"
	"time"
)

// DeviceStatus is where a device authorization (RFC 8628) stands.
type DeviceStatus string

// The statuses of a device authorization. Only a pending one may be
// decided, and only an approved one may be spent.
const (
	DevicePending  DeviceStatus = "pending"  // waiting for the person at /device
	DeviceApproved DeviceStatus = "approved" // allowed: the next poll gets tokens
	DeviceDenied   DeviceStatus = "denied"   // the person pressed Deny
	DeviceUsed     DeviceStatus = "used"     // tokens were issued, once
)

// DeviceCode is one device authorization request. DeviceCodeHash and
// UserCodeHash are keyed hashes: neither code is stored (DV-03).
type DeviceCode struct {
	DeviceCodeHash string
	UserCodeHash   string
	ClientID       string
	// Scopes are the scopes requested at the device authorization endpoint.
	Scopes []string
	Status DeviceStatus
	// UserID is who approved or denied; empty while pending.
	UserID string
	// Session is what the tokens are issued from, set on approval; opaque
	// to storage (authz's JSON).
	Session []byte
	// Interval is the least time between two polls; slow_down raises it.
	Interval time.Duration
	// LastPolledAt is the last poll's time; zero before the first.
	LastPolledAt time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// DeviceCodes stores device authorizations.
type DeviceCodes interface {
	// CreateDeviceCode stores d. ErrAlreadyExists when its DeviceCodeHash
	// or UserCodeHash is taken (the caller draws new codes); ErrNotFound
	// when the client does not exist.
	CreateDeviceCode(ctx context.Context, d DeviceCode) error
	// GetDeviceCodeByUserCode returns the device code whose user code
	// hashes to userCodeHash, in any status, expired or not; ErrNotFound
	// when there is none.
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (DeviceCode, error)
	// UpdateDeviceCode locks the device code with deviceCodeHash, passes it
	// to update and stores what update returns: only Status, UserID,
	// Session, Interval and LastPolledAt can change. Concurrent updates of
	// one code run one after the other, each seeing the result of the one
	// before, so of two polls of an approved code only one sees it
	// approved. An error from update is returned (errors.Is finds it) and
	// nothing is written. ErrNotFound when there is none.
	UpdateDeviceCode(ctx context.Context, deviceCodeHash string, update func(DeviceCode) (DeviceCode, error)) (DeviceCode, error)
	// DeleteExpiredDeviceCodes removes device codes that expired before now
	// and returns how many.
	DeleteExpiredDeviceCodes(ctx context.Context, now time.Time) (int64, error)
}
