package storagetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// eventTests cover the transactional outbox of events: every change writes
// exactly its event in its own transaction, and dispatchers turn events
// into deliveries once each.
func eventTests() []test {
	return []test{
		{"UserEvents", testUserEvents},
		{"UserUpdateWithoutVisibleChangeWritesNoEvent", testUserUnchangedNoEvent},
		{"OrganizationEvents", testOrganizationEvents},
		{"MembershipEvents", testMembershipEvents},
		{"InvitationEvents", testInvitationEvents},
		{"SessionEvents", testSessionEvents},
		{"ExpiredSessionEvents", testExpiredSessionEvents},
		{"FailedChangesWriteNoEvent", testFailedChangesNoEvent},
		{"RolledBackChangesLeaveNoEvent", testEventsRollback},
		{"CommittedChangesKeepEvents", testEventsCommit},
		{"GetAndList", testGetListEvents},
		{"Dispatch", testDispatchEvents},
		{"DispatchLimitOldestFirst", testDispatchLimit},
		{"ConcurrentDispatchersNeverShare", testConcurrentDispatch},
		{"DeleteBefore", testDeleteEventsBefore},
	}
}

// eventSlack bounds how far an event's OccurredAt, stamped with the host's
// clock while the change is written, may lie outside the test's own
// reading of the clock around the change.
const eventSlack = 5 * time.Second

// allEvents lists every event, oldest first, page by page.
func allEvents(t *testing.T, s storage.Store) []storage.Event {
	t.Helper()
	const pageSize = 50
	var all []storage.Event
	after := ""
	for range 1000 { // a backend that ignores after would loop forever
		page, err := s.ListEvents(t.Context(), after, pageSize)
		if err != nil {
			t.Fatalf("ListEvents(after %q, %d) error = %v", after, pageSize, err)
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all
		}
		after = page[len(page)-1].ID
	}
	t.Fatalf("ListEvents pages never end")
	return nil
}

