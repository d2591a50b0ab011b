package storagetest

import (
	"slices"
	"testing"

	"github.com/foyerdev/foyer/storage"
)

func oauthSessionTests() []test {
	return []test{
		{"CreateAndGet", testCreateGetOAuthSession},
		{"CreateDuplicate", testCreateOAuthSessionDuplicate},
		{"CreateRefused", testCreateOAuthSessionRefused},
		{"NotFound", testOAuthSessionNotFound},
		{"Deactivate", testDeactivateOAuthSession},
		{"Delete", testDeleteOAuthSession},
		{"Revoke", testRevokeOAuthSessions},
		{"RevokeGrant", testRevokeGrant},
		{"RevokeUserGrants", testRevokeUserGrants},
		{"DeleteExpired", testDeleteExpiredOAuthSessions},
		{"DeleteClientRemovesSessionsAndConsents", testDeleteClientCascades},
	}
}

// allKinds are the kinds of OAuthSession the contract names.
var allKinds = []storage.GrantKind{
	storage.KindAuthorizeCode, storage.KindAccessToken, storage.KindRefreshToken,
	storage.KindPKCE, storage.KindOpenID, storage.KindPAR,
}

func testCreateGetOAuthSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())

	type tc struct {
		name    string
		session storage.OAuthSession
	}
	var tests []tc
	for _, kind := range allKinds {
		tests = append(tests, tc{string(kind), newOAuthSession(kind, "req-1", client.ID)})
	}
	// client_credentials: no user.
	noSubject := newOAuthSession(storage.KindAccessToken, "req-2", client.ID)
	noSubject.Subject = ""
	inactive := newOAuthSession(storage.KindRefreshToken, "req-3", client.ID)
	inactive.Active = false
	tests = append(tests, tc{"without a subject", noSubject}, tc{"created inactive", inactive})

	for _, tc := range tests {
		if err := s.CreateOAuthSession(ctx, tc.session); err != nil {
			t.Errorf("CreateOAuthSession(%s) error = %v", tc.name, err)
			continue
		}
		checkOAuthSession(t, s, "CreateOAuthSession("+tc.name+")", storedOAuthSession(tc.session))
	}
}

// testCreateOAuthSessionDuplicate: a session is keyed by kind and
// signature, so the same signature may serve two kinds but not one kind
// twice.
func testCreateOAuthSessionDuplicate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	first := createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, "req-1", client.ID))

	dup := newOAuthSession(storage.KindRefreshToken, "req-2", client.ID)
	dup.Signature = first.Signature
	err := s.CreateOAuthSession(ctx, dup)
	checkErr(t, "CreateOAuthSession(same kind and signature)", err, storage.ErrAlreadyExists)
	checkOAuthSession(t, s, "after the duplicate", first)

	otherKind := newOAuthSession(storage.KindAccessToken, "req-1", client.ID)
	otherKind.Signature = first.Signature
	if err := s.CreateOAuthSession(ctx, otherKind); err != nil {
		t.Errorf("CreateOAuthSession(same signature, another kind) error = %v", err)
	}
	checkOAuthSession(t, s, "same signature, another kind", storedOAuthSession(otherKind))
}

func testCreateOAuthSessionRefused(t *testing.T, s storage.Store) {
	client := createClient(t, s, newClient())
	with := func(change func(o *storage.OAuthSession)) storage.OAuthSession {
		o := newOAuthSession(storage.KindAccessToken, "req-1", client.ID)
		change(&o)
		return o
	}

	tests := []struct {
		name    string
		session storage.OAuthSession
		want    error
	}{
		{"missing client", with(func(o *storage.OAuthSession) { o.ClientID = storage.NewID("cli_") }), storage.ErrNotFound},
		{"no kind", with(func(o *storage.OAuthSession) { o.Kind = "" }), storage.ErrInvalid},
		{"no signature", with(func(o *storage.OAuthSession) { o.Signature = "" }), storage.ErrInvalid},
		{"no request ID", with(func(o *storage.OAuthSession) { o.RequestID = "" }), storage.ErrInvalid},
		{"no request", with(func(o *storage.OAuthSession) { o.Request = nil }), storage.ErrInvalid},
	}
	for _, tc := range tests {
		err := s.CreateOAuthSession(t.Context(), tc.session)
		checkErr(t, "CreateOAuthSession("+tc.name+")", err, tc.want)
		if tc.session.Signature != "" {
			_, err = s.GetOAuthSession(t.Context(), tc.session.Kind, tc.session.Signature)
			checkErr(t, "GetOAuthSession(refused: "+tc.name+")", err, storage.ErrNotFound)
		}
	}
}

func testOAuthSessionNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	stored := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-1", client.ID))

	tests := []struct {
		name      string
		kind      storage.GrantKind
		signature string
	}{
		{"unknown signature", storage.KindAuthorizeCode, "no-such-signature"},
		{"signature of another kind", storage.KindRefreshToken, stored.Signature},
	}
	for _, tc := range tests {
		_, err := s.GetOAuthSession(ctx, tc.kind, tc.signature)
		checkErr(t, "GetOAuthSession("+tc.name+")", err, storage.ErrNotFound)
		checkErr(t, "DeactivateOAuthSession("+tc.name+")", s.DeactivateOAuthSession(ctx, tc.kind, tc.signature), storage.ErrNotFound)
		checkErr(t, "DeleteOAuthSession("+tc.name+")", s.DeleteOAuthSession(ctx, tc.kind, tc.signature), storage.ErrNotFound)
	}
	checkOAuthSession(t, s, "after calls on missing sessions", stored)
}

// testDeactivateOAuthSession marks a code used: once, and then never again
// (SECURITY.md DB-01). Nothing else changes, on that session or another.
func testDeactivateOAuthSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	code := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-1", client.ID))
	other := createOAuthSession(t, s, newOAuthSession(storage.KindAuthorizeCode, "req-2", client.ID))

	if err := s.DeactivateOAuthSession(ctx, code.Kind, code.Signature); err != nil {
		t.Fatalf("DeactivateOAuthSession(active) error = %v", err)
	}
	used := code
	used.Active = false
	checkOAuthSession(t, s, "after DeactivateOAuthSession", used)

	err := s.DeactivateOAuthSession(ctx, code.Kind, code.Signature)
	checkErr(t, "DeactivateOAuthSession(already inactive)", err, storage.ErrConflict)
	checkOAuthSession(t, s, "after deactivating twice", used)
	checkOAuthSession(t, s, "the other session", other)
}

func testDeleteOAuthSession(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	gone := createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, "req-1", client.ID))
	keep := createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, "req-1", client.ID))
	inactive := newOAuthSession(storage.KindRefreshToken, "req-1", client.ID)
	inactive.Active = false
	inactive = createOAuthSession(t, s, inactive)

	for _, o := range []storage.OAuthSession{gone, inactive} {
		if err := s.DeleteOAuthSession(ctx, o.Kind, o.Signature); err != nil {
			t.Fatalf("DeleteOAuthSession(%s, active %t) error = %v", o.Kind, o.Active, err)
		}
		_, err := s.GetOAuthSession(ctx, o.Kind, o.Signature)
		checkErr(t, "GetOAuthSession(deleted)", err, storage.ErrNotFound)
		checkErr(t, "DeleteOAuthSession(deleted)", s.DeleteOAuthSession(ctx, o.Kind, o.Signature), storage.ErrNotFound)
	}
	checkOAuthSession(t, s, "after deleting others", keep)
}

// testRevokeOAuthSessions revokes a token family (RFC 9700 §4.14): only
// sessions of the request and kinds given, and counts only those it changed.
func testRevokeOAuthSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	const family, otherFamily = "req-family", "req-other"
	access := createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, family, client.ID))
	refresh := createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, family, client.ID))
	rotated := newOAuthSession(storage.KindRefreshToken, family, client.ID)
	rotated.Active = false
	rotated = createOAuthSession(t, s, rotated)
	openid := createOAuthSession(t, s, newOAuthSession(storage.KindOpenID, family, client.ID))
	untouched := []storage.OAuthSession{
		openid,
		createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, otherFamily, client.ID)),
		createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, otherFamily, client.ID)),
	}

	n, err := s.RevokeOAuthSessions(ctx, family, storage.KindAccessToken, storage.KindRefreshToken)
	if err != nil {
		t.Fatalf("RevokeOAuthSessions(%q, access and refresh) error = %v", family, err)
	}
	// The rotated refresh token was inactive already.
	if n != 2 {
		t.Errorf("RevokeOAuthSessions(%q, access and refresh) = %d, want 2", family, n)
	}
	for _, o := range []storage.OAuthSession{access, refresh, rotated} {
		o.Active = false
		checkOAuthSession(t, s, "revoked", o)
	}
	for _, o := range untouched {
		checkOAuthSession(t, s, "not revoked", o)
	}

	if n, err := s.RevokeOAuthSessions(ctx, family, storage.KindAccessToken, storage.KindRefreshToken); err != nil || n != 0 {
		t.Errorf("RevokeOAuthSessions(%q) again = %d, %v; want 0, nil", family, n, err)
	}
	if n, err := s.RevokeOAuthSessions(ctx, "req-unknown", storage.KindAccessToken); err != nil || n != 0 {
		t.Errorf("RevokeOAuthSessions(unknown request) = %d, %v; want 0, nil", n, err)
	}
	// Without kinds the call would revoke nothing, silently: a caller's
	// mistake, refused rather than mistaken for success.
	_, err = s.RevokeOAuthSessions(ctx, otherFamily)
	checkErr(t, "RevokeOAuthSessions(no kinds)", err, storage.ErrInvalid)
	for _, o := range untouched {
		checkOAuthSession(t, s, "after RevokeOAuthSessions(no kinds)", o)
	}
}

