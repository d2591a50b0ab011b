package storage

import "errors"

// Sentinel errors returned (wrapped) by every backend.
var (
	// ErrNotFound: no record matches the key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a unique key (email, slug, client ID, role name,
	// membership) is already taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the change is refused because of other records, such as
	// deleting a role that memberships still use.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the database cannot be reached right now. Callers
	// answer 503 and never treat it as "not found".
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalid: the record breaks a rule the schema enforces, such as an
	// empty ID or name. Features validate first; this is the last line.
	ErrInvalid = errors.New("invalid record")
)
