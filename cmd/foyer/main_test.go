package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/foyerdev/foyer/storage/postgres/pgtest"
)

// foyerBin is the binary built once for the black-box tests.
var foyerBin string

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	dir, err := os.MkdirTemp("", "foyer-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	foyerBin = filepath.Join(dir, "foyer")
	if out, err := exec.Command("go", "build", "-o", foyerBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build foyer: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary left behind.
type result struct {
	stdout, stderr string
	code           int
}

// foyer runs the binary in dir with only PATH, HOME and env set, so the
// developer's own FOYER_* variables cannot leak into a test.
func foyer(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, foyerBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run foyer %v: %v", args, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// backend is a database configuration the CLI tests run against.
type backend struct {
	name string
	env  func(t *testing.T) []string
}

var backends = []backend{
	{"embedded", func(t *testing.T) []string { return nil }},
	{"postgres", func(t *testing.T) []string { return []string{"FOYER_DATABASE_URL=" + pgtest.Schema(t)} }},
}

func TestCLI(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dir, env := t.TempDir(), b.env(t)
			ok := func(args ...string) map[string]any {
				t.Helper()
				r := foyer(t, dir, env, append(args, "--json")...)
				if r.code != 0 {
					t.Fatalf("foyer %v: exit %d, stderr %q", args, r.code, r.stderr)
				}
				var v map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
					t.Fatalf("foyer %v printed no JSON: %v\n%s", args, err, r.stdout)
				}
				return v
			}
			// fails checks the exit code and that stderr is one line naming the problem.
			fails := func(code int, want string, args ...string) {
				t.Helper()
				r := foyer(t, dir, env, args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
					t.Errorf("foyer %v: exit %d, stdout %q, stderr %q; want exit %d and one line containing %q",
						args, r.code, r.stdout, r.stderr, code, want)
				}
			}

			m := ok("migrate")
			if m["backend"] != b.name || m["version"].(float64) < 1 {
				t.Errorf("migrate = %v, want backend %s and a version", m, b.name)
			}

			u := ok("users", "create", "--email", "Alice@Example.com", "--password", "correct horse battery",
				"--name", "Alice", "--email-verified", "--admin")
			if !strings.HasPrefix(u["id"].(string), "usr_") || u["email"] != "Alice@Example.com" ||
				u["email_verified"] != true || u["admin"] != true || u["has_password"] != true {
				t.Errorf("users create = %v", u)
			}
			if _, leaked := u["password_hash"]; leaked {
				t.Error("users create prints the password hash")
			}
			fails(1, "email: is already used", "users", "create", "--email", "alice@EXAMPLE.com")
			fails(1, "email: is not an email address", "users", "create", "--email", "not-an-email")
			fails(1, "password: must be at least 8", "users", "create", "--email", "bob@example.com", "--password", "short")
			fails(2, "missing --email", "users", "create")
			fails(2, "unknown flag", "users", "create", "--emial", "x@example.com")

			o := ok("orgs", "create", "--slug", "acme", "--name", "Acme Inc.")
			if !strings.HasPrefix(o["id"].(string), "org_") || o["slug"] != "acme" {
				t.Errorf("orgs create = %v", o)
			}
			fails(1, `slug: "acme" is already taken`, "orgs", "create", "--slug", "acme", "--name", "Other")
			fails(1, "slug: may contain only", "orgs", "create", "--slug", "Acme!", "--name", "Other")

			mem := ok("orgs", "add-member", "--org", "acme", "--email", "ALICE@example.com", "--role", "admin")
			if mem["org_id"] != o["id"] || mem["user_id"] != u["id"] || mem["role"] != "admin" {
				t.Errorf("orgs add-member = %v", mem)
			}
			fails(1, "email: is already a member of acme", "orgs", "add-member", "--org", "acme", "--email", "alice@example.com", "--role", "member")
			fails(1, `role: "owner" is not a role of acme`, "orgs", "add-member", "--org", "acme", "--email", "alice@example.com", "--role", "owner")
			fails(1, `org: no organization "nope"`, "orgs", "add-member", "--org", "nope", "--email", "alice@example.com", "--role", "admin")
			fails(1, "email: no user has this email", "orgs", "add-member", "--org", "acme", "--email", "carol@example.com", "--role", "admin")

			// Without --json the commands print one human line.
			r := foyer(t, dir, env, "orgs", "create", "--slug", "globex", "--name", "Globex")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "created organization org_") {
				t.Errorf("orgs create without --json: exit %d, stdout %q", r.code, r.stdout)
			}
		})
	}
}

func TestCLIConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("http:\n  adr: \":9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown YAML key", nil, []string{"migrate", "--config", bad}, "adr"},
		{"unknown FOYER_ variable", []string{"FOYER_DATABSE_URL=postgres://x"}, []string{"migrate"}, "FOYER_DATABSE_URL"},
		{"malformed DSN", []string{"FOYER_DATABASE_URL=postgres://foyer:hunter2@127.0.0.1:notaport/db"}, []string{"migrate"}, "FOYER_DATABASE_URL"},
		{"postgres unreachable", []string{"FOYER_DATABASE_URL=postgres://foyer:hunter2@127.0.0.1:1/db", "FOYER_DATABASE_CONNECT_RETRY=1s"}, []string{"migrate"}, "unreachable"},
		{"config file missing", nil, []string{"migrate", "--config", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := foyer(t, dir, tc.env, tc.args...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code == 0 || len(lines) != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want non-zero and one line containing %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr shows the database password: %q", r.stderr)
			}
		})
	}
}

var listening = regexp.MustCompile(`msg="foyer listening" addr=(\S+)`)

// TestServeDev runs `foyer serve --dev` as a person would on a fresh machine
// and stops it the way an orchestrator does.
func TestServeDev(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(foyerBin, "serve", "--dev")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "FOYER_HTTP_ADDR=127.0.0.1:0"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	logs := bufio.NewScanner(stderr)
	var addr string
	var log strings.Builder
	for addr == "" && logs.Scan() {
		log.WriteString(logs.Text() + "\n")
		if m := listening.FindStringSubmatch(logs.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve --dev never said it was listening:\n%s", log.String())
	}
	rest := make(chan string)
	go func() {
		var b strings.Builder
		for logs.Scan() {
			b.WriteString(logs.Text() + "\n")
		}
		rest <- b.String()
	}()

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404, "/.well-known/jwks.json": 200} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`foyer_http_requests_total{code="200",method="GET",route="/readyz"} 1`,
		`foyer_signing_key_transitions_total{transition="created"} 2`,
		`foyer_signing_key_transitions_total{transition="activated"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "foyer-data", "foyer.db")); err != nil {
		t.Errorf("embedded database not under ./foyer-data: %v", err)
	}
	// --dev keeps its generated encryption key beside the database, private.
	if fi, err := os.Stat(filepath.Join(dir, "foyer-data", "encryption.key")); err != nil {
		t.Errorf("dev encryption key not under ./foyer-data: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("dev encryption key mode = %v, want 0600", fi.Mode().Perm())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0", err)
	}
	if tail := <-rest; !strings.Contains(tail, `msg=stopped`) {
		t.Errorf("no clean stop in the log:\n%s", tail)
	}
}
