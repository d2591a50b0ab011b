package admin

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/openapi.json")

// TestOpenAPIGolden keeps the published document in testdata, so a change
// to the API shows in review as a change to the document.
func TestOpenAPIGolden(t *testing.T) {
	got, err := openAPIDocument(routes())
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatal("the document is not JSON")
	}
	golden := filepath.Join("testdata", "openapi.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./admin -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("openapi.json differs from %s; rerun with -update and review the diff", golden)
	}
}

func TestOpenAPIPath(t *testing.T) {
	for in, want := range map[string]string{
		"/users":                              "/users",
		"/users/:id":                          "/users/{id}",
		"/organizations/:id/members/:user_id": "/organizations/{id}/members/{user_id}",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}
