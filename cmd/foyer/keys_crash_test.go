package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// F3 (SECURITY.md): a process killed in the middle of `foyer keys rotate`.
// Rotation is a state machine in the database (next → active → retired →
// removed) changed in single transactions, so whatever instant the process
// dies at, the database holds either the whole rotation or none of it, a
// later run resumes from there, nothing signs with a key that was never
// published, and the JWKS keeps every key whose tokens are still valid.
//
// The test is black-box: the real binary, a real `foyer serve`, and
// `foyer keys rotate` processes SIGKILLed at random instants while the
// server issues tokens. The database is read through `foyer keys list`.

const (
	f3Iterations = 30
	// f3Prepublish is the shortest pre-publication window config allows; it
	// lets the final, unforced rotation happen within the test.
	f3Prepublish = 10 * time.Second
	// f3AccessTTL is the default access-token lifetime; a retired key must
	// stay published at least that long.
	f3AccessTTL = 15 * time.Minute
)

// f3Key is one row of `foyer keys list --json`.
type f3Key struct {
	KID         string     `json:"kid"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	RemoveAfter *time.Time `json:"remove_after"`
}

// f3Snapshot is the key set as stored, by kid, with the active and next kids.
type f3Snapshot struct {
	keys         map[string]f3Key
	active, next string
}

func TestF3KillDuringRotation(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f3KillDuringRotation(t, b) })
	}
}

func f3KillDuringRotation(t *testing.T, b backend) {
	dir := t.TempDir()
	// A fixed port, so the restarted server keeps its address and issuer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	// Server and CLI share one configuration, as on a real deployment.
	// ES256 keeps key generation (which happens before the transaction) from
	// dominating a run, so the random kills spread over the whole run.
	env := append(b.env(t),
		"FOYER_ENCRYPTION_KEY="+testEncryptionKey,
		"FOYER_KEYS_ALGORITHM=ES256",
		"FOYER_KEYS_PREPUBLISH="+f3Prepublish.String(),
		"FOYER_HTTP_ADDR="+addr,
		"FOYER_ISSUER="+base,
		"FOYER_LOG_LEVEL=warn",
	)
	// A seeded generator, so a failing run can be replayed by fixing the seed.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)

	srv := f3StartServer(t, dir, env, base)
	cr := foyer(t, dir, env, "clients", "create", "--name", "F3 machine", "--grant-type", "client_credentials",
		"--scope", "reports:read", "--json")
	if cr.code != 0 {
		t.Fatalf("clients create: exit %d, %s", cr.code, cr.stderr)
	}
	var created struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(cr.stdout), &created); err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: created.ID, ClientSecret: created.Secret, TokenURL: base + "/oauth2/token"}
	httpc := &http.Client{Timeout: 10 * time.Second}
	mint := func() (string, error) {
		ctx, cancel := context.WithTimeout(context.WithValue(t.Context(), oauth2.HTTPClient, httpc), 10*time.Second)
		defer cancel()
		tok, err := cc.Token(ctx)
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}
	// mintVerified gets a token and checks it against the JWKS fetched right
	// after: the server never hands out a token signed by a key its JWKS does
	// not publish (the server reloads keys on a timer, so this is the
	// invariant a verifier can rely on, not "kid was in an earlier JWKS").
	mintVerified := func(when string) string {
		t.Helper()
		var tok string
		waitFor(t, "a token from the server", func() bool {
			var err error
			tok, err = mint()
			return err == nil
		})
		if err := f3Verify(f3JWKS(t, httpc, base), tok); err != nil {
			t.Errorf("%s: fresh token does not verify against the JWKS fetched right after it: %v", when, err)
		}
		return tok
	}

	// Tokens minted before the chaos: they must verify until the end.
	var tracked []string
	for range 3 {
		tracked = append(tracked, mintVerified("before the chaos"))
	}

	// Background load: tokens keep being issued while rotations are killed
	// and while the server itself is killed; every token received must
	// verify against any JWKS fetched afterwards.
	var loadMu sync.Mutex
	var loadTokens []string
	var loadErrors int
	loadCtx, stopLoad := context.WithCancel(t.Context())
	var loadWG sync.WaitGroup
	loadWG.Go(func() {
		for loadCtx.Err() == nil {
			tok, err := mint()
			loadMu.Lock()
			if err != nil {
				loadErrors++
			} else {
				loadTokens = append(loadTokens, tok)
			}
			loadMu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer func() { stopLoad(); loadWG.Wait() }()
	takeLoad := func() []string {
		loadMu.Lock()
		defer loadMu.Unlock()
		out := loadTokens
		loadTokens = nil
		return out
	}

	// signed is every kid that has been active: tokens it signed are valid
	// for f3AccessTTL, far longer than this test, so it must stay stored.
	prev := f3List(t, dir, env)
	signed := map[string]bool{prev.active: true}

	// checkTokens verifies tracked tokens and the load's new ones against a
	// JWKS fetched after they were all received.
	checkTokens := func(when string) {
		t.Helper()
		fresh := takeLoad()
		jwks := f3JWKS(t, httpc, base)
		for i, tok := range tracked {
			if err := f3Verify(jwks, tok); err != nil {
				t.Errorf("%s: tracked token %d no longer verifies: %v", when, i, err)
			}
		}
		for _, tok := range fresh {
			if err := f3Verify(jwks, tok); err != nil {
				t.Errorf("%s: token issued under load does not verify: %v", when, err)
			}
		}
	}

	// rotate runs `foyer keys rotate` with args and SIGKILLs it after delay
	// (kill=false lets it finish). The loop passes --force, so every run that
	// reaches its transaction commits a rotation and kills land on real
	// writes; the pre-publication wait is checked by the final, unforced
	// rotation.
	rotate := func(kill bool, delay time.Duration, args ...string) (signaled bool, r result, took time.Duration) {
		t.Helper()
		cmd := exec.Command(foyerBin, append([]string{"keys", "rotate", "--json"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if kill {
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL) // fails harmlessly if it already exited
		}
		cmd.Wait()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		return ws.Signaled(), result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}, time.Since(start)
	}

	// Where to aim the kills is learnt on this machine. A run takes ~20-60
	// ms, almost all of it start-up; its transactions and commit come at the
	// end. aim tracks the instant of the commit: it moves later after a kill
	// that left the keys as they were and earlier after one that found the
	// rotation committed, so the aimed kills (odd iterations) straddle the
	// commit; the others are uniform over the run.
	_, r, took := rotate(false, 0, "--force")
	if r.code != 0 {
		t.Fatalf("keys rotate --force: exit %d, %s", r.code, r.stderr)
	}
	aim := took * 3 / 4
	cur := f3List(t, dir, env)
	f3Check(t, "first rotation", prev, cur, true, signed)
	prev = cur

	var killed, killedAfterCommit, finished int
	for i := range f3Iterations {
		when := fmt.Sprintf("iteration %d", i)
		// Every fifth run is let finish: a completed run after killed ones
		// is the "restart resumes" case.
		kill := i%5 != 4
		aimed := i%2 == 1
		delay := time.Duration(rng.Int64N(int64(aim * 5 / 4)))
		if aimed {
			delay = max(aim+time.Duration(rng.Int64N(int64(2*time.Millisecond)))-time.Millisecond, 0)
		}
		signaled, r, _ := rotate(kill, delay, "--force")
		switch {
		case signaled:
			killed++
		case r.code == 0:
			finished++
		default:
			t.Errorf("%s: keys rotate --force after earlier kills: exit %d, %s", when, r.code, r.stderr)
		}
		cur := f3List(t, dir, env)
		rotated := cur.active != prev.active
		if signaled && rotated {
			killedAfterCommit++
		}
		if kill && aimed {
			if rotated {
				aim = max(aim-2*time.Millisecond, time.Millisecond)
			} else {
				aim += 2 * time.Millisecond
			}
		}
		if !signaled && r.code == 0 && !rotated {
			t.Errorf("%s: keys rotate exited 0 but the active key is still %s", when, cur.active)
		}
		f3Check(t, when, prev, cur, rotated, signed)
		prev = cur

		if i == f3Iterations/2 {
			// kill -9 the server under load, restart it on the same
			// database: it must load the stored set, make no key of its
			// own, and still publish every key of an unexpired token.
			srv.kill9()
			srv = f3StartServer(t, dir, env, base)
			after := f3List(t, dir, env)
			f3Check(t, "server restart", prev, after, false, signed)
		}
		if i%3 == 0 {
			tracked = append(tracked, mintVerified(when))
		}
		checkTokens(when)
	}
	t.Logf("%d kills landed (%d after the commit, %d before it), %d runs exited by themselves; commit learnt at ~%v after start",
		killed, killedAfterCommit, killed-killedAfterCommit, finished, aim)
	if killed == 0 {
		t.Error("no kill landed: the test did not exercise the crash window")
	}

	// The running server converges on the stored active key (it re-reads
	// keys every 5 s), and what it signs verifies.
	waitFor(t, "the server signs with the stored active key", func() bool {
		return f3Kid(t, mintVerified("convergence")) == prev.active
	})

	// A final unforced rotation completes once the next key has been
	// published for the pre-publication window, and the key it activates
	// was published at least that long before it signs.
	time.Sleep(time.Until(prev.keys[prev.next].CreatedAt.Add(f3Prepublish + 100*time.Millisecond)))
	if _, r, _ := rotate(false, 0); r.code != 0 {
		t.Fatalf("final keys rotate: exit %d, %s", r.code, r.stderr)
	}
	cur = f3List(t, dir, env)
	f3Check(t, "final rotation", prev, cur, true, signed)
	if k := cur.keys[cur.active]; k.ActivatedAt == nil || k.ActivatedAt.Sub(k.CreatedAt) < f3Prepublish {
		t.Errorf("final rotation activated %s, published at %v, at %v: less than %v in the JWKS before signing",
			k.KID, k.CreatedAt, k.ActivatedAt, f3Prepublish)
	}
	waitFor(t, "the server signs with the final active key", func() bool {
		return f3Kid(t, mintVerified("after the final rotation")) == cur.active
	})
	stopLoad()
	loadWG.Wait()
	checkTokens("the end")
	t.Logf("%d tracked tokens, %d token requests failed (server down or restarting)", len(tracked), loadErrors)
}

// f3Check asserts the stored key set's invariants after a step, given the
// set before it. rotated says whether exactly one rotation was committed.
// signed collects the kids that have signed; none may go missing.
func f3Check(t *testing.T, when string, prev, cur f3Snapshot, rotated bool, signed map[string]bool) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format+"\nbefore: %s\nafter:  %s", append(append([]any{when}, args...), prev, cur)...)
	}
	if rotated {
		// The whole rotation, never a part: the published next key signs,
		// the old active key is retired, one new next key is published.
		if cur.active != prev.next {
			fail("active key %s was not the published next key %s (it signs unpublished)", cur.active, prev.next)
		}
		if cur.keys[prev.active].State != "retired" {
			fail("old active key %s is %q, want retired", prev.active, cur.keys[prev.active].State)
		}
		if _, old := prev.keys[cur.next]; old {
			fail("next key %s is not new", cur.next)
		}
		if len(cur.keys) != len(prev.keys)+1 {
			fail("%d keys after a rotation from %d, want one more", len(cur.keys), len(prev.keys))
		}
	} else if !f3SameKeys(prev.keys, cur.keys) {
		fail("the key set changed without a rotation")
	}
	signed[cur.active] = true
	for kid := range signed {
		if k, ok := cur.keys[kid]; !ok || (k.State != "active" && k.State != "retired") {
			fail("key %s signed tokens that are still valid but is %+v", kid, k)
		}
	}
	for _, k := range cur.keys {
		if k.State == "retired" && (k.RetiredAt == nil || k.RemoveAfter == nil || k.RemoveAfter.Sub(*k.RetiredAt) < f3AccessTTL) {
			fail("retired key %s is kept only until %v: less than the access-token lifetime", k.KID, k.RemoveAfter)
		}
	}
}

// f3SameKeys reports whether two stored sets hold the same keys in the same
// states.
func f3SameKeys(a, b map[string]f3Key) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, k := range a {
		o, ok := b[kid]
		if !ok || o.State != k.State || !o.CreatedAt.Equal(k.CreatedAt) {
			return false
		}
	}
	return true
}

func (s f3Snapshot) String() string {
	var parts []string
	for _, k := range s.keys {
		parts = append(parts, k.KID[:8]+":"+k.State)
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// f3List reads the stored keys through the CLI and checks there is exactly
// one active and exactly one next key.
func f3List(t *testing.T, dir string, env []string) f3Snapshot {
	t.Helper()
	r := foyer(t, dir, env, "keys", "list", "--json")
	if r.code != 0 {
		t.Fatalf("keys list: exit %d, %s", r.code, r.stderr)
	}
	var ks []f3Key
	if err := json.Unmarshal([]byte(r.stdout), &ks); err != nil {
		t.Fatalf("keys list: %v\n%s", err, r.stdout)
	}
	s := f3Snapshot{keys: map[string]f3Key{}}
	var actives, nexts int
	for _, k := range ks {
		s.keys[k.KID] = k
		switch k.State {
		case "active":
			s.active, actives = k.KID, actives+1
		case "next":
			s.next, nexts = k.KID, nexts+1
		}
	}
	if actives != 1 || nexts != 1 {
		t.Fatalf("stored keys %+v: %d active and %d next, want exactly one of each", ks, actives, nexts)
	}
	return s
}

// f3Server is a `foyer serve` process.
type f3Server struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

// f3StartServer starts `foyer serve` and waits until it serves a JWKS.
func f3StartServer(t *testing.T, dir string, env []string, base string) *f3Server {
	t.Helper()
	s := &f3Server{done: make(chan struct{})}
	s.cmd = exec.Command(foyerBin, "serve")
	s.cmd.Dir = dir
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.kill9()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	waitFor(t, "foyer serve to publish its JWKS", func() bool {
		select {
		case <-s.done:
			t.Fatalf("foyer serve exited: %v\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		resp, err := http.Get(base + "/.well-known/jwks.json")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

// kill9 SIGKILLs the server and waits for it to be gone; idempotent.
func (s *f3Server) kill9() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// f3JWKS fetches the server's JWKS; it must answer 200 with a key set.
func f3JWKS(t *testing.T, c *http.Client, base string) jose.JSONWebKeySet {
	t.Helper()
	resp, err := c.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != 200 {
		t.Fatalf("GET jwks = %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

// f3Verify checks token as a relying party would: find its kid in the JWKS
// and verify the signature with an explicit algorithm list.
func f3Verify(set jose.JSONWebKeySet, token string) error {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return err
	}
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) == 0 {
		return fmt.Errorf("kid %s is not in the JWKS", kid)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		return fmt.Errorf("kid %s: %w", kid, err)
	}
	return nil
}

// f3Kid is the kid in a token's header.
func f3Kid(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
