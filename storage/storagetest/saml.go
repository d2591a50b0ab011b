package storagetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

func samlTests() []test {
	return []test{
		{"ConnectionCreateGetList", testCreateGetListSAMLConnections},
		{"ConnectionCreateUnknownOrganization", testCreateSAMLConnectionUnknownOrg},
		{"ConnectionCreateDuplicate", testCreateSAMLConnectionDuplicate},
		{"ConnectionCreateWithoutKey", testCreateSAMLConnectionWithoutKey},
		{"ConnectionNotFound", testSAMLConnectionNotFound},
		{"ConnectionUpdate", testUpdateSAMLConnection},
		{"ConnectionUpdateErrorWritesNothing", testUpdateSAMLConnectionError},
		{"ConnectionDelete", testDeleteSAMLConnection},
		{"ConnectionDeleteOrganizationCascades", testDeleteOrgRemovesSAMLConnections},
		{"DomainAddGetList", testAddGetListSAMLDomains},
		{"DomainAddTaken", testAddSAMLDomainTaken},
		{"DomainAddUnknownConnection", testAddSAMLDomainUnknownConnection},
		{"DomainAddInvalid", testAddSAMLDomainInvalid},
		{"DomainVerify", testVerifySAMLDomain},
		{"DomainDelete", testDeleteSAMLDomain},
		{"ExternalIdentityCreateGetTouchList", testCreateGetTouchListExternalIdentities},
		{"ExternalIdentityCreateDuplicate", testCreateExternalIdentityDuplicate},
		{"ExternalIdentityConcurrentCreateOnce", testConcurrentCreateExternalIdentity},
		{"ExternalIdentityUnknownUser", testCreateExternalIdentityUnknownUser},
		{"ExternalIdentityDelete", testDeleteExternalIdentity},
		{"ExternalIdentityDeleteUserCascades", testDeleteUserRemovesExternalIdentities},
		{"WritesInTransactionRolledBack", testSAMLRollback},
	}
}

// errSAMLRefused is what an UpdateSAMLConnection closure returns to abort.
var errSAMLRefused = errors.New("SAML connection update refused")

// blob returns random bytes with 0x00 and 0xff, which a backend that reads
// blobs as text would not keep.
func blob(prefix string) []byte {
	return append([]byte(prefix+rand.Text()), 0x00, 0xff, '\n')
}

// newSAMLConnection returns a connection of the organization with every
// field set, created at(m) and updated at(m+1). Its mapping has unusual
// spacing, which a backend that reformats JSON would not keep.
func newSAMLConnection(orgID string, m int) storage.SAMLConnection {
	return storage.SAMLConnection{
		ID:                storage.NewID(storage.PrefixSAMLConnection),
		OrgID:             orgID,
		Name:              "Okta",
		MetadataURL:       "https://idp.example.com/app/exk1/sso/saml/metadata",
		Metadata:          append([]byte(`<EntityDescriptor entityID="http://www.okta.com/exk1">`), 0x00, 0xff, '\n'),
		MetadataFetchedAt: at(m).Add(999 * time.Nanosecond),
		MetadataError:     "",
		SPKey:             blob("sealed:"),
		SPCertificate:     blob("0\x82"),
		AllowIDPInitiated: true,
		Mapping:           []byte(`{"email": "mail",  "groups":["Engineering"] }` + "\n"),
		CreatedAt:         at(m),
		UpdatedAt:         at(m + 1),
	}
}

// minimalSAMLConnection is newSAMLConnection with only what is required:
// metadata an admin is still to give, never fetched, no mapping.
func minimalSAMLConnection(orgID string, m int) storage.SAMLConnection {
	c := newSAMLConnection(orgID, m)
	c.Name, c.MetadataURL, c.Metadata, c.MetadataFetchedAt = "", "", nil, time.Time{}
	c.AllowIDPInitiated, c.Mapping = false, nil
	return c
}

func storedSAMLConnection(c storage.SAMLConnection) storage.SAMLConnection {
	c.CreatedAt, c.UpdatedAt = stored(c.CreatedAt), stored(c.UpdatedAt)
	if !c.MetadataFetchedAt.IsZero() {
		c.MetadataFetchedAt = stored(c.MetadataFetchedAt)
	}
	return c
}

func createSAMLConnection(t *testing.T, s storage.Store, c storage.SAMLConnection) storage.SAMLConnection {
	t.Helper()
	got, err := s.CreateSAMLConnection(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateSAMLConnection(%q) error = %v", c.ID, err)
	}
	want := storedSAMLConnection(c)
	if d := diff(want, got); d != "" {
		t.Errorf("CreateSAMLConnection(%q) mismatch (-want +got):\n%s", c.ID, d)
	}
	checkSAMLConnectionTimes(t, "CreateSAMLConnection()", got, want)
	return want
}

