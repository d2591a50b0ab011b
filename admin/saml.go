package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage"
)

// SAML creates and changes SAML connections with the rules of idp/saml
// (metadata checked or fetched, the SP key pair made and sealed), through
// cmd: admin may not import it. Bad input is an error with a FieldMessage
// method; a missing connection wraps storage.ErrNotFound.
type SAML interface {
	// Prepare checks in (fetching metadata from a URL) and makes the
	// connection with its SP key pair, without storing it: the caller
	// stores it in a transaction with its audit entry, which therefore
	// waits on no IdP.
	Prepare(ctx context.Context, in NewSAMLConnection) (storage.SAMLConnection, error)
	// PrepareUpdate checks ch likewise and returns the change to apply to
	// the stored connection.
	PrepareUpdate(ctx context.Context, ch SAMLConnectionChanges) (func(storage.SAMLConnection) (storage.SAMLConnection, error), error)
	// SP names Foyer's side of connection id.
	SP(id string) SAMLServiceProvider
}

// SAMLServiceProvider is what an IdP is told about Foyer for a
// connection (its SP metadata has all three).
type SAMLServiceProvider struct {
	EntityID    string
	ACSURL      string
	MetadataURL string
}

// LookupTXT returns the TXT records of a DNS name, as
// net.Resolver.LookupTXT does.
type LookupTXT func(ctx context.Context, name string) ([]string, error)

// SAMLMapping is how a connection's attributes and groups become Foyer's
// (idp/saml.Mapping, the same JSON). Empty attribute names mean the usual
// ones; the first group rule that matches gives the role, DefaultRole
// ("member" when empty) everyone else.
type SAMLMapping struct {
	EmailAttribute     string          `json:"email_attribute,omitempty"`
	FirstNameAttribute string          `json:"first_name_attribute,omitempty"`
	LastNameAttribute  string          `json:"last_name_attribute,omitempty"`
	GroupsAttribute    string          `json:"groups_attribute,omitempty"`
	GroupRoles         []SAMLGroupRole `json:"group_roles,omitempty"`
	DefaultRole        string          `json:"default_role,omitempty"`
}

// SAMLGroupRole maps one IdP group to an organization role.
type SAMLGroupRole struct {
	Group string `json:"group"`
	Role  string `json:"role"`
}

// NewSAMLConnection is the body of POST …/saml-connections and the input
// of SAML.Create: the IdP's metadata as XML or the URL it is fetched from
// (and refreshed from hourly), exactly one of the two.
type NewSAMLConnection struct {
	OrgID             string      `json:"-"` // from the path
	Name              string      `json:"name"`
	MetadataURL       string      `json:"metadata_url,omitempty"`
	Metadata          string      `json:"metadata,omitempty"`
	AllowIDPInitiated bool        `json:"allow_idp_initiated,omitempty"`
	Mapping           SAMLMapping `json:"mapping,omitempty"`
}

// SAMLConnectionChanges is the body of PATCH …/saml-connections/{id}: an
// absent (or null) field keeps its value. metadata replaces the IdP's
// metadata (and stops refreshing from a URL); metadata_url fetches it
// from there now and keeps refreshing it.
type SAMLConnectionChanges struct {
	Name              *string      `json:"name,omitempty"`
	AllowIDPInitiated *bool        `json:"allow_idp_initiated,omitempty"`
	Mapping           *SAMLMapping `json:"mapping,omitempty"`
	Metadata          *string      `json:"metadata,omitempty"`
	MetadataURL       *string      `json:"metadata_url,omitempty"`
}

