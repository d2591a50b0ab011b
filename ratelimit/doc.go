// Package ratelimit limits how often a key (an account, an IP address, an
// email recipient, a browser session) may try something, with counters kept
// in the database (storage.RateLimits), so that the limits hold across every
// instance of Foyer (SECURITY.md LG-03, LG-04, ML-06, DV-02, TO-02).
//
// It has two mechanisms, each named by its policy:
//
//   - A Policy is a counter in a fixed window: Allow counts a call and
//     refuses it beyond the limit. For emails sent, user codes typed, and
//     password checks per IP address.
//   - A Lockout counts consecutive failures of a secret: Attempt refuses
//     while the key waits, and otherwise lets it try and counts the try as a
//     failure until Success clears it. The wait grows from nothing to a
//     doubling delay and then a temporary hard lock. For passwords and TOTP
//     codes per account.
//
// A password sign-in, with p := DefaultPolicies() and email as typed:
//
//	d, err := lim.Allow(ctx, p.PasswordIP, ratelimit.IPKey(c.ClientIP()))
//	// err: 503. !d.Allowed: the usual "wrong email or password" page with
//	// "try again in d.RetryAfter", status 429.
//	d, err = lim.Attempt(ctx, p.PasswordAccount, storage.EmailKey(email))
//	// The same for known and unknown emails, so a refusal tells nothing
//	// about whether the account exists (LG-01).
//	if passwordMatches { err = lim.Success(ctx, p.PasswordAccount, storage.EmailKey(email)) }
//
// Keys are the caller's, chosen per policy (a user ID, a normalized email,
// IPKey of the client address, a session ID). The store never sees them:
// it keeps the policy name and an HMAC-SHA256 of the key under a server key
// (Options.HashKey, DeriveKey), so a database dump lists no email or IP
// address, nor lets anyone test one.
//
// The limiter fails closed. When the store cannot count (the database is
// away, a policy is invalid) the Decision refuses and the error says why;
// callers answer 503 and never go ahead unchecked. A request that dies
// after Attempt has counted a failure, which errs on the safe side too.
//
// Sweep deletes windows and lockouts that are over; run it periodically.
package ratelimit