func checkSAMLConnectionTimes(t *testing.T, call string, got, want storage.SAMLConnection) {
	t.Helper()
	checkTime(t, call+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, call+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	if want.MetadataFetchedAt.IsZero() {
		if !got.MetadataFetchedAt.IsZero() {
			t.Errorf("%s MetadataFetchedAt = %v, want zero", call, got.MetadataFetchedAt)
		}
	} else {
		checkTime(t, call+" MetadataFetchedAt", got.MetadataFetchedAt, want.MetadataFetchedAt)
	}
}

// checkSAMLConnection compares the stored connection of want's ID with want.
func checkSAMLConnection(t *testing.T, s storage.Store, call string, want storage.SAMLConnection) {
	t.Helper()
	got, err := s.GetSAMLConnection(t.Context(), want.ID)
	if err != nil {
		t.Errorf("%s: GetSAMLConnection(%q) error = %v", call, want.ID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetSAMLConnection(%q) mismatch (-want +got):\n%s", call, want.ID, d)
	}
	checkSAMLConnectionTimes(t, call+": GetSAMLConnection()", got, want)
}

func checkSAMLConnectionGone(t *testing.T, s storage.Store, call, id string) {
	t.Helper()
	_, err := s.GetSAMLConnection(t.Context(), id)
	checkErr(t, call+": GetSAMLConnection()", err, storage.ErrNotFound)
}

func checkSAMLConnections(t *testing.T, s storage.Store, call, orgID string, want []storage.SAMLConnection) {
	t.Helper()
	got, err := s.ListSAMLConnections(t.Context(), orgID)
	if err != nil {
		t.Errorf("%s: ListSAMLConnections(%q) error = %v", call, orgID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: ListSAMLConnections(%q) mismatch (-want +got):\n%s", call, orgID, d)
	}
}

// testCreateGetListSAMLConnections stores connections with and without
// their optional fields; they read back as stored and list oldest first,
// by organization or all.
func testCreateGetListSAMLConnections(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	initech := createOrg(t, s, newOrg("initech"))

	full := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 2))
	minimal := createSAMLConnection(t, s, minimalSAMLConnection(acme.ID, 1))
	failing := newSAMLConnection(globex.ID, 0)
	failing.MetadataError = "GET https://idp.example.com/metadata: 503 Service Unavailable"
	failing = createSAMLConnection(t, s, failing)

	for _, c := range []storage.SAMLConnection{full, minimal, failing} {
		checkSAMLConnection(t, s, "created", c)
	}
	checkSAMLConnections(t, s, "oldest first", acme.ID, []storage.SAMLConnection{minimal, full})
	checkSAMLConnections(t, s, "the other organization", globex.ID, []storage.SAMLConnection{failing})
	checkSAMLConnections(t, s, "every organization", "", []storage.SAMLConnection{failing, minimal, full})
	checkSAMLConnections(t, s, "an organization with none", initech.ID, nil)
	checkSAMLConnections(t, s, "an unknown organization", storage.NewID(storage.PrefixOrganization), nil)
}

func testCreateSAMLConnectionUnknownOrg(t *testing.T, s storage.Store) {
	c := newSAMLConnection(storage.NewID(storage.PrefixOrganization), 0)
	_, err := s.CreateSAMLConnection(t.Context(), c)
	checkErr(t, "CreateSAMLConnection(unknown organization)", err, storage.ErrNotFound)
	checkSAMLConnectionGone(t, s, "refused connection", c.ID)
	checkSAMLConnections(t, s, "after the refused connection", "", nil)
}

// testCreateSAMLConnectionDuplicate: a taken ID is refused, in the same
// organization or another.
func testCreateSAMLConnectionDuplicate(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	first := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))

	for _, orgID := range []string{acme.ID, globex.ID} {
		c := newSAMLConnection(orgID, 1)
		c.ID, c.Name = first.ID, "Duplicate"
		_, err := s.CreateSAMLConnection(t.Context(), c)
		checkErr(t, "CreateSAMLConnection(taken ID)", err, storage.ErrAlreadyExists)
	}
	checkSAMLConnection(t, s, "after the duplicates", first)
	checkSAMLConnections(t, s, "the other organization after the duplicate", globex.ID, nil)
}

// testCreateSAMLConnectionWithoutKey: a connection needs its SP key and
// certificate.
func testCreateSAMLConnectionWithoutKey(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	for _, tc := range []struct {
		name   string
		change func(*storage.SAMLConnection)
	}{
		{"no SP key", func(c *storage.SAMLConnection) { c.SPKey = nil }},
		{"empty SP key", func(c *storage.SAMLConnection) { c.SPKey = []byte{} }},
		{"no SP certificate", func(c *storage.SAMLConnection) { c.SPCertificate = nil }},
	} {
		c := newSAMLConnection(acme.ID, 0)
		tc.change(&c)
		_, err := s.CreateSAMLConnection(t.Context(), c)
		checkErr(t, "CreateSAMLConnection("+tc.name+")", err, storage.ErrInvalid)
		checkSAMLConnectionGone(t, s, tc.name, c.ID)
	}
}

func testSAMLConnectionNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	c := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	missing := storage.NewID(storage.PrefixSAMLConnection)

	checkSAMLConnectionGone(t, s, "unknown connection", missing)
	_, err := s.UpdateSAMLConnection(ctx, missing, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
		t.Error("UpdateSAMLConnection(unknown) called update")
		return c, nil
	})
	checkErr(t, "UpdateSAMLConnection(unknown)", err, storage.ErrNotFound)
	checkErr(t, "DeleteSAMLConnection(unknown)", s.DeleteSAMLConnection(ctx, missing), storage.ErrNotFound)
	checkSAMLConnection(t, s, "after the misses", c)
}