func eventIDs(evs []storage.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func eventTypes(evs []storage.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// eventWatch finds the events written since it last looked, by the IDs it
// has seen: other writers' events of the same microsecond cannot hide in
// the order.
type eventWatch struct {
	seen  map[string]bool
	start time.Time
	all   []storage.Event // every event check returned, for checkNoSecrets
}

func watchEvents(t *testing.T, s storage.Store) *eventWatch {
	t.Helper()
	w := &eventWatch{seen: map[string]bool{}}
	for _, ev := range allEvents(t, s) {
		w.seen[ev.ID] = true
	}
	w.start = time.Now()
	return w
}

// fresh returns the events written since the last look, oldest first.
func (w *eventWatch) fresh(t *testing.T, s storage.Store) []storage.Event {
	t.Helper()
	var out []storage.Event
	for _, ev := range allEvents(t, s) {
		if !w.seen[ev.ID] {
			w.seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// wantEvent is an event a change must write: its type, organization and
// payload, as the payload type of that event (storage.UserData, …).
type wantEvent struct {
	typ   string
	orgID string
	data  any
}

// check compares the events written since the last look with want, in any
// order, and checks each: an evt_ ID, a time of the change in UTC, not yet
// dispatched, and the same from GetEvent.
func (w *eventWatch) check(t *testing.T, s storage.Store, call string, want ...wantEvent) []storage.Event {
	t.Helper()
	got := w.fresh(t, s)
	end := time.Now()
	w.all = append(w.all, got...)

	used := make([]bool, len(got))
	for _, we := range want {
		match, firstDiff := -1, ""
		for i, ev := range got {
			if used[i] || ev.Type != we.typ {
				continue
			}
			data := reflect.New(reflect.TypeOf(we.data))
			d := ""
			if err := json.Unmarshal(ev.Data, data.Interface()); err != nil {
				d = fmt.Sprintf("Data %s does not decode into %T: %v", ev.Data, we.data, err)
			} else {
				d = diff(we.data, data.Elem().Interface())
			}
			if ev.OrgID != we.orgID {
				d += fmt.Sprintf("OrgID = %q, want %q\n", ev.OrgID, we.orgID)
			}
			if d == "" {
				match = i
				break
			}
			if firstDiff == "" {
				match, firstDiff = -(i + 2), d // remember the first candidate
			}
		}
		switch {
		case match >= 0:
			used[match] = true
		case firstDiff != "":
			used[-match-2] = true
			t.Errorf("%s: %s event mismatch (-want +got):\n%s", call, we.typ, firstDiff)
		default:
			t.Errorf("%s: no %s event; new events %q", call, we.typ, eventTypes(got))
		}
	}
	for i, ev := range got {
		if !used[i] {
			t.Errorf("%s: unexpected %s event (org %q): %s", call, ev.Type, ev.OrgID, ev.Data)
		}
		checkNewEvent(t, s, call, ev, w.start, end)
	}
	w.start = time.Now()
	return got
}

// checkNewEvent checks what every undispatched event has.
func checkNewEvent(t *testing.T, s storage.Store, call string, ev storage.Event, start, end time.Time) {
	t.Helper()
	if !strings.HasPrefix(ev.ID, storage.PrefixEvent) || len(ev.ID) <= len(storage.PrefixEvent) {
		t.Errorf("%s: %s event ID = %q, want %s…", call, ev.Type, ev.ID, storage.PrefixEvent)
	}
	if ev.OccurredAt.Before(start.Add(-eventSlack)) || ev.OccurredAt.After(end.Add(eventSlack)) {
		t.Errorf("%s: %s event OccurredAt = %v, want the time of the change (%v to %v)", call, ev.Type, ev.OccurredAt, start, end)
	}
	if ev.OccurredAt.Location() != time.UTC {
		t.Errorf("%s: %s event OccurredAt location = %v, want UTC", call, ev.Type, ev.OccurredAt.Location())
	}
	if !ev.DispatchedAt.IsZero() {
		t.Errorf("%s: %s event DispatchedAt = %v, want zero (not dispatched)", call, ev.Type, ev.DispatchedAt)
	}
	got, err := s.GetEvent(t.Context(), ev.ID)
	if err != nil {
		t.Errorf("%s: GetEvent(%q) error = %v", call, ev.ID, err)
	} else if d := diff(ev, got); d != "" {
		t.Errorf("%s: GetEvent(%q) differs from ListEvents (-list +get):\n%s", call, ev.ID, d)
	}
}

// checkNoSecrets checks that no event's JSON contains any of secrets.
func checkNoSecrets(t *testing.T, evs []storage.Event, secrets ...string) {
	t.Helper()
	for _, ev := range evs {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(string(ev.Data), secret) {
				t.Errorf("%s event data %s contains the secret %q", ev.Type, ev.Data, secret)
			}
		}
	}
}

// The payloads the events of the stored records carry, written out here
// rather than with storage.New*Event, so that a mistake there shows too.

func userData(u storage.User) storage.UserData {
	u = storedUser(u)
	return storage.UserData{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		HasPassword: u.PasswordHash != "", Admin: u.Admin, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func orgData(o storage.Organization) storage.OrganizationData {
	o = storedOrg(o)
	//lint:ignore S1016 written out field by field, like the other payloads: a conversion would pass whatever fields the two types share.
	return storage.OrganizationData{
		ID: o.ID, Slug: o.Slug, Name: o.Name, LogoURL: o.LogoURL, BrandColor: o.BrandColor,
		RequireMFA: o.RequireMFA, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

func membershipData(m storage.Membership) storage.MembershipData {
	m = storedMembership(m)
	return storage.MembershipData{OrganizationID: m.OrgID, UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

func invitationData(i storage.Invitation) storage.InvitationData {
	i = storedInvitation(i)
	d := storage.InvitationData{
		ID: i.ID, OrganizationID: i.OrgID, Email: i.Email, Role: i.Role, InvitedBy: i.InvitedBy,
		CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt,
	}
	if !i.AcceptedAt.IsZero() {
		d.AcceptedAt = &i.AcceptedAt
	}
	if !i.RevokedAt.IsZero() {
		d.RevokedAt = &i.RevokedAt
	}
	return d
}

func sessionData(b storage.BrowserSession, expired bool) storage.SessionData {
	b = storedBrowserSession(b)
	return storage.SessionData{
		ID: b.SID, UserID: b.UserID, OrganizationID: b.OrgID, AMR: b.AMR, IP: b.IP, UserAgent: b.UserAgent,
		CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt, Expired: expired,
	}
}

// uniqueEmail returns an address no other record of the test has.
func uniqueEmail() string {
	return strings.ToLower(storage.NewID("")) + "@example.com"
}

// testUserEvents: creating, changing and deleting a user each write their
// event, of no organization, with the user as stored and without the
// password hash.
func testUserEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	w := watchEvents(t, s)
	u := newUser("Ada@Example.com")
	u.EmailVerified = true
	createUser(t, s, u)
	w.check(t, s, "CreateUser", wantEvent{storage.EventUserCreated, "", userData(u)})

	changes := []struct {
		name   string
		change func(*storage.User)
	}{
		{"name", func(u *storage.User) { u.Name = "Ada Lovelace" }},
		{"admin and email", func(u *storage.User) { u.Admin, u.Email, u.EmailVerified = true, "ada@lovelace.example", false }},
		{"password removed", func(u *storage.User) { u.PasswordHash = "" }},
	}
	for i, tc := range changes {
		next := u
		tc.change(&next)
		next.UpdatedAt = at(i + 1)
		if _, err := s.UpdateUser(ctx, u.ID, func(storage.User) (storage.User, error) { return next, nil }); err != nil {
			t.Fatalf("UpdateUser(%s) error = %v", tc.name, err)
		}
		w.check(t, s, "UpdateUser("+tc.name+")", wantEvent{storage.EventUserUpdated, "", userData(next)})
		u = next
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser() error = %v", err)
	}
	w.check(t, s, "DeleteUser", wantEvent{storage.EventUserDeleted, "", userData(u)})
	checkNoSecrets(t, w.all, newUser("").PasswordHash)
}

// testUserUnchangedNoEvent: an update that changes nothing a user event
// shows writes no event (storage.UserChanged), a new password hash alone
// included; losing the password shows, as has_password.
func testUserUnchangedNoEvent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("ada@example.com"))
	w := watchEvents(t, s)

	if _, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) { return u, nil }); err != nil {
		t.Fatalf("UpdateUser(no change) error = %v", err)
	}
	w.check(t, s, "UpdateUser(no change)")

	rehashed := "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdA$bmV3aGFzaA"
	if _, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.PasswordHash = rehashed
		return u, nil
	}); err != nil {
		t.Fatalf("UpdateUser(rehash) error = %v", err)
	}
	w.check(t, s, "UpdateUser(new password hash only)")

	want := u
	want.PasswordHash = ""
	if _, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.PasswordHash = ""
		return u, nil
	}); err != nil {
		t.Fatalf("UpdateUser(no password) error = %v", err)
	}
	w.check(t, s, "UpdateUser(password removed)", wantEvent{storage.EventUserUpdated, "", userData(want)})
	checkNoSecrets(t, w.all, u.PasswordHash, rehashed)
}

func testOrganizationEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	w := watchEvents(t, s)
	o := newOrg("acme")
	o.LogoURL, o.BrandColor, o.RequireMFA = "https://acme.example/logo.png", "#1a2b3c", true
	createOrg(t, s, o)
	w.check(t, s, "CreateOrganization", wantEvent{storage.EventOrganizationCreated, o.ID, orgData(o)})

	next := o
	next.Name, next.RequireMFA, next.UpdatedAt = "Acme Corporation", false, at(5)
	if _, err := s.UpdateOrganization(ctx, o.ID, func(storage.Organization) (storage.Organization, error) { return next, nil }); err != nil {
		t.Fatalf("UpdateOrganization() error = %v", err)
	}
	w.check(t, s, "UpdateOrganization", wantEvent{storage.EventOrganizationUpdated, o.ID, orgData(next)})

	if err := s.DeleteOrganization(ctx, o.ID); err != nil {
		t.Fatalf("DeleteOrganization() error = %v", err)
	}
	w.check(t, s, "DeleteOrganization", wantEvent{storage.EventOrganizationDeleted, o.ID, orgData(next)})
}

func testMembershipEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	org := createOrg(t, s, newOrg("acme"))
	u := createUser(t, s, newUser("ada@example.com"))
	w := watchEvents(t, s)

	m := newMembership(org.ID, u.ID, storage.RoleMember)
	createMembership(t, s, m)
	w.check(t, s, "CreateMembership", wantEvent{storage.EventMembershipCreated, org.ID, membershipData(m)})

	next := m
	next.Role, next.UpdatedAt = "editor", at(5)
	if _, err := s.UpdateMembership(ctx, org.ID, u.ID, func(storage.Membership) (storage.Membership, error) { return next, nil }); err != nil {
		t.Fatalf("UpdateMembership() error = %v", err)
	}
	w.check(t, s, "UpdateMembership(role)", wantEvent{storage.EventMembershipUpdated, org.ID, membershipData(next)})

	if err := s.DeleteMembership(ctx, org.ID, u.ID); err != nil {
		t.Fatalf("DeleteMembership() error = %v", err)
	}
	w.check(t, s, "DeleteMembership", wantEvent{storage.EventMembershipDeleted, org.ID, membershipData(next)})
}

// testInvitationEvents: each step of an invitation writes its event, a
// newer invitation also the revocation of the one it supersedes, and no
// event holds a token hash.
func testInvitationEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	org := createOrg(t, s, newOrg("acme"))
	w := watchEvents(t, s)

	first := newInvitation(org.ID, "new@example.com")
	createInvitation(t, s, first)
	w.check(t, s, "CreateInvitation", wantEvent{storage.EventInvitationCreated, org.ID, invitationData(first)})

	second := newInvitation(org.ID, "NEW@Example.com")
	second.CreatedAt = at(1)
	createInvitation(t, s, second)
	superseded := first
	superseded.RevokedAt = second.CreatedAt
	w.check(t, s, "CreateInvitation(superseding)",
		wantEvent{storage.EventInvitationRevoked, org.ID, invitationData(superseded)},
		wantEvent{storage.EventInvitationCreated, org.ID, invitationData(second)})

	newHash := storage.NewID("hash_")
	if _, err := s.ResendInvitation(ctx, second.ID, newHash, at(20)); err != nil {
		t.Fatalf("ResendInvitation() error = %v", err)
	}
	resent := second
	resent.ExpiresAt = at(20)
	w.check(t, s, "ResendInvitation", wantEvent{storage.EventInvitationResent, org.ID, invitationData(resent)})

	if _, err := s.AcceptInvitation(ctx, second.ID, at(2)); err != nil {
		t.Fatalf("AcceptInvitation() error = %v", err)
	}
	accepted := resent
	accepted.AcceptedAt = at(2)
	w.check(t, s, "AcceptInvitation", wantEvent{storage.EventInvitationAccepted, org.ID, invitationData(accepted)})

	third := newInvitation(org.ID, "other@example.com")
	third.InvitedBy = ""
	createInvitation(t, s, third)
	w.check(t, s, "CreateInvitation(another email)", wantEvent{storage.EventInvitationCreated, org.ID, invitationData(third)})
	if _, err := s.RevokeInvitation(ctx, third.ID, at(3)); err != nil {
		t.Fatalf("RevokeInvitation() error = %v", err)
	}
	revoked := third
	revoked.RevokedAt = at(3)
	w.check(t, s, "RevokeInvitation", wantEvent{storage.EventInvitationRevoked, org.ID, invitationData(revoked)})

	checkNoSecrets(t, w.all, first.TokenHash, second.TokenHash, newHash, third.TokenHash)
}

