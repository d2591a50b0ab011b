// Package authz is Foyer's OAuth 2.0 / OpenID Connect provider: discovery,
// the JWKS, and (with the OIDC core work) the authorization, token,
// introspection, revocation, userinfo and logout endpoints on ory/fosite.
//
// Signing keys live in the sub-package keys; this package serves what they
// publish.
//
// Routes so far:
//
//	GET /.well-known/jwks.json   the public signing keys (RFC 7517)
package authz
