package signin_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyerdev/foyer/storage"
)

// invite stores an invitation of email to a new organization "Acme" as
// role, as the admin API does, and returns the link's token.
func (e *accountEnv) invite(email, role string) (storage.Invitation, string) {
	e.t.Helper()
	ctx := e.t.Context()
	now := e.clock.Now()
	org, err := e.store.GetOrganizationBySlug(ctx, "acme")
	if err != nil {
		org, err = e.store.CreateOrganization(ctx, storage.Organization{
			ID: storage.NewID(storage.PrefixOrganization), Slug: "acme", Name: "Acme", CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	token, hash := e.svc.NewInvitationToken()
	inv, err := e.store.CreateInvitation(ctx, storage.Invitation{
		ID: storage.NewID(storage.PrefixInvitation), OrgID: org.ID, Email: email, Role: role,
		TokenHash: hash, InvitedBy: "cli_operator", CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return inv, token
}

func (e *accountEnv) membership(orgID, email string) (storage.Membership, error) {
	u, err := e.userByEmail(email)
	if err != nil {
		return storage.Membership{}, err
	}
	return e.store.GetMembership(e.t.Context(), orgID, u.ID)
}

// TestInvitationSignUp: the link shows who invites and as what, and
// consumes nothing (ML-04); "Accept and create an account" creates a
// verified account, the membership and a session, once (ML-02). Sign-up
// by invitation works in invite_only mode, which is its point.
func TestInvitationSignUp(t *testing.T) {
	for _, mode := range []string{"open", "invite_only"} {
		t.Run(mode, func(t *testing.T) {
			e := newAccountEnv(t, accountEnvOptions{signupMode: mode})
			inv, token := e.invite("new@example.com", "editor")
			b := e.browser(chromeLinux)
			for range 2 {
				page := b.get("/invitations/accept?token=" + token)
				if page.status != http.StatusOK || !strings.Contains(page.body, "<b>Acme</b> invited you as <b>editor</b>") ||
					!strings.Contains(page.body, `action="/invitations/accept/signup"`) {
					t.Fatalf("invitation page = %d:\n%s", page.status, page.body)
				}
			}
			if got, _ := e.store.GetInvitation(t.Context(), inv.ID); !got.Open() {
				t.Fatal("ML-04: opening the link used the invitation")
			}
			form := url.Values{"token": {token}, "name": {"New Person"}, "password": {"password123"}}
			r := b.post("/invitations/accept/signup", form)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "too common") {
				t.Errorf("LG-06: a common password = %d, want 400 saying so:\n%s", r.status, r.body)
			}
			form.Set("password", goodPassword)
			wantStatus(t, "accept and sign up", b.post("/invitations/accept/signup", form), http.StatusSeeOther, "/account")
			u, err := e.userByEmail("new@example.com")
			if err != nil || !u.EmailVerified || u.Name != "New Person" {
				t.Fatalf("the new account = %+v, %v; want it verified", u, err)
			}
			if m, err := e.membership(inv.OrgID, u.Email); err != nil || m.Role != "editor" {
				t.Errorf("membership = %+v, %v; want editor", m, err)
			}
			if !b.signedIn() {
				t.Error("accepting did not sign the new person in")
			}
			if len(e.mails()) != 0 {
				t.Error("sign-up by invitation sent an email; the invitation proved the address")
			}
			// ML-02: the link works once; then the page says so (410).
			if r := e.browser(firefoxWin).get("/invitations/accept?token=" + token); r.status != http.StatusGone {
				t.Errorf("used link = %d, want 410", r.status)
			}
		})
	}
}

// TestInvitationSignupDisabled: with sign-up disabled, the invitation of
// an address without an account offers no form and the POST refuses.
func TestInvitationSignupDisabled(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{signupMode: "disabled"})
	_, token := e.invite("new@example.com", "member")
	b := e.browser(chromeLinux)
	page := b.get("/invitations/accept?token=" + token)
	if page.status != http.StatusOK || strings.Contains(page.body, `action="/invitations/accept/signup"`) || !strings.Contains(page.body, "does not accept new accounts") {
		t.Errorf("invitation page with sign-up disabled = %d:\n%s", page.status, page.body)
	}
	r := b.post("/invitations/accept/signup", url.Values{"token": {token}, "password": {goodPassword}})
	if r.status != http.StatusConflict {
		t.Errorf("POST sign-up with sign-up disabled = %d, want 409", r.status)
	}
	if _, err := e.userByEmail("new@example.com"); err != errNoUser {
		t.Errorf("sign-up disabled, yet the invitation created a user (%v)", err)
	}
}

// TestInvitationExistingAccount: the invited address has an account. Not
// signed in, the page sends to sign-in carrying only the token (ML-07),
// never joining the account by email alone (MT-06); signed in
// as that address, Accept adds the membership; signed in as someone else,
// the page says so and Accept is refused. CSRF guards the POST (SC-03).
func TestInvitationExistingAccount(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	ada := e.createUser("ada@example.com", goodPassword)
	bob := e.createUser("bob@example.com", goodPassword)
	inv, token := e.invite("Ada@Example.com", "admin")

	anon := e.browser(chromeLinux)
	page := anon.get("/invitations/accept?token=" + token)
	if !strings.Contains(page.body, `href="/login?invitation=`+token+`"`) {
		t.Errorf("not signed in: want a sign-in link carrying the token:\n%s", page.body)
	}
	login := anon.get("/login?invitation=" + token)
	if !strings.Contains(login.body, `name="invitation" value="`+token+`"`) {
		t.Errorf("the sign-in page lost the invitation:\n%s", login.body)
	}
	// Signing in returns to the invitation, never elsewhere (ML-07).
	r := anon.post("/login/password", url.Values{"email": {ada.Email}, "password": {goodPassword}, "invitation": {token}})
	wantStatus(t, "sign in to accept", r, http.StatusSeeOther, "/invitations/accept?token="+token)
	r = anon.post("/login/password", url.Values{"email": {ada.Email}, "password": {goodPassword}, "invitation": {"https://evil.example/"}})
	wantStatus(t, "sign in with a junk invitation", r, http.StatusSeeOther, "/account")

	other := e.browser(firefoxWin)
	other.signIn(bob.ID, e.clock.Now())
	page = other.get("/invitations/accept?token=" + token)
	if !strings.Contains(page.body, "signed in as <b>bob@example.com</b>") || strings.Contains(page.body, `action="/invitations/accept"`) {
		t.Errorf("signed in as someone else: want the page to say so, without Accept:\n%s", page.body)
	}
	if r := other.post("/invitations/accept", url.Values{"token": {token}}); r.status != http.StatusForbidden {
		t.Errorf("Accept as someone else = %d, want 403", r.status)
	}

	page = anon.get("/invitations/accept?token=" + token)
	if !strings.Contains(page.body, `action="/invitations/accept"`) {
		t.Fatalf("signed in as the invited address: want Accept:\n%s", page.body)
	}
	if r := anon.postRaw("/invitations/accept", url.Values{"token": {token}}, nil); r.status != http.StatusForbidden {
		t.Errorf("SC-03: Accept without the CSRF token = %d, want 403", r.status)
	}
	if got, _ := e.store.GetInvitation(t.Context(), inv.ID); !got.Open() {
		t.Fatal("a refused Accept used the invitation")
	}
	wantStatus(t, "accept", anon.post("/invitations/accept", url.Values{"token": {token}}), http.StatusSeeOther, "/account")
	if m, err := e.store.GetMembership(t.Context(), inv.OrgID, ada.ID); err != nil || m.Role != "admin" {
		t.Errorf("membership = %+v, %v; want admin", m, err)
	}
	if r := anon.post("/invitations/accept", url.Values{"token": {token}}); r.status != http.StatusGone {
		t.Errorf("ML-02: Accept again = %d, want 410", r.status)
	}
}

// TestInvitationML02ConcurrentAccept: of simultaneous Accepts of one
// invitation exactly one succeeds.
func TestInvitationML02ConcurrentAccept(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	ada := e.createUser("ada@example.com", goodPassword)
	_, token := e.invite("ada@example.com", "member")
	const n = 8
	browsers := make([]*accountBrowser, n)
	for i := range browsers {
		browsers[i] = e.browser(chromeLinux)
		browsers[i].signIn(ada.ID, e.clock.Now())
		browsers[i].csrfToken()
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() { statuses[i] = b.post("/invitations/accept", url.Values{"token": {token}}).status })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			ok++
		case http.StatusGone:
		default:
			t.Errorf("concurrent Accept = %d, want 303 or 410", s)
		}
	}
	if ok != 1 {
		t.Errorf("ML-02: %d of %d concurrent Accepts succeeded, want 1 (%v)", ok, n, statuses)
	}
}

// TestInvitationLinkErrors: a junk or unknown token is 400; a revoked or
// expired invitation is 410, with a page that says so.
func TestInvitationLinkErrors(t *testing.T) {
	e := newAccountEnv(t, accountEnvOptions{})
	b := e.browser(chromeLinux)
	for _, token := range []string{"", "junk", strings.Repeat("A", 43)} {
		if r := b.get("/invitations/accept?token=" + token); r.status != http.StatusBadRequest {
			t.Errorf("token %q = %d, want 400", token, r.status)
		}
	}
	inv, token := e.invite("new@example.com", "member")
	if _, err := e.store.RevokeInvitation(t.Context(), inv.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/invitations/accept?token=" + token); r.status != http.StatusGone || !strings.Contains(r.body, "no longer valid") {
		t.Errorf("revoked = %d, want 410:\n%s", r.status, r.body)
	}
	_, token = e.invite("late@example.com", "member")
	e.clock.Advance(7*24*time.Hour + time.Second)
	if r := b.get("/invitations/accept?token=" + token); r.status != http.StatusGone {
		t.Errorf("expired = %d, want 410", r.status)
	}
	r := b.post("/invitations/accept/signup", url.Values{"token": {token}, "password": {goodPassword}})
	if r.status != http.StatusGone {
		t.Errorf("sign-up on an expired invitation = %d, want 410", r.status)
	}
}