// testUpdateSAMLConnection: update sees the stored connection; every field
// but ID, OrgID and CreatedAt changes, and cleared fields are stored empty.
func testUpdateSAMLConnection(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	want := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	other := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	// change runs twice per step: its values are fixed here.
	rotatedKey, rotatedCert := blob("rotated:"), blob("0\x82rotated")

	steps := []struct {
		name   string
		change func(storage.SAMLConnection) storage.SAMLConnection
	}{
		{"refresh fails", func(c storage.SAMLConnection) storage.SAMLConnection {
			c.MetadataError, c.UpdatedAt = "parse metadata: EOF", at(5).Add(999*time.Nanosecond)
			return c
		}},
		{"refresh succeeds", func(c storage.SAMLConnection) storage.SAMLConnection {
			c.Metadata = append([]byte(`<EntityDescriptor entityID="new">`), 0xff, 0x00)
			c.MetadataFetchedAt, c.MetadataError, c.UpdatedAt = at(6).Add(1*time.Nanosecond), "", at(6)
			return c
		}},
		{"settings", func(c storage.SAMLConnection) storage.SAMLConnection {
			c.Name, c.MetadataURL = "Entra ID — Acme", "https://login.example.net/federationmetadata.xml"
			c.SPKey, c.SPCertificate = rotatedKey, rotatedCert
			c.AllowIDPInitiated = false
			c.Mapping = []byte(`{"groups" : []}`)
			c.UpdatedAt = at(7)
			return c
		}},
		{"cleared", func(c storage.SAMLConnection) storage.SAMLConnection {
			c.Name, c.MetadataURL, c.Metadata, c.MetadataFetchedAt = "", "", nil, time.Time{}
			c.MetadataError, c.AllowIDPInitiated, c.Mapping = "", true, nil
			c.UpdatedAt = at(8)
			return c
		}},
	}
	for _, step := range steps {
		got, err := s.UpdateSAMLConnection(t.Context(), want.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
			if d := diff(want, c); d != "" {
				t.Errorf("%s: update got (-want +got):\n%s", step.name, d)
			}
			c = step.change(c)
			// Fixed: whatever update returns here is ignored.
			c.ID, c.OrgID, c.CreatedAt = other.ID, globex.ID, at(100)
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateSAMLConnection(%s) error = %v", step.name, err)
		}
		want = storedSAMLConnection(step.change(want))
		if d := diff(want, got); d != "" {
			t.Errorf("UpdateSAMLConnection(%s) mismatch (-want +got):\n%s", step.name, d)
		}
		checkSAMLConnectionTimes(t, "UpdateSAMLConnection("+step.name+")", got, want)
		checkSAMLConnection(t, s, "after "+step.name, want)
	}
	checkSAMLConnection(t, s, "the other connection", other)
	checkSAMLConnections(t, s, "the other organization", globex.ID, nil)
}

// testUpdateSAMLConnectionError: update's error comes back, and nothing it
// changed before failing is written.
func testUpdateSAMLConnectionError(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	c := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	_, err := s.UpdateSAMLConnection(t.Context(), c.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
		c.Name, c.Metadata, c.AllowIDPInitiated, c.UpdatedAt = "Changed", []byte("<changed/>"), false, at(5)
		return c, errSAMLRefused
	})
	checkErr(t, "UpdateSAMLConnection(update fails)", err, errSAMLRefused)
	checkSAMLConnection(t, s, "after the failed update", c)
}

// testDeleteSAMLConnection: deleting a connection removes its domains and
// the external identities at it, and nothing of another connection.
func testDeleteSAMLConnection(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	gone := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	kept := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	goneDomains := []storage.SAMLDomain{
		addSAMLDomain(t, s, newSAMLDomain("acme.example", gone.ID, 0)),
		addSAMLDomain(t, s, newSAMLDomain("acme.example.org", gone.ID, 1)),
	}
	keptDomain := addSAMLDomain(t, s, newSAMLDomain("acme.example.net", kept.ID, 0))
	alicesGone := createExternalIdentity(t, s, newExternalIdentity(gone.ID, alice.ID, 0))
	bobsGone := createExternalIdentity(t, s, newExternalIdentity(gone.ID, bob.ID, 1))
	alicesKept := createExternalIdentity(t, s, newExternalIdentity(kept.ID, alice.ID, 2))
	// The same subject at the other connection is another identity.
	sameSubject := newExternalIdentity(kept.ID, bob.ID, 3)
	sameSubject.Subject = bobsGone.Subject
	sameSubject = createExternalIdentity(t, s, sameSubject)

	if err := s.DeleteSAMLConnection(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteSAMLConnection() error = %v", err)
	}
	checkSAMLConnectionGone(t, s, "deleted connection", gone.ID)
	for _, d := range goneDomains {
		checkSAMLDomainGone(t, s, "domain of the deleted connection", d.Domain)
	}
	checkSAMLDomains(t, s, "domains of the deleted connection", gone.ID, nil)
	for _, e := range []storage.ExternalIdentity{alicesGone, bobsGone} {
		checkExternalIdentityGone(t, s, "identity at the deleted connection", e)
	}
	checkErr(t, "DeleteSAMLConnection(deleted)", s.DeleteSAMLConnection(ctx, gone.ID), storage.ErrNotFound)

	checkSAMLConnections(t, s, "after the delete", acme.ID, []storage.SAMLConnection{kept})
	checkSAMLDomains(t, s, "domains of the other connection", kept.ID, []storage.SAMLDomain{keptDomain})
	checkExternalIdentities(t, s, "identities of alice", alice.ID, []storage.ExternalIdentity{alicesKept})
	checkExternalIdentities(t, s, "identities of bob", bob.ID, []storage.ExternalIdentity{sameSubject})

	// The deleted connection's domain can be claimed again.
	addSAMLDomain(t, s, newSAMLDomain(goneDomains[0].Domain, kept.ID, 5))
}

