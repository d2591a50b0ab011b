package idp

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/foyerdev/foyer/idp/password"
)

// Limits on free text. Emails follow RFC 5321's 254-octet path limit;
// passwords are capped at 256 characters, far above any passphrase.
const (
	maxEmailLen       = 254
	maxNameLen        = 200
	minPasswordLen    = 8
	maxPasswordLen    = 256
	maxSlugLen        = 63
	minPasswordLenMsg = "must be at least 8 characters"
	commonPasswordMsg = "This password is too common. Choose another."
)

// ValidateEmail checks that email is one bare address (no display name, no
// surrounding spaces) and returns it unchanged. The sign-in issue adds
// deliverability checks; this is syntax only.
func ValidateEmail(email string) error {
	switch {
	case email == "":
		return &FieldError{Field: "email", Message: "is required"}
	case len(email) > maxEmailLen:
		return &FieldError{Field: "email", Message: "is longer than 254 characters"}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return &FieldError{Field: "email", Message: "is not an email address like name@example.com"}
	}
	return nil
}

// ValidateSlug checks an organization slug: 1–63 lowercase letters, digits
// and inner hyphens, like a DNS label, so it is safe in URLs and subdomains.
func ValidateSlug(slug string) error {
	if slug == "" {
		return &FieldError{Field: "slug", Message: "is required"}
	}
	if len(slug) > maxSlugLen {
		return &FieldError{Field: "slug", Message: "is longer than 63 characters"}
	}
	for i, r := range slug {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(slug)-1
		if !ok {
			return &FieldError{Field: "slug", Message: "may contain only lowercase letters, digits and inner hyphens"}
		}
	}
	return nil
}

// validateName checks a display name: optional unless required, printable,
// at most 200 characters.
func validateName(field, name string, required bool) error {
	if strings.TrimSpace(name) == "" {
		if required {
			return &FieldError{Field: field, Message: "is required"}
		}
		return nil
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen {
		return &FieldError{Field: field, Message: "must be valid text of at most 200 characters"}
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return &FieldError{Field: field, Message: "must not contain control characters"}
	}
	return nil
}

// validatePassword applies the password policy wherever a password is set
// (SECURITY.md LG-06, NIST SP 800-63B §5.1.1.2): 8 to 256 characters, any
// characters, no composition rules, and not one of the most common
// passwords. Nothing is trimmed, truncated or case-folded: the password
// hashed is the password typed. It is never applied at sign-in, so a
// password set before a policy change still works.
func validatePassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < minPasswordLen:
		return &FieldError{Field: "password", Message: minPasswordLenMsg}
	case n > maxPasswordLen:
		return &FieldError{Field: "password", Message: "must be at most 256 characters"}
	case password.IsCommon(pw):
		return &FieldError{Field: "password", Message: commonPasswordMsg}
	}
	return nil
}
