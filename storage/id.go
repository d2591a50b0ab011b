package storage

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes say what an opaque ID names, as Stripe's and Clerk's do, so a
// user ID pasted where an organization ID belongs is caught at a glance.
const (
	PrefixUser         = "usr_"
	PrefixOrganization = "org_"
	PrefixRole         = "rol_"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 128 random bits in lowercase Crockford
// base32 (26 characters). IDs are never sequential: they reveal neither
// counts nor creation order.
func NewID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error (crypto/rand docs)
	return prefix + idEncoding.EncodeToString(b[:])
}

// EmailKey is the form under which emails are unique: people type
// Alice@Example.com and alice@example.com for the same mailbox. The record
// keeps what was typed; backends index this key.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}
