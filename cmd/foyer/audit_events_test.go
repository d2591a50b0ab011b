package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml/samlidp"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/audit"
	ssosaml "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/storage"
)

// The security events of issue 9, recorded by the features as a person,
// an identity provider, a client or the operator acts on the wired server,
// read back from the audit log; and never a secret in any entry.

// auditEntries is the whole audit log, newest first.
func auditEntries(t *testing.T, store storage.AuditLog) []storage.AuditEntry {
	t.Helper()
	es, err := store.ListAuditEntries(t.Context(), storage.AuditQuery{Limit: storage.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// auditWant is an entry a test expects: every field set must match, and
// every key of Details must have that value in the entry's details.
type auditWant struct {
	Type, ActorType, ActorID, UserID, OrgID, TargetType, TargetID, Reason string
	Details                                                               map[string]any
	// Offline: made by the CLI or the server itself, with no request, so
	// no IP and user agent.
	Offline bool
}

func (w auditWant) matches(e storage.AuditEntry) bool {
	if e.Type != w.Type || e.ActorType != w.ActorType || e.ActorID != w.ActorID || e.UserID != w.UserID ||
		e.OrgID != w.OrgID || e.Reason != w.Reason ||
		(w.TargetType != "" && e.TargetType != w.TargetType) || (w.TargetID != "" && e.TargetID != w.TargetID) {
		return false
	}
	var got map[string]any
	if err := json.Unmarshal(e.Details, &got); err != nil && len(w.Details) > 0 {
		return false
	}
	for k, v := range w.Details {
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(got[k])
		if string(a) != string(b) {
			return false
		}
	}
	return true
}

// wantAudit checks that the log holds n entries like w (n < 0: at least
// one), each with the client's IP and user agent unless offline, and
// returns the newest.
func wantAudit(t *testing.T, store storage.AuditLog, what string, n int, w auditWant) storage.AuditEntry {
	t.Helper()
	var found []storage.AuditEntry
	var sameType []string
	for _, e := range auditEntries(t, store) {
		if e.Type == w.Type {
			sameType = append(sameType, fmt.Sprintf("%+v details=%s", e, e.Details))
		}
		if w.matches(e) {
			found = append(found, e)
		}
	}
	if len(found) == 0 || n >= 0 && len(found) != n {
		t.Errorf("%s: %d entries like %+v, want %d; entries of type %s:\n%s", what, len(found), w, n, w.Type, strings.Join(sameType, "\n"))
		return storage.AuditEntry{}
	}
	for _, e := range found {
		if w.Offline != (e.IP == "") || w.Offline != (e.UserAgent == "") {
			t.Errorf("%s: entry %s has IP %q and user agent %q (offline %v)", what, e.ID, e.IP, e.UserAgent, w.Offline)
		}
		if !w.Offline && e.IP != "127.0.0.1" {
			t.Errorf("%s: entry %s has IP %q, want the client's, 127.0.0.1", what, e.ID, e.IP)
		}
	}
	return found[0]
}

// countAudit counts the entries of type typ.
func countAudit(t *testing.T, store storage.AuditLog, typ string) int {
	t.Helper()
	n := 0
	for _, e := range auditEntries(t, store) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// noSecretsInAudit checks that no entry's JSON contains any of secrets
// (passwords, codes, tokens, keys), in any case.
func noSecretsInAudit(t *testing.T, store storage.AuditLog, secrets map[string]string) {
	t.Helper()
	es := auditEntries(t, store)
	if len(es) == 0 {
		t.Error("the audit log is empty")
	}
	for _, e := range es {
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ToLower(string(raw))
		for what, secret := range secrets {
			if len(secret) >= 6 && strings.Contains(text, strings.ToLower(secret)) {
				t.Errorf("audit entry %s (%s) holds the %s: %s", e.ID, e.Type, what, raw)
			}
		}
	}
}

var sidRE = regexp.MustCompile(`name="sid" value="([^"]+)"`)

// TestAuditSignInEvents: the sign-in and account pages record each
// sign-in (with its method and amr) and each failure with its reason, the
// account lockout, sign-out (on the account page and at the end-session
// endpoint), a password changed or reset, and a session ended from the
// account page, on both backends. An email typed for no account is not
// kept, and no password, link token or cookie is.
func TestAuditSignInEvents(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			e.clock.Stop() // locks last until the test moves on
			defer e.clock.Start()
			alice := e.user(t, e.email)
			const wrong, changed, reset = "not the password at all", "a changed pass phrase", "a reset pass phrase"
			secrets := map[string]string{"password": e.pass, "wrong password": wrong, "new password": changed, "reset password": reset}
			mails := 0

			// A password sign-in.
			laptop := newBrowser(t)
			if r := e.passwordSignIn(t, laptop, e.email, e.pass); r.status != http.StatusSeeOther {
				t.Fatalf("password sign-in = %v", r)
			}
			for _, c := range laptop.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.issuer, "http://")}) {
				secrets["cookie "+c.Name] = c.Value
			}
			wantAudit(t, e.store, "password sign-in", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "pwd", "amr": []string{"pwd"}}})

			// A wrong password, of an account that exists and of none.
			if r := e.passwordSignIn(t, newBrowser(t), e.email, wrong); r.status != http.StatusUnauthorized {
				t.Fatalf("a wrong password = %v", r)
			}
			wantAudit(t, e.store, "wrong password", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				UserID: alice.ID, Reason: "bad_password", Details: map[string]any{"method": "pwd"}})
			const ghost = "ghost.nobody@example.com"
			if r := e.passwordSignIn(t, newBrowser(t), ghost, wrong); r.status != http.StatusUnauthorized {
				t.Fatalf("an unknown account = %v", r)
			}
			wantAudit(t, e.store, "unknown account", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				Reason: "unknown_account", Details: map[string]any{"method": "pwd"}})
			secrets["email of no account"] = ghost

			// LG-03: the fifth wrong password locks the account (for a
			// second, doubling), and the next attempt is refused unchecked.
			bob := e.createUser(t, "bob@example.com", "bob's pass phrase", true)
			for i := range 5 {
				if r := e.passwordSignIn(t, newBrowser(t), bob.Email, wrong); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong password %d for bob = %v", i+1, r)
				}
			}
			wantAudit(t, e.store, "bob's wrong passwords", 5, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				UserID: bob.ID, Reason: "bad_password", Details: map[string]any{"method": "pwd"}})
			wantAudit(t, e.store, "the lockout", 1, auditWant{Type: audit.AccountLocked, ActorType: storage.ActorAnonymous,
				UserID: bob.ID, Reason: "too_many_failed_passwords", Details: map[string]any{"factor": "password", "locked_for_seconds": 1}})
			if r := e.passwordSignIn(t, newBrowser(t), bob.Email, "bob's pass phrase"); r.status != http.StatusTooManyRequests {
				t.Fatalf("the right password while locked = %v, want 429", r)
			}
			wantAudit(t, e.store, "locked", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				UserID: bob.ID, Reason: "locked", Details: map[string]any{"method": "pwd"}})

			// A magic link, used, then used again.
			phone := newBrowser(t)
			mails++
			link := e.newLink(t, phone, e.loginPage(t, phone), e.email, mails)
			secrets["magic link token"] = strings.TrimPrefix(linkPath(t, link), "/login/link?token=")
			page := e.fetch(t, phone, http.MethodGet, linkPath(t, link), nil)
			if r := e.post(t, phone, "/login/link", page.body, nil); r.status != http.StatusSeeOther {
				t.Fatalf("using the link = %v", r)
			}
			wantAudit(t, e.store, "magic link", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "magic_link", "amr": []string{"email"}}})
			if r := e.post(t, phone, "/login/link", page.body, nil); r.status != http.StatusGone {
				t.Fatalf("the link used again = %v, want 410", r)
			}
			wantAudit(t, e.store, "used link", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				UserID: alice.ID, Reason: "link_used", Details: map[string]any{"method": "magic_link"}})

			// The laptop ends the phone's session from the account page.
			account := e.fetch(t, laptop, http.MethodGet, "/account", nil)
			sids := sidRE.FindAllStringSubmatch(account.body, -1)
			if len(sids) != 2 {
				t.Fatalf("the account page lists %d sessions, want 2:\n%s", len(sids), account.body)
			}
			phoneSID := sids[1][1] // this device's is listed first
			if r := e.post(t, laptop, "/account/sessions/end", account.body, url.Values{"sid": {phoneSID}}); r.status != http.StatusSeeOther {
				t.Fatalf("ending the phone's session = %v", r)
			}
			wantAudit(t, e.store, "session ended", 1, auditWant{Type: audit.SessionRevoked, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, TargetType: "session", TargetID: phoneSID})

			// The password changed on the account page (a recent sign-in).
			account = e.fetch(t, laptop, http.MethodGet, "/account", nil)
			if r := e.post(t, laptop, "/account/password", account.body, url.Values{"new_password": {changed}}); r.status != http.StatusSeeOther {
				t.Fatalf("change password = %v", r)
			}
			mails++
			wantAudit(t, e.store, "password changed", 1, auditWant{Type: audit.PasswordChanged, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID})

			// A reset from another browser, which signs in.
			tablet := newBrowser(t)
			forgot := e.fetch(t, tablet, http.MethodGet, "/forgot-password", nil)
			if r := e.post(t, tablet, "/forgot-password", forgot.body, url.Values{"email": {e.email}}); r.status != http.StatusSeeOther {
				t.Fatalf("POST /forgot-password = %v", r)
			}
			mails++
			resetLink := e.mail.Wait(t, mails)[mails-1].Link(t)
			secrets["reset link token"] = strings.TrimPrefix(linkPath(t, resetLink), "/reset-password?token=")
			resetPage := e.fetch(t, tablet, http.MethodGet, linkPath(t, resetLink), nil)
			if r := e.post(t, tablet, "/reset-password", resetPage.body, url.Values{"password": {reset}}); r.status != http.StatusSeeOther {
				t.Fatalf("POST /reset-password = %v", r)
			}
			wantAudit(t, e.store, "password reset", 1, auditWant{Type: audit.PasswordReset, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID})
			wantAudit(t, e.store, "signed in by the reset", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "password_reset", "amr": []string{"email"}}})

			// Sign-out on the account page, and at the end-session endpoint
			// after confirming.
			signedIn := e.fetch(t, tablet, http.MethodGet, "/account", nil)
			if r := e.post(t, tablet, "/account/sign-out", signedIn.body, nil); r.status != http.StatusSeeOther {
				t.Fatalf("sign out = %v", r)
			}
			wantAudit(t, e.store, "sign-out", 1, auditWant{Type: audit.SignOut, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, TargetType: "session"})
			desk := newBrowser(t)
			if r := e.passwordSignIn(t, desk, e.email, reset); r.status != http.StatusSeeOther {
				t.Fatalf("sign-in with the new password = %v", r)
			}
			ask := e.fetch(t, desk, http.MethodGet, "/oauth2/logout", nil)
			if r := e.post(t, desk, "/oauth2/logout", ask.body, nil); r.status != http.StatusOK {
				t.Fatalf("confirming the sign-out = %v", r)
			}
			wantAudit(t, e.store, "end-session sign-out", 1, auditWant{Type: audit.SignOut, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, TargetType: "session", Details: map[string]any{"via": "end_session_endpoint"}})

			// The right password of an address never verified.
			carol := e.createUser(t, "carol@example.com", "carol's pass phrase", false)
			if r := e.passwordSignIn(t, newBrowser(t), carol.Email, "carol's pass phrase"); r.status != http.StatusForbidden {
				t.Fatalf("an unverified account = %v", r)
			}
			wantAudit(t, e.store, "unverified", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				UserID: carol.ID, Reason: "email_unverified", Details: map[string]any{"method": "pwd"}})

			noSecretsInAudit(t, e.store, secrets)
		})
	}
}