// testSessionEvents: a browser session's start and end write events with
// its public sid, never its ID (the hash of its cookie); using a session
// writes none.
func testSessionEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("ada@example.com"))
	w := watchEvents(t, s)

	b := newBrowserSession(u.ID, 0)
	createBrowserSession(t, s, b)
	w.check(t, s, "CreateBrowserSession", wantEvent{storage.EventSessionCreated, b.OrgID, sessionData(b, false)})

	bare := newBrowserSession(u.ID, 1)
	bare.AMR, bare.OrgID, bare.IP, bare.UserAgent = nil, "", "", ""
	createBrowserSession(t, s, bare)
	w.check(t, s, "CreateBrowserSession(no organization, methods or client details)",
		wantEvent{storage.EventSessionCreated, "", sessionData(bare, false)})

	if _, err := s.UpdateBrowserSession(ctx, b.ID, func(b storage.BrowserSession) (storage.BrowserSession, error) {
		b.LastSeenAt = at(5)
		return b, nil
	}); err != nil {
		t.Fatalf("UpdateBrowserSession() error = %v", err)
	}
	w.check(t, s, "UpdateBrowserSession(seen again)")

	if err := s.DeleteBrowserSession(ctx, b.ID); err != nil {
		t.Fatalf("DeleteBrowserSession() error = %v", err)
	}
	w.check(t, s, "DeleteBrowserSession", wantEvent{storage.EventSessionEnded, b.OrgID, sessionData(b, false)})
	checkNoSecrets(t, w.all, b.ID, bare.ID)
}

// testExpiredSessionEvents: the sessions DeleteExpiredBrowserSessions
// removes end as expired; the others write nothing.
func testExpiredSessionEvents(t *testing.T, s storage.Store) {
	u := createUser(t, s, newUser("ada@example.com"))
	session := func(lastSeen, expires int) storage.BrowserSession {
		b := newBrowserSession(u.ID, 0)
		b.LastSeenAt, b.ExpiresAt = at(lastSeen), at(expires)
		return createBrowserSession(t, s, b)
	}
	expired := session(50, 90) // absolute expiry passed
	idle := session(10, 500)   // not seen since before the cut-off
	live := session(60, 500)
	w := watchEvents(t, s)

	n, err := s.DeleteExpiredBrowserSessions(t.Context(), at(100), at(30))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredBrowserSessions(now at(100), idle before at(30)) = %d, %v; want 2, nil", n, err)
	}
	w.check(t, s, "DeleteExpiredBrowserSessions",
		wantEvent{storage.EventSessionEnded, expired.OrgID, sessionData(expired, true)},
		wantEvent{storage.EventSessionEnded, idle.OrgID, sessionData(idle, true)})
	checkNoSecrets(t, w.all, expired.ID, idle.ID, live.ID)
}

