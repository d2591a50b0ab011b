package rbac

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzAuthorization feeds arbitrary Authorization headers through the
// header parsing and verification. Nothing may panic, and only a token
// signed by the test's key may pass.
func FuzzAuthorization(f *testing.F) {
	foyer := newFakeFoyer(f)
	kid := foyer.addKey(jose.ES256)
	good := foyer.mint(kid, "at+jwt", foyer.claims())
	parts := strings.Split(good, ".")
	for _, seed := range []string{
		"Bearer " + good,
		"bearer   " + good,
		"Bearer " + good + "==",
		"Bearer " + parts[0] + "." + parts[1] + ".",
		"Bearer " + parts[0] + ".." + parts[2],
		"Bearer " + b64(`{"alg":"none","typ":"at+jwt"}`) + "." + parts[1] + ".",
		"Bearer " + b64(`{"alg":"RS256","typ":"at+jwt","kid":"`+kid+`","crit":["exp"]}`) + "." + parts[1] + "." + parts[2],
		`Bearer {"payload":"e30","signatures":[]}`,
		"Basic YWxhZGRpbjpvcGVuc2VzYW1l",
		"Bearer",
		"Bearer ",
		"",
	} {
		f.Add(seed)
	}
	v, err := New(Options{Issuer: foyer.issuer()})
	if err != nil {
		f.Fatal(err)
	}
	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := FromContext(r.Context()); c == nil || c.Subject != "usr_alice" || c.Issuer != foyer.issuer() {
			panic("let through without the claims of the signed token")
		}
	}))
	f.Fuzz(func(t *testing.T, auth string) {
		if token, ok := bearerToken(http.Header{"Authorization": {auth}}); ok && !isB64Token(token) {
			t.Fatalf("bearerToken(%q) = %q, not a b64token", auth, token)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 401 {
			t.Fatalf("status %d for %q", rec.Code, auth)
		}
	})
}
