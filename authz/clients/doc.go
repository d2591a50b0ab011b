// Package clients owns the registration of OAuth 2.0 / OpenID Connect
// clients: the rules a registration must follow, client IDs, and client
// secrets.
//
// Registrar is the write path the CLI (`foyer clients …`) and the admin API
// share. It validates a NewClient, fills in defaults, generates the ID and
// the secret, stores the secret's hash only, and turns storage errors into
// FieldErrors that name the offending field. The plaintext secret is
// returned once, from Create, and never again.
//
// # Defaults
//
//   - ID: "cli_" and 26 random characters (128 bits), like storage.NewID.
//   - Secret (confidential clients): 32 random bytes in base64url, 43
//     characters (256 bits, AD-04). An operator-chosen secret must have at
//     least 32 characters.
//   - Scopes: openid profile email offline_access.
//   - AccessTokenFormat: jwt (RFC 9068). ApplicationType: web.
//   - TokenEndpointAuthMethod: client_secret_basic for a confidential
//     client, none for a public one. A private_key_jwt client authenticates
//     with the keys in its JWKS and gets no secret.
//   - RequirePKCE is always set for public clients (RFC 9700 §2.1.1).
//
// # Rules
//
//   - Public clients use auth method none, and none is only for public
//     clients; public clients cannot use client_credentials (TK-11).
//   - authorization_code needs at least one redirect URI; refresh_token
//     needs a grant that issues a first token (authorization_code or the
//     device grant).
//   - JWKS is required for private_key_jwt and refused otherwise: a JWK Set
//     of public RSA (2048–8192 bits), EC (P-256, P-384, P-521) or Ed25519
//     signing keys with distinct kids.
//   - Redirect and post-logout redirect URIs follow ValidateRedirectURI,
//     and are stored exactly as given: the authorization endpoint compares
//     them by exact string match (AZ-01…AZ-05), so registration refuses
//     anything that would need normalizing.
//
// # Secrets
//
// Client secrets are long random values, not passwords, so a keyed SHA-256
// (HMAC under a server key derived from the encryption key, see DeriveKey)
// is as safe as a slow hash against offline guessing and keeps the token
// endpoint fast; bcrypt or argon2 would cap it at a few requests a second
// per core. See SecretHasher.
package clients