// testFailedChangesNoEvent: a change that is refused writes no event.
func testFailedChangesNoEvent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("ada@example.com"))
	org := createOrg(t, s, newOrg("acme"))
	createMembership(t, s, newMembership(org.ID, u.ID, storage.RoleMember))
	inv := createInvitation(t, s, newInvitation(org.ID, "new@example.com"))
	if _, err := s.RevokeInvitation(ctx, inv.ID, at(1)); err != nil {
		t.Fatalf("RevokeInvitation() error = %v", err)
	}
	w := watchEvents(t, s)
	missingUser := storage.NewID(storage.PrefixUser)
	takenID := newUser("other@example.com")
	takenID.ID = u.ID
	errAbort := fmt.Errorf("abort")

	tests := []struct {
		call string
		do   func() error
	}{
		{"CreateUser(taken email)", func() error { _, err := s.CreateUser(ctx, newUser("ADA@example.com")); return err }},
		{"CreateUser(taken ID)", func() error { _, err := s.CreateUser(ctx, takenID); return err }},
		{"UpdateUser(closure fails)", func() error {
			_, err := s.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
				u.Name = "Changed"
				return u, errAbort
			})
			return err
		}},
		{"UpdateUser(missing)", func() error {
			_, err := s.UpdateUser(ctx, missingUser, func(u storage.User) (storage.User, error) { return u, nil })
			return err
		}},
		{"DeleteUser(missing)", func() error { return s.DeleteUser(ctx, missingUser) }},
		{"CreateOrganization(taken slug)", func() error { _, err := s.CreateOrganization(ctx, newOrg("acme")); return err }},
		{"UpdateOrganization(closure fails)", func() error {
			_, err := s.UpdateOrganization(ctx, org.ID, func(o storage.Organization) (storage.Organization, error) {
				o.Name = "Changed"
				return o, errAbort
			})
			return err
		}},
		{"CreateMembership(already a member)", func() error {
			_, err := s.CreateMembership(ctx, newMembership(org.ID, u.ID, "editor"))
			return err
		}},
		{"UpdateMembership(unknown role)", func() error {
			_, err := s.UpdateMembership(ctx, org.ID, u.ID, func(m storage.Membership) (storage.Membership, error) {
				m.Role = "no-such-role"
				return m, nil
			})
			return err
		}},
		{"DeleteMembership(missing)", func() error { return s.DeleteMembership(ctx, org.ID, missingUser) }},
		{"CreateInvitation(unknown organization)", func() error {
			_, err := s.CreateInvitation(ctx, newInvitation(storage.NewID(storage.PrefixOrganization), "x@example.com"))
			return err
		}},
		{"RevokeInvitation(revoked)", func() error { _, err := s.RevokeInvitation(ctx, inv.ID, at(2)); return err }},
		{"AcceptInvitation(revoked)", func() error { _, err := s.AcceptInvitation(ctx, inv.ID, at(2)); return err }},
		{"ResendInvitation(revoked)", func() error {
			_, err := s.ResendInvitation(ctx, inv.ID, storage.NewID("hash_"), at(20))
			return err
		}},
		{"CreateBrowserSession(missing user)", func() error {
			_, err := s.CreateBrowserSession(ctx, newBrowserSession(missingUser, 0))
			return err
		}},
		{"DeleteBrowserSession(missing)", func() error { return s.DeleteBrowserSession(ctx, "no-such-session") }},
	}
	for _, tc := range tests {
		if err := tc.do(); err == nil {
			t.Errorf("%s error = nil, want the change refused", tc.call)
		}
		w.check(t, s, tc.call)
	}
}

// testEventsRollback: the events of changes in a transaction that rolls
// back are gone with the changes.
func testEventsRollback(t *testing.T, s storage.Store) {
	w := watchEvents(t, s)
	ctx := beginTx(t, s)
	u, err := s.CreateUser(ctx, newUser("ada@example.com"))
	if err != nil {
		t.Fatalf("CreateUser(in a transaction) error = %v", err)
	}
	o, err := s.CreateOrganization(ctx, newOrg("acme"))
	if err != nil {
		t.Fatalf("CreateOrganization(in a transaction) error = %v", err)
	}
	if err := s.Rollback(ctx); err != nil {
		t.Fatalf("Rollback() error = %v", err)
	}
	_, err = s.GetUser(t.Context(), u.ID)
	checkErr(t, "GetUser(after the rollback)", err, storage.ErrNotFound)
	_, err = s.GetOrganization(t.Context(), o.ID)
	checkErr(t, "GetOrganization(after the rollback)", err, storage.ErrNotFound)
	w.check(t, s, "CreateUser and CreateOrganization, rolled back")
}

// testEventsCommit: the events of changes in a transaction appear with
// them at the commit, not before.
func testEventsCommit(t *testing.T, s storage.Store) {
	w := watchEvents(t, s)
	ctx := beginTx(t, s)
	u := newUser("ada@example.com")
	if _, err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser(in a transaction) error = %v", err)
	}
	o := newOrg("acme")
	if _, err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatalf("CreateOrganization(in a transaction) error = %v", err)
	}
	// Another connection sees neither the records nor their events yet.
	if got := w.fresh(t, s); len(got) != 0 {
		t.Errorf("events outside the transaction before Commit = %q, want none", eventTypes(got))
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	if _, err := s.GetUser(t.Context(), u.ID); err != nil {
		t.Errorf("GetUser(after the commit) error = %v", err)
	}
	if _, err := s.GetOrganization(t.Context(), o.ID); err != nil {
		t.Errorf("GetOrganization(after the commit) error = %v", err)
	}
	w.check(t, s, "CreateUser and CreateOrganization, committed",
		wantEvent{storage.EventUserCreated, "", userData(u)},
		wantEvent{storage.EventOrganizationCreated, o.ID, orgData(o)})
}

