package rbac

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

type contextKey struct{}

// FromContext returns the claims Middleware verified, or nil outside it.
func FromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(contextKey{}).(*Claims)
	return c
}

// NewContext returns ctx carrying c (for tests of handlers behind the
// middleware).
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, contextKey{}, c)
}

// Middleware verifies the request's bearer token (RFC 6750 §2.1) and
// passes the request on with its Claims in the context (FromContext).
// Without a token it answers 401 with a bare Bearer challenge; with a bad
// one, 401 and error="invalid_token" (RFC 6750 §3.1). Why a token was bad
// is never told to the client. When the keys cannot be fetched it answers
// 503: the token may be fine, so the client should retry, not drop it.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header)
		if !ok {
			problem(w, http.StatusUnauthorized, `Bearer`, "A bearer access token is required.")
			return
		}
		c, err := v.Verify(r.Context(), token)
		if errors.Is(err, ErrKeysUnavailable) {
			w.Header().Set("Retry-After", "10")
			problem(w, http.StatusServiceUnavailable, "", "The access token cannot be checked now. Try again shortly.")
			return
		}
		if err != nil {
			problem(w, http.StatusUnauthorized, `Bearer error="invalid_token"`, "The access token is not valid.")
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

// bearerToken reads "Authorization: Bearer <token>". Exactly one
// Authorization header; the scheme is case-insensitive; the token must be
// b64token syntax (RFC 6750 §2.1). Tokens in the query or the body are not
// read: they end up in logs (RFC 6750 §5.3).
func bearerToken(h http.Header) (string, bool) {
	values := h.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if !isB64Token(token) {
		return "", false
	}
	return token, true
}

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, r := range body {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~+/", r)) {
			return false
		}
	}
	return true
}

// RequireScope lets through requests whose token was granted scope s.
func RequireScope(s string) func(http.Handler) http.Handler {
	return require(func(c *Claims) bool { return c.HasScope(s) }, `, scope="`+s+`"`)
}

// RequireRole lets through requests whose token's organization role
// (org_role) is one of roles. Prefer RequirePermission: roles can be
// custom per organization, permissions are what a role means.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return require(func(c *Claims) bool { return c.HasRole(roles...) }, "")
}

// RequirePermission lets through requests whose token's organization role
// grants permission p (org_permissions), such as "org:read".
func RequirePermission(p string) func(http.Handler) http.Handler {
	return require(func(c *Claims) bool { return c.HasPermission(p) }, "")
}

// require answers 403 with error="insufficient_scope" (RFC 6750 §3.1) when
// ok is false. It must run behind Middleware; without claims in the
// context it refuses with 401 rather than let the request through.
func require(ok func(*Claims) bool, extra string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := FromContext(r.Context())
			switch {
			case c == nil:
				problem(w, http.StatusUnauthorized, `Bearer`, "A bearer access token is required.")
			case !ok(c):
				problem(w, http.StatusForbidden, `Bearer error="insufficient_scope"`+extra, "The access token does not allow this.")
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// problem writes a short RFC 9457 problem body.
func problem(w http.ResponseWriter, status int, challenge, detail string) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{http.StatusText(status), status, detail})
}
