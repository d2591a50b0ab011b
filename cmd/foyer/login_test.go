package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/storage/postgres"
	"github.com/foyerdev/foyer/storage/postgres/pgtest"
)

// foyer login, whoami, api and logout, run as the binary against a running
// Foyer; the person's side is a cookie-keeping HTTP client (device_test.go's
// helpers), or Chromium in browser_login_test.go.

// newLoginEnv is a running Foyer with the built-in client foyer-cli, which
// serve registers on start and the in-process test server does not.
func newLoginEnv(t *testing.T, backend string) *deviceEnv {
	t.Helper()
	e := newSigninEnv(t, backend)
	if err := ensureCLIClient(t.Context(), e.store, discard()); err != nil {
		t.Fatal(err)
	}
	return &deviceEnv{signinEnv: e}
}

// loginRun is a foyer login running in the background.
type loginRun struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdout   bytes.Buffer
	stderr   *bufio.Reader
	shown    strings.Builder // stderr up to the code
	userCode string
	complete string // verification_uri_complete
}

var (
	enterCodeRE = regexp.MustCompile(`Open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})`)
	completeRE  = regexp.MustCompile(`or open (\S+)`)
)

// startLogin starts `foyer login --issuer issuer` with HOME=home and
// reads, from its stderr, the code to enter.
func startLogin(t *testing.T, home, issuer string, args ...string) *loginRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	r := &loginRun{t: t, cmd: exec.CommandContext(ctx, foyerBin, append([]string{"login", "--issuer", issuer}, args...)...)}
	r.cmd.Dir = home
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	r.cmd.Stdout = &r.stdout
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
	r.stderr = bufio.NewReader(pipe)
	for {
		line, err := r.stderr.ReadString('\n')
		r.shown.WriteString(line)
		if m := enterCodeRE.FindStringSubmatch(line); m != nil {
			if m[1] != issuer+"/device" {
				t.Errorf("foyer login sends the person to %s, want %s/device", m[1], issuer)
			}
			r.userCode = m[2]
		}
		if m := completeRE.FindStringSubmatch(line); m != nil {
			r.complete = m[1]
		}
		if strings.Contains(line, "Waiting for approval") {
			break
		}
		if err != nil {
			t.Fatalf("foyer login ended before showing a code (%v):\n%s", err, r.shown.String())
		}
	}
	if !userCodeRE.MatchString(r.userCode) || r.complete != issuer+"/device?user_code="+r.userCode {
		t.Fatalf("foyer login showed code %q and address %q:\n%s", r.userCode, r.complete, r.shown.String())
	}
	return r
}

// wait waits for the login to end and returns what it printed.
func (r *loginRun) wait() result {
	r.t.Helper()
	rest, _ := io.ReadAll(r.stderr)
	err := r.cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("foyer login: %v", err)
	}
	return result{r.stdout.String(), r.shown.String() + string(rest), code}
}

// credentialsPath is where the binary keeps tokens when HOME is home
// (os.UserConfigDir on Linux: $HOME/.config).
func credentialsPath(home string) string {
	return filepath.Join(home, ".config", "foyer", "credentials.json")
}

func readCredentials(t *testing.T, home string) credentialsFile {
	t.Helper()
	b, err := os.ReadFile(credentialsPath(home))
	if err != nil {
		t.Fatal(err)
	}
	var f credentialsFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("credentials.json: %v\n%s", err, b)
	}
	return f
}

func writeCredentials(t *testing.T, home string, f credentialsFile) {
	t.Helper()
	if err := (credentials{credentialsPath(home)}).save(f); err != nil {
		t.Fatal(err)
	}
}

// oneLine checks that a failed command exited with code and said want in
// one line on stderr.
func oneLine(t *testing.T, what string, r result, code int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != code || len(lines) != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("%s: exit %d, stderr %q; want exit %d and one line containing %q", what, r.code, r.stderr, code, want)
	}
}