// testDeleteOrgRemovesSAMLConnections: deleting an organization removes its
// connections with their domains and the identities people have at them,
// and no other organization's.
func testDeleteOrgRemovesSAMLConnections(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	gone := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	goneDomain := addSAMLDomain(t, s, newSAMLDomain("acme.example", gone.ID, 0))
	kept := createSAMLConnection(t, s, newSAMLConnection(globex.ID, 1))
	keptDomain := addSAMLDomain(t, s, newSAMLDomain("globex.example", kept.ID, 0))
	alice := createUser(t, s, newUser("alice@example.com"))
	createExternalIdentity(t, s, newExternalIdentity(gone.ID, alice.ID, 0))
	keptIdentity := createExternalIdentity(t, s, newExternalIdentity(kept.ID, alice.ID, 1))

	if err := s.DeleteOrganization(t.Context(), acme.ID); err != nil {
		t.Fatalf("DeleteOrganization() error = %v", err)
	}
	checkSAMLConnectionGone(t, s, "connection of a deleted organization", gone.ID)
	checkSAMLDomainGone(t, s, "domain of a deleted organization", goneDomain.Domain)
	checkSAMLConnections(t, s, "every organization", "", []storage.SAMLConnection{kept})
	checkSAMLDomain(t, s, "domain of another organization", keptDomain)
	checkExternalIdentities(t, s, "identities after the organization went", alice.ID, []storage.ExternalIdentity{keptIdentity})
}

// newSAMLDomain returns an unverified claim of domain by the connection,
// created at(m).
func newSAMLDomain(domain, connectionID string, m int) storage.SAMLDomain {
	return storage.SAMLDomain{
		Domain:            domain,
		ConnectionID:      connectionID,
		VerificationToken: "foyer-domain-verification=" + rand.Text(),
		CreatedAt:         at(m),
	}
}

func storedSAMLDomain(d storage.SAMLDomain) storage.SAMLDomain {
	d.CreatedAt = stored(d.CreatedAt)
	if !d.VerifiedAt.IsZero() {
		d.VerifiedAt = stored(d.VerifiedAt)
	}
	return d
}

func addSAMLDomain(t *testing.T, s storage.Store, d storage.SAMLDomain) storage.SAMLDomain {
	t.Helper()
	if err := s.AddSAMLDomain(t.Context(), d); err != nil {
		t.Fatalf("AddSAMLDomain(%q, %q) error = %v", d.Domain, d.ConnectionID, err)
	}
	return storedSAMLDomain(d)
}

func checkSAMLDomainTimes(t *testing.T, call string, got, want storage.SAMLDomain) {
	t.Helper()
	checkTime(t, call+" CreatedAt", got.CreatedAt, want.CreatedAt)
	if want.VerifiedAt.IsZero() {
		if !got.VerifiedAt.IsZero() {
			t.Errorf("%s VerifiedAt = %v, want zero", call, got.VerifiedAt)
		}
	} else {
		checkTime(t, call+" VerifiedAt", got.VerifiedAt, want.VerifiedAt)
	}
}

// checkSAMLDomain compares the stored claim of want's domain with want.
func checkSAMLDomain(t *testing.T, s storage.Store, call string, want storage.SAMLDomain) {
	t.Helper()
	got, err := s.GetSAMLDomain(t.Context(), want.Domain)
	if err != nil {
		t.Errorf("%s: GetSAMLDomain(%q) error = %v", call, want.Domain, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetSAMLDomain(%q) mismatch (-want +got):\n%s", call, want.Domain, d)
	}
	checkSAMLDomainTimes(t, call+": GetSAMLDomain()", got, want)
}

func checkSAMLDomainGone(t *testing.T, s storage.Store, call, domain string) {
	t.Helper()
	_, err := s.GetSAMLDomain(t.Context(), domain)
	checkErr(t, call+": GetSAMLDomain()", err, storage.ErrNotFound)
}

func checkSAMLDomains(t *testing.T, s storage.Store, call, connectionID string, want []storage.SAMLDomain) {
	t.Helper()
	got, err := s.ListSAMLDomains(t.Context(), connectionID)
	if err != nil {
		t.Errorf("%s: ListSAMLDomains(%q) error = %v", call, connectionID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: ListSAMLDomains(%q) mismatch (-want +got):\n%s", call, connectionID, d)
	}
}

// testAddGetListSAMLDomains stores claims, unverified and verified; they
// read back as stored and list oldest first, each connection's own.
func testAddGetListSAMLDomains(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	entra := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	empty := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 2))

	newer := addSAMLDomain(t, s, newSAMLDomain("acme.example", okta.ID, 2))
	verified := newSAMLDomain("xn--acm-cma.example", okta.ID, 1)
	verified.VerifiedAt = at(3).Add(999 * time.Nanosecond)
	verified = addSAMLDomain(t, s, verified)
	sub := addSAMLDomain(t, s, newSAMLDomain("eu.acme.example", entra.ID, 0))

	for _, d := range []storage.SAMLDomain{newer, verified, sub} {
		checkSAMLDomain(t, s, "added", d)
	}
	checkSAMLDomains(t, s, "oldest first", okta.ID, []storage.SAMLDomain{verified, newer})
	checkSAMLDomains(t, s, "the other connection", entra.ID, []storage.SAMLDomain{sub})
	checkSAMLDomains(t, s, "a connection with none", empty.ID, nil)
	checkSAMLDomains(t, s, "an unknown connection", storage.NewID(storage.PrefixSAMLConnection), nil)
	checkSAMLDomainGone(t, s, "a parent of a claimed domain", "example")
	checkSAMLDomainGone(t, s, "an unclaimed domain", "globex.example")
}