// TestAuditMFAEvents: the second factor records an authenticator app and
// recovery codes set up, used, failing (and locking), regenerated and
// removed; a passkey added, used as the second factor, used alone (and
// refused), and removed; and each sign-in it finishes with every factor's
// amr. No TOTP secret or code, recovery code or public key is recorded.
func TestAuditMFAEvents(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnvAt(t, backend, "localhost")
			e.clock.Stop()
			defer e.clock.Start()
			alice := e.user(t, e.email)
			secrets := map[string]string{"password": e.pass}

			b := newBrowser(t)
			if resp := e.signInAsAlice(t, b); resp.Request.URL.Path != "/account" {
				t.Fatalf("first sign-in ended at %s", resp.Request.URL)
			}
			secret, codes := e.enrolTOTP(t, b)
			secrets["TOTP secret"] = secret
			for i, c := range codes {
				secrets[fmt.Sprintf("recovery code %d", i)] = c
				secrets[fmt.Sprintf("recovery code %d, bare", i)] = strings.ReplaceAll(c, "-", "")
			}
			byAlice := func(typ, factor string, more map[string]any) auditWant {
				d := map[string]any{"factor": factor}
				for k, v := range more {
					d[k] = v
				}
				return auditWant{Type: typ, ActorType: storage.ActorUser, ActorID: alice.ID, UserID: alice.ID, Details: d}
			}
			wantAudit(t, e.store, "app set up", 1, byAlice(audit.MFAEnrolled, "totp", nil))
			wantAudit(t, e.store, "recovery codes made", 1, byAlice(audit.MFAEnrolled, "recovery_codes", map[string]any{"count": 10}))

			// A wrong code, then the right one.
			b2 := newBrowser(t)
			page := e.secondFactor(t, b2)
			if r := e.post(t, b2, "/login/second-factor", page, url.Values{"code": {"000000"}}); r.status != http.StatusUnauthorized {
				t.Fatalf("a wrong code = %v", r)
			}
			wantAudit(t, e.store, "wrong code", 1, auditWant{Type: audit.MFAFailed, ActorType: storage.ActorAnonymous,
				UserID: alice.ID, Reason: "wrong_code", Details: map[string]any{"factor": "totp"}})
			e.clock.Advance(30 * time.Second)
			code := totpCode(t, secret, e.clock.Now())
			secrets["TOTP code"] = code
			if r := e.post(t, b2, "/login/second-factor", page, url.Values{"code": {code}}); r.status != http.StatusSeeOther {
				t.Fatalf("the right code = %v", r)
			}
			wantAudit(t, e.store, "code used", 1, byAlice(audit.MFAUsed, "totp", nil))
			wantAudit(t, e.store, "sign-in after the code", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "pwd", "factor": "totp", "amr": []string{"pwd", "otp", "mfa"}}})

			// A recovery code.
			b3 := newBrowser(t)
			e.secondFactor(t, b3)
			rec := e.fetch(t, b3, http.MethodGet, "/login/second-factor?method=recovery", nil)
			if r := e.post(t, b3, "/login/second-factor", rec.body, url.Values{"code": {codes[0]}}); r.status != http.StatusOK {
				t.Fatalf("a recovery code = %v", r)
			}
			wantAudit(t, e.store, "recovery code used", 1, byAlice(audit.MFAUsed, "recovery_code", nil))
			wantAudit(t, e.store, "recovery code spent", 1, byAlice(audit.RecoveryCodeUsed, "recovery_code", map[string]any{"remaining": 9}))
			wantAudit(t, e.store, "sign-in after the recovery code", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "pwd", "factor": "recovery_code", "amr": []string{"pwd", "otp", "mfa"}}})

			// TO-02: the fifth wrong code locks the account's codes; the
			// sign-in's own limit then refuses the sixth.
			b4 := newBrowser(t)
			page = e.secondFactor(t, b4)
			for i := range 5 {
				if r := e.post(t, b4, "/login/second-factor", page, url.Values{"code": {"123456"}}); r.status != http.StatusUnauthorized {
					t.Fatalf("wrong code %d = %v", i+1, r)
				}
			}
			wantAudit(t, e.store, "code lockout", 1, auditWant{Type: audit.AccountLocked, ActorType: storage.ActorAnonymous,
				UserID: alice.ID, Reason: "too_many_wrong_codes", Details: map[string]any{"factor": "totp", "locked_for_seconds": 30}})
			if r := e.post(t, b4, "/login/second-factor", page, url.Values{"code": {"123456"}}); r.status != http.StatusTooManyRequests {
				t.Fatalf("a sixth code = %v, want 429", r)
			}
			wantAudit(t, e.store, "too many codes", 1, auditWant{Type: audit.MFAFailed, ActorType: storage.ActorAnonymous,
				UserID: alice.ID, Reason: "too_many_attempts", Details: map[string]any{"factor": "totp"}})
			e.clock.Advance(time.Minute) // past the lock

			// A passkey added from the security page (a recent sign-in).
			key := newSoftKey(t, e.issuer, "localhost")
			csrf := e.csrfOf(t, b2, "/account/security")
			st, opts := e.passkeyCall(t, b2, "/mfa/passkey/register/options", csrf, nil)
			if st != http.StatusOK {
				t.Fatalf("register options = %d %s", st, opts)
			}
			if st, out := e.passkeyCall(t, b2, "/mfa/passkey/register", csrf, key.create(t, opts, ceremony{})); st != http.StatusOK {
				t.Fatalf("registering = %d %s", st, out)
			}
			pk, err := e.store.GetPasskey(t.Context(), key.id)
			if err != nil {
				t.Fatal(err)
			}
			keyID := base64.RawURLEncoding.EncodeToString(key.id)
			pub, _ := key.key.PublicKey.Bytes()
			secrets["passkey public key"] = base64.RawURLEncoding.EncodeToString(pub[1:33])
			secrets["passkey public key, std"] = base64.StdEncoding.EncodeToString(pub[1:33])
			added := byAlice(audit.PasskeyAdded, "", nil)
			added.Details, added.TargetType, added.TargetID = map[string]any{"name": pk.Name}, "passkey", keyID
			wantAudit(t, e.store, "passkey added", 1, added)

			// The passkey as the second factor.
			b5 := newBrowser(t)
			e.secondFactor(t, b5)
			csrf5 := e.csrfOf(t, b5, "/login/second-factor")
			st, opts = e.passkeyCall(t, b5, "/mfa/passkey/second-factor/options", csrf5, nil)
			if st != http.StatusOK {
				t.Fatalf("second-factor options = %d %s", st, opts)
			}
			if st, out := e.passkeyCall(t, b5, "/mfa/passkey/second-factor", csrf5, key.get(t, opts, ceremony{})); st != http.StatusOK {
				t.Fatalf("the passkey as second factor = %d %s", st, out)
			}
			wantAudit(t, e.store, "passkey used", 1, byAlice(audit.MFAUsed, "passkey", nil))
			wantAudit(t, e.store, "sign-in after the passkey", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "pwd", "factor": "passkey", "amr": []string{"pwd", "hwk", "mfa"}}})

			// Passwordless: signed in; an unknown credential and another
			// user's handle refused.
			login := func(k *softKey, c ceremony) (int, []byte) {
				t.Helper()
				b := newBrowser(t)
				csrf := e.csrfOf(t, b, "/login")
				st, opts := e.passkeyCall(t, b, "/mfa/passkey/login/options", csrf, nil)
				if st != http.StatusOK {
					t.Fatalf("login options = %d %s", st, opts)
				}
				return e.passkeyCall(t, b, "/mfa/passkey/login", csrf, k.get(t, opts, c))
			}
			if st, out := login(key, ceremony{}); st != http.StatusOK {
				t.Fatalf("passwordless sign-in = %d %s", st, out)
			}
			wantAudit(t, e.store, "passwordless sign-in", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: alice.ID, UserID: alice.ID, Details: map[string]any{"method": "passkey", "amr": []string{"hwk", "mfa"}}})
			stranger := newSoftKey(t, e.issuer, "localhost")
			stranger.user = []byte(alice.ID)
			if st, _ := login(stranger, ceremony{}); st != http.StatusBadRequest {
				t.Errorf("an unknown credential = %d, want 400", st)
			}
			wantAudit(t, e.store, "unknown credential", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				Reason: "unknown_credential", Details: map[string]any{"method": "passkey"}})
			bob := e.createUser(t, "bob@example.com", "bob's pass phrase", true)
			if st, _ := login(key, ceremony{user: []byte(bob.ID)}); st != http.StatusBadRequest {
				t.Errorf("another user's handle = %d, want 400", st)
			}
			wantAudit(t, e.store, "another user's handle", 1, auditWant{Type: audit.SignInFailed, ActorType: storage.ActorAnonymous,
				Reason: "user_mismatch", Details: map[string]any{"method": "passkey"}})

			// New recovery codes, then the passkey and the app removed: the
			// codes go with the last factor.
			sec := e.fetch(t, b2, http.MethodGet, "/account/security", nil)
			again := e.post(t, b2, "/account/security/recovery-codes", sec.body, nil)
			for i, m := range recoveryCodeRE.FindAllStringSubmatch(again.body, -1) {
				secrets[fmt.Sprintf("new recovery code %d", i)] = m[1]
			}
			wantAudit(t, e.store, "recovery codes made again", 2, byAlice(audit.MFAEnrolled, "recovery_codes", map[string]any{"count": 10}))
			sec = e.fetch(t, b2, http.MethodGet, "/account/security", nil)
			if r := e.post(t, b2, "/account/security/passkeys/delete", sec.body, url.Values{"id": {keyID}}); r.status != http.StatusSeeOther {
				t.Fatalf("deleting the passkey = %v", r)
			}
			removed := byAlice(audit.PasskeyRemoved, "", nil)
			removed.Details, removed.TargetType, removed.TargetID = map[string]any{"name": pk.Name}, "passkey", keyID
			wantAudit(t, e.store, "passkey removed", 1, removed)
			sec = e.fetch(t, b2, http.MethodGet, "/account/security", nil)
			if r := e.post(t, b2, "/account/security/totp/delete", sec.body, nil); r.status != http.StatusSeeOther {
				t.Fatalf("turning the app off = %v", r)
			}
			wantAudit(t, e.store, "app removed", 1, byAlice(audit.MFARemoved, "totp", nil))
			wantAudit(t, e.store, "recovery codes dropped", 1, byAlice(audit.MFARemoved, "recovery_codes", nil))

			noSecretsInAudit(t, e.store, secrets)
		})
	}
}

