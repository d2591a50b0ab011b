package upstream

import (
	"encoding/json"
	"errors"
	"net/mail"
	"strconv"
	"strings"
)

// person is what an upstream says about who signed in.
type person struct {
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
	// EmailVerified is the upstream's word on Email, read from the same
	// claims (MT-06).
	EmailVerified bool   `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
}

// maxSubject bounds an upstream subject (OIDC Core §2: at most 255 ASCII
// characters).
const maxSubject = 255

// claimsPerson reads a person from an ID token's or userinfo's claims
// (JSON) through the mapping. The subject is always "sub". Email and its
// verified flag come from the same claims; an address that does not parse
// is dropped, a verified flag without an address means nothing, and a
// mapped address counts as verified only by a mapped verified claim.
func claimsPerson(raw []byte, m Mapping) (person, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		return person{}, errors.New("the claims are not a JSON object")
	}
	var p person
	p.Subject = claimString(claims, "sub")
	if p.Subject == "" || len(p.Subject) > maxSubject {
		return person{}, errors.New("the subject is missing or longer than 255 characters")
	}
	p.Email = cleanEmail(claimString(claims, nonEmpty(m.EmailClaim, "email")))
	if p.Email != "" && (m.EmailClaim == "" || m.EmailVerifiedClaim != "") {
		// A mapped address without a mapped verified claim is unverified:
		// email_verified speaks of the email claim, not of another.
		p.EmailVerified = claimBool(claims, nonEmpty(m.EmailVerifiedClaim, "email_verified"))
	}
	p.Name = claimString(claims, nonEmpty(m.NameClaim, "name"))
	if p.Name == "" && m.NameClaim == "" {
		p.Name = strings.TrimSpace(claimString(claims, "given_name") + " " + claimString(claims, "family_name"))
	}
	p.Name = truncate(p.Name, 200)
	return p, nil
}

func claimString(claims map[string]json.RawMessage, name string) string {
	var v string
	if json.Unmarshal(claims[name], &v) != nil {
		return ""
	}
	return strings.TrimSpace(v)
}

// claimBool reads true, or "true" as some providers send it (Cognito,
// older Azure AD B2C).
func claimBool(claims map[string]json.RawMessage, name string) bool {
	var b bool
	if json.Unmarshal(claims[name], &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(claims[name], &s) == nil && s == "true"
}

// cleanEmail returns email when it is one plain address, else "".
func cleanEmail(email string) string {
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return ""
	}
	return email
}

// truncate cuts s to at most n bytes, never inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func nonEmpty(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// gitHubUser reads GitHub's GET /user: the numeric ID is the subject
// (logins can be renamed and reused).
func gitHubUser(raw []byte) (person, error) {
	var u struct {
		ID    json.RawMessage `json:"id"`
		Login string          `json:"login"`
		Name  string          `json:"name"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		return person{}, errors.New("GitHub's user is not JSON")
	}
	id, err := strconv.ParseInt(string(u.ID), 10, 64) // a JSON number, never a string
	if err != nil || id <= 0 {
		return person{}, errors.New("GitHub's user has no numeric id")
	}
	name := strings.TrimSpace(u.Name)
	if name == "" {
		name = strings.TrimSpace(u.Login)
	}
	name = truncate(name, 200)
	return person{Subject: strconv.FormatInt(id, 10), Name: name}, nil
}

// gitHubEmail picks from GitHub's GET /user/emails the primary address if
// it is verified, else the first verified one; unverified addresses are
// ignored. "" when there is none.
func gitHubEmail(raw []byte) (string, error) {
	var list []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New("GitHub's emails are not a JSON list")
	}
	first := ""
	for _, e := range list {
		email := cleanEmail(strings.TrimSpace(e.Email))
		if !e.Verified || email == "" {
			continue
		}
		if e.Primary {
			return email, nil
		}
		if first == "" {
			first = email
		}
	}
	return first, nil
}
