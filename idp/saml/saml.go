// Package saml makes Foyer a SAML 2.0 service provider for organizations'
// identity providers (github.com/crewjam/saml): SP-initiated sign-in with
// a signed AuthnRequest by HTTP-Redirect, the response by HTTP-POST at the
// assertion consumer service, every check of SECURITY.md's SP section,
// and just-in-time provisioning into the connection's organization.
//
// It starts the browser session itself (amr "ext") and resumes the
// pending authorization through Authorizations; cmd/foyer wires it to
// authz and signin, which never import it.
package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// Store is the slice of storage the service provider uses.
type Store interface {
	storage.SAML
	storage.ExternalIdentities
	storage.Users
	storage.Organizations
	storage.Roles
	storage.Memberships
	storage.MFA // for the AuthnRequest state (MFAChallenge: a ceremony)
	storage.AssertionJTIs
	storage.Transactions
}

// Sealer encrypts the service provider's private keys at rest.
type Sealer interface {
	Seal(plaintext []byte, context string) []byte
	Open(sealed []byte, context string) ([]byte, error)
}

// Authorizations resumes a pending authorization once the person signed
// in (authz.Provider).
type Authorizations interface {
	CompleteLogin(ctx context.Context, id string) (next string, err error)
}

// Options configure the service provider.
type Options struct {
	// Issuer is Foyer's public base URL: entity IDs and ACS URLs start
	// with it.
	Issuer         string
	Store          Store
	Sealer         Sealer
	Sessions       *session.Manager
	Authorizations Authorizations
	// Templates holds the page templates (templates.FS).
	Templates fs.FS
	// HandleKey (32 bytes) keys the hashes of AuthnRequest handles.
	HandleKey []byte
	// AllowPrivateMetadata lets metadata URLs reach loopback and private
	// addresses (development and tests); otherwise an admin-given URL
	// cannot make Foyer call into its own network (F7, SSRF).
	AllowPrivateMetadata bool
	// Limiter, when set, applies StartPolicy per client IP to sign-in
	// starts (ratelimit.Policies.SSOStartIP).
	Limiter     *ratelimit.Limiter
	StartPolicy ratelimit.Policy
	// Audit records refused responses and sign-ins (audit.go); nil
	// records nothing.
	Audit  *audit.Recorder
	Logger *slog.Logger
	Now    func() time.Time
}

// Service is the SAML service provider of every connection.
type Service struct {
	o           Options
	errorPage   *render.Template[render.ErrorPage]
	confirmPage *render.Template[render.SSOConfirmPage]
}

