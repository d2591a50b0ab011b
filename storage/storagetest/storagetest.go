package storagetest

import (
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/foyerdev/foyer/storage"
)

// test is one conformance case; it gets a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

// Run runs every conformance case as a subtest of t, grouped by aggregate
// (Users/CreateAndGet, Roles/Delete, …). open must return a fresh, migrated, empty store
// with the built-in roles seeded and register its own cleanup with
// t.Cleanup; Run calls it inside each subtest, so cases are independent.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests()},
		{"Organizations", organizationTests()},
		{"Roles", roleTests()},
		{"Memberships", membershipTests()},
		{"Clients", clientTests()},
		{"SigningKeys", signingKeyTests()},
		{"OAuthSessions", oauthSessionTests()},
		{"BrowserSessions", browserSessionTests()},
		{"Consents", consentTests()},
		{"AssertionJTIs", assertionJTITests()},
		{"Outbox", outboxTests()},
		{"RateLimits", rateLimitTests()},
		{"OneTimeTokens", oneTimeTokenTests()},
		{"Invitations", invitationTests()},
		{"DeviceCodes", deviceCodeTests()},
		{"MFA", mfaTests()},
		{"SAML", samlTests()},
		{"UpstreamConnections", upstreamTests()},
		{"Events", eventTests()},
		{"EventDeliveries", eventDeliveryTests()},
		{"WebhookEndpoints", webhookEndpointTests()},
		{"AuditLog", auditTests()},
		{"Transactions", transactionTests()},
		{"Times", []test{{"StoredInUTCMicroseconds", testTimes}}},
		{"Concurrency", concurrencyTests()},
		{"Migrate", migrateTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

// at returns a fixed instant m minutes after a base that has nanoseconds and
// a non-UTC location, so a backend that keeps either is caught.
func at(m int) time.Time {
	base := time.Date(2025, time.March, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+1", 3600))
	return base.Add(time.Duration(m) * time.Minute)
}

// stored is how every backend returns a time: UTC, truncated to microseconds.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// diff compares records; backends may return nil or empty slices alike.
// cmp compares times with Time.Equal, so it ignores the location:
// testTimes checks that separately.
func diff(want, got any, opts ...cmp.Option) string {
	return cmp.Diff(want, got, append(opts, cmpopts.EquateEmpty())...)
}

// checkErr reports an error unless errors.Is(err, want).
func checkErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s error = %v, want %v", call, err, want)
	}
}

// checkPaging lists the records whose sorted IDs are ids (at least five)
// through several pages and checks each page.
func checkPaging(t *testing.T, call string, ids []string, list func(storage.Page) ([]string, error)) {
	t.Helper()
	if len(ids) < 5 || !slices.IsSorted(ids) {
		t.Fatalf("checkPaging needs five or more sorted IDs, got %q", ids)
	}
	tests := []struct {
		name string
		page storage.Page
		want []string
	}{
		{"default limit returns all", storage.Page{}, ids},
		{"first page", storage.Page{Limit: 2}, ids[:2]},
		{"middle page", storage.Page{After: ids[1], Limit: 2}, ids[2:4]},
		{"last page is short", storage.Page{After: ids[3], Limit: 2}, ids[4:]},
		{"after the last ID is empty", storage.Page{After: ids[len(ids)-1]}, nil},
		// ids[2]+"0" sorts between ids[2] and ids[3]: After need not exist.
		{"after an ID that does not exist", storage.Page{After: ids[2] + "0"}, ids[3:]},
	}
	for _, tc := range tests {
		got, err := list(tc.page)
		if err != nil {
			t.Errorf("%s(%+v) [%s] error = %v", call, tc.page, tc.name, err)
			continue
		}
		if d := diff(tc.want, got); d != "" {
			t.Errorf("%s(%+v) [%s] IDs mismatch (-want +got):\n%s", call, tc.page, tc.name, d)
		}
	}
}

func newUser(email string) storage.User {
	return storage.User{
		ID:           storage.NewID(storage.PrefixUser),
		Email:        email,
		Name:         "Test Person",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		CreatedAt:    at(0),
		UpdatedAt:    at(0),
	}
}