// TestAuditSAMLRefusals: every response the service provider refuses is
// recorded with the check that refused it, the organization and the
// connection; a sign-in, SP- or IdP-initiated, with method saml. Nothing
// of the assertion (subject, attributes) is kept.
func TestAuditSAMLRefusals(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSAMLEnv(t, backend, ssosaml.Mapping{}, false)
			ctx := t.Context()
			e.idp.addUser(t, "eve", "eve@elsewhere.example", "Eve", "Outsider")
			start := func(b *http.Client, name string) (string, url.Values) {
				t.Helper()
				resp, err := b.Get(e.issuer + ssosaml.StartPath(e.conn.ID, ""))
				if err != nil {
					t.Fatal(err)
				}
				return e.toIdP(t, b, resp, name)
			}
			post := func(b *http.Client, acs string, form url.Values) int {
				t.Helper()
				resp, err := b.PostForm(acs, form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			refused := func(what, reason string, n int) {
				t.Helper()
				wantAudit(t, e.store, what, n, auditWant{Type: audit.SAMLAssertionRefused, ActorType: storage.ActorAnonymous,
					OrgID: e.acme.ID, TargetType: "saml_connection", TargetID: e.conn.ID, Reason: reason})
			}
			var responses []string

			// A sign-in.
			b := newBrowser(t)
			acs, form := start(b, "ada")
			responses = append(responses, form.Get("SAMLResponse"))
			if st := post(b, acs, form); st != http.StatusOK {
				t.Fatalf("the ACS = %d", st)
			}
			ada, err := e.store.GetUserByEmail(ctx, "ada@corp.example")
			if err != nil {
				t.Fatal(err)
			}
			wantAudit(t, e.store, "SAML sign-in", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: ada.ID, UserID: ada.ID, OrgID: e.acme.ID, TargetType: "saml_connection", TargetID: e.conn.ID,
				Details: map[string]any{"method": "saml", "amr": []string{"ext"}, "idp_initiated": false}})

			// SP-01: unsigned.
			b = newBrowser(t)
			acs, form = start(b, "ada")
			raw, _ := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
			unsigned := regexp.MustCompile(`(?s)<ds:Signature.*?</ds:Signature>`).ReplaceAllString(string(raw), "")
			form.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(unsigned)))
			if st := post(b, acs, form); st != http.StatusBadRequest {
				t.Errorf("unsigned = %d", st)
			}
			refused("SP-01 unsigned", "invalid_response", 1)

			// SP-10: another browser's request; the same response again.
			acs, form = start(newBrowser(t), "ada")
			responses = append(responses, form.Get("SAMLResponse"))
			if st := post(newBrowser(t), acs, form); st != http.StatusBadRequest {
				t.Errorf("another browser's = %d", st)
			}
			refused("SP-10 another browser", "not_requested_here", 1)

			// SP-14: the sign-in expired.
			b = newBrowser(t)
			acs, form = start(b, "ada")
			e.clock.Advance(11 * time.Minute)
			if st := post(b, acs, form); st != http.StatusBadRequest {
				t.Errorf("expired = %d", st)
			}
			refused("SP-14 expired", "request_expired", 1)

			// SP-13: oversized; not base64.
			if st := post(newBrowser(t), acs, url.Values{"SAMLResponse": {strings.Repeat("A", 300<<10)}}); st != http.StatusBadRequest {
				t.Errorf("oversized = %d", st)
			}
			refused("SP-13 oversized", "response_missing", 1)
			if st := post(newBrowser(t), acs, url.Values{"SAMLResponse": {"%%% not base64 %%%"}}); st != http.StatusBadRequest {
				t.Errorf("not base64 = %d", st)
			}
			refused("SP-13 not base64", "response_malformed", 1)

			// MT-07: a domain the connection does not claim.
			b = newBrowser(t)
			acs, form = start(b, "eve")
			responses = append(responses, form.Get("SAMLResponse"))
			if st := post(b, acs, form); st != http.StatusBadRequest {
				t.Errorf("unclaimed domain = %d", st)
			}
			refused("MT-07 unclaimed domain", "domain_not_claimed", 1)

			// SP-11, SP-12: IdP-initiated, confirmed; its response again.
			if _, err := e.store.UpdateSAMLConnection(ctx, e.conn.ID, func(c storage.SAMLConnection) (storage.SAMLConnection, error) {
				c.AllowIDPInitiated = true
				return c, nil
			}); err != nil {
				t.Fatal(err)
			}
			shortcut, _ := json.Marshal(samlidp.Shortcut{Name: "foyer", ServiceProviderID: e.issuer + "/sso/" + e.conn.ID + "/metadata"})
			e.idp.put(t, "/shortcuts/foyer", "application/json", shortcut)
			b = newBrowser(t)
			resp, err := b.PostForm(e.idp.base+"/login", url.Values{"user": {"ada"}, "password": {"idp password"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp, err = b.Get(e.idp.base + "/login/foyer"); err != nil {
				t.Fatal(err)
			}
			acs, form = idpFields(t, read(t, resp))
			responses = append(responses, form.Get("SAMLResponse"))
			resp, err = b.PostForm(acs, form)
			if err != nil {
				t.Fatal(err)
			}
			confirm := read(t, resp)
			if resp, err = b.PostForm(e.issuer+"/sso/"+e.conn.ID+"/confirm", hidden(confirm)); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wantAudit(t, e.store, "IdP-initiated sign-in", 1, auditWant{Type: audit.SignInSucceeded, ActorType: storage.ActorUser,
				ActorID: ada.ID, UserID: ada.ID, OrgID: e.acme.ID, TargetType: "saml_connection", TargetID: e.conn.ID,
				Details: map[string]any{"method": "saml", "idp_initiated": true}})
			if st := post(newBrowser(t), acs, form); st != http.StatusBadRequest {
				t.Errorf("the IdP-initiated response again = %d", st)
			}
			refused("SP-11 replayed", "assertion_replayed", 1)

			secrets := map[string]string{"subject": "ada@corp.example", "eve's address": "eve@elsewhere.example", "name": "Lovelace"}
			for i, r := range responses {
				secrets[fmt.Sprintf("response %d", i)] = r[:64]
			}
			noSecretsInAudit(t, e.store, secrets)
		})
	}
}