// testRevokeGrant ends a grant: its token sessions go inactive, the grant
// reads as revoked until its record expires, and another grant is untouched.
func testRevokeGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	const grant, other = "req-grant", "req-other"
	ended := []storage.OAuthSession{
		createOAuthSession(t, s, newOAuthSession(storage.KindAccessToken, grant, client.ID)),
		createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, grant, client.ID)),
	}
	untouched := []storage.OAuthSession{
		createOAuthSession(t, s, newOAuthSession(storage.KindOpenID, grant, client.ID)),
		createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, other, client.ID)),
	}
	if revoked, err := s.GrantRevoked(ctx, grant); err != nil || revoked {
		t.Fatalf("GrantRevoked(%q) before revocation = %v, %v; want false, nil", grant, revoked, err)
	}
	if err := s.RevokeGrant(ctx, grant, at(30)); err != nil {
		t.Fatalf("RevokeGrant(%q) error = %v", grant, err)
	}
	for _, o := range ended {
		o.Active = false
		checkOAuthSession(t, s, "revoked grant", o)
	}
	for _, o := range untouched {
		checkOAuthSession(t, s, "not revoked", o)
	}
	if revoked, err := s.GrantRevoked(ctx, grant); err != nil || !revoked {
		t.Errorf("GrantRevoked(%q) = %v, %v; want true, nil", grant, revoked, err)
	}
	if revoked, err := s.GrantRevoked(ctx, other); err != nil || revoked {
		t.Errorf("GrantRevoked(%q) = %v, %v; want false, nil", other, revoked, err)
	}
	// A grant without any session (client_credentials issues only a JWT)
	// can be revoked too, and revoking again is no error; the later expiry
	// wins, so the record outlives every token of the grant.
	if err := s.RevokeGrant(ctx, "req-stateless", at(10)); err != nil {
		t.Errorf("RevokeGrant(grant without sessions) error = %v", err)
	}
	if err := s.RevokeGrant(ctx, grant, at(20)); err != nil {
		t.Errorf("RevokeGrant(%q) again error = %v", grant, err)
	}
	if ids, err := s.RevokedGrants(ctx, at(10)); err != nil || !slices.Equal(slices.Sorted(slices.Values(ids)), []string{grant, "req-stateless"}) {
		t.Errorf("RevokedGrants(at(10)) = %v, %v; want both grants", ids, err)
	}
	if ids, err := s.RevokedGrants(ctx, at(11)); err != nil || !slices.Equal(ids, []string{grant}) {
		t.Errorf("RevokedGrants(at(11)) = %v, %v; want only %q (the other expired at(10))", ids, err, grant)
	}
	if _, err := s.DeleteExpiredOAuthSessions(ctx, at(25)); err != nil {
		t.Fatalf("DeleteExpiredOAuthSessions(at(25)) error = %v", err)
	}
	if revoked, err := s.GrantRevoked(ctx, "req-stateless"); err != nil || revoked {
		t.Errorf("GrantRevoked(expired record) = %v, %v; want false, nil", revoked, err)
	}
	if revoked, err := s.GrantRevoked(ctx, grant); err != nil || !revoked {
		t.Errorf("GrantRevoked(%q) after sweeping at(25) = %v, %v; want true (expires at(30))", grant, revoked, err)
	}
}

