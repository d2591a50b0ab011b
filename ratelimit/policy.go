package ratelimit

import (
	"errors"
	"fmt"
	"time"
)

// Policy limits how often a key may act: at most Limit times in a fixed
// window of length Window that starts at the key's first call. Once Limit
// calls are in the window, the others are refused until it ends; refusals
// do not extend it.
type Policy struct {
	// Name separates the policy's keys from every other policy's; two
	// policies with one name share their counters.
	Name   string
	Limit  int
	Window time.Duration
}

// Validate reports what makes p unusable; Allow refuses with it too.
func (p Policy) Validate() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if p.Limit < 1 {
		errs = append(errs, fmt.Errorf("limit %d below 1", p.Limit))
	}
	if p.Window <= 0 {
		errs = append(errs, fmt.Errorf("window %s not positive", p.Window))
	}
	return policyError(p.Name, errs)
}

// Lockout slows down, then stops, guessing of one secret (a password, a
// TOTP code) by counting consecutive failures (SECURITY.md LG-03, NIST SP
// 800-63B §5.2.2). The first Free attempts go ahead at once; from the
// Free-th failure on, each failure makes the next attempt wait, Delay at
// first and twice as long after each further failure, up to MaxDelay. The
// HardLockAt-th failure, and each one after it, locks for HardLock. Every
// lock ends by itself, so an attacker cannot lock a person out for good;
// a success, or ForgetAfter without an attempt, starts the count afresh.
type Lockout struct {
	// Name separates the policy's keys from every other policy's.
	Name        string
	Free        int
	Delay       time.Duration
	MaxDelay    time.Duration
	HardLockAt  int
	HardLock    time.Duration
	ForgetAfter time.Duration
}

// Validate reports what makes l unusable; Attempt refuses with it too.
func (l Lockout) Validate() error {
	var errs []error
	if l.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if l.Free < 1 {
		errs = append(errs, fmt.Errorf("free attempts %d below 1", l.Free))
	}
	if l.Delay <= 0 || l.MaxDelay < l.Delay {
		errs = append(errs, fmt.Errorf("delay %s up to %s: want 0 < delay <= max delay", l.Delay, l.MaxDelay))
	}
	if l.HardLockAt < l.Free {
		errs = append(errs, fmt.Errorf("hard lock at %d failures, before the %d free ones end", l.HardLockAt, l.Free))
	}
	if l.HardLock <= 0 || l.ForgetAfter <= 0 {
		errs = append(errs, fmt.Errorf("hard lock %s, forget after %s: want both positive", l.HardLock, l.ForgetAfter))
	}
	return policyError(l.Name, errs)
}

func policyError(name string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("rate limit policy %q: %w", name, errors.Join(errs...))
}

// wait is how long the key waits after its failures-th consecutive failure
// before it may try again.
func (l Lockout) wait(failures int) time.Duration {
	switch {
	case failures >= l.HardLockAt:
		return l.HardLock
	case failures < l.Free:
		return 0
	}
	d := l.Delay
	for range failures - l.Free {
		if d >= l.MaxDelay {
			break
		}
		d *= 2
	}
	return min(d, l.MaxDelay)
}

// Policies are the limits Foyer applies, one field per use. cmd fills the
// features' options from them; DefaultPolicies gives the recommended ones.
type Policies struct {
	// PasswordAccount: password checks per account, keyed by the email as
	// typed, normalized with storage.EmailKey, so unknown accounts behave
	// exactly like known ones (LG-01, LG-03).
	PasswordAccount Lockout
	// PasswordIP: password checks per client IP (IPKey), against one
	// source trying many accounts.
	PasswordIP Policy
	// EmailAddress and EmailIP: emails sent (magic link, reset,
	// verification) per recipient and per client IP (ML-06). Requests
	// beyond them are answered the same way and send nothing.
	EmailAddress Policy
	EmailIP      Policy
	// DeviceCodeSession and DeviceCodeIP: user codes typed at /device per
	// browser session and per client IP (DV-02).
	DeviceCodeSession Policy
	DeviceCodeIP      Policy
	// TOTPAccount: TOTP codes per account, keyed by user ID; TOTPLogin:
	// per sign-in attempt (TO-02).
	TOTPAccount Lockout
	TOTPLogin   Policy
	// DeviceAuthorizationIP and PasskeyOptionsIP: requests per client IP
	// that anyone may make and that each store a row (a device code; a
	// passkey challenge), so a flood cannot fill the database.
	DeviceAuthorizationIP Policy
	PasskeyOptionsIP      Policy
	// SSOStartIP: single sign-on starts per client IP (SAML and upstream
	// connections), each of which stores the sign-in's state.
	SSOStartIP Policy
}

// DefaultPolicies returns the recommended limits:
//
//   - PasswordAccount: 5 free attempts, then 1s doubling to 15min; the
//     100th consecutive failure locks for 1h; forgotten after 24h.
//   - PasswordIP: 100 per 15min (raise it behind a large NAT).
//   - EmailAddress: 3 per 15min; EmailIP: 10 per 15min.
//   - DeviceCodeSession: 5 per 15min; DeviceCodeIP: 20 per 15min. User
//     codes have 20^8 values, so one IP guessing all day finds one of
//     1,000 pending codes with a probability under 1e-4.
//   - TOTPAccount: 5 free attempts, then 30s doubling to 15min; the 20th
//     consecutive failure locks for 1h; forgotten after 24h.
//   - TOTPLogin: 5 per sign-in attempt (10min).
//   - DeviceAuthorizationIP: 60 per 15min; PasskeyOptionsIP: 300 per
//     15min (a sign-in page asks once per view, for autofill).
//   - SSOStartIP: 300 per 15min (one per click on "Continue with …").
func DefaultPolicies() Policies {
	const quarter = 15 * time.Minute
	return Policies{
		PasswordAccount: Lockout{Name: "pwd:acct", Free: 5, Delay: time.Second, MaxDelay: quarter,
			HardLockAt: 100, HardLock: time.Hour, ForgetAfter: 24 * time.Hour},
		PasswordIP:        Policy{Name: "pwd:ip", Limit: 100, Window: quarter},
		EmailAddress:      Policy{Name: "mail:addr", Limit: 3, Window: quarter},
		EmailIP:           Policy{Name: "mail:ip", Limit: 10, Window: quarter},
		DeviceCodeSession: Policy{Name: "device:session", Limit: 5, Window: quarter},
		DeviceCodeIP:      Policy{Name: "device:ip", Limit: 20, Window: quarter},
		TOTPAccount: Lockout{Name: "totp:acct", Free: 5, Delay: 30 * time.Second, MaxDelay: quarter,
			HardLockAt: 20, HardLock: time.Hour, ForgetAfter: 24 * time.Hour},
		TOTPLogin:             Policy{Name: "totp:login", Limit: 5, Window: 10 * time.Minute},
		DeviceAuthorizationIP: Policy{Name: "device-authz:ip", Limit: 60, Window: quarter},
		PasskeyOptionsIP:      Policy{Name: "passkey-options:ip", Limit: 300, Window: quarter},
		SSOStartIP:            Policy{Name: "sso-start:ip", Limit: 300, Window: quarter},
	}
}