// TestAuditRefreshReuse: a rotated refresh token presented again ends
// its grant and is recorded, naming the client and the person; a token of
// a grant revoked already (a password reset) is refused without a record.
// No token is recorded.
func TestAuditRefreshReuse(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newOIDCEnv(t, backend)
			ctx := t.Context()
			alice, err := e.store.GetUserByEmail(ctx, e.email)
			if err != nil {
				t.Fatal(err)
			}
			provider, err := oidc.NewProvider(ctx, e.issuer)
			if err != nil {
				t.Fatal(err)
			}
			conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, Endpoint: provider.Endpoint(),
				RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}}
			tokens := func(consent bool) *oauth2.Token {
				t.Helper()
				pkce := oauth2.GenerateVerifier()
				loc := e.signIn(t, newBrowser(t), conf.AuthCodeURL("state-reuse", oauth2.S256ChallengeOption(pkce)), consent)
				tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			tok := tokens(true)
			fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if err != nil {
				t.Fatal(err)
			}
			if countAudit(t, e.store, audit.RefreshTokenReused) != 0 {
				t.Error("a refresh was recorded as reuse")
			}
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("reuse = %v, want invalid_grant", err)
			}
			reuse := auditWant{Type: audit.RefreshTokenReused, ActorType: storage.ActorClient, ActorID: e.web.id, UserID: alice.ID,
				TargetType: "grant", Reason: "refresh_token_reused", Details: map[string]any{"client_id": e.web.id}}
			wantAudit(t, e.store, "reuse", 1, reuse)
			// The family is gone: its tokens again record nothing more.
			for _, rt := range []string{tok.RefreshToken, fresh.RefreshToken} {
				if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token(); err == nil {
					t.Error("a refresh token of the revoked family still works")
				}
			}
			wantAudit(t, e.store, "reuse, after the family ended", 1, reuse)

			// A grant ended by a password reset (RevokeUserGrants).
			second := tokens(false)
			if _, err := e.store.RevokeUserGrants(ctx, alice.ID, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: second.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("a revoked grant's refresh = %v, want invalid_grant", err)
			}
			if n := countAudit(t, e.store, audit.RefreshTokenReused); n != 1 {
				t.Errorf("%d reuse entries after a revoked grant's refresh, want still 1", n)
			}

			noSecretsInAudit(t, e.store, map[string]string{
				"refresh token": tok.RefreshToken, "rotated refresh token": fresh.RefreshToken,
				"access token": tok.AccessToken, "second refresh token": second.RefreshToken,
				"client secret": e.web.secret, "password": e.pass,
			})
		})
	}
}

