// Command reports-api is a downstream API that trusts Foyer's access
// tokens: GET /reports answers people whose organization role grants
// org:read, and no one else. See the README section "Verifying Foyer
// tokens in your API".
//
//	FOYER_ISSUER=http://localhost:8080 go run ./examples/reports-api
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/foyerdev/foyer/rbac"
)

func main() {
	issuer := os.Getenv("FOYER_ISSUER")
	if issuer == "" {
		issuer = "http://localhost:8080"
	}
	v, err := rbac.New(rbac.Options{Issuer: issuer})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /reports", v.Middleware(rbac.RequirePermission("org:read")(http.HandlerFunc(reports))))
	log.Print("reports-api on http://localhost:8090, trusting ", issuer)
	log.Fatal(http.ListenAndServe("localhost:8090", mux))
}

// reports answers for the organization the token was issued for: the
// token, not the request, says which organization's data this is.
func reports(w http.ResponseWriter, r *http.Request) {
	c := rbac.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"organization": c.OrgSlug,
		"role":         c.OrgRole,
		"reports":      []string{"q3-revenue", "q3-churn"},
	})
}
