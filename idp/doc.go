// Package idp owns identity: users, organizations, memberships and roles,
// and (in later work) sessions, invitations and the login flows.
//
// Directory is the write path for accounts and organizations that the CLI
// and the admin API share: it validates input, hashes passwords and turns
// storage errors into FieldErrors that name the offending field.
package idp