// TestAuditKeyRotation: `foyer keys rotate` records key.rotated by the CLI
// and a scheduled rotation records it by the system, naming the keys,
// never their private parts.
func TestAuditKeyRotation(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			store, env := openTestStore(t, backend)
			r := foyer(t, t.TempDir(), append(env, "FOYER_ENCRYPTION_KEY="+testEncryptionKey), "keys", "rotate", "--force", "--json")
			if r.code != 0 {
				t.Fatalf("keys rotate --force: exit %d, %s", r.code, r.stderr)
			}
			var ks []cliKey
			if err := json.Unmarshal([]byte(r.stdout), &ks); err != nil {
				t.Fatal(err)
			}
			kid := func(ks []cliKey, state string) string {
				i := slices.IndexFunc(ks, func(k cliKey) bool { return k.State == state })
				if i < 0 {
					return ""
				}
				return ks[i].KID
			}
			active, retired := kid(ks, "active"), kid(ks, "retired")
			wantAudit(t, store, "keys rotate", 1, auditWant{Type: audit.KeyRotated, ActorType: storage.ActorCLI,
				TargetType: "signing_key", TargetID: active, Offline: true,
				Details: map[string]any{"retired_kid": retired, "activated_kid": active, "force": true}})

			// A rotation period of a millisecond: the next refresh rotates.
			cfg := testConfig(t)
			cfg.Secrets.EncryptionKey = testEncryptionKey
			cfg.Keys.RotationPeriod, cfg.Keys.Prepublish = time.Millisecond, time.Millisecond
			key, err := cfg.Secrets.Key()
			if err != nil {
				t.Fatal(err)
			}
			m, err := newAuditedKeyManager(cfg, key, store, discard(), nil, audit.New(store, time.Now, discard()))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			if err := m.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			set, err := m.Current()
			if err != nil {
				t.Fatal(err)
			}
			now, _, _ := set.Signer()
			wantAudit(t, store, "scheduled rotation", 1, auditWant{Type: audit.KeyRotated, ActorType: storage.ActorSystem,
				TargetType: "signing_key", TargetID: now, Offline: true,
				Details: map[string]any{"retired_kid": active, "activated_kid": now, "scheduled": true}})

			stored, err := store.ListSigningKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			secrets := map[string]string{}
			for _, k := range stored {
				secrets["sealed key "+k.ID] = base64.StdEncoding.EncodeToString(k.SealedKey)[:32]
			}
			noSecretsInAudit(t, store, secrets)
		})
	}
}
