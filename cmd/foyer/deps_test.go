package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/foyerdev/foyer"

// TestDependencyDirection guards the import table in the README (and
// shared/STYLE.md): dependencies point one way, from cmd to features to
// storage, and the contract packages stay small.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, dep := range p.Deps {
			if msg := forbidden(rel, dep); msg != "" {
				t.Errorf("%s imports %s: %s", rel, dep, msg)
			}
		}
	}
}

// forbidden says why package rel may not depend on dep, or "".
func forbidden(rel, dep string) string {
	foyer, isFoyer := strings.CutPrefix(dep, module+"/")
	top := func(p string) string { return strings.SplitN(p, "/", 2)[0] }
	switch {
	case rel == "storage":
		if !isStd(dep) {
			return "storage is the contract: standard library only"
		}
	case strings.HasPrefix(rel, "storage/"):
		if isFoyer && foyer != "storage" {
			return "backends depend on the storage contract only"
		}
		for _, banned := range []string{"github.com/gin-gonic/", "github.com/ory/fosite"} {
			if strings.HasPrefix(dep, banned) {
				return "backends know nothing of HTTP or OAuth"
			}
		}
	case top(rel) == "rbac":
		if isFoyer {
			return "rbac imports no Foyer package: downstream services vendor it alone"
		}
	case top(rel) == "examples":
		if isFoyer && top(foyer) != "rbac" {
			return "examples use what a downstream service has: rbac only"
		}
	case rel == "config" || strings.HasPrefix(rel, "templates"):
		if isFoyer && !(strings.HasPrefix(rel, "templates") && top(foyer) == "templates") {
			return "config and templates import no other Foyer package"
		}
	case buildingBlocks[top(rel)]:
		if isFoyer && foyer != "storage" && foyer != "templates/render" && !leaves[foyer] && top(foyer) != top(rel) {
			return "building blocks import storage, templates/render, outbound and keyed only"
		}
	case features[top(rel)]:
		if isFoyer && foyer != "storage" && foyer != "templates/render" && !buildingBlocks[top(foyer)] && top(foyer) != top(rel) {
			return "features import storage, templates/render, the building blocks and their own sub-packages only"
		}
	}
	return ""
}

// Building blocks serve several features; features never import each other.
// The leaves among the building blocks import no Foyer package, and the
// others may use them.
var (
	buildingBlocks = map[string]bool{"session": true, "ratelimit": true, "mail": true, "outbound": true, "audit": true, "events": true, "keyed": true}
	leaves         = map[string]bool{"outbound": true, "keyed": true}
	features       = map[string]bool{"admin": true, "authz": true, "idp": true, "mfa": true, "signin": true}
)

// isStd reports whether an import path belongs to the standard library
// (no dot in its first element), including vendored golang.org/x copies.
func isStd(path string) bool {
	return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
}

func TestForbidden(t *testing.T) {
	for _, tc := range []struct {
		rel, dep string
		bad      bool
	}{
		{"storage", "context", false},
		{"storage", "github.com/jackc/pgx/v5", true},
		{"storage/postgres", module + "/storage", false},
		{"storage/postgres", module + "/config", true},
		{"storage/sqlite", "github.com/gin-gonic/gin", true},
		{"idp", module + "/storage", false},
		{"idp", module + "/idp/password", false},
		{"idp", module + "/authz", true},
		{"idp", module + "/config", true},
		{"authz/keys", module + "/authz", false},
		{"mfa", module + "/cmd/foyer/internal/web", true},
		{"authz", module + "/session", false},
		{"signin", module + "/ratelimit", false},
		{"signin", module + "/authz", true},
		{"session", module + "/authz", true},
		{"ratelimit", module + "/storage", false},
		{"mail", module + "/templates/render", false},
		{"events", module + "/outbound", false},
		{"events", module + "/mail", true},
		{"outbound", module + "/storage", false},
		{"ratelimit", module + "/keyed", false},
		{"ratelimit", module + "/events", true},
		{"config", module + "/storage", true},
		{"templates/render", module + "/templates", false},
		{"cmd/foyer", module + "/config", false},
		{"admin", module + "/storage", false},
		{"admin", module + "/authz", true},
		{"admin", module + "/idp", true},
		{"rbac", "github.com/go-jose/go-jose/v4", false},
		{"rbac", module + "/authz/keys", true},
		{"rbac", module + "/storage", true},
		{"examples/reports-api", module + "/rbac", false},
		{"examples/reports-api", module + "/authz", true},
	} {
		if got := forbidden(tc.rel, tc.dep) != ""; got != tc.bad {
			t.Errorf("forbidden(%q, %q) = %v, want %v", tc.rel, tc.dep, got, tc.bad)
		}
	}
}
