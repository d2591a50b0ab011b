package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// credential is what foyer login keeps for one issuer: the tokens and
// the endpoints the other commands use them with, so whoami, logout and
// api need no discovery.
type credential struct {
	Issuer             string    `json:"issuer"`
	TokenEndpoint      string    `json:"token_endpoint"`
	RevocationEndpoint string    `json:"revocation_endpoint,omitempty"`
	UserinfoEndpoint   string    `json:"userinfo_endpoint,omitempty"`
	AccessToken        string    `json:"access_token"`
	TokenType          string    `json:"token_type,omitempty"`
	RefreshToken       string    `json:"refresh_token,omitempty"`
	IDToken            string    `json:"id_token,omitempty"`
	Expiry             time.Time `json:"expiry,omitzero"`
	Scopes             []string  `json:"scopes,omitempty"`
	// Who signed in, from the verified ID token.
	Subject string `json:"subject,omitempty"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
}

// credentialsFile is credentials.json: one entry per issuer, so several
// Foyers can be signed in to at once.
type credentialsFile struct {
	Issuers map[string]credential `json:"issuers"`
}

// credentials is the token file in the user's configuration directory
// (os.UserConfigDir()/foyer/credentials.json): a directory of mode 0700, a
// file of mode 0600, replaced whole by rename so a crash leaves the old
// file or the new one, never half of one.
type credentials struct{ path string }

func userCredentials() (credentials, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return credentials{}, fmt.Errorf("credentials: %w", err)
	}
	return credentials{filepath.Join(dir, "foyer", "credentials.json")}, nil
}

// lock serializes the commands that read, refresh and write the file: two
// at once would both spend the same refresh token, and Foyer takes a
// reused refresh token for a stolen one and revokes the grant.
func (c credentials) lock() (unlock func(), err error) {
	if err := c.mkdir(); err != nil {
		return nil, err
	}
	return lockFile(c.path + ".lock")
}

func (c credentials) mkdir() error {
	dir := filepath.Dir(c.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	// MkdirAll leaves an existing directory as it is; ours holds tokens.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// load reads the file; a missing file is an empty one.
func (c credentials) load() (credentialsFile, error) {
	f := credentialsFile{Issuers: map[string]credential{}}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("credentials: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("credentials: %s is not valid: %w", c.path, err)
	}
	if f.Issuers == nil {
		f.Issuers = map[string]credential{}
	}
	return f, nil
}

// save replaces the file with f: a temporary file of mode 0600 beside it,
// synced, then renamed over it.
func (c credentials) save(f credentialsFile) error {
	if err := c.mkdir(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".credentials-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.path)
	}
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// notSignedIn is the one line every command prints for an issuer it has no
// (more) tokens for.
type notSignedIn struct{ issuer string }

func (e notSignedIn) Error() string {
	if e.issuer == "" {
		return "not signed in; run foyer login --issuer URL"
	}
	return fmt.Sprintf("not signed in to %s; run foyer login --issuer %s", e.issuer, e.issuer)
}

// pick returns the entry for issuer, or the only entry when issuer is "".
func (f credentialsFile) pick(issuer string) (credential, error) {
	if issuer != "" {
		c, ok := f.Issuers[normalizeIssuer(issuer)]
		if !ok {
			return credential{}, notSignedIn{normalizeIssuer(issuer)}
		}
		return c, nil
	}
	switch len(f.Issuers) {
	case 0:
		return credential{}, notSignedIn{}
	case 1:
		for _, c := range f.Issuers {
			return c, nil
		}
	}
	var names []string
	for name := range f.Issuers {
		names = append(names, name)
	}
	slices.Sort(names)
	return credential{}, usageError{fmt.Errorf("signed in to several issuers (%s): choose one with --issuer", strings.Join(names, ", "))}
}

// normalizeIssuer drops a trailing slash, which an issuer identifier does
// not have but a person may type.
func normalizeIssuer(issuer string) string { return strings.TrimRight(issuer, "/") }