// New checks the options and parses the error page.
func New(o Options) (*Service, error) {
	switch {
	case o.Issuer == "" || o.Store == nil || o.Sealer == nil || o.Sessions == nil || o.Authorizations == nil || o.Templates == nil:
		return nil, errors.New("saml: Issuer, Store, Sealer, Sessions, Authorizations and Templates are required")
	case len(o.HandleKey) < 32:
		return nil, errors.New("saml: HandleKey must be at least 32 bytes")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p, err := render.ParsePage[render.ErrorPage](o.Templates, "error.html")
	if err != nil {
		return nil, err
	}
	confirm, err := render.ParsePage[render.SSOConfirmPage](o.Templates, "sso_confirm.html")
	if err != nil {
		return nil, err
	}
	return &Service{o: o, errorPage: p, confirmPage: confirm}, nil
}

// Mapping is how a connection's attributes and groups become Foyer's.
// Empty attribute names mean the usual ones (Entra ID's, Okta's, the
// LDAP names); the NameID is the email when the IdP sends no email.
type Mapping struct {
	EmailAttribute     string `json:"email_attribute,omitempty"`
	FirstNameAttribute string `json:"first_name_attribute,omitempty"`
	LastNameAttribute  string `json:"last_name_attribute,omitempty"`
	GroupsAttribute    string `json:"groups_attribute,omitempty"`
	// GroupRoles gives the organization role of a group; the first rule
	// whose group the person is in wins. DefaultRole is the role of a
	// person in none ("member" when empty).
	GroupRoles  []GroupRole `json:"group_roles,omitempty"`
	DefaultRole string      `json:"default_role,omitempty"`
}

// GroupRole maps one IdP group to an organization role.
type GroupRole struct {
	Group string `json:"group"`
	Role  string `json:"role"`
}

// NewConnection is what an admin gives to create a connection: the IdP's
// metadata, or the URL it is fetched from.
type NewConnection struct {
	OrgID             string
	Name              string
	MetadataURL       string
	Metadata          []byte
	AllowIDPInitiated bool
	Mapping           Mapping
}

// metadataTimeout bounds fetching an IdP's metadata.
const metadataTimeout = 10 * time.Second

// maxMetadata bounds an IdP's metadata document.
const maxMetadata = 1 << 20

// CreateConnection makes the connection (PrepareConnection) and stores it.
func (s *Service) CreateConnection(ctx context.Context, in NewConnection) (storage.SAMLConnection, error) {
	c, err := s.PrepareConnection(ctx, in)
	if err != nil {
		return c, err
	}
	return s.o.Store.CreateSAMLConnection(ctx, c)
}

// PrepareConnection checks the IdP's metadata (fetching it when a URL is
// given), makes the connection's SP key pair and seals the key: the
// connection to store, which the caller stores (CreateSAMLConnection) —
// in a transaction with its audit entry, say. It writes nothing, so the
// slow part (up to metadataTimeout) holds no transaction open.
func (s *Service) PrepareConnection(ctx context.Context, in NewConnection) (storage.SAMLConnection, error) {
	now := s.o.Now()
	c := storage.SAMLConnection{
		ID: storage.NewID(storage.PrefixSAMLConnection), OrgID: in.OrgID, Name: strings.TrimSpace(in.Name),
		MetadataURL: in.MetadataURL, AllowIDPInitiated: in.AllowIDPInitiated, CreatedAt: now, UpdatedAt: now,
	}
	if c.Name == "" || len(c.Name) > 100 {
		return c, &FieldError{Field: "name", Message: "must be 1 to 100 characters"}
	}
	md := in.Metadata
	if c.MetadataURL != "" {
		if err := checkMetadataURL(c.MetadataURL); err != nil {
			return c, err
		}
		var err error
		if md, err = s.fetchMetadata(ctx, c.MetadataURL); err != nil {
			return c, &FieldError{Field: "metadata_url", Message: "could not be read: " + err.Error()}
		}
		c.MetadataFetchedAt = now
	}
	if _, err := parseIDPMetadata(md); err != nil {
		return c, &FieldError{Field: "metadata", Message: err.Error()}
	}
	c.Metadata = md
	mapping, err := json.Marshal(in.Mapping)
	if err != nil {
		return c, err
	}
	c.Mapping = mapping
	key, cert, err := newSPKeyPair(s.entityID(c.ID), now)
	if err != nil {
		return c, err
	}
	c.SPKey, c.SPCertificate = s.o.Sealer.Seal(key, sealContext(c.ID)), cert
	return c, nil
}

// FieldError is bad input about one field, safe to show.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldMessage makes FieldError readable by the admin API and the CLI.
func (e *FieldError) FieldMessage() (field, message string) { return e.Field, e.Message }

func sealContext(connectionID string) string { return "foyer saml sp key v1 " + connectionID }

// newSPKeyPair makes an RSA key and a self-signed certificate for it,
// valid ten years: IdPs pin it from the SP metadata. RSA, because IdPs
// encrypt assertions to it and most (Entra ID, Okta, crewjam's) encrypt
// to RSA keys only.
func newSPKeyPair(entityID string, now time.Time) (keyDER, certDER []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: entityID},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err = x509.MarshalPKCS8PrivateKey(key)
	return keyDER, certDER, err
}

// parseIDPMetadata reads an IdP's metadata: exactly one IDPSSODescriptor
// with a signing certificate and an HTTP-Redirect SSO endpoint. Missing
// certificates are an error, never "skip verification" (SP-01).
func parseIDPMetadata(md []byte) (*saml.EntityDescriptor, error) {
	if len(md) == 0 {
		return nil, errors.New("is empty")
	}
	if len(md) > maxMetadata {
		return nil, errors.New("is larger than 1 MiB")
	}
	if strings.Contains(string(md), "<!DOCTYPE") || strings.Contains(string(md), "<!ENTITY") {
		return nil, errors.New("has a DOCTYPE or an entity declaration")
	}
	ed, err := samlspParseMetadata(md)
	if err != nil {
		return nil, fmt.Errorf("is not SAML metadata: %v", err)
	}
	if ed.EntityID == "" || len(ed.IDPSSODescriptors) != 1 {
		return nil, errors.New("must describe one identity provider with an entityID")
	}
	idp := ed.IDPSSODescriptors[0]
	hasCert := false
	for _, kd := range idp.KeyDescriptors {
		if (kd.Use == "" || kd.Use == "signing") && len(kd.KeyInfo.X509Data.X509Certificates) > 0 &&
			strings.TrimSpace(kd.KeyInfo.X509Data.X509Certificates[0].Data) != "" {
			hasCert = true
		}
	}
	if !hasCert {
		return nil, errors.New("has no signing certificate")
	}
	hasRedirect := false
	for _, sso := range idp.SingleSignOnServices {
		hasRedirect = hasRedirect || sso.Binding == saml.HTTPRedirectBinding
	}
	if !hasRedirect {
		return nil, errors.New("has no single sign-on service with the HTTP-Redirect binding")
	}
	return ed, nil
}

// checkMetadataURL wants an https URL (http for loopback only).
func checkMetadataURL(raw string) error {
	u, err := url.Parse(raw)
	bad := &FieldError{Field: "metadata_url", Message: "must be an https URL of the identity provider's metadata"}
	if err != nil || u.Host == "" || u.User != nil {
		return bad
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return bad
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

var randReader = rand.Reader

// RouteEmail sends an email of a domain a connection claims, verified,
// to that connection's sign-in, resuming challenge (signin.Federation).
func (s *Service) RouteEmail(ctx context.Context, email, challenge string) (string, error) {
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return "", nil
	}
	d, err := s.o.Store.GetSAMLDomain(ctx, strings.ToLower(email[at+1:]))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && d.VerifiedAt.IsZero()) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return StartPath(d.ConnectionID, challenge), nil
}