// testAddSAMLDomainTaken: a domain is claimed by one connection at most,
// even within one organization, and the first claim stays.
func testAddSAMLDomainTaken(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	globex := createOrg(t, s, newOrg("globex"))
	first := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	second := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	others := createSAMLConnection(t, s, newSAMLConnection(globex.ID, 2))
	claim := addSAMLDomain(t, s, newSAMLDomain("acme.example", first.ID, 0))

	for _, c := range []storage.SAMLConnection{first, second, others} {
		d := newSAMLDomain(claim.Domain, c.ID, 1)
		d.VerifiedAt = at(1)
		err := s.AddSAMLDomain(t.Context(), d)
		checkErr(t, fmt.Sprintf("AddSAMLDomain(claimed domain, connection of %s)", c.OrgID), err, storage.ErrAlreadyExists)
	}
	checkSAMLDomain(t, s, "after the second claims", claim)
	checkSAMLDomains(t, s, "the other connection", second.ID, nil)
	checkSAMLDomains(t, s, "the other organization's connection", others.ID, nil)
}

func testAddSAMLDomainUnknownConnection(t *testing.T, s storage.Store) {
	d := newSAMLDomain("acme.example", storage.NewID(storage.PrefixSAMLConnection), 0)
	err := s.AddSAMLDomain(t.Context(), d)
	checkErr(t, "AddSAMLDomain(unknown connection)", err, storage.ErrNotFound)
	checkSAMLDomainGone(t, s, "refused domain", d.Domain)
}

// testAddSAMLDomainInvalid: a domain is stored lowercase; storage refuses
// one that is not, rather than folding it.
func testAddSAMLDomainInvalid(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	c := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	for _, domain := range []string{"Acme.example", "ACME.EXAMPLE", "acme.Example", ""} {
		err := s.AddSAMLDomain(t.Context(), newSAMLDomain(domain, c.ID, 0))
		checkErr(t, fmt.Sprintf("AddSAMLDomain(%q)", domain), err, storage.ErrInvalid)
		checkSAMLDomainGone(t, s, "refused domain", domain)
	}
	checkSAMLDomainGone(t, s, "refused domain in lowercase", "acme.example")
	checkSAMLDomains(t, s, "after the refused domains", c.ID, nil)
}

// testVerifySAMLDomain: verifying sets VerifiedAt to now, again on a later
// verification, and touches no other claim.
func testVerifySAMLDomain(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	c := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	want := addSAMLDomain(t, s, newSAMLDomain("acme.example", c.ID, 0))
	other := addSAMLDomain(t, s, newSAMLDomain("acme.example.org", c.ID, 1))

	for _, now := range []time.Time{at(1).Add(999 * time.Nanosecond), at(2)} {
		got, err := s.VerifySAMLDomain(ctx, want.Domain, now)
		if err != nil {
			t.Fatalf("VerifySAMLDomain(%v) error = %v", now, err)
		}
		want.VerifiedAt = stored(now)
		if d := diff(want, got); d != "" {
			t.Errorf("VerifySAMLDomain(%v) mismatch (-want +got):\n%s", now, d)
		}
		checkSAMLDomainTimes(t, "VerifySAMLDomain()", got, want)
		checkSAMLDomain(t, s, "after verifying", want)
	}
	checkSAMLDomain(t, s, "the other domain", other)

	for _, domain := range []string{"globex.example", "ACME.EXAMPLE"} {
		_, err := s.VerifySAMLDomain(ctx, domain, at(3))
		checkErr(t, fmt.Sprintf("VerifySAMLDomain(%q)", domain), err, storage.ErrNotFound)
	}
}

// testDeleteSAMLDomain: only the claiming connection deletes a claim;
// another connection's attempt is ErrNotFound and leaves it.
func testDeleteSAMLDomain(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	c := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	other := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	gone := addSAMLDomain(t, s, newSAMLDomain("acme.example", c.ID, 0))
	kept := addSAMLDomain(t, s, newSAMLDomain("acme.example.org", c.ID, 1))

	err := s.DeleteSAMLDomain(ctx, other.ID, gone.Domain)
	checkErr(t, "DeleteSAMLDomain(another connection's)", err, storage.ErrNotFound)
	checkSAMLDomain(t, s, "after another connection's delete", gone)
	err = s.DeleteSAMLDomain(ctx, storage.NewID(storage.PrefixSAMLConnection), gone.Domain)
	checkErr(t, "DeleteSAMLDomain(unknown connection)", err, storage.ErrNotFound)

	if err := s.DeleteSAMLDomain(ctx, c.ID, gone.Domain); err != nil {
		t.Fatalf("DeleteSAMLDomain() error = %v", err)
	}
	checkSAMLDomainGone(t, s, "deleted domain", gone.Domain)
	checkErr(t, "DeleteSAMLDomain(deleted)", s.DeleteSAMLDomain(ctx, c.ID, gone.Domain), storage.ErrNotFound)
	checkSAMLDomains(t, s, "after the delete", c.ID, []storage.SAMLDomain{kept})
	// Another connection can claim it now.
	addSAMLDomain(t, s, newSAMLDomain(gone.Domain, other.ID, 2))
}

