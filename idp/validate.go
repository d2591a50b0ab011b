package idp

import (
	"net/mail"
	"net/netip"
	"net/url"
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
	maxLogoURLLen     = 2048
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

// ValidateLogoURL checks an organization's logo URL, shown on sign-in
// pages: empty for none, or an absolute https URL of at most 2048
// characters with no user name, password or fragment. Plain http is
// allowed only for localhost and loopback addresses, as for the issuer.
// A refused URL is a *FieldError on "logo_url".
func ValidateLogoURL(logoURL string) error {
	const example = "https://example.com/logo.png"
	if logoURL == "" {
		return nil
	}
	bad := func(msg string) error { return &FieldError{Field: "logo_url", Message: msg} }
	if len(logoURL) > maxLogoURLLen {
		return bad("is longer than 2048 characters")
	}
	u, err := url.Parse(logoURL)
	switch {
	case err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" ||
		strings.IndexFunc(logoURL, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return bad("must be an absolute https URL such as " + example)
	case u.User != nil:
		return bad("must not contain a user name or password")
	case strings.Contains(logoURL, "#"):
		return bad("must not have a fragment (#…)")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return bad("must be an https URL (http only for localhost)")
	}
	return nil
}

// isLoopback reports whether host names this machine: localhost or an
// address in 127.0.0.0/8 or ::1, as config's issuer check has it.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// ValidateBrandColor checks an organization's brand colour: empty for
// Foyer's, or # and exactly six hex digits of either case (Foyer stores
// it lowercase: NormalizeBrandColor). A refused colour is a *FieldError
// on "brand_color".
func ValidateBrandColor(color string) error {
	if color == "" {
		return nil
	}
	ok := len(color) == 7 && color[0] == '#'
	for i := 1; ok && i < len(color); i++ {
		c := color[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	if !ok {
		return &FieldError{Field: "brand_color", Message: "must be # and six hex digits, such as #1a73e8"}
	}
	return nil
}

// NormalizeBrandColor returns a colour ValidateBrandColor accepted as
// Foyer stores it: lowercase.
func NormalizeBrandColor(color string) string { return strings.ToLower(color) }

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
