// Package admin is Foyer's admin REST API, mounted under /admin/v1: users,
// organizations, their memberships and custom roles as JSON, for operators
// and for organization admins.
//
// Every request carries a Foyer access token (Authorization: Bearer) with
// the scope foyer:admin. Who may do what (auth.go):
//
//   - a machine token (client credentials) and a person who is a Foyer
//     admin (storage.User.Admin) manage everything;
//   - a person who holds the admin role in organizations manages those
//     organizations only — the one chosen at sign-in when the token names
//     one. Anything outside them answers 404, exactly as if it did not
//     exist (SECURITY.md AD-02), and instance-wide actions answer 403.
//
// Every change writes an audit entry, admin.<resource>.<verb>, in the
// transaction of the change, so the two commit or roll back together
// (audit.go, SECURITY.md AD-07); /audit-events reads the log back. Webhook
// endpoints, their deliveries and replays are in webhooks.go.
//
// Errors are RFC 9457 problem details (problem.go); bad input names its
// field. The route table in routes.go drives both the router and the
// OpenAPI 3.1 document at /admin/v1/openapi.json, so the two cannot drift.
package admin