// newExternalIdentity returns a link of a random subject at the connection
// to the user, created at(m), never used to sign in.
func newExternalIdentity(connectionID, userID string, m int) storage.ExternalIdentity {
	return storage.ExternalIdentity{
		ConnectionID: connectionID,
		Subject:      "00u" + rand.Text() + "@idp.example.com",
		UserID:       userID,
		CreatedAt:    at(m),
	}
}

func storedExternalIdentity(e storage.ExternalIdentity) storage.ExternalIdentity {
	e.CreatedAt = stored(e.CreatedAt)
	if !e.LastLoginAt.IsZero() {
		e.LastLoginAt = stored(e.LastLoginAt)
	}
	return e
}

func createExternalIdentity(t *testing.T, s storage.Store, e storage.ExternalIdentity) storage.ExternalIdentity {
	t.Helper()
	if err := s.CreateExternalIdentity(t.Context(), e); err != nil {
		t.Fatalf("CreateExternalIdentity(%q, user %q) error = %v", e.ConnectionID, e.UserID, err)
	}
	return storedExternalIdentity(e)
}

// checkExternalIdentity compares the stored identity of want's connection
// and subject with want.
func checkExternalIdentity(t *testing.T, s storage.Store, call string, want storage.ExternalIdentity) {
	t.Helper()
	got, err := s.GetExternalIdentity(t.Context(), want.ConnectionID, want.Subject)
	if err != nil {
		t.Errorf("%s: GetExternalIdentity(%q, %q) error = %v", call, want.ConnectionID, want.Subject, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetExternalIdentity(%q, %q) mismatch (-want +got):\n%s", call, want.ConnectionID, want.Subject, d)
	}
	checkTime(t, call+": GetExternalIdentity() CreatedAt", got.CreatedAt, want.CreatedAt)
	if want.LastLoginAt.IsZero() {
		if !got.LastLoginAt.IsZero() {
			t.Errorf("%s: GetExternalIdentity() LastLoginAt = %v, want zero", call, got.LastLoginAt)
		}
	} else {
		checkTime(t, call+": GetExternalIdentity() LastLoginAt", got.LastLoginAt, want.LastLoginAt)
	}
}

func checkExternalIdentityGone(t *testing.T, s storage.Store, call string, e storage.ExternalIdentity) {
	t.Helper()
	_, err := s.GetExternalIdentity(t.Context(), e.ConnectionID, e.Subject)
	checkErr(t, call+": GetExternalIdentity()", err, storage.ErrNotFound)
}

func checkExternalIdentities(t *testing.T, s storage.Store, call, userID string, want []storage.ExternalIdentity) {
	t.Helper()
	got, err := s.ListExternalIdentities(t.Context(), userID)
	if err != nil {
		t.Errorf("%s: ListExternalIdentities(%q) error = %v", call, userID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: ListExternalIdentities(%q) mismatch (-want +got):\n%s", call, userID, d)
	}
}

// testCreateGetTouchListExternalIdentities stores identities, reads them
// back, records sign-ins through them, and lists each user's oldest first.
// An identity at a connection that is no SAML connection (an upstream OIDC
// one) is stored as well: connection IDs are not checked.
func testCreateGetTouchListExternalIdentities(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	carol := createUser(t, s, newUser("carol@example.com"))

	newer := createExternalIdentity(t, s, newExternalIdentity(okta.ID, alice.ID, 2))
	signedIn := newExternalIdentity("upc_"+rand.Text(), alice.ID, 1)
	signedIn.LastLoginAt = at(3).Add(999 * time.Nanosecond)
	signedIn = createExternalIdentity(t, s, signedIn)
	bobs := createExternalIdentity(t, s, newExternalIdentity(okta.ID, bob.ID, 0))

	for _, e := range []storage.ExternalIdentity{newer, signedIn, bobs} {
		checkExternalIdentity(t, s, "created", e)
	}
	checkExternalIdentities(t, s, "oldest first", alice.ID, []storage.ExternalIdentity{signedIn, newer})
	checkExternalIdentities(t, s, "the other user", bob.ID, []storage.ExternalIdentity{bobs})
	checkExternalIdentities(t, s, "a user with none", carol.ID, nil)
	checkExternalIdentities(t, s, "an unknown user", storage.NewID(storage.PrefixUser), nil)

	for _, now := range []time.Time{at(4).Add(1 * time.Nanosecond), at(5)} {
		if err := s.TouchExternalIdentity(ctx, newer.ConnectionID, newer.Subject, now); err != nil {
			t.Fatalf("TouchExternalIdentity(%v) error = %v", now, err)
		}
		newer.LastLoginAt = stored(now)
		checkExternalIdentity(t, s, "after a sign-in", newer)
	}
	checkExternalIdentities(t, s, "after the sign-ins", alice.ID, []storage.ExternalIdentity{signedIn, newer})
	checkExternalIdentity(t, s, "the other user's after the sign-ins", bobs)

	for _, miss := range []struct{ name, connectionID, subject string }{
		{"unknown subject", okta.ID, "00u" + rand.Text()},
		{"subject at another connection", signedIn.ConnectionID, newer.Subject},
		{"subject in another case", okta.ID, strings.ToLower(bobs.Subject)},
	} {
		_, err := s.GetExternalIdentity(ctx, miss.connectionID, miss.subject)
		checkErr(t, "GetExternalIdentity("+miss.name+")", err, storage.ErrNotFound)
		err = s.TouchExternalIdentity(ctx, miss.connectionID, miss.subject, at(6))
		checkErr(t, "TouchExternalIdentity("+miss.name+")", err, storage.ErrNotFound)
	}
}

// testCreateExternalIdentityDuplicate: a subject at a connection is linked
// once, to the same user or another, and the first link stays.
func testCreateExternalIdentityDuplicate(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	first := createExternalIdentity(t, s, newExternalIdentity(okta.ID, alice.ID, 0))

	for _, userID := range []string{alice.ID, bob.ID} {
		e := newExternalIdentity(okta.ID, userID, 1)
		e.Subject, e.LastLoginAt = first.Subject, at(2)
		err := s.CreateExternalIdentity(t.Context(), e)
		checkErr(t, "CreateExternalIdentity(linked subject)", err, storage.ErrAlreadyExists)
	}
	checkExternalIdentity(t, s, "after the duplicates", first)
	checkExternalIdentities(t, s, "the other user", bob.ID, nil)
}

// testConcurrentCreateExternalIdentity links one subject to writers users
// at once, as concurrent first sign-ins would: exactly one link is made.
func testConcurrentCreateExternalIdentity(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	users := make([]storage.User, writers)
	for i := range users {
		users[i] = createUser(t, s, newUser(fmt.Sprintf("user%d@example.com", i)))
	}
	subject := "00u" + rand.Text()

	next := make(chan storage.User, writers)
	for _, u := range users {
		next <- u
	}
	checkExactlyOne(t, "links of one subject", storage.ErrAlreadyExists, func() error {
		e := newExternalIdentity(okta.ID, (<-next).ID, 0)
		e.Subject = subject
		return s.CreateExternalIdentity(t.Context(), e)
	})

	got, err := s.GetExternalIdentity(t.Context(), okta.ID, subject)
	if err != nil {
		t.Fatalf("GetExternalIdentity() after concurrent links error = %v", err)
	}
	linked := 0
	for _, u := range users {
		es, err := s.ListExternalIdentities(t.Context(), u.ID)
		if err != nil {
			t.Fatalf("ListExternalIdentities(%q) error = %v", u.ID, err)
		}
		linked += len(es)
		if len(es) == 1 && es[0].UserID != got.UserID {
			t.Errorf("ListExternalIdentities(%q) = %+v, but the subject is linked to %q", u.ID, es, got.UserID)
		}
	}
	if linked != 1 {
		t.Errorf("after concurrent links the users have %d identities, want 1", linked)
	}
}

func testCreateExternalIdentityUnknownUser(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	e := newExternalIdentity(okta.ID, storage.NewID(storage.PrefixUser), 0)
	err := s.CreateExternalIdentity(t.Context(), e)
	checkErr(t, "CreateExternalIdentity(unknown user)", err, storage.ErrNotFound)
	checkExternalIdentityGone(t, s, "refused identity", e)
}

// testDeleteExternalIdentity: only the linked user deletes a link; another
// user's attempt is ErrNotFound and leaves it.
func testDeleteExternalIdentity(t *testing.T, s storage.Store) {
	ctx := t.Context()
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	gone := createExternalIdentity(t, s, newExternalIdentity(okta.ID, alice.ID, 0))
	kept := createExternalIdentity(t, s, newExternalIdentity(okta.ID, alice.ID, 1))

	err := s.DeleteExternalIdentity(ctx, bob.ID, gone.ConnectionID, gone.Subject)
	checkErr(t, "DeleteExternalIdentity(another user's)", err, storage.ErrNotFound)
	checkExternalIdentity(t, s, "after another user's delete", gone)
	err = s.DeleteExternalIdentity(ctx, alice.ID, storage.NewID(storage.PrefixSAMLConnection), gone.Subject)
	checkErr(t, "DeleteExternalIdentity(subject at another connection)", err, storage.ErrNotFound)

	if err := s.DeleteExternalIdentity(ctx, alice.ID, gone.ConnectionID, gone.Subject); err != nil {
		t.Fatalf("DeleteExternalIdentity() error = %v", err)
	}
	checkExternalIdentityGone(t, s, "deleted identity", gone)
	err = s.DeleteExternalIdentity(ctx, alice.ID, gone.ConnectionID, gone.Subject)
	checkErr(t, "DeleteExternalIdentity(deleted)", err, storage.ErrNotFound)
	checkExternalIdentities(t, s, "after the delete", alice.ID, []storage.ExternalIdentity{kept})
	// The subject can be linked again, to another user.
	again := gone
	again.UserID = bob.ID
	createExternalIdentity(t, s, again)
}

// testDeleteUserRemovesExternalIdentities: deleting a user removes their
// links, and nobody else's.
func testDeleteUserRemovesExternalIdentities(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	okta := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	alice := createUser(t, s, newUser("alice@example.com"))
	bob := createUser(t, s, newUser("bob@example.com"))
	alices := []storage.ExternalIdentity{
		createExternalIdentity(t, s, newExternalIdentity(okta.ID, alice.ID, 0)),
		createExternalIdentity(t, s, newExternalIdentity("upc_"+rand.Text(), alice.ID, 1)),
	}
	bobs := createExternalIdentity(t, s, newExternalIdentity(okta.ID, bob.ID, 0))

	if err := s.DeleteUser(t.Context(), alice.ID); err != nil {
		t.Fatalf("DeleteUser() error = %v", err)
	}
	for _, e := range alices {
		checkExternalIdentityGone(t, s, "identity of a deleted user", e)
	}
	checkExternalIdentities(t, s, "identities of a deleted user", alice.ID, nil)
	checkExternalIdentity(t, s, "identity of another user", bobs)

	// A user created again with the ID starts with no identity.
	again := newUser("alice@example.com")
	again.ID = alice.ID
	createUser(t, s, again)
	checkExternalIdentities(t, s, "identities of a recreated user", alice.ID, nil)
}

// testSAMLRollback: every kind of write with a transaction's context happens
// in it: seen there, unseen outside, and undone by Rollback.
func testSAMLRollback(t *testing.T, s storage.Store) {
	acme := createOrg(t, s, newOrg("acme"))
	alice := createUser(t, s, newUser("alice@example.com"))
	kept := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 0))
	doomed := createSAMLConnection(t, s, newSAMLConnection(acme.ID, 1))
	keptDomain := addSAMLDomain(t, s, newSAMLDomain("acme.example", kept.ID, 0))
	doomedDomain := addSAMLDomain(t, s, newSAMLDomain("acme.example.org", doomed.ID, 0))
	keptIdentity := createExternalIdentity(t, s, newExternalIdentity(kept.ID, alice.ID, 0))
	doomedIdentity := createExternalIdentity(t, s, newExternalIdentity(doomed.ID, alice.ID, 1))

	ctx := beginTx(t, s)
	created := newSAMLConnection(acme.ID, 2)
	if _, err := s.CreateSAMLConnection(ctx, created); err != nil {
		t.Errorf("CreateSAMLConnection() in a transaction error = %v", err)
	}
	if _, err := s.UpdateSAMLConnection(ctx, kept.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
		c.Name = "Renamed"
		return c, nil
	}); err != nil {
		t.Errorf("UpdateSAMLConnection() in a transaction error = %v", err)
	}
	if got, err := s.GetSAMLConnection(ctx, kept.ID); err != nil || got.Name != "Renamed" {
		t.Errorf("GetSAMLConnection() in the transaction = %q, %v; want the renamed one", got.Name, err)
	}
	if err := s.DeleteSAMLConnection(ctx, doomed.ID); err != nil {
		t.Errorf("DeleteSAMLConnection() in a transaction error = %v", err)
	}
	if cs, err := s.ListSAMLConnections(ctx, acme.ID); err != nil || len(cs) != 2 {
		t.Errorf("ListSAMLConnections() in the transaction = %d connections, %v; want 2", len(cs), err)
	}
	addedDomain := newSAMLDomain("acme.example.net", kept.ID, 1)
	if err := s.AddSAMLDomain(ctx, addedDomain); err != nil {
		t.Errorf("AddSAMLDomain() in a transaction error = %v", err)
	}
	if _, err := s.VerifySAMLDomain(ctx, keptDomain.Domain, at(3)); err != nil {
		t.Errorf("VerifySAMLDomain() in a transaction error = %v", err)
	}
	if ds, err := s.ListSAMLDomains(ctx, kept.ID); err != nil || len(ds) != 2 || ds[0].VerifiedAt.IsZero() {
		t.Errorf("ListSAMLDomains() in the transaction = %+v, %v; want the verified one and the new one", ds, err)
	}
	addedIdentity := newExternalIdentity(kept.ID, alice.ID, 2)
	if err := s.CreateExternalIdentity(ctx, addedIdentity); err != nil {
		t.Errorf("CreateExternalIdentity() in a transaction error = %v", err)
	}
	if err := s.TouchExternalIdentity(ctx, keptIdentity.ConnectionID, keptIdentity.Subject, at(3)); err != nil {
		t.Errorf("TouchExternalIdentity() in a transaction error = %v", err)
	}
	if es, err := s.ListExternalIdentities(ctx, alice.ID); err != nil || len(es) != 2 || es[0].LastLoginAt.IsZero() {
		t.Errorf("ListExternalIdentities() in the transaction = %+v, %v; want the touched one and the new one", es, err)
	}

	checkSAMLConnections(t, s, "outside the transaction before Rollback", acme.ID, []storage.SAMLConnection{kept, doomed})
	checkSAMLDomains(t, s, "outside the transaction before Rollback", kept.ID, []storage.SAMLDomain{keptDomain})
	checkExternalIdentities(t, s, "outside the transaction before Rollback", alice.ID, []storage.ExternalIdentity{keptIdentity, doomedIdentity})
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}

	checkSAMLConnections(t, s, "after Rollback", acme.ID, []storage.SAMLConnection{kept, doomed})
	checkSAMLConnectionGone(t, s, "created in the rolled-back transaction", created.ID)
	checkSAMLDomains(t, s, "after Rollback", kept.ID, []storage.SAMLDomain{keptDomain})
	checkSAMLDomain(t, s, "of the connection deleted in the rolled-back transaction", doomedDomain)
	checkSAMLDomainGone(t, s, "added in the rolled-back transaction", addedDomain.Domain)
	checkExternalIdentities(t, s, "after Rollback", alice.ID, []storage.ExternalIdentity{keptIdentity, doomedIdentity})
}
