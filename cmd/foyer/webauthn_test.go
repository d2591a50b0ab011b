package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/oauth2"
)

// softKey is a software WebAuthn authenticator holding one credential:
// it answers the server's options as a browser with a platform
// authenticator would, and can be made to misbehave, so the server's
// checks can be tested over HTTP on both backends without a browser.
type softKey struct {
	id      []byte
	key     *ecdsa.PrivateKey
	user    []byte // the user handle it was registered for
	counter uint32
	origin  string
	rpID    string
}

func newSoftKey(t *testing.T, origin, rpID string) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softKey{id: id, key: k, origin: origin, rpID: rpID}
}

var b64url = base64.RawURLEncoding

// ceremony tweaks a response: the client data, the flags, the counter.
type ceremony struct {
	typ     string // clientDataJSON type; default webauthn.create / webauthn.get
	origin  string // default the key's origin
	flags   byte   // default UP|UV (and AT when registering)
	counter *uint32
	user    []byte // the userHandle sent; default the registered one
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func (k *softKey) clientData(t *testing.T, typ, challenge string, c ceremony) []byte {
	t.Helper()
	if c.typ != "" {
		typ = c.typ
	}
	origin := k.origin
	if c.origin != "" {
		origin = c.origin
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

func (k *softKey) authData(flags byte, counter uint32, attested []byte) []byte {
	rp := sha256.Sum256([]byte(k.rpID))
	out := append(rp[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// create answers creation options (the JSON of /mfa/passkey/register/options).
func (k *softKey) create(t *testing.T, options []byte, c ceremony) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			User      struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("creation options: %v\n%s", err, options)
	}
	k.user, _ = b64url.DecodeString(o.PublicKey.User.ID)
	pub, err := k.key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	x, y := pub[1:33], pub[33:]
	cose, _ := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	attested := make([]byte, 16) // AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	flags := byte(flagUP | flagUV | flagAT)
	if c.flags != 0 {
		flags = c.flags | flagAT
	}
	att, _ := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(flags, 0, attested)})
	body, _ := json.Marshal(map[string]any{
		"id": b64url.EncodeToString(k.id), "rawId": b64url.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64url.EncodeToString(k.clientData(t, "webauthn.create", o.PublicKey.Challenge, c)),
			"attestationObject": b64url.EncodeToString(att), "transports": []string{"internal"},
		},
	})
	return body
}

// get answers request options with a signed assertion.
func (k *softKey) get(t *testing.T, options []byte, c ceremony) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("request options: %v\n%s", err, options)
	}
	k.counter++
	counter := k.counter
	if c.counter != nil {
		counter = *c.counter
	}
	flags := byte(flagUP | flagUV)
	if c.flags != 0 {
		flags = c.flags
	}
	ad := k.authData(flags, counter, nil)
	cd := k.clientData(t, "webauthn.get", o.PublicKey.Challenge, c)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	user := k.user
	if c.user != nil {
		user = c.user
	}
	body, _ := json.Marshal(map[string]any{
		"id": b64url.EncodeToString(k.id), "rawId": b64url.EncodeToString(k.id), "type": "public-key",
		"clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON": b64url.EncodeToString(cd), "authenticatorData": b64url.EncodeToString(ad),
			"signature": b64url.EncodeToString(sig), "userHandle": b64url.EncodeToString(user),
		},
	})
	return body
}