// SAMLConnection is a connection as the API and the CLI show it: never
// the SP's private key.
type SAMLConnection struct {
	ID                string       `json:"id"`
	OrgID             string       `json:"org_id"`
	Name              string       `json:"name"`
	MetadataURL       string       `json:"metadata_url,omitempty"`
	MetadataFetchedAt *time.Time   `json:"metadata_fetched_at,omitempty"`
	MetadataError     string       `json:"metadata_error,omitempty"`
	AllowIDPInitiated bool         `json:"allow_idp_initiated"`
	Mapping           SAMLMapping  `json:"mapping"`
	SPEntityID        string       `json:"sp_entity_id"`
	SPACSURL          string       `json:"sp_acs_url"`
	SPMetadataURL     string       `json:"sp_metadata_url"`
	Domains           []SAMLDomain `json:"domains"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// SAMLDomain is an email domain a connection claims. Addresses of it sign
// in through the connection once it is verified: by the DNS TXT record
// verification_record, or by a Foyer admin's say-so.
type SAMLDomain struct {
	Domain             string     `json:"domain"`
	Verified           bool       `json:"verified"`
	VerifiedAt         *time.Time `json:"verified_at,omitempty"`
	VerificationRecord DNSRecord  `json:"verification_record"`
	CreatedAt          time.Time  `json:"created_at"`
}

// DNSRecord is a DNS record to publish.
type DNSRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Domain verification records: TXT <verificationPrefix><domain> with the
// value <verificationValue><token>.
const (
	verificationPrefix = "_foyer-verification."
	verificationValue  = "foyer-verification="
)

// SAMLConnectionView is how the API and the CLI show connection c with
// its domains.
func SAMLConnectionView(c storage.SAMLConnection, domains []storage.SAMLDomain, sp SAMLServiceProvider) SAMLConnection {
	v := SAMLConnection{
		ID: c.ID, OrgID: c.OrgID, Name: c.Name, MetadataURL: c.MetadataURL, MetadataError: c.MetadataError,
		AllowIDPInitiated: c.AllowIDPInitiated, SPEntityID: sp.EntityID, SPACSURL: sp.ACSURL, SPMetadataURL: sp.MetadataURL,
		Domains: make([]SAMLDomain, 0, len(domains)), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if !c.MetadataFetchedAt.IsZero() {
		at := c.MetadataFetchedAt
		v.MetadataFetchedAt = &at
	}
	if len(c.Mapping) > 0 {
		json.Unmarshal(c.Mapping, &v.Mapping) // written by idp/saml from the same JSON
	}
	for _, d := range domains {
		v.Domains = append(v.Domains, SAMLDomainView(d))
	}
	return v
}

// SAMLDomainView is how the API and the CLI show a claimed domain.
func SAMLDomainView(d storage.SAMLDomain) SAMLDomain {
	v := SAMLDomain{Domain: d.Domain, Verified: !d.VerifiedAt.IsZero(), CreatedAt: d.CreatedAt,
		VerificationRecord: DNSRecord{Name: verificationPrefix + d.Domain, Type: "TXT", Value: verificationValue + d.VerificationToken}}
	if v.Verified {
		at := d.VerifiedAt
		v.VerifiedAt = &at
	}
	return v
}

// PrepareSAMLConnection checks in (exactly one of metadata and
// metadata_url; the mapping's roles exist in the organization) and makes
// the connection through s, for the caller to store. The API and the CLI
// share it.
func PrepareSAMLConnection(ctx context.Context, roles storage.Roles, s SAML, in NewSAMLConnection) (storage.SAMLConnection, error) {
	switch {
	case in.Metadata == "" && in.MetadataURL == "":
		return storage.SAMLConnection{}, invalid("metadata", "give the identity provider's metadata (XML) or metadata_url")
	case in.Metadata != "" && in.MetadataURL != "":
		return storage.SAMLConnection{}, invalid("metadata", "give metadata or metadata_url, not both")
	}
	if err := CheckSAMLMapping(ctx, roles, in.OrgID, in.Mapping); err != nil {
		return storage.SAMLConnection{}, err
	}
	return s.Prepare(ctx, in)
}

// maxGroupRoles bounds a mapping's rules.
const maxGroupRoles = 100

// CheckSAMLMapping checks that every role a mapping gives is a role of
// the organization, naming mapping.group_roles or mapping.default_role.
func CheckSAMLMapping(ctx context.Context, roles storage.Roles, orgID string, m SAMLMapping) error {
	if len(m.GroupRoles) > maxGroupRoles {
		return invalid("mapping.group_roles", fmt.Sprintf("has more than %d rules", maxGroupRoles))
	}
	for _, a := range []string{m.EmailAttribute, m.FirstNameAttribute, m.LastNameAttribute, m.GroupsAttribute} {
		if len(a) > 256 {
			return invalid("mapping", "attribute names are at most 256 characters")
		}
	}
	for i, gr := range m.GroupRoles {
		if strings.TrimSpace(gr.Group) == "" || len(gr.Group) > 256 {
			return invalid("mapping.group_roles", fmt.Sprintf("rule %d needs a group of 1 to 256 characters", i+1))
		}
		if gr.Role == "" {
			return invalid("mapping.group_roles", fmt.Sprintf("rule %d needs a role", i+1))
		}
		if _, err := roles.GetRole(ctx, orgID, gr.Role); err != nil {
			return orField(err, "mapping.group_roles", fmt.Sprintf("rule %d: %q is not a role of this organization", i+1, gr.Role))
		}
	}
	if m.DefaultRole != "" {
		if _, err := roles.GetRole(ctx, orgID, m.DefaultRole); err != nil {
			return orField(err, "mapping.default_role", fmt.Sprintf("%q is not a role of this organization", m.DefaultRole))
		}
	}
	return nil
}

// NormalizeDomain checks an email domain as a DNS name and lowercases it:
// no scheme, no @, at least two labels of letters, digits and hyphens
// (internationalised names in their xn-- form), at most 253 characters.
func NormalizeDomain(raw string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
	bad := invalid("domain", "must be a domain name such as example.com (no scheme, no @)")
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return "", bad
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", bad
		}
		for _, r := range l {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return "", bad
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", bad // an IP address, not a domain
	}
	return d, nil
}

// AddSAMLDomain claims domain (checked by NormalizeDomain) for connection
// connectionID with a fresh verification token, verified at once when
// verified (a Foyer admin's say-so). storage.ErrAlreadyExists when any
// connection claims it already.
func AddSAMLDomain(ctx context.Context, store storage.SAML, connectionID, domain string, verified bool, now time.Time) (storage.SAMLDomain, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return storage.SAMLDomain{}, err
	}
	token := make([]byte, 16)
	rand.Read(token)
	sd := storage.SAMLDomain{Domain: d, ConnectionID: connectionID, VerificationToken: hex.EncodeToString(token), CreatedAt: now}
	if verified {
		sd.VerifiedAt = now
	}
	return sd, store.AddSAMLDomain(ctx, sd)
}

// ErrVerificationRecordMissing is VerifySAMLDomain's answer when DNS has
// no matching TXT record.
var ErrVerificationRecordMissing = errors.New("verification record not found")

// dnsTimeout bounds a verification's DNS lookup.
const dnsTimeout = 10 * time.Second

// FindVerificationRecord looks for the TXT record of d's verification,
// as VerifySAMLDomain does, without marking d: the CLI looks DNS up before
// its transaction, as the API does, so a slow resolver holds no lock.
func FindVerificationRecord(ctx context.Context, lookup LookupTXT, d storage.SAMLDomain) error {
	return findVerificationRecord(ctx, lookup, d)
}

// VerifySAMLDomain looks for the TXT record of d's verification and marks
// d verified when one holds its token; ErrVerificationRecordMissing
// (with what was looked for) otherwise. A verified domain stays so.
func VerifySAMLDomain(ctx context.Context, store storage.SAML, lookup LookupTXT, d storage.SAMLDomain, now time.Time) (storage.SAMLDomain, error) {
	if !d.VerifiedAt.IsZero() {
		return d, nil
	}
	if err := findVerificationRecord(ctx, lookup, d); err != nil {
		return d, err
	}
	return store.VerifySAMLDomain(ctx, d.Domain, now)
}

// findVerificationRecord looks for the TXT record that verifies d;
// ErrVerificationRecordMissing (with what was looked for) when there is
// none.
func findVerificationRecord(ctx context.Context, lookup LookupTXT, d storage.SAMLDomain) error {
	rec := SAMLDomainView(d).VerificationRecord
	lctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	txts, _ := lookup(lctx, rec.Name) // no such name is no record: same answer
	for _, t := range txts {
		if strings.TrimSpace(t) == rec.Value {
			return nil
		}
	}
	return fmt.Errorf("%w: no TXT record %s with the value %q", ErrVerificationRecordMissing, rec.Name, rec.Value)
}

// --- handlers ---

type addSAMLDomainRequest struct {
	Domain string `json:"domain"`
	// Verified: a Foyer admin asserts the domain is the organization's,
	// without DNS.
	Verified bool `json:"verified,omitempty"`
}

func (a *API) samlConnectionView(ctx context.Context, c storage.SAMLConnection) (SAMLConnection, error) {
	ds, err := a.store.ListSAMLDomains(ctx, c.ID)
	if err != nil {
		return SAMLConnection{}, err
	}
	return SAMLConnectionView(c, ds, a.saml.SP(c.ID)), nil
}

func (a *API) listSAMLConnections(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return
	}
	ctx := c.Request.Context()
	cs, err := a.store.ListSAMLConnections(ctx, o.ID)
	if err != nil {
		a.fail(c, "list saml connections", err)
		return
	}
	total := len(cs)
	out := List[SAMLConnection]{Items: make([]SAMLConnection, 0, len(cs)), Total: &total}
	for _, conn := range cs {
		v, err := a.samlConnectionView(ctx, conn)
		if err != nil {
			a.fail(c, "list saml domains", err)
			return
		}
		out.Items = append(out.Items, v)
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) createSAMLConnection(c *gin.Context) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	var req NewSAMLConnection
	if !ok || !decode(c, &req) {
		return
	}
	req.OrgID = o.ID
	// The metadata fetch (metadata_url) and the SP key pair happen before
	// the transaction: it holds the embedded database's write lock, which
	// must not wait on an IdP. The connection and its audit entry commit
	// together.
	conn, err := PrepareSAMLConnection(c.Request.Context(), a.store, a.saml, req)
	if err == nil {
		err = a.inTx(c, func(ctx context.Context) error {
			var err error
			if conn, err = a.store.CreateSAMLConnection(ctx, conn); err != nil {
				return err
			}
			return a.record(ctx, a.samlEntry(c, AuditSAMLConnectionCreated, conn), nil, samlFields(conn))
		})
	}
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "organization") // deleted meanwhile
		return
	}
	if err != nil {
		a.fail(c, "create saml connection", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+o.ID+"/saml-connections/"+conn.ID)
	c.JSON(http.StatusCreated, SAMLConnectionView(conn, nil, a.saml.SP(conn.ID)))
}

// orgSAMLConnection reads the organization and the connection named in
// the path; a connection of another organization is answered 404 like a
// missing one (AD-02).
func (a *API) orgSAMLConnection(c *gin.Context) (storage.SAMLConnection, bool) {
	o, ok := a.visibleOrg(c, callerOf(c), c.Param("id"))
	if !ok {
		return storage.SAMLConnection{}, false
	}
	conn, err := a.store.GetSAMLConnection(c.Request.Context(), c.Param("connection_id"))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && conn.OrgID != o.ID) {
		notFound(c, "SAML connection")
		return storage.SAMLConnection{}, false
	}
	if err != nil {
		a.fail(c, "get saml connection", err)
		return storage.SAMLConnection{}, false
	}
	return conn, true
}

func (a *API) getSAMLConnection(c *gin.Context) {
	conn, ok := a.orgSAMLConnection(c)
	if !ok {
		return
	}
	v, err := a.samlConnectionView(c.Request.Context(), conn)
	if err != nil {
		a.fail(c, "get saml connection", err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (a *API) updateSAMLConnection(c *gin.Context) {
	conn, ok := a.orgSAMLConnection(c)
	var req SAMLConnectionChanges
	if !ok || !decode(c, &req) {
		return
	}
	ctx := c.Request.Context()
	if req.Mapping != nil {
		if err := CheckSAMLMapping(ctx, a.store, conn.OrgID, *req.Mapping); err != nil {
			a.fail(c, "update saml connection", err)
			return
		}
	}
	if req.Metadata != nil && req.MetadataURL != nil {
		a.fail(c, "update saml connection", invalid("metadata", "give metadata or metadata_url, not both"))
		return
	}
	apply, err := a.saml.PrepareUpdate(ctx, req) // before the transaction, as in create
	if err != nil {
		a.fail(c, "update saml connection", err)
		return
	}
	err = a.inTx(c, func(ctx context.Context) error {
		before, err := a.store.GetSAMLConnection(ctx, conn.ID)
		if err != nil {
			return err
		}
		if conn, err = a.store.UpdateSAMLConnection(ctx, conn.ID, apply); err != nil {
			return err
		}
		return a.record(ctx, a.samlEntry(c, AuditSAMLConnectionUpdated, conn), samlFields(before), samlFields(conn))
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "SAML connection")
		return
	}
	if err != nil {
		a.fail(c, "update saml connection", err)
		return
	}
	v, err := a.samlConnectionView(ctx, conn)
	if err != nil {
		a.fail(c, "update saml connection", err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (a *API) deleteSAMLConnection(c *gin.Context) {
	conn, ok := a.orgSAMLConnection(c)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		if err := a.store.DeleteSAMLConnection(ctx, conn.ID); err != nil {
			return err
		}
		return a.record(ctx, a.samlEntry(c, AuditSAMLConnectionDeleted, conn), samlFields(conn), nil)
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "SAML connection")
		return
	}
	if err != nil {
		a.fail(c, "delete saml connection", err)
		return
	}
	c.Status(http.StatusNoContent)
}

// addSAMLDomain claims a domain for the connection. Only a Foyer admin
// may say it is verified: an organization admin proves it by DNS, or
// could route another organization's addresses to their IdP.
func (a *API) addSAMLDomain(c *gin.Context) {
	k := callerOf(c)
	conn, ok := a.orgSAMLConnection(c)
	var req addSAMLDomainRequest
	if !ok || !decode(c, &req) {
		return
	}
	if req.Verified && !k.instance {
		abort(c, http.StatusForbidden, "Only a Foyer admin may set verified; publish the verification record and verify the domain.")
		return
	}
	var d storage.SAMLDomain
	err := a.inTx(c, func(ctx context.Context) error {
		var err error
		if d, err = AddSAMLDomain(ctx, a.store, conn.ID, req.Domain, req.Verified, a.now()); err != nil {
			return err
		}
		return a.record(ctx, a.samlDomainEntry(c, AuditSAMLDomainAdded, conn, d.Domain), nil, samlDomainFields(d))
	})
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict, Detail: "A SAML connection already claims this domain."})
		return
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "SAML connection") // deleted meanwhile
		return
	case err != nil:
		a.fail(c, "add saml domain", err)
		return
	}
	c.Header("Location", Prefix+"/organizations/"+conn.OrgID+"/saml-connections/"+conn.ID+"/domains/"+d.Domain)
	c.JSON(http.StatusCreated, SAMLDomainView(d))
}

// samlEntry starts the audit entry of a change to connection conn.
func (a *API) samlEntry(c *gin.Context, typ string, conn storage.SAMLConnection) storage.AuditEntry {
	e := a.entry(c, typ, TargetSAMLConnection, conn.ID)
	e.OrgID = conn.OrgID
	return e
}

// samlDomainEntry starts the audit entry of a change to a domain of conn.
func (a *API) samlDomainEntry(c *gin.Context, typ string, conn storage.SAMLConnection, domain string) storage.AuditEntry {
	e := a.entry(c, typ, TargetSAMLDomain, domain)
	e.OrgID = conn.OrgID
	return e
}

// connectionDomain reads the domain named in the path, which the
// connection must claim.
func (a *API) connectionDomain(c *gin.Context, conn storage.SAMLConnection) (storage.SAMLDomain, bool) {
	d, err := a.store.GetSAMLDomain(c.Request.Context(), strings.ToLower(c.Param("domain")))
	if errors.Is(err, storage.ErrNotFound) || (err == nil && d.ConnectionID != conn.ID) {
		abort(c, http.StatusNotFound, "The connection claims no such domain.")
		return d, false
	}
	if err != nil {
		a.fail(c, "get saml domain", err)
		return d, false
	}
	return d, true
}

func (a *API) verifySAMLDomain(c *gin.Context) {
	conn, ok := a.orgSAMLConnection(c)
	if !ok {
		return
	}
	d, ok := a.connectionDomain(c, conn)
	if !ok {
		return
	}
	if !d.VerifiedAt.IsZero() {
		c.JSON(http.StatusOK, SAMLDomainView(d)) // nothing changes
		return
	}
	// DNS first, outside the transaction: a slow resolver holds no lock.
	err := findVerificationRecord(c.Request.Context(), a.lookupTXT, d)
	if err == nil {
		before := d
		err = a.inTx(c, func(ctx context.Context) error {
			var err error
			if d, err = a.store.VerifySAMLDomain(ctx, d.Domain, a.now()); err != nil {
				return err
			}
			return a.record(ctx, a.samlDomainEntry(c, AuditSAMLDomainVerified, conn, d.Domain), samlDomainFields(before), samlDomainFields(d))
		})
	}
	if errors.Is(err, ErrVerificationRecordMissing) {
		rec := SAMLDomainView(d).VerificationRecord
		writeProblem(c, Problem{Type: typeConflict, Status: http.StatusConflict,
			Detail: fmt.Sprintf("The verification record was not found: publish a TXT record %s with the value %s, then try again (DNS changes can take a while).", rec.Name, rec.Value)})
		return
	}
	if err != nil {
		a.fail(c, "verify saml domain", err)
		return
	}
	c.JSON(http.StatusOK, SAMLDomainView(d))
}

func (a *API) removeSAMLDomain(c *gin.Context) {
	conn, ok := a.orgSAMLConnection(c)
	if !ok {
		return
	}
	err := a.inTx(c, func(ctx context.Context) error {
		d, err := a.store.GetSAMLDomain(ctx, strings.ToLower(c.Param("domain")))
		if err == nil && d.ConnectionID != conn.ID {
			err = storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := a.store.DeleteSAMLDomain(ctx, conn.ID, d.Domain); err != nil {
			return err
		}
		return a.record(ctx, a.samlDomainEntry(c, AuditSAMLDomainRemoved, conn, d.Domain), samlDomainFields(d), nil)
	})
	if errors.Is(err, storage.ErrNotFound) {
		abort(c, http.StatusNotFound, "The connection claims no such domain.")
		return
	}
	if err != nil {
		a.fail(c, "remove saml domain", err)
		return
	}
	c.Status(http.StatusNoContent)
}