// testRevokeUserGrants ends every grant with a session of the subject:
// its token sessions go inactive and each grant reads as revoked; another
// subject's grants are untouched.
func testRevokeUserGrants(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	const user, other = "usr_revoked", "usr_other"
	session := func(kind storage.GrantKind, grant, subject string, active bool) storage.OAuthSession {
		o := newOAuthSession(kind, grant, client.ID)
		o.Subject, o.Active = subject, active
		return createOAuthSession(t, s, o)
	}
	ended := []storage.OAuthSession{
		session(storage.KindRefreshToken, "grant-a", user, true),
		session(storage.KindAccessToken, "grant-a", user, true),
	}
	used := session(storage.KindAuthorizeCode, "grant-b", user, false) // a JWT-only grant: its code is all that is left
	kept := session(storage.KindRefreshToken, "grant-c", other, true)

	n, err := s.RevokeUserGrants(ctx, user, at(30))
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserGrants(%q) = %d, %v; want 2 grants", user, n, err)
	}
	for _, o := range ended {
		o.Active = false
		checkOAuthSession(t, s, "revoked with the user's grants", o)
	}
	checkOAuthSession(t, s, "the used code", used)
	checkOAuthSession(t, s, "another user's grant", kept)
	for grant, want := range map[string]bool{"grant-a": true, "grant-b": true, "grant-c": false} {
		if got, err := s.GrantRevoked(ctx, grant); err != nil || got != want {
			t.Errorf("GrantRevoked(%q) = %v, %v; want %v", grant, got, err, want)
		}
	}
	if n, err := s.RevokeUserGrants(ctx, "usr_nobody", at(30)); err != nil || n != 0 {
		t.Errorf("RevokeUserGrants(unknown subject) = %d, %v; want 0, nil", n, err)
	}
}

// testDeleteExpiredOAuthSessions deletes the sessions that expired strictly
// before now, active or not, and nothing else.
func testDeleteExpiredOAuthSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	client := createClient(t, s, newClient())
	expiring := func(kind storage.GrantKind, m int, active bool) storage.OAuthSession {
		o := newOAuthSession(kind, "req-1", client.ID)
		o.ExpiresAt, o.Active = at(m), active
		return createOAuthSession(t, s, o)
	}
	expired := []storage.OAuthSession{
		expiring(storage.KindAuthorizeCode, 10, true),
		expiring(storage.KindRefreshToken, 19, false),
	}
	// at(20) has nanoseconds; stored, and compared, in microseconds, the
	// session expiring at(20) is not before at(20).
	kept := []storage.OAuthSession{
		expiring(storage.KindAccessToken, 20, true),
		expiring(storage.KindRefreshToken, 30, false),
	}

	n, err := s.DeleteExpiredOAuthSessions(ctx, at(20))
	if err != nil {
		t.Fatalf("DeleteExpiredOAuthSessions(at(20)) error = %v", err)
	}
	if n != int64(len(expired)) {
		t.Errorf("DeleteExpiredOAuthSessions(at(20)) = %d, want %d", n, len(expired))
	}
	for _, o := range expired {
		_, err := s.GetOAuthSession(ctx, o.Kind, o.Signature)
		checkErr(t, "GetOAuthSession(expired at "+o.ExpiresAt.String()+")", err, storage.ErrNotFound)
	}
	for _, o := range kept {
		checkOAuthSession(t, s, "not expired", o)
	}
	if n, err := s.DeleteExpiredOAuthSessions(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteExpiredOAuthSessions(at(20)) again = %d, %v; want 0, nil", n, err)
	}
}

// testDeleteClientCascades deletes a client: its tokens stop working and
// its consents go, while another client's stay.
func testDeleteClientCascades(t *testing.T, s storage.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("alice@example.com"))
	gone := createClient(t, s, newClient())
	keep := createClient(t, s, newClient())
	var goneSessions []storage.OAuthSession
	for _, kind := range allKinds {
		goneSessions = append(goneSessions, createOAuthSession(t, s, newOAuthSession(kind, "req-1", gone.ID)))
	}
	keptSession := createOAuthSession(t, s, newOAuthSession(storage.KindRefreshToken, "req-2", keep.ID))
	saveConsent(t, s, newConsent(alice.ID, gone.ID, "openid"))
	keptConsent := saveConsent(t, s, newConsent(alice.ID, keep.ID, "openid", "email"))

	if err := s.DeleteClient(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteClient(%q) with sessions and consents error = %v", gone.ID, err)
	}
	for _, o := range goneSessions {
		_, err := s.GetOAuthSession(ctx, o.Kind, o.Signature)
		checkErr(t, "GetOAuthSession("+string(o.Kind)+" of a deleted client)", err, storage.ErrNotFound)
	}
	_, err := s.GetConsent(ctx, alice.ID, gone.ID)
	checkErr(t, "GetConsent(deleted client)", err, storage.ErrNotFound)

	checkOAuthSession(t, s, "session of another client", keptSession)
	consents, err := s.ListConsents(ctx, alice.ID)
	if err != nil {
		t.Fatalf("ListConsents(%q) error = %v", alice.ID, err)
	}
	if d := diff([]storage.Consent{keptConsent}, consents); d != "" {
		t.Errorf("ListConsents(%q) after deleting a client mismatch (-want +got):\n%s", alice.ID, d)
	}
}