// storedUser is u as the store returns it.
func storedUser(u storage.User) storage.User {
	u.CreatedAt, u.UpdatedAt = stored(u.CreatedAt), stored(u.UpdatedAt)
	return u
}

func createUser(t *testing.T, s storage.Store, u storage.User) storage.User {
	t.Helper()
	got, err := s.CreateUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateUser(%q) error = %v", u.Email, err)
	}
	return got
}

func newOrg(slug string) storage.Organization {
	return storage.Organization{
		ID:        storage.NewID(storage.PrefixOrganization),
		Slug:      slug,
		Name:      "Org " + slug,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
}

func storedOrg(o storage.Organization) storage.Organization {
	o.CreatedAt, o.UpdatedAt = stored(o.CreatedAt), stored(o.UpdatedAt)
	return o
}

func createOrg(t *testing.T, s storage.Store, o storage.Organization) storage.Organization {
	t.Helper()
	got, err := s.CreateOrganization(t.Context(), o)
	if err != nil {
		t.Fatalf("CreateOrganization(%q) error = %v", o.Slug, err)
	}
	return got
}

func newRole(orgID, name string, permissions ...string) storage.Role {
	return storage.Role{
		ID:          storage.NewID(storage.PrefixRole),
		OrgID:       orgID,
		Name:        name,
		Description: "Role " + name,
		Permissions: permissions,
		CreatedAt:   at(0),
		UpdatedAt:   at(0),
	}
}

func storedRole(r storage.Role) storage.Role {
	r.CreatedAt, r.UpdatedAt = stored(r.CreatedAt), stored(r.UpdatedAt)
	return r
}

func createRole(t *testing.T, s storage.Store, r storage.Role) storage.Role {
	t.Helper()
	got, err := s.CreateRole(t.Context(), r)
	if err != nil {
		t.Fatalf("CreateRole(%q, %q) error = %v", r.OrgID, r.Name, err)
	}
	return got
}

// builtinRole returns the built-in role called name, without times: the
// backend seeds those.
func builtinRole(t *testing.T, name string) storage.Role {
	t.Helper()
	for _, r := range storage.BuiltinRoles() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no built-in role %q", name)
	return storage.Role{}
}

// ignoreRoleTimes compares built-in roles, whose times the backend chooses.
func ignoreRoleTimes() cmp.Option {
	return cmpopts.IgnoreFields(storage.Role{}, "CreatedAt", "UpdatedAt")
}

func newMembership(orgID, userID, role string) storage.Membership {
	return storage.Membership{OrgID: orgID, UserID: userID, Role: role, CreatedAt: at(0), UpdatedAt: at(0)}
}

func storedMembership(m storage.Membership) storage.Membership {
	m.CreatedAt, m.UpdatedAt = stored(m.CreatedAt), stored(m.UpdatedAt)
	return m
}

func createMembership(t *testing.T, s storage.Store, m storage.Membership) storage.Membership {
	t.Helper()
	got, err := s.CreateMembership(t.Context(), m)
	if err != nil {
		t.Fatalf("CreateMembership(%q, %q, %q) error = %v", m.OrgID, m.UserID, m.Role, err)
	}
	return got
}

// newClient returns a confidential client that authenticates with
// private_key_jwt. Its JWK Set has unusual spacing and a trailing newline,
// which a backend that reformats JSON would not keep.
func newClient() storage.Client {
	return storage.Client{
		ID:                      storage.NewID("cli_"),
		Name:                    "Example App",
		SecretHash:              "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$c2VjcmV0",
		RedirectURIs:            []string{"https://app.example.com/callback", "http://127.0.0.1/callback"},
		PostLogoutRedirectURIs:  []string{"https://app.example.com/"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		FirstParty:              true,
		AccessTokenFormat:       "jwt",
		TokenEndpointAuthMethod: "private_key_jwt",
		RequirePKCE:             true,
		RequirePAR:              true,
		ApplicationType:         "web",
		JWKS:                    []byte(`{"keys": [ {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"} ]}` + "\n"),
		CreatedAt:               at(0),
		UpdatedAt:               at(0),
	}
}

func storedClient(c storage.Client) storage.Client {
	c.CreatedAt, c.UpdatedAt = stored(c.CreatedAt), stored(c.UpdatedAt)
	return c
}

func createClient(t *testing.T, s storage.Store, c storage.Client) storage.Client {
	t.Helper()
	got, err := s.CreateClient(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateClient(%q) error = %v", c.ID, err)
	}
	return got
}

// newOAuthSession returns an active session of kind for request requestID of
// the client. Its request is not valid UTF-8, so a backend that reads blobs
// as text would not keep it.
func newOAuthSession(kind storage.GrantKind, requestID, clientID string) storage.OAuthSession {
	return storage.OAuthSession{
		Kind:        kind,
		Signature:   rand.Text(),
		RequestID:   requestID,
		ClientID:    clientID,
		Subject:     storage.NewID(storage.PrefixUser),
		Active:      true,
		RequestedAt: at(0),
		ExpiresAt:   at(60),
		Request:     append([]byte(`{"scopes":["openid"],"form":{}}`), 0x00, 0xff, '\n'),
	}
}

func storedOAuthSession(o storage.OAuthSession) storage.OAuthSession {
	o.RequestedAt, o.ExpiresAt = stored(o.RequestedAt), stored(o.ExpiresAt)
	return o
}

func createOAuthSession(t *testing.T, s storage.Store, o storage.OAuthSession) storage.OAuthSession {
	t.Helper()
	if err := s.CreateOAuthSession(t.Context(), o); err != nil {
		t.Fatalf("CreateOAuthSession(%s of %q) error = %v", o.Kind, o.RequestID, err)
	}
	return storedOAuthSession(o)
}

// checkOAuthSession compares the stored session of want's kind and
// signature with want.
func checkOAuthSession(t *testing.T, s storage.Store, call string, want storage.OAuthSession) {
	t.Helper()
	got, err := s.GetOAuthSession(t.Context(), want.Kind, want.Signature)
	if err != nil {
		t.Errorf("%s: GetOAuthSession(%s of %q) error = %v", call, want.Kind, want.RequestID, err)
		return
	}
	if d := diff(want, got); d != "" {
		t.Errorf("%s: GetOAuthSession(%s of %q) mismatch (-want +got):\n%s", call, want.Kind, want.RequestID, d)
	}
}

// newBrowserSession returns a session of the user created at(m). Its ID
// stands for the hash of a cookie.
func newBrowserSession(userID string, m int) storage.BrowserSession {
	return storage.BrowserSession{
		ID:         rand.Text(),
		SID:        storage.NewID("sid_"),
		UserID:     userID,
		AuthTime:   at(m),
		AMR:        []string{"pwd", "otp"},
		OrgID:      storage.NewID(storage.PrefixOrganization),
		IP:         "2001:db8::1",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
		CreatedAt:  at(m),
		LastSeenAt: at(m + 1),
		ExpiresAt:  at(m + 720),
	}
}

func storedBrowserSession(b storage.BrowserSession) storage.BrowserSession {
	b.AuthTime, b.CreatedAt, b.LastSeenAt, b.ExpiresAt = stored(b.AuthTime), stored(b.CreatedAt), stored(b.LastSeenAt), stored(b.ExpiresAt)
	return b
}

func createBrowserSession(t *testing.T, s storage.Store, b storage.BrowserSession) storage.BrowserSession {
	t.Helper()
	got, err := s.CreateBrowserSession(t.Context(), b)
	if err != nil {
		t.Fatalf("CreateBrowserSession(user %q) error = %v", b.UserID, err)
	}
	return got
}

func newConsent(userID, clientID string, scopes ...string) storage.Consent {
	return storage.Consent{UserID: userID, ClientID: clientID, Scopes: scopes, GrantedAt: at(0)}
}

func storedConsent(c storage.Consent) storage.Consent {
	c.GrantedAt = stored(c.GrantedAt)
	return c
}

func saveConsent(t *testing.T, s storage.Store, c storage.Consent) storage.Consent {
	t.Helper()
	got, err := s.SaveConsent(t.Context(), c)
	if err != nil {
		t.Fatalf("SaveConsent(%q, %q) error = %v", c.UserID, c.ClientID, err)
	}
	return got
}