// testGetListEvents: ListEvents orders by (OccurredAt, ID) and pages after
// an event; GetEvent and ListEvents refuse unknown IDs.
func testGetListEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for range 5 {
		createUser(t, s, newUser(uniqueEmail()))
	}
	all := allEvents(t, s)
	if len(all) != 5 {
		t.Fatalf("ListEvents() = %d events, want 5", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b storage.Event) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	}) {
		t.Errorf("ListEvents() not ordered by (OccurredAt, ID): %v", all)
	}
	ids := eventIDs(all)
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, ids[:2]},
		{ids[1], 2, ids[2:4]},
		{ids[3], 2, ids[4:]},
		{ids[4], 2, nil},
		{ids[0], 100, ids[1:]},
	} {
		got, err := s.ListEvents(ctx, tc.after, tc.limit)
		if err != nil {
			t.Errorf("ListEvents(%q, %d) error = %v", tc.after, tc.limit, err)
			continue
		}
		if d := diff(tc.want, eventIDs(got)); d != "" {
			t.Errorf("ListEvents(%q, %d) IDs mismatch (-want +got):\n%s", tc.after, tc.limit, d)
		}
	}
	_, err := s.ListEvents(ctx, storage.NewID(storage.PrefixEvent), 10)
	checkErr(t, "ListEvents(after an unknown event)", err, storage.ErrNotFound)

	got, err := s.GetEvent(ctx, all[2].ID)
	if err != nil {
		t.Errorf("GetEvent() error = %v", err)
	} else if d := diff(all[2], got); d != "" {
		t.Errorf("GetEvent() mismatch (-want +got):\n%s", d)
	}
	_, err = s.GetEvent(ctx, storage.NewID(storage.PrefixEvent))
	checkErr(t, "GetEvent(unknown)", err, storage.ErrNotFound)
}

// createUserEvent creates a user and returns the one event that writes.
func createUserEvent(t *testing.T, s storage.Store) storage.Event {
	t.Helper()
	w := watchEvents(t, s)
	createUser(t, s, newUser(uniqueEmail()))
	evs := w.fresh(t, s)
	if len(evs) != 1 || evs[0].Type != storage.EventUserCreated {
		t.Fatalf("CreateUser() wrote events %q, want one %s", eventTypes(evs), storage.EventUserCreated)
	}
	return evs[0]
}

// dispatch dispatches the undispatched events at now, giving event ev.ID
// the deliveries byEvent[ev.ID] (with their EventID set) and the others
// none, and returns how many it dispatched.
func dispatch(t *testing.T, s storage.Store, now time.Time, byEvent map[string][]storage.EventDelivery) int {
	t.Helper()
	n, err := s.DispatchEvents(t.Context(), now, 100, func(ev storage.Event) []storage.EventDelivery {
		ds := slices.Clone(byEvent[ev.ID])
		for i := range ds {
			ds[i].EventID = ev.ID
		}
		return ds
	})
	if err != nil {
		t.Fatalf("DispatchEvents(%v) error = %v", now, err)
	}
	return n
}

func checkDispatchedAt(t *testing.T, s storage.Store, call, id string, want time.Time) {
	t.Helper()
	ev, err := s.GetEvent(t.Context(), id)
	if err != nil {
		t.Errorf("%s: GetEvent(%q) error = %v", call, id, err)
		return
	}
	if !ev.DispatchedAt.Equal(want) {
		t.Errorf("%s: GetEvent(%q).DispatchedAt = %v, want %v", call, id, ev.DispatchedAt, want)
	}
}

