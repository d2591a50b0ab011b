package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/foyerdev/foyer/admin"
)

var adminListening = regexp.MustCompile(`msg="admin API listening" addr=(\S+)`)

// TestAdminListener (AD-06): with http.admin_addr set, `foyer serve` serves
// the admin API on that listener only. The public listener answers
// /admin/v1 with 404, even with a valid admin token; the admin listener
// answers nothing but the admin API; a token from the public token
// endpoint works there.
func TestAdminListener(t *testing.T) {
	dir := t.TempDir()
	env := []string{"FOYER_HTTP_ADDR=127.0.0.1:0", "FOYER_HTTP_ADMIN_ADDR=127.0.0.1:0"}
	cmd := exec.Command(foyerBin, "serve", "--dev")
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	logs := bufio.NewScanner(stderr)
	var public, private string
	var log strings.Builder
	for (public == "" || private == "") && logs.Scan() {
		log.WriteString(logs.Text() + "\n")
		if m := listening.FindStringSubmatch(logs.Text()); m != nil {
			public = "http://" + m[1]
		}
		if m := adminListening.FindStringSubmatch(logs.Text()); m != nil {
			private = "http://" + m[1]
		}
	}
	if public == "" || private == "" {
		t.Fatalf("serve did not report both listeners:\n%s", log.String())
	}
	go io.Copy(io.Discard, stderr)

	// An operator client, made with the CLI on the server's database.
	r := foyer(t, dir, nil, "clients", "create", "--name", "Operator", "--grant-type", "client_credentials",
		"--scope", admin.Scope, "--json")
	var op struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &op) != nil {
		t.Fatalf("clients create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	tok, err := (&clientcredentials.Config{ClientID: op.ID, ClientSecret: op.Secret, TokenURL: public + "/oauth2/token",
		Scopes: []string{admin.Scope}}).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	call := func(base, path string, bearer bool) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+path, nil)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		base, path string
		bearer     bool
		want       int
	}{
		{public, admin.Prefix + "/users", true, http.StatusNotFound},
		{public, admin.Prefix + "/openapi.json", false, http.StatusNotFound},
		{public, "/.well-known/openid-configuration", false, http.StatusOK},
		{private, admin.Prefix + "/users", true, http.StatusOK},
		{private, admin.Prefix + "/users", false, http.StatusUnauthorized},
		{private, admin.Prefix + "/openapi.json", false, http.StatusOK},
		{private, "/.well-known/openid-configuration", false, http.StatusNotFound},
		{private, "/oauth2/token", false, http.StatusNotFound},
	} {
		if got := call(tc.base, tc.path, tc.bearer); got != tc.want {
			which := "public"
			if tc.base == private {
				which = "admin"
			}
			t.Errorf("GET %s on the %s listener (token %v) = %d, want %d", tc.path, which, tc.bearer, got, tc.want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0", err)
	}
}
