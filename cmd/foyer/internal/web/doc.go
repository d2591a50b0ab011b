// Package web is the HTTP plumbing cmd/foyer wraps around every feature:
// request IDs, the access log, Prometheus metrics, secure default headers,
// panic recovery, problem-details errors (RFC 9457), the health endpoints and
// the readiness gate that makes database-backed routes fail fast with 503
// while the database is away.
//
// Features never import this package: they log with their context, and the
// slog handler from ContextHandler adds the request ID it finds there.
package web
