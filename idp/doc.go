// Package idp owns identity: users, organizations, memberships and roles,
// and (in later work) sessions, invitations and the login flows.
//
// Directory is the write path for accounts and organizations that the CLI,
// the admin API and the sign-in pages share: it validates input, applies
// the password policy wherever a password is set (8–256 characters, not
// one of the most common passwords), hashes passwords, upgrades a hash
// made with older parameters at the next sign-in, and turns storage errors
// into FieldErrors that name the offending field.
package idp