// TestLoginWhoamiAPILogout: foyer login shows a code, the person enters it
// at /device, signs in and allows; login stores the tokens (0600) and says
// who signed in. whoami asks userinfo; api reaches the admin API as alice,
// a Foyer admin; an access token past its expiry is refreshed and the new
// one stored; logout revokes the refresh token and forgets the entry.
func TestLoginWhoamiAPILogout(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newLoginEnv(t, backend)
			ctx := t.Context()
			home := t.TempDir()
			aliceID := mustUserID(t, e.oidcEnv)
			if _, err := e.store.UpdateUser(ctx, aliceID, func(u storage.User) (storage.User, error) {
				u.Admin = true
				return u, nil
			}); err != nil {
				t.Fatal(err)
			}
			notSignedIn := "not signed in to " + e.issuer + "; run foyer login --issuer " + e.issuer
			oneLine(t, "whoami before login", foyer(t, home, nil, "whoami", "--issuer", e.issuer), 1, notSignedIn)

			login := startLogin(t, home, e.issuer)
			if strings.Contains(login.shown.String(), "\x1b[") {
				t.Errorf("foyer login drew a QR code on a pipe:\n%s", login.shown.String())
			}
			e.approve(t, login.userCode, e.email)
			r := login.wait()
			if r.code != 0 || r.stdout != "signed in to "+e.issuer+" as alice@example.com (Alice)\n" {
				t.Fatalf("foyer login: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
			}

			fi, err := os.Stat(credentialsPath(home))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("credentials.json mode = %v, want 0600", fi.Mode().Perm())
			}
			if di, err := os.Stat(filepath.Dir(credentialsPath(home))); err != nil || di.Mode().Perm() != 0o700 {
				t.Errorf("credentials directory: %v, %v; want mode 0700", di.Mode(), err)
			}
			stored := readCredentials(t, home).Issuers[e.issuer]
			if stored.Issuer != e.issuer || stored.AccessToken == "" || stored.RefreshToken == "" || stored.IDToken == "" ||
				stored.TokenEndpoint != e.issuer+"/oauth2/token" || stored.RevocationEndpoint != e.issuer+"/oauth2/revoke" ||
				stored.UserinfoEndpoint != e.issuer+"/userinfo" || stored.Subject != aliceID || time.Until(stored.Expiry) < time.Minute ||
				!slices.Contains(stored.Scopes, "foyer:admin") {
				t.Errorf("stored credential = %+v", stored)
			}
			if active := introspect(t, e.issuer, stored.RefreshToken, e.machine); active["active"] != true || active["client_id"] != cliClientID {
				t.Errorf("the stored refresh token: %v, want active for %s", active, cliClientID)
			}

			r = foyer(t, home, nil, "whoami")
			if r.code != 0 || !strings.Contains(r.stdout, "alice@example.com") || !strings.Contains(r.stdout, aliceID) ||
				!strings.Contains(r.stdout, e.issuer) {
				t.Errorf("whoami: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r = foyer(t, home, nil, "whoami", "--issuer", e.issuer+"/", "--json")
			var who whoView
			if err := json.Unmarshal([]byte(r.stdout), &who); err != nil || r.code != 0 ||
				who.Issuer != e.issuer || who.Subject != aliceID || who.Email != e.email || who.Name != "Alice" {
				t.Errorf("whoami --json: exit %d, %+v (%v), stderr %q", r.code, who, err, r.stderr)
			}

			r = foyer(t, home, nil, "api", "GET", "/admin/v1/users")
			var users struct {
				Items []struct{ Email string } `json:"items"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &users); r.code != 0 || err != nil || !strings.Contains(r.stdout, `"email": "alice@example.com"`) {
				t.Errorf("api GET /admin/v1/users: exit %d (%v), stdout %q, stderr %q", r.code, err, r.stdout, r.stderr)
			}
			r = foyer(t, home, nil, "api", "POST", "/admin/v1/organizations", "--data", `{"slug":"acme","name":"Acme"}`)
			if r.code != 0 || !strings.Contains(r.stdout, `"slug": "acme"`) {
				t.Errorf("api POST /admin/v1/organizations: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			oneLine(t, "api for a missing user", foyer(t, home, nil, "api", "GET", "/admin/v1/users/usr_nobody"), 1, "GET /admin/v1/users/usr_nobody: 404 Not Found")
			oneLine(t, "api with a PATH not from /", foyer(t, home, nil, "api", "GET", "admin/v1/users"), 2, "PATH must start with /")
			oneLine(t, "api with --data not JSON", foyer(t, home, nil, "api", "POST", "/admin/v1/users", "--data", "{"), 2, "--data is not valid JSON")

			// Expiry: an access token that has expired (or will within
			// 30 s) is refreshed before use, and the new tokens stored.
			f := readCredentials(t, home)
			old := f.Issuers[e.issuer]
			old.Expiry = time.Now().Add(10 * time.Second)
			f.Issuers[e.issuer] = old
			writeCredentials(t, home, f)
			if r := foyer(t, home, nil, "whoami"); r.code != 0 || !strings.Contains(r.stdout, e.email) {
				t.Errorf("whoami with an expiring token: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			refreshed := readCredentials(t, home).Issuers[e.issuer]
			if refreshed.AccessToken == old.AccessToken || refreshed.RefreshToken == "" || time.Until(refreshed.Expiry) < time.Minute {
				t.Errorf("after whoami refreshed: access token changed %v, expiry %v", refreshed.AccessToken != old.AccessToken, refreshed.Expiry)
			}
			if r := foyer(t, home, nil, "api", "GET", "/admin/v1/users"); r.code != 0 {
				t.Errorf("api with the refreshed token: exit %d, stderr %q", r.code, r.stderr)
			}

			r = foyer(t, home, nil, "logout")
			if r.code != 0 || r.stdout != "signed out of "+e.issuer+"\n" {
				t.Errorf("logout: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if active := introspect(t, e.issuer, refreshed.RefreshToken, e.machine); active["active"] != false {
				t.Errorf("the refresh token after logout: %v, want inactive", active)
			}
			if active := introspect(t, e.issuer, refreshed.AccessToken, e.machine); active["active"] != false {
				t.Errorf("the access token after logout: %v, want inactive", active)
			}
			if f := readCredentials(t, home); len(f.Issuers) != 0 {
				t.Errorf("credentials after logout: %+v", f)
			}
			oneLine(t, "whoami after logout", foyer(t, home, nil, "whoami", "--issuer", e.issuer), 1, notSignedIn)
			oneLine(t, "api after logout", foyer(t, home, nil, "api", "GET", "/admin/v1/users"), 1, "not signed in")
		})
	}
}

// TestLoginDenied: the person presses Deny; login says so in one line,
// exits 1 and stores nothing.
func TestLoginDenied(t *testing.T) {
	e := newLoginEnv(t, "embedded")
	home := t.TempDir()
	login := startLogin(t, home, e.issuer)
	b := newBrowser(t)
	resp, page := e.enter(t, b, login.userCode, e.email)
	if resp.Request.URL.Path != "/device/confirm" || !strings.Contains(page, "Sign in Foyer CLI on your device?") {
		t.Fatalf("entering the code ended at %s:\n%s", resp.Request.URL, page)
	}
	if resp, page := e.decide(t, b, page, "deny", nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Request denied") {
		t.Fatalf("Deny = %d:\n%s", resp.StatusCode, page)
	}
	r := login.wait()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 1 || r.stdout != "" || lines[len(lines)-1] != "foyer: access denied: the sign-in was refused in the browser" {
		t.Errorf("foyer login after Deny: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(credentialsPath(home)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials.json after Deny: %v, want none", err)
	}
}

// TestLoginJSON: with --json, stdout has the code to enter as one JSON
// line, then who signed in.
func TestLoginJSON(t *testing.T) {
	e := newLoginEnv(t, "embedded")
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, foyerBin, "login", "--issuer", e.issuer, "--json", "--scope", "openid", "--scope", "email", "--scope", "offline_access")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(stdout)
	var code struct {
		VerificationURI         string    `json:"verification_uri"`
		VerificationURIComplete string    `json:"verification_uri_complete"`
		UserCode                string    `json:"user_code"`
		ExpiresAt               time.Time `json:"expires_at"`
	}
	if err := dec.Decode(&code); err != nil {
		t.Fatalf("login --json: first document: %v (stderr %q)", err, stderr.String())
	}
	if code.VerificationURI != e.issuer+"/device" || !userCodeRE.MatchString(code.UserCode) || time.Until(code.ExpiresAt) < 5*time.Minute {
		t.Errorf("login --json: %+v", code)
	}
	e.approve(t, code.UserCode, e.email)
	var who whoView
	if err := dec.Decode(&who); err != nil {
		t.Fatalf("login --json: second document: %v (stderr %q)", err, stderr.String())
	}
	if err := cmd.Wait(); err != nil || stderr.Len() != 0 {
		t.Errorf("login --json: %v, stderr %q", err, stderr.String())
	}
	if who.Issuer != e.issuer || who.Email != e.email || !slices.Equal(who.Scopes, []string{"openid", "email", "offline_access"}) {
		t.Errorf("login --json: %+v", who)
	}
}

// TestWhoamiRefreshRefused: a refresh token the server no longer honours
// (revoked elsewhere) ends the stored sign-in: whoami says not signed in
// and removes the entry; the other issuer's entry stays.
func TestWhoamiRefreshRefused(t *testing.T) {
	e := newLoginEnv(t, "embedded")
	home := t.TempDir()
	login := startLogin(t, home, e.issuer)
	e.approve(t, login.userCode, e.email)
	if r := login.wait(); r.code != 0 {
		t.Fatalf("foyer login: exit %d:\n%s", r.code, r.stderr)
	}
	f := readCredentials(t, home)
	cred := f.Issuers[e.issuer]
	if err := revoke(t.Context(), cred.RevocationEndpoint, cred.RefreshToken, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	cred.Expiry = time.Now().Add(-time.Minute)
	f.Issuers[e.issuer] = cred
	other := credential{Issuer: "https://other.example", AccessToken: "x", TokenEndpoint: "https://other.example/oauth2/token"}
	f.Issuers[other.Issuer] = other
	writeCredentials(t, home, f)

	oneLine(t, "whoami without --issuer, signed in to two", foyer(t, home, nil, "whoami"), 2, "choose one with --issuer")
	oneLine(t, "whoami after the refresh token was revoked", foyer(t, home, nil, "whoami", "--issuer", e.issuer), 1,
		"not signed in to "+e.issuer+"; run foyer login --issuer "+e.issuer)
	if f := readCredentials(t, home); len(f.Issuers) != 1 || f.Issuers[other.Issuer].AccessToken != "x" {
		t.Errorf("credentials after a refused refresh: %+v, want only the other issuer", f.Issuers)
	}
}

// TestLogoutUnreachable: when the server cannot be reached, logout still
// forgets the tokens here but says revocation failed, and exits 1.
func TestLogoutUnreachable(t *testing.T) {
	home := t.TempDir()
	const issuer = "http://127.0.0.1:1"
	writeCredentials(t, home, credentialsFile{Issuers: map[string]credential{issuer: {
		Issuer: issuer, AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour),
		TokenEndpoint: issuer + "/oauth2/token", RevocationEndpoint: issuer + "/oauth2/revoke",
	}}})
	oneLine(t, "logout with the server away", foyer(t, home, nil, "logout"), 1, "forgot the tokens for "+issuer+" here, but revoking them there failed")
	if f := readCredentials(t, home); len(f.Issuers) != 0 {
		t.Errorf("credentials after logout: %+v, want none", f.Issuers)
	}
	oneLine(t, "logout again", foyer(t, home, nil, "logout"), 1, "not signed in")
}

// TestLoginRefusesBadIssuers: plain http only for loopback; an issuer
// that does not answer is one line.
func TestLoginRefusesBadIssuers(t *testing.T) {
	home := t.TempDir()
	oneLine(t, "http issuer", foyer(t, home, nil, "login", "--issuer", "http://id.example.com"), 2, "must use https")
	oneLine(t, "no issuer", foyer(t, home, nil, "login"), 2, "missing --issuer")
	oneLine(t, "unreachable issuer", foyer(t, home, nil, "login", "--issuer", "http://127.0.0.1:1"), 1, "discovery at http://127.0.0.1:1")
}

// TestLoginQRCode: the terminal QR code is two module rows a line, with
// the quiet zone, and is left out when the terminal is too narrow.
func TestLoginQRCode(t *testing.T) {
	const link = "https://id.example.com/device?user_code=BCDF-GHJK"
	code := terminalQR(link, 80)
	lines := strings.Split(strings.TrimSuffix(code, "\n"), "\n")
	width := len([]rune(strings.TrimSuffix(strings.TrimPrefix(lines[0], "\x1b[30;107m"), "\x1b[0m")))
	if width < 21+2*qrQuietZone || len(lines) != (width+1)/2 {
		t.Fatalf("QR code %d wide in %d lines:\n%s", width, len(lines), code)
	}
	// The top left finder pattern after the quiet zone: its dark top row
	// over its second row, dark only at the ends.
	row := []rune(strings.TrimPrefix(lines[qrQuietZone/2], "\x1b[30;107m"))
	if got := string(row[qrQuietZone : qrQuietZone+7]); got != "█▀▀▀▀▀█" {
		t.Errorf("finder pattern row = %q", got)
	}
	if got := terminalQR(link, width-1); got != "" {
		t.Errorf("a terminal narrower than the code got one:\n%s", got)
	}
}

// TestCLIClient: ensureCLIClient registers foyer-cli as a public device
// client, tolerates instances starting at once, and leaves an operator's
// changes alone; on both backends.
func TestCLIClient(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			store, _ := openTestStore(t, backend)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() { errs <- ensureCLIClient(ctx, store, discard()) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("concurrent ensureCLIClient: %v", err)
				}
			}
			c, err := store.GetClient(ctx, cliClientID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != "Foyer CLI" || !c.Public || c.TokenEndpointAuthMethod != clients.AuthNone || !c.FirstParty ||
				len(c.RedirectURIs) != 0 || c.SecretHash != "" ||
				!slices.Equal(c.GrantTypes, []string{clients.GrantDeviceCode, clients.GrantRefreshToken}) ||
				!slices.Equal(c.Scopes, []string{"openid", "profile", "email", "offline_access", "org", "orgs", "foyer:admin"}) {
				t.Errorf("foyer-cli = %+v", c)
			}
			// What ensureCLIClient counts on when it loses a race.
			if _, _, err := testRegistrar(store).Create(ctx, cliClient()); !errors.Is(err, storage.ErrAlreadyExists) {
				t.Errorf("creating foyer-cli twice: %v, want storage.ErrAlreadyExists", err)
			}

			name, scopes := "Our CLI", []string{"openid", "email"}
			if _, err := testRegistrar(store).Update(ctx, cliClientID, clients.Changes{Name: &name, Scopes: &scopes}); err != nil {
				t.Fatal(err)
			}
			if err := ensureCLIClient(ctx, store, discard()); err != nil {
				t.Fatal(err)
			}
			if c, err := store.GetClient(ctx, cliClientID); err != nil || c.Name != name || !slices.Equal(c.Scopes, scopes) {
				t.Errorf("after a restart, the operator's foyer-cli = %+v, %v; want it unchanged", c, err)
			}
		})
	}
}

// TestCLIClientServeConcurrentStarts: two `foyer serve` processes starting
// at once on one fresh Postgres both come up, and foyer-cli exists.
func TestCLIClientServeConcurrentStarts(t *testing.T) {
	schema := pgtest.Schema(t)
	var wg sync.WaitGroup
	for i := range 2 {
		dir := t.TempDir()
		cmd := exec.Command(foyerBin, "serve")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "FOYER_DATABASE_URL=" + schema, "FOYER_HTTP_ADDR=127.0.0.1:0",
			"FOYER_ISSUER=http://127.0.0.1:9", "FOYER_ENCRYPTION_KEY=" + testEncryptionKey}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			logs := bufio.NewScanner(stderr)
			var log strings.Builder
			for logs.Scan() {
				log.WriteString(logs.Text() + "\n")
				if strings.Contains(logs.Text(), "foyer listening") {
					break
				}
			}
			if !strings.Contains(log.String(), "foyer listening") {
				t.Errorf("instance %d did not start:\n%s", i, log.String())
			}
			go io.Copy(io.Discard, stderr)
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
	}
	wg.Wait()
	store, err := postgres.Open(t.Context(), postgres.Options{URL: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if c, err := store.GetClient(t.Context(), cliClientID); err != nil || !c.Public {
		t.Errorf("foyer-cli after two starts: %+v, %v", c, err)
	}
}