// metadataRefresh is how old a fetched copy of an IdP's metadata may get.
const metadataRefresh = time.Hour

// RefreshMetadata fetches the metadata of connections created from a URL
// once their copy is older than an hour. A failed fetch keeps the last
// good copy, so signatures are still checked against known certificates,
// and records the error (F7); it runs in the background, never while
// someone signs in. It returns how many copies it replaced.
func (s *Service) RefreshMetadata(ctx context.Context) (int64, error) {
	conns, err := s.o.Store.ListSAMLConnections(ctx, "")
	if err != nil {
		return 0, err
	}
	var n int64
	for _, c := range conns {
		if c.MetadataURL == "" || s.o.Now().Sub(c.MetadataFetchedAt) < metadataRefresh {
			continue
		}
		md, err := s.fetchMetadata(ctx, c.MetadataURL)
		if err == nil {
			_, err = parseIDPMetadata(md)
		}
		now := s.o.Now()
		_, uerr := s.o.Store.UpdateSAMLConnection(ctx, c.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
			c.MetadataFetchedAt, c.UpdatedAt = now, now
			if err != nil {
				c.MetadataError = err.Error()
				return c, nil
			}
			c.Metadata, c.MetadataError = md, ""
			return c, nil
		})
		if uerr != nil {
			return n, uerr
		}
		if err != nil {
			s.o.Logger.WarnContext(ctx, "saml: metadata refresh failed; keeping the last good copy", "connection", c.ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// EntityID is the SP entity ID of connection id (also where its SP
// metadata is served).
func (s *Service) EntityID(id string) string { return s.entityID(id) }

// ACSURL is the assertion consumer service URL of connection id.
func (s *Service) ACSURL(id string) string { return s.acsURL(id) }

// MetadataURL is where connection id's SP metadata is served.
func (s *Service) MetadataURL(id string) string { return s.entityID(id) }

// ConnectionChanges change a connection; nil keeps a setting. Metadata
// (the IdP's XML) replaces the metadata and forgets the URL; MetadataURL
// fetches the metadata from there now and keeps refreshing it.
type ConnectionChanges struct {
	Name              *string
	AllowIDPInitiated *bool
	Mapping           *Mapping
	Metadata          []byte
	MetadataURL       *string
}

// PrepareUpdate checks ch, fetching and checking metadata as
// PrepareConnection does, and returns the change to apply to a stored
// connection (UpdateSAMLConnection): the slow part happens before the
// caller locks the connection or opens a transaction.
func (s *Service) PrepareUpdate(ctx context.Context, ch ConnectionChanges) (func(storage.SAMLConnection) (storage.SAMLConnection, error), error) {
	if ch.Name != nil {
		if n := strings.TrimSpace(*ch.Name); n == "" || len(n) > 100 {
			return nil, &FieldError{Field: "name", Message: "must be 1 to 100 characters"}
		}
	}
	var mapping []byte
	if ch.Mapping != nil {
		var err error
		if mapping, err = json.Marshal(*ch.Mapping); err != nil {
			return nil, err
		}
	}
	md := ch.Metadata
	switch {
	case ch.Metadata != nil && ch.MetadataURL != nil:
		return nil, &FieldError{Field: "metadata", Message: "give metadata or metadata_url, not both"}
	case ch.MetadataURL != nil:
		if err := checkMetadataURL(*ch.MetadataURL); err != nil {
			return nil, err
		}
		var err error
		if md, err = s.fetchMetadata(ctx, *ch.MetadataURL); err != nil {
			return nil, &FieldError{Field: "metadata_url", Message: "could not be read: " + err.Error()}
		}
	}
	if md != nil || ch.MetadataURL != nil {
		field := "metadata"
		if ch.MetadataURL != nil {
			field = "metadata_url"
		}
		if _, err := parseIDPMetadata(md); err != nil {
			return nil, &FieldError{Field: field, Message: err.Error()}
		}
	}
	now := s.o.Now()
	return func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
		if ch.Name != nil {
			c.Name = strings.TrimSpace(*ch.Name)
		}
		if ch.AllowIDPInitiated != nil {
			c.AllowIDPInitiated = *ch.AllowIDPInitiated
		}
		if mapping != nil {
			c.Mapping = mapping
		}
		switch {
		case ch.MetadataURL != nil:
			c.MetadataURL, c.Metadata, c.MetadataFetchedAt, c.MetadataError = *ch.MetadataURL, md, now, ""
		case md != nil:
			c.MetadataURL, c.Metadata, c.MetadataFetchedAt, c.MetadataError = "", md, time.Time{}, ""
		}
		c.UpdatedAt = now
		return c, nil
	}, nil
}
