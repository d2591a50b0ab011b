package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const signInMethodsSubject = "Your sign-in methods changed"

// notices waits for the first n "Your sign-in methods changed" emails
// (other emails are skipped) and returns them, failing the test when they
// take longer than 20 s (the worker polls every second).
func (e *signinEnv) notices(t *testing.T, n int) []email {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		var got []email
		for _, m := range e.mail.Messages() {
			if m.Subject == signInMethodsSubject {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-e.mail.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%d sign-in methods notices arrived, want %d", len(got), n)
		}
	}
}

// checkNotice checks the n-th notice (1-based) went to alice, says what
// changed and when (UTC), and sends a stranger to the security page.
func (e *signinEnv) checkNotice(t *testing.T, n int, rule string, want ...string) email {
	t.Helper()
	m := e.notices(t, n)[n-1]
	if m.To != e.email {
		t.Errorf("%s: notice %d went to %q, want %q", rule, n, m.To, e.email)
	}
	for _, w := range append(want, " UTC", "change your password", "\n"+e.issuer+"/account/security\n") {
		if !strings.Contains(m.Text, w) {
			t.Errorf("%s: notice %d lacks %q:\n%s", rule, n, w, m.Text)
		}
	}
	return m
}

// TestSecondFactorNotices (TO-04, TO-06): turning an authenticator app on
// or off, using a recovery code and making new ones each email the
// person, and no email carries the TOTP secret or a recovery code.
// Passkeys added and deleted are checked in TestPasskeyChecks.
func TestSecondFactorNotices(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			e.clock.Stop()
			defer e.clock.Start()
			b := newBrowser(t)
			if resp := e.signInAsAlice(t, b); resp.Request.URL.Path != "/account" {
				t.Fatalf("first sign-in ended at %s", resp.Request.URL)
			}

			// TO-04: the app turned on.
			secret, codes := e.enrolTOTP(t, b)
			e.checkNotice(t, 1, "TO-04 app on", "An authenticator app was set up")

			// TO-06: a recovery code used at sign-in, with how many are left.
			b2 := newBrowser(t)
			e.secondFactor(t, b2)
			rec := e.fetch(t, b2, "GET", "/login/second-factor?method=recovery", nil)
			if r := e.post(t, b2, "/login/second-factor", rec.body, url.Values{"code": {codes[0]}}); r.status != http.StatusOK {
				t.Fatalf("TO-06: a recovery code = %v", r)
			}
			e.checkNotice(t, 2, "TO-06 recovery code used", "A recovery code was used to sign in", "You have 9 unused recovery codes left.")

			// New recovery codes.
			s := e.fetch(t, b, "GET", "/account/security", nil)
			r := e.post(t, b, "/account/security/recovery-codes", s.body, nil)
			fresh := recoveryCodeRE.FindAllStringSubmatch(r.body, -1)
			if r.status != http.StatusOK || len(fresh) != 10 {
				t.Fatalf("new recovery codes = %v", r)
			}
			for _, m := range fresh {
				codes = append(codes, m[1])
			}
			e.checkNotice(t, 3, "TO-06 new codes", "New recovery codes were made")

			// TO-04: the app turned off.
			s = e.fetch(t, b, "GET", "/account/security", nil)
			if r := e.post(t, b, "/account/security/totp/delete", s.body, nil); r.status != http.StatusSeeOther {
				t.Fatalf("turning the app off = %v", r)
			}
			e.checkNotice(t, 4, "TO-04 app off", "authenticator app of the Foyer account", "was turned off")

			// One notice per change, and none carries a secret or a code.
			e.mail.Quiet(t, len(e.mail.Messages()), 1500*time.Millisecond)
			all := e.notices(t, 4)
			if len(all) != 4 {
				t.Errorf("TO-04, TO-06: %d notices, want 4", len(all))
			}
			for _, m := range e.mail.Messages() {
				body := strings.ToUpper(m.Subject + m.Text + m.HTML)
				if strings.Contains(body, strings.ToUpper(secret)) {
					t.Errorf("TO-04/TO-05: email %q carries the TOTP secret", m.Subject)
				}
				for _, c := range codes {
					if strings.Contains(body, strings.ToUpper(c)) || strings.Contains(body, strings.ToUpper(strings.ReplaceAll(c, "-", ""))) {
						t.Errorf("TO-06: email %q carries recovery code %s", m.Subject, c)
					}
				}
			}
		})
	}
}