// testDispatchEvents: DispatchEvents hands route each undispatched event
// once, oldest first, stores the deliveries route returns as they are, and
// marks the events dispatched; a second call finds nothing.
func testDispatchEvents(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	w := watchEvents(t, s)
	for range 3 {
		createUser(t, s, newUser(uniqueEmail()))
	}
	evs := w.fresh(t, s)

	var routed []storage.Event
	var deliveries []storage.EventDelivery
	route := func(ev storage.Event) []storage.EventDelivery {
		routed = append(routed, ev)
		ds := []storage.EventDelivery{newDelivery(ev.ID, ep.ID, 5), newDelivery(ev.ID, "", 5)}
		deliveries = append(deliveries, ds...)
		return ds
	}
	n, err := s.DispatchEvents(ctx, at(5), 10, route)
	if err != nil || n != 3 {
		t.Fatalf("DispatchEvents() = %d, %v; want 3, nil", n, err)
	}
	if d := diff(evs, routed); d != "" {
		t.Errorf("events route got (-undispatched events, oldest first +routed):\n%s", d)
	}
	for _, d := range deliveries {
		checkDelivery(t, s, "after DispatchEvents", storedDelivery(d))
	}
	for _, ev := range evs {
		checkDispatchedAt(t, s, "after DispatchEvents", ev.ID, stored(at(5)))
	}

	routed = nil
	if n, err := s.DispatchEvents(ctx, at(6), 10, route); err != nil || n != 0 || len(routed) != 0 {
		t.Errorf("DispatchEvents() again = %d, %v, routing %q; want 0, nil, none", n, err, eventIDs(routed))
	}
	for _, ev := range evs {
		checkDispatchedAt(t, s, "after a second DispatchEvents", ev.ID, stored(at(5)))
	}

	// An event nothing wants is dispatched all the same, with no delivery.
	ev := createUserEvent(t, s)
	n, err = s.DispatchEvents(ctx, at(7), 10, func(e storage.Event) []storage.EventDelivery {
		routed = append(routed, e)
		return nil
	})
	if err != nil || n != 1 || len(routed) != 1 || routed[0].ID != ev.ID {
		t.Errorf("DispatchEvents(route wants nothing) = %d, %v, routing %q; want 1, nil, %q", n, err, eventIDs(routed), ev.ID)
	}
	checkDispatchedAt(t, s, "after DispatchEvents(route wants nothing)", ev.ID, stored(at(7)))
	// The endpoint has the three deliveries of the first dispatch, no more.
	var want []string
	for _, d := range deliveries {
		if d.EndpointID == ep.ID {
			want = append(want, d.ID)
		}
	}
	got, err := s.ListDeliveries(ctx, storage.DeliveryQuery{EndpointID: ep.ID, Limit: 100})
	if err != nil {
		t.Fatalf("ListDeliveries() error = %v", err)
	}
	gotIDs := deliveryIDs(got)
	slices.Sort(want)
	slices.Sort(gotIDs)
	if d := diff(want, gotIDs); d != "" {
		t.Errorf("ListDeliveries(endpoint) IDs mismatch (-want +got):\n%s", d)
	}
}

// testDispatchLimit: a dispatcher takes the oldest undispatched events,
// no more than limit at a time.
func testDispatchLimit(t *testing.T, s storage.Store) {
	w := watchEvents(t, s)
	for range 5 {
		createUser(t, s, newUser(uniqueEmail()))
	}
	evs := w.fresh(t, s)
	var routed []string
	route := func(ev storage.Event) []storage.EventDelivery {
		routed = append(routed, ev.ID)
		return nil
	}
	n, err := s.DispatchEvents(t.Context(), at(5), 2, route)
	if err != nil || n != 2 {
		t.Fatalf("DispatchEvents(limit 2) = %d, %v; want 2, nil", n, err)
	}
	if d := diff(eventIDs(evs[:2]), routed); d != "" {
		t.Errorf("DispatchEvents(limit 2) routed (-oldest two +routed):\n%s", d)
	}
	routed = nil
	n, err = s.DispatchEvents(t.Context(), at(6), 10, route)
	if err != nil || n != 3 {
		t.Fatalf("DispatchEvents(the rest) = %d, %v; want 3, nil", n, err)
	}
	if d := diff(eventIDs(evs[2:]), routed); d != "" {
		t.Errorf("DispatchEvents(the rest) routed (-the other three +routed):\n%s", d)
	}
}

