// Package upstream signs people in to Foyer with another identity
// provider, Foyer being its OAuth 2.0 / OpenID Connect client: any OpenID
// provider found by discovery (Google, Microsoft Entra ID, GitLab, Okta,
// another Foyer), or GitHub (OAuth 2.0 plus its user and emails API).
// Foyer then issues its own tokens as usual.
//
// The flow, on the browser group:
//
//	GET  /login/upstream/:id/start[?challenge=]  authorization code request
//	     with PKCE (S256), state and nonce kept server-side under a handle
//	     that is the state and a cookie of this browser (10 minutes)
//	GET  /login/upstream/:id/callback            the code: state checked
//	     against the cookie and spent once, code exchanged with the PKCE
//	     verifier, the ID token verified (signature by the upstream JWKS,
//	     issuer, audience, expiry, nonce), the person found or provisioned
//	         │ found by (connection, subject), linked or created
//	         ├──► second factor (SecondFactor.Begin) unless the connection
//	         │    is multi-factor ──► session (amr "ext") ──► the pending
//	         │    authorization (CompleteLogin) or /account
//	         └──► an account with the address exists but may not be linked
//	              by email: the identity waits server-side (15 minutes,
//	              this browser's cookie) ──►
//	GET  /login/upstream/link                    "sign in to your account
//	     first", or, signed in as that account, "Link"
//	POST /login/upstream/link                    makes the link (CSRF)
//	POST /account/connections/remove             removes a link while
//	     another way to sign in remains (CSRF)
//
// People are found by (connection, upstream subject), never by email
// (MT-05). A first sign-in is linked to an existing account with the same
// address only when the upstream says the address is verified, the
// account's address is verified and the connection allows linking; for an
// organization's connection the address must also be of a domain the
// organization proved (MT-06). A global connection never makes anyone a
// member of an organization; an organization's connection makes the people
// who sign in through it members of that organization (MT-07).
//
// The package imports no other feature: cmd/foyer wires authz (through
// Authorizations) and mfa (through SecondFactor), and signin shows the
// "Continue with …" buttons and the account page's links through
// LoginButtons and AccountLinks.
package upstream