// passkeyCall posts to a passkey endpoint from browser b: options as a
// form with the CSRF token, finishing as JSON with X-CSRF-Token.
func (e *signinEnv) passkeyCall(t *testing.T, b *http.Client, path, csrf string, jsonBody []byte) (int, []byte) {
	t.Helper()
	var req *http.Request
	if jsonBody == nil {
		req, _ = http.NewRequestWithContext(t.Context(), "POST", e.issuer+path, strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequestWithContext(t.Context(), "POST", e.issuer+path, strings.NewReader(string(jsonBody)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := stay(b).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, []byte(read(t, resp))
}

// csrfOf reads browser b's CSRF token from a page it loads.
func (e *signinEnv) csrfOf(t *testing.T, b *http.Client, path string) string {
	t.Helper()
	r := e.fetch(t, b, "GET", path, nil)
	if tok := hidden(r.body).Get("csrf_token"); tok != "" {
		return tok
	}
	t.Fatalf("%s has no CSRF token (%d)", path, r.status)
	return ""
}

// TestPasskeyChecks: the server's WebAuthn checks, over HTTP with a
// software authenticator, on both backends (the browser test shows the
// ceremonies in Chromium). Registration needs a recent sign-in and the
// CSRF header, and refuses a credential ID registered before (WA-06).
// Passwordless sign-in refuses a replayed or expired challenge and
// another browser's (WA-01), a wrong origin or type (WA-02), an assertion
// without user verification or presence (WA-03), a credential presented
// for another user (WA-04), and a counter that goes backwards (WA-05).
func TestPasskeyChecks(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnvAt(t, backend, "localhost")
			ctx := t.Context()
			origin := e.issuer
			b := newBrowser(t)
			if r := e.signInAsAlice(t, b); r.Request.URL.Path != "/account" {
				t.Fatalf("sign-in ended at %s", r.Request.URL)
			}
			csrf := e.csrfOf(t, b, "/account/security")
			key := newSoftKey(t, origin, "localhost")

			register := func(k *softKey, c ceremony) (int, []byte) {
				t.Helper()
				st, opts := e.passkeyCall(t, b, "/mfa/passkey/register/options", csrf, nil)
				if st != http.StatusOK {
					t.Fatalf("register options = %d %s", st, opts)
				}
				return e.passkeyCall(t, b, "/mfa/passkey/register", csrf, k.create(t, opts, c))
			}
			if st, out := e.passkeyCall(t, b, "/mfa/passkey/register/options", "wrong", nil); st != http.StatusForbidden {
				t.Errorf("register options without the CSRF token = %d %s", st, out)
			}
			st, opts := e.passkeyCall(t, b, "/mfa/passkey/register/options", csrf, nil)
			if st != http.StatusOK {
				t.Fatalf("register options = %d", st)
			}
			if st, _ := e.passkeyCall(t, b, "/mfa/passkey/register", "", key.create(t, opts, ceremony{})); st != http.StatusForbidden {
				t.Errorf("WA-06: finishing without X-CSRF-Token = %d, want 403", st)
			}
			if st, out := register(key, ceremony{}); st != http.StatusOK || !strings.Contains(string(out), "passkey-added") {
				t.Fatalf("registering = %d %s", st, out)
			}
			added, err := e.store.GetPasskey(ctx, key.id)
			if err != nil {
				t.Fatal(err)
			}
			// TO-04, WA-06: adding a passkey emails the person, with its name.
			e.checkNotice(t, 1, "TO-04 passkey added", "A passkey, \""+added.Name+"\", was added")
			if st, out := register(key, ceremony{}); st != http.StatusConflict {
				t.Errorf("WA-06: the same credential ID again = %d %s, want 409", st, out)
			}
			// A second user's credential, to present as alice's (WA-04).
			bob := e.createUser(t, "bob@example.com", e.pass, true)

			login := func(b *http.Client, k *softKey, c ceremony) (int, []byte) {
				t.Helper()
				csrf := e.csrfOf(t, b, "/login")
				st, opts := e.passkeyCall(t, b, "/mfa/passkey/login/options", csrf, nil)
				if st != http.StatusOK {
					t.Fatalf("login options = %d %s", st, opts)
				}
				return e.passkeyCall(t, b, "/mfa/passkey/login", csrf, k.get(t, opts, c))
			}
			b2 := newBrowser(t)
			if st, out := login(b2, key, ceremony{}); st != http.StatusOK || !strings.Contains(string(out), `"redirect":"/account"`) {
				t.Fatalf("passwordless sign-in = %d %s", st, out)
			}

			// WA-01: a spent challenge; an expired one; another browser's.
			b3 := newBrowser(t)
			csrf3 := e.csrfOf(t, b3, "/login")
			_, opts = e.passkeyCall(t, b3, "/mfa/passkey/login/options", csrf3, nil)
			assertion := key.get(t, opts, ceremony{})
			if st, _ := e.passkeyCall(t, b3, "/mfa/passkey/login", csrf3, assertion); st != http.StatusOK {
				t.Fatalf("a fresh assertion = %d", st)
			}
			if st, _ := e.passkeyCall(t, b3, "/mfa/passkey/login", csrf3, assertion); st != http.StatusBadRequest {
				t.Errorf("WA-01: the same assertion again = %d, want 400", st)
			}
			b4 := newBrowser(t)
			csrf4 := e.csrfOf(t, b4, "/login")
			_, opts = e.passkeyCall(t, b4, "/mfa/passkey/login/options", csrf4, nil)
			e.clock.Advance(6 * time.Minute)
			if st, _ := e.passkeyCall(t, b4, "/mfa/passkey/login", csrf4, key.get(t, opts, ceremony{})); st != http.StatusBadRequest {
				t.Errorf("WA-01: an assertion for a challenge 6 minutes old = %d, want 400", st)
			}
			b5, b6 := newBrowser(t), newBrowser(t)
			csrf5, csrf6 := e.csrfOf(t, b5, "/login"), e.csrfOf(t, b6, "/login")
			_, opts = e.passkeyCall(t, b5, "/mfa/passkey/login/options", csrf5, nil)
			if st, _ := e.passkeyCall(t, b6, "/mfa/passkey/login", csrf6, key.get(t, opts, ceremony{})); st != http.StatusBadRequest {
				t.Errorf("WA-01: another browser's challenge = %d, want 400", st)
			}

			for _, tc := range []struct {
				name string
				c    ceremony
			}{
				{"WA-02 a sibling origin", ceremony{origin: "http://evil.localhost" + strings.TrimPrefix(origin, "http://localhost")}},
				{"WA-02 http on another port", ceremony{origin: "http://localhost:1"}},
				{"WA-02 type webauthn.create", ceremony{typ: "webauthn.create"}},
				{"WA-03 no user verification", ceremony{flags: flagUP}},
				{"WA-03 no user presence", ceremony{flags: flagUV}},
				{"WA-04 another user's handle", ceremony{user: []byte(bob.ID)}},
			} {
				if st, out := login(newBrowser(t), key, tc.c); st != http.StatusBadRequest {
					t.Errorf("%s: %d %s, want 400", tc.name, st, out)
				}
			}

			// WA-05: a counter the server has seen.
			stale := uint32(1)
			if st, _ := login(newBrowser(t), key, ceremony{counter: &stale}); st != http.StatusBadRequest {
				t.Errorf("WA-05: a counter that went backwards = %d, want 400", st)
			}
			pk, err := e.store.GetPasskey(ctx, key.id)
			if err != nil || !pk.CloneWarning {
				t.Errorf("WA-05: the clone warning is not recorded: %+v, %v", pk, err)
			}

			// TO-04: deleting the passkey emails the person too.
			sec := e.fetch(t, b, http.MethodGet, "/account/security", nil)
			if r := e.post(t, b, "/account/security/passkeys/delete", sec.body,
				url.Values{"id": {base64.RawURLEncoding.EncodeToString(key.id)}}); r.status != http.StatusSeeOther {
				t.Fatalf("deleting the passkey = %v", r)
			}
			e.checkNotice(t, 2, "TO-04 passkey deleted", "A passkey, \""+added.Name+"\", was deleted")

			// WA-06: adding a passkey needs a sign-in within 10 minutes.
			e.clock.Advance(5 * time.Minute)
			if st, out := e.passkeyCall(t, b, "/mfa/passkey/register/options", csrf, nil); st != http.StatusForbidden ||
				!strings.Contains(string(out), "sign in again") {
				t.Errorf("WA-06: registering 11 minutes after signing in = %d %s, want 403", st, out)
			}
		})
	}
}

// TestSecondFactorIsNotASession (SC-09): after the password of a person
// with a second factor there is no session yet, only the pending step:
// the account page, an authorization and the device page send the
// browser to sign in, and no code is issued.
func TestSecondFactorIsNotASession(t *testing.T) {
	d := newDeviceEnv(t, "embedded")
	e := d.signinEnv
	b := newBrowser(t)
	e.signInAsAlice(t, b)
	e.enrolTOTP(t, b)
	b2 := newBrowser(t)
	e.secondFactor(t, b2)
	for _, path := range []string{"/account", "/account/security"} {
		r := e.fetch(t, b2, "GET", path, nil)
		if r.status == http.StatusOK {
			t.Errorf("SC-09: %s with only the password = 200", path)
		}
	}
	// A real device code typed with only the password goes to sign in,
	// never to its confirmation page.
	r := e.fetch(t, b2, "GET", "/device", nil)
	form := hidden(r.body)
	form.Set("user_code", d.start(t).UserCode)
	if resp, err := b2.PostForm(e.issuer+"/device", form); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.Request.URL.Path != "/login" {
		t.Errorf("SC-09: a device code typed with only the password ended at %s, want the sign-in page", resp.Request.URL)
	}
	if r := e.fetch(t, b2, "GET", "/account", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("SC-09: the account page = %v, want a redirect to sign in", r)
	}
	a := newOrgApp(t, e.oidcEnv, "openid")
	resp, err := b2.Get(a.conf.AuthCodeURL("state-sc09", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" {
		t.Errorf("SC-09: an authorization with only the password ended at %s, want the sign-in page", resp.Request.URL)
	}
}

// TestPasskeyOptionsFlood: passwordless options are free to ask for and
// each stores a challenge, so one address gets 300 in 15 minutes (a
// sign-in page asks once per view), then 429.
func TestPasskeyOptionsFlood(t *testing.T) {
	e := newSigninEnvAt(t, "embedded", "localhost")
	b := newBrowser(t)
	csrf := e.csrfOf(t, b, "/login")
	for i := range 300 {
		if st, out := e.passkeyCall(t, b, "/mfa/passkey/login/options", csrf, nil); st != http.StatusOK {
			t.Fatalf("request %d = %d %s", i+1, st, out)
		}
	}
	if st, out := e.passkeyCall(t, b, "/mfa/passkey/login/options", csrf, nil); st != http.StatusTooManyRequests {
		t.Errorf("the 301st request = %d %s, want 429", st, out)
	}
}