// testConcurrentDispatch: dispatchers (several Foyer instances) run at once
// until nothing is left; route sees every event exactly once, and each
// event gets its deliveries once.
func testConcurrentDispatch(t *testing.T, s storage.Store) {
	const events, dispatchers = 40, 4
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	w := watchEvents(t, s)
	for range events {
		createUser(t, s, newUser(uniqueEmail()))
	}
	evs := w.fresh(t, s)

	var mu sync.Mutex
	routed := map[string]int{}
	dispatched := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range dispatchers {
		wg.Go(func() {
			<-start // release all at once for the most overlap
			for {
				n, err := s.DispatchEvents(t.Context(), at(5), 3, func(ev storage.Event) []storage.EventDelivery {
					mu.Lock()
					routed[ev.ID]++
					mu.Unlock()
					return []storage.EventDelivery{newDelivery(ev.ID, ep.ID, 5)}
				})
				if err != nil {
					t.Errorf("DispatchEvents() error = %v", err)
					return
				}
				if n == 0 {
					return
				}
				mu.Lock()
				dispatched += n
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()

	if dispatched != events {
		t.Errorf("%d concurrent dispatchers dispatched %d events in all, want %d", dispatchers, dispatched, events)
	}
	for _, ev := range evs {
		if n := routed[ev.ID]; n != 1 {
			t.Errorf("event %s routed %d times, want once", ev.ID, n)
		}
		checkDispatchedAt(t, s, "after concurrent dispatchers", ev.ID, stored(at(5)))
	}
	if len(routed) != events {
		t.Errorf("route got %d distinct events, want %d", len(routed), events)
	}
	ds, err := s.ListDeliveries(t.Context(), storage.DeliveryQuery{EndpointID: ep.ID, Limit: 1000})
	if err != nil {
		t.Fatalf("ListDeliveries() error = %v", err)
	}
	perEvent := map[string]int{}
	for _, d := range ds {
		perEvent[d.EventID]++
	}
	for _, ev := range evs {
		if perEvent[ev.ID] != 1 {
			t.Errorf("event %s has %d stored deliveries, want 1", ev.ID, perEvent[ev.ID])
		}
	}
	if len(ds) != events {
		t.Errorf("ListDeliveries() = %d deliveries, want %d", len(ds), events)
	}
}

// testDeleteEventsBefore deletes the events dispatched before the cut-off
// none of whose deliveries is pending, with their deliveries; never an
// undispatched event or one with a pending delivery.
func testDeleteEventsBefore(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ep := createWebhookEndpoint(t, s, newWebhookEndpoint("", 0))
	done := createUserEvent(t, s)     // its deliveries finished
	waiting := createUserEvent(t, s)  // a delivery still pending
	unwanted := createUserEvent(t, s) // no delivery at all
	doneDs := []storage.EventDelivery{newDelivery("", ep.ID, 0), newDelivery("", "", 0)}
	waitingDs := []storage.EventDelivery{newDelivery("", ep.ID, 0), newDelivery("", "", 0)}
	if n := dispatch(t, s, at(10), map[string][]storage.EventDelivery{done.ID: doneDs, waiting.ID: waitingDs}); n != 3 {
		t.Fatalf("DispatchEvents(at(10)) = %d, want 3", n)
	}
	finishDelivery(t, s, doneDs[0].ID, storage.DeliveryDelivered, at(11))
	finishDelivery(t, s, doneDs[1].ID, storage.DeliveryFailed, at(11))
	finishDelivery(t, s, waitingDs[0].ID, storage.DeliveryDelivered, at(11))
	recent := createUserEvent(t, s) // dispatched at the cut-off
	if n := dispatch(t, s, at(20), nil); n != 1 {
		t.Fatalf("DispatchEvents(at(20)) = %d, want 1", n)
	}
	undispatched := createUserEvent(t, s)

	if n, err := s.DeleteEventsBefore(ctx, stored(at(20))); err != nil || n != 2 {
		t.Errorf("DeleteEventsBefore(at(20)) = %d, %v; want 2, nil", n, err)
	}
	for _, ev := range []storage.Event{done, unwanted} {
		_, err := s.GetEvent(ctx, ev.ID)
		checkErr(t, "GetEvent(deleted "+ev.ID+")", err, storage.ErrNotFound)
	}
	for _, d := range doneDs {
		_, err := s.GetDelivery(ctx, d.ID)
		checkErr(t, "GetDelivery(of a deleted event)", err, storage.ErrNotFound)
	}
	for _, ev := range []storage.Event{waiting, recent, undispatched} {
		if _, err := s.GetEvent(ctx, ev.ID); err != nil {
			t.Errorf("GetEvent(kept %s) error = %v", ev.ID, err)
		}
	}
	for _, d := range waitingDs {
		if _, err := s.GetDelivery(ctx, d.ID); err != nil {
			t.Errorf("GetDelivery(of a kept event) error = %v", err)
		}
	}
	if n, err := s.DeleteEventsBefore(ctx, stored(at(20))); err != nil || n != 0 {
		t.Errorf("DeleteEventsBefore(at(20)) again = %d, %v; want 0, nil", n, err)
	}

	// Once its last delivery ends, the waiting event goes too; the
	// undispatched one never does.
	finishDelivery(t, s, waitingDs[1].ID, storage.DeliveryFailed, at(12))
	if n, err := s.DeleteEventsBefore(ctx, stored(at(20))); err != nil || n != 1 {
		t.Errorf("DeleteEventsBefore(at(20)) after the last delivery = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.DeleteEventsBefore(ctx, at(100000)); err != nil || n != 1 {
		t.Errorf("DeleteEventsBefore(far future) = %d, %v; want 1 (the one dispatched at(20)), nil", n, err)
	}
	if d := diff([]string{undispatched.ID}, eventIDs(allEvents(t, s))); d != "" {
		t.Errorf("events left (-want +got):\n%s", d)
	}
}
