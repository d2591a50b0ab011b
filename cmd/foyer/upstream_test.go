package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/storage"
)

// fakeOIDC is a hand-made OpenID provider in the test: discovery, JWKS,
// an authorization endpoint that signs in whoever the test says at once,
// and a token endpoint that checks the PKCE verifier and signs the ID
// token, which the test may tamper with.
type fakeOIDC struct {
	srv              *httptest.Server
	clientID, secret string
	key, unknown     *rsa.PrivateKey // the published key, and one never published

	mu sync.Mutex
	// claims are the next ID tokens' claims besides the standard ones.
	claims map[string]any
	// tamper, when set, changes the standard claims (iss, aud, exp,
	// nonce, …) before signing; signWith replaces the published key.
	tamper   func(map[string]any)
	signWith *rsa.PrivateKey
	codes    map[string]fakeCode
	// verifiers are the PKCE verifiers the token endpoint received.
	verifiers []string
}

type fakeCode struct{ nonce, challenge, redirectURI string }

func startFakeOIDC(t *testing.T) *fakeOIDC {
	t.Helper()
	p := &fakeOIDC{clientID: "foyer-at-fake", secret: "fake-client-secret", codes: map[string]fakeCode{}}
	var err error
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if p.unknown, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
			"jwks_uri": p.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		code := rand.Text()
		p.mu.Lock()
		p.codes[code] = fakeCode{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		c, found := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		p.verifiers = append(p.verifiers, r.PostFormValue("code_verifier"))
		if id != p.clientID || secret != p.secret || !found || c.redirectURI != r.PostFormValue("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		now := time.Now()
		claims := map[string]any{"iss": p.srv.URL, "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": c.nonce}
		for k, v := range p.claims {
			claims[k] = v
		}
		if p.tamper != nil {
			p.tamper(claims)
		}
		key := p.key
		if p.signWith != nil {
			key = p.signWith
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		idToken, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// as makes the next sign-ins those of subject with email, verified or not.
func (p *fakeOIDC) as(subject, email string, verified bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.claims = map[string]any{"sub": subject, "email": email, "email_verified": verified, "name": "Upstream " + subject}
	p.tamper, p.signWith = nil, nil
}

func (p *fakeOIDC) set(tamper func(map[string]any), signWith *rsa.PrivateKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper, p.signWith = tamper, signWith
}

// upstreamEnv is a running Foyer with a global connection to a fake OpenID
// provider (linking by email on) and, when asked, one of organization acme.
type upstreamEnv struct {
	*signinEnv
	fake *fakeOIDC
	conn storage.UpstreamConnection
}

func newUpstreamEnv(t *testing.T, backend string, configure func(*config.Config)) *upstreamEnv {
	t.Helper()
	e := &upstreamEnv{signinEnv: newSigninEnvConfigured(t, backend, "127.0.0.1", configure), fake: startFakeOIDC(t)}
	e.conn = e.connection(t, "", "Fake IdP", true, false)
	return e
}

// connection adds a connection to the fake provider: global when orgID is
// "", else the organization's.
func (e *upstreamEnv) connection(t *testing.T, orgID, name string, linkByEmail, multiFactor bool) storage.UpstreamConnection {
	t.Helper()
	c, err := e.srv.upstream.CreateConnection(t.Context(), upstream.NewConnection{
		OrgID: orgID, Type: storage.UpstreamOIDC, Name: name, Issuer: e.fake.srv.URL,
		ClientID: e.fake.clientID, ClientSecret: e.fake.secret, LinkByEmail: linkByEmail, MultiFactor: multiFactor,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// upstreamSignIn signs in through connection id in browser b and returns
// the page it ends at (the account page, the link page or a refusal).
func (e *upstreamEnv) upstreamSignIn(t *testing.T, b *http.Client, id string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(e.issuer + upstream.StartPath(id, ""))
	if err != nil {
		t.Fatal(err)
	}
	return resp, read(t, resp)
}

// signedInAs reports whom browser b is signed in as: the account page's
// email, or "" when it is sent to sign in.
func (e *upstreamEnv) signedInAs(t *testing.T, b *http.Client) string {
	t.Helper()
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if resp.Request.URL.Path != "/account" {
		return ""
	}
	m := regexp.MustCompile(`<p class="identity"><b>([^<]+)</b>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("account page without an identity:\n%s", page)
	}
	return m[1]
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post submits a form of page (its csrf_token) to path with more fields.
func (e *upstreamEnv) post(t *testing.T, b *http.Client, page, path string, fields url.Values) (*http.Response, string) {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token on the page:\n%s", page)
	}
	if fields == nil {
		fields = url.Values{}
	}
	fields.Set("csrf_token", m[1])
	resp, err := b.PostForm(e.issuer+path, fields)
	if err != nil {
		t.Fatal(err)
	}
	return resp, read(t, resp)
}

// TestUpstreamSignInBySubjectMT05, on both backends: a first
// sign-in through an OpenID provider creates the account (address
// verified as the provider says); the second finds it by (connection,
// subject) even after the address changed upstream; another subject with
// the address of an existing account, unverified upstream, is not that
// account's owner.
func TestUpstreamSignInBySubjectMT05(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newUpstreamEnv(t, backend, nil)
			ctx := t.Context()
			e.fake.as("sub-new", "newbie@example.com", true)
			b := newBrowser(t)
			resp, page := e.upstreamSignIn(t, b, e.conn.ID)
			if resp.Request.URL.Path != "/account" || !strings.Contains(page, "newbie@example.com") {
				t.Fatalf("first sign-in ended at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, page)
			}
			u, err := e.store.GetUserByEmail(ctx, "newbie@example.com")
			if err != nil || !u.EmailVerified || u.Name != "Upstream sub-new" {
				t.Fatalf("created user %+v, %v", u, err)
			}
			ids, _ := e.store.ListExternalIdentities(ctx, u.ID)
			if len(ids) != 1 || ids[0].ConnectionID != e.conn.ID || ids[0].Subject != "sub-new" {
				t.Errorf("identities %+v", ids)
			}
			if got := e.fake.verifiers; len(got) != 1 || len(got[0]) < 43 {
				t.Errorf("PKCE verifiers at the token endpoint %q", got)
			}
			bs, _ := e.store.ListBrowserSessions(ctx, u.ID)
			if len(bs) != 1 || !slices.Equal(bs[0].AMR, []string{"ext"}) {
				t.Errorf("sessions %+v, want one with amr [ext]", bs)
			}
			wantUpstreamAudit(t, e.store, storage.AuditQuery{UserID: u.ID, Type: audit.SignInSucceeded}, e.conn.ID, `"upstream"`)

			// MT-05: the same subject with another address is the same person.
			e.fake.as("sub-new", "renamed@example.com", true)
			b2 := newBrowser(t)
			if resp, page = e.upstreamSignIn(t, b2, e.conn.ID); resp.Request.URL.Path != "/account" || !strings.Contains(page, "newbie@example.com") {
				t.Fatalf("second sign-in ended at %s:\n%s", resp.Request.URL, page)
			}
			if _, err := e.store.GetUserByEmail(ctx, "renamed@example.com"); err == nil {
				t.Error("the second sign-in made an account for the new address")
			}

			// MT-05: a subject whose unverified upstream address is alice's
			// is not alice.
			e.fake.as("sub-mallory", e.email, false)
			b3 := newBrowser(t)
			resp, page = e.upstreamSignIn(t, b3, e.conn.ID)
			if resp.Request.URL.Path != "/login/upstream/link" || !strings.Contains(page, "Sign in") || strings.Contains(page, "Link account") {
				t.Errorf("unverified address of alice ended at %s:\n%s", resp.Request.URL, page)
			}
			if who := e.signedInAs(t, b3); who != "" {
				t.Errorf("MT-05: signed in as %q by an upstream address", who)
			}
			if _, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "sub-mallory"); err == nil {
				t.Error("MT-05: the subject was linked to alice")
			}
		})
	}
}

// TestUpstreamLinkingRulesMT06, on both backends: a first sign-in is
// linked to the account with its address only when the upstream verified
// it, the account's address is verified and the connection links by
// email (and, for an organization's connection, the domain is the
// organization's); otherwise the person signs in to the account first and
// then confirms the link.
func TestUpstreamLinkingRulesMT06(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newUpstreamEnv(t, backend, nil)
			ctx := t.Context()
			dir := idp.NewDirectory(idp.Options{Store: e.store})
			bob, err := dir.CreateUser(ctx, idp.NewUser{Email: "bob@example.com", Password: "bob's long password", EmailVerified: false})
			if err != nil {
				t.Fatal(err)
			}
			acme, err := dir.CreateOrganization(ctx, "acme", "Acme")
			if err != nil {
				t.Fatal(err)
			}
			noLink := e.connection(t, "", "No Linking", false, false)
			orgConn := e.connection(t, acme.ID, "Acme IdP", true, false)
			for _, tc := range []struct {
				name           string
				conn           string
				email          string
				verified, link bool
			}{
				{"both verified: linked", e.conn.ID, e.email, true, true},
				{"upstream unverified", e.conn.ID, e.email, false, false},
				{"local unverified", e.conn.ID, bob.Email, true, false},
				{"connection does not link by email", noLink.ID, e.email, true, false},
				{"organization's connection, domain not the organization's", orgConn.ID, e.email, true, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					subject := "sub-" + rand.Text()
					e.fake.as(subject, tc.email, tc.verified)
					b := newBrowser(t)
					resp, page := e.upstreamSignIn(t, b, tc.conn)
					_, err := e.store.GetExternalIdentity(ctx, tc.conn, subject)
					if tc.link {
						if resp.Request.URL.Path != "/account" || e.signedInAs(t, b) != tc.email || err != nil {
							t.Errorf("ended at %s, identity %v, want signed in as %s:\n%s", resp.Request.URL, err, tc.email, page)
						}
						return
					}
					if resp.Request.URL.Path != "/login/upstream/link" || !strings.Contains(page, "already exists") {
						t.Errorf("ended at %s, want the link page:\n%s", resp.Request.URL, page)
					}
					if who := e.signedInAs(t, b); who != "" || err == nil {
						t.Errorf("MT-06: signed in as %q, identity error %v", who, err)
					}
				})
			}

			// Sign in to the account first, then link: the account page
			// offers the waiting link, and the next upstream sign-in is
			// alice's at once.
			e.fake.as("sub-alice", e.email, false)
			b := newBrowser(t)
			if resp, _ := e.upstreamSignIn(t, b, e.conn.ID); resp.Request.URL.Path != "/login/upstream/link" {
				t.Fatalf("ended at %s, want the link page", resp.Request.URL)
			}
			resp, err := b.Get(e.issuer + "/login")
			if err != nil {
				t.Fatal(err)
			}
			resp, account := e.post(t, b, read(t, resp), "/login/password", url.Values{"email": {e.email}, "password": {e.pass}})
			if resp.Request.URL.Path != "/account" || !strings.Contains(account, "Link your Fake IdP account") {
				t.Fatalf("after signing in: %s:\n%s", resp.Request.URL, account)
			}
			resp, page := e.post(t, b, account, "/login/upstream/link", nil)
			if resp.Request.URL.String() != e.issuer+"/account?done=linked" || !strings.Contains(page, "Your account is linked") ||
				!strings.Contains(page, `name="connection_id" value="`+e.conn.ID+`"`) {
				t.Fatalf("after linking: %s:\n%s", resp.Request.URL, page)
			}
			id, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "sub-alice")
			if err != nil || id.UserID == bob.ID {
				t.Errorf("linked identity %+v, %v", id, err)
			}
			wantUpstreamAudit(t, e.store, storage.AuditQuery{UserID: id.UserID, Type: audit.IdentityLinked}, e.conn.ID, "")
			if who := e.signedInAs(t, newBrowserSignedInUpstream(t, e, e.conn.ID)); who != e.email {
				t.Errorf("after linking, the upstream signs in %q, want alice", who)
			}
			// The link is spent: posting it again links nothing.
			if resp, _ := e.post(t, b, account, "/login/upstream/link", nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("the link posted again = %d", resp.StatusCode)
			}
		})
	}
}

// newBrowserSignedInUpstream is a new browser signed in through id.
func newBrowserSignedInUpstream(t *testing.T, e *upstreamEnv, id string) *http.Client {
	t.Helper()
	b := newBrowser(t)
	e.upstreamSignIn(t, b, id)
	return b
}

// TestUpstreamOrganizationsMT07: a global connection never makes anyone a
// member of an organization, not even with an address of a domain the
// organization proved; an organization's own connection makes the people
// who sign in through it members, and vouches for addresses of its proved
// domains only.
func TestUpstreamOrganizationsMT07(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", nil)
	ctx := t.Context()
	acme, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(ctx, "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	// acme proved acme.example (a SAML connection's verified domain).
	sc, err := e.store.CreateSAMLConnection(ctx, storage.SAMLConnection{ID: storage.NewID(storage.PrefixSAMLConnection), OrgID: acme.ID,
		Name: "Acme SAML", SPKey: []byte{1}, SPCertificate: []byte{1}, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddSAMLDomain(ctx, storage.SAMLDomain{Domain: "acme.example", ConnectionID: sc.ID, VerificationToken: "t",
		VerifiedAt: time.Now(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	orgConn := e.connection(t, acme.ID, "Acme IdP", true, false)
	member := func(email string) (bool, storage.User) {
		t.Helper()
		u, err := e.store.GetUserByEmail(ctx, email)
		if err != nil {
			t.Fatalf("no account for %s: %v", email, err)
		}
		_, err = e.store.GetMembership(ctx, acme.ID, u.ID)
		return err == nil, u
	}

	e.fake.as("sub-carol", "carol@acme.example", true)
	newBrowserSignedInUpstream(t, e, e.conn.ID)
	if in, _ := member("carol@acme.example"); in {
		t.Error("MT-07: a global connection joined carol to acme by her domain")
	}

	e.fake.as("sub-dan", "dan@acme.example", true)
	newBrowserSignedInUpstream(t, e, orgConn.ID)
	if in, u := member("dan@acme.example"); !in || !u.EmailVerified {
		t.Errorf("MT-07: acme's connection: member %v, verified %v; want both", in, u.EmailVerified)
	}

	// acme's IdP does not vouch for another domain's address.
	e.fake.as("sub-erin", "erin@elsewhere.example", true)
	newBrowserSignedInUpstream(t, e, orgConn.ID)
	if in, u := member("erin@elsewhere.example"); !in || u.EmailVerified {
		t.Errorf("acme's connection, foreign address: member %v, verified %v; want member, unverified", in, u.EmailVerified)
	}
}

// TestUpstreamIDTokenRefused: an ID token with a wrong audience, a wrong
// nonce, an expired one, another issuer's, or one signed by a key the
// provider never published is refused with a clear page; nobody is
// signed in and no account is made. So is an answer for a sign-in this
// browser did not start, and one used twice.
func TestUpstreamIDTokenRefused(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", nil)
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		tamper   func(map[string]any)
		unknown  bool
		wantFail string
	}{
		{name: "wrong audience", tamper: func(c map[string]any) { c["aud"] = "someone-else" }},
		{name: "wrong nonce", tamper: func(c map[string]any) { c["nonce"] = "not-the-nonce" }},
		{name: "no nonce", tamper: func(c map[string]any) { delete(c, "nonce") }},
		{name: "expired", tamper: func(c map[string]any) {
			c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
			c["iat"] = time.Now().Add(-20 * time.Minute).Unix()
		}},
		{name: "another issuer", tamper: func(c map[string]any) { c["iss"] = "https://evil.example" }},
		{name: "unknown signing key", unknown: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
			e.fake.as("sub-"+rand.Text(), email, true)
			var key *rsa.PrivateKey
			if tc.unknown {
				key = e.fake.unknown
			}
			e.fake.set(tc.tamper, key)
			b := newBrowser(t)
			resp, page := e.upstreamSignIn(t, b, e.conn.ID)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Sign-in failed") ||
				!strings.Contains(page, "the provider&#39;s answer could not be verified") {
				t.Errorf("got %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
			}
			if who := e.signedInAs(t, b); who != "" {
				t.Errorf("signed in as %q", who)
			}
			if _, err := e.store.GetUserByEmail(ctx, email); err == nil {
				t.Error("an account was made")
			}
		})
	}
	refusals, err := e.store.ListAuditEntries(ctx, storage.AuditQuery{Type: audit.SignInFailed})
	if err != nil || len(refusals) < 6 || refusals[0].Reason != "upstream_refused" || refusals[0].TargetID != e.conn.ID {
		t.Errorf("audit refusals %+v, %v; want one per refused answer", refusals, err)
	}

	t.Run("another browser's answer, and an answer used twice", func(t *testing.T) {
		e.fake.as("sub-replay", "replay@example.com", true)
		started := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), e.issuer+"/login/upstream/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}}
		started.Jar = newBrowser(t).Jar
		resp, err := started.Get(e.issuer + upstream.StartPath(e.conn.ID, ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cb, err := resp.Location()
		if err != nil {
			t.Fatalf("no redirect to the callback: %d", resp.StatusCode)
		}
		resp, err = newBrowser(t).Get(cb.String())
		if err != nil {
			t.Fatal(err)
		}
		if page := read(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "does not belong to a sign-in started in this browser") {
			t.Errorf("another browser's callback = %d:\n%s", resp.StatusCode, page)
		}
		started.CheckRedirect = nil
		resp, err = started.Get(cb.String())
		if err != nil {
			t.Fatal(err)
		}
		if page := read(t, resp); resp.Request.URL.Path != "/account" {
			t.Fatalf("the starting browser's callback ended at %s:\n%s", resp.Request.URL, page)
		}
		resp, err = started.Get(cb.String())
		if err != nil {
			t.Fatal(err)
		}
		if page := read(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Sign-in failed") {
			t.Errorf("the callback again = %d:\n%s", resp.StatusCode, page)
		}
	})
}

// TestUpstreamSecondFactor: the MFA policy applies after an upstream
// sign-in (here mfa.required: the person sets up a factor first), except
// through a connection marked multi-factor, whose session says so.
func TestUpstreamSecondFactor(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", func(c *config.Config) { c.MFA.Required = true })
	ctx := t.Context()
	e.fake.as("sub-mfa", "mfa@example.com", true)
	b := newBrowser(t)
	resp, page := e.upstreamSignIn(t, b, e.conn.ID)
	if resp.Request.URL.Path != "/login/enrol" {
		t.Errorf("ended at %s, want the second-factor set-up:\n%s", resp.Request.URL, page)
	}
	u, err := e.store.GetUserByEmail(ctx, "mfa@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if bs, _ := e.store.ListBrowserSessions(ctx, u.ID); len(bs) != 0 {
		t.Errorf("sessions before the second factor: %+v", bs)
	}

	enterprise := e.connection(t, "", "Enterprise IdP", false, true)
	e.fake.as("sub-ent", "ent@example.com", true)
	if resp, page = e.upstreamSignIn(t, newBrowser(t), enterprise.ID); resp.Request.URL.Path != "/account" {
		t.Fatalf("multi-factor connection ended at %s:\n%s", resp.Request.URL, page)
	}
	u, _ = e.store.GetUserByEmail(ctx, "ent@example.com")
	if bs, _ := e.store.ListBrowserSessions(ctx, u.ID); len(bs) != 1 || !slices.Equal(bs[0].AMR, []string{"ext", "mfa"}) {
		t.Errorf("sessions %+v, want one with amr [ext mfa]", bs)
	}
}

// TestUpstreamAccountLinks: the account page lists linked connections; one
// is removed (CSRF-protected POST) while another way to sign in remains,
// and the last way to sign in is kept.
func TestUpstreamAccountLinks(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", nil)
	ctx := t.Context()

	// An account made from an unverified upstream address has no other way
	// to sign in: no password, no emailed links, no passkey.
	e.fake.as("sub-only", "only@example.com", false)
	b := newBrowserSignedInUpstream(t, e, e.conn.ID)
	resp, err := b.Get(e.issuer + "/account")
	if err != nil {
		t.Fatal(err)
	}
	account := read(t, resp)
	if !strings.Contains(account, "Connected accounts") || !strings.Contains(account, "Your only way to sign in") {
		t.Errorf("account page:\n%s", account)
	}
	fields := url.Values{"connection_id": {e.conn.ID}, "subject": {"sub-only"}}
	if resp, page := e.post(t, b, account, "/account/connections/remove", fields); resp.StatusCode != http.StatusConflict {
		t.Errorf("removing the only way = %d:\n%s", resp.StatusCode, page)
	}
	if _, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "sub-only"); err != nil {
		t.Errorf("the only way was removed: %v", err)
	}
	// Without the CSRF token nothing happens.
	noCSRF := url.Values{"connection_id": {e.conn.ID}, "subject": {"sub-only"}}
	if resp, err := b.PostForm(e.issuer+"/account/connections/remove", noCSRF); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("remove without CSRF = %v, %v", resp.StatusCode, err)
	}

	// A verified address signs in by emailed link: the link can go.
	e.fake.as("sub-verified", "verified@example.com", true)
	b = newBrowserSignedInUpstream(t, e, e.conn.ID)
	if resp, err = b.Get(e.issuer + "/account"); err != nil {
		t.Fatal(err)
	}
	account = read(t, resp)
	resp, page := e.post(t, b, account, "/account/connections/remove", url.Values{"connection_id": {e.conn.ID}, "subject": {"sub-verified"}})
	if resp.Request.URL.String() != e.issuer+"/account?done=unlinked" || strings.Contains(page, "Connected accounts") {
		t.Errorf("after removing: %s:\n%s", resp.Request.URL, page)
	}
	if _, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "sub-verified"); err == nil {
		t.Error("the link is still there")
	}
	wantUpstreamAudit(t, e.store, storage.AuditQuery{Type: audit.IdentityUnlinked}, e.conn.ID, "")
	// Someone else's link is not found.
	if resp, _ := e.post(t, b, account, "/account/connections/remove", noCSRF); resp.StatusCode != http.StatusNotFound {
		t.Errorf("removing another's link = %d", resp.StatusCode)
	}
}

// TestUpstreamLoginButtons: the sign-in page shows "Continue with …" for
// global connections, carrying the authorization's challenge, and the
// authorization's connection parameter goes straight to the connection.
func TestUpstreamLoginButtons(t *testing.T) {
	e := newUpstreamEnv(t, "embedded", nil)
	acme, err := idp.NewDirectory(idp.Options{Store: e.store}).CreateOrganization(t.Context(), "acme", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	e.connection(t, acme.ID, "Acme Only", true, false) // an organization's: no button
	resp, err := newBrowser(t).Get(e.issuer + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page := read(t, resp)
	if !strings.Contains(page, "Continue with Fake IdP") || !strings.Contains(page, `action="/login/upstream/`+e.conn.ID+`/start"`) ||
		strings.Contains(page, "Acme Only") {
		t.Errorf("sign-in page:\n%s", page)
	}

	a := newOrgApp(t, e.oidcEnv, "openid", "email")
	e.fake.as("sub-param", "param@example.com", true)
	b := newBrowser(t)
	resp, err = b.Get(a.conf.AuthCodeURL("state-up") + "&connection=" + e.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-up" {
		t.Fatalf("connection parameter: %d at %s, %v", resp.StatusCode, resp.Request.URL, loc)
	}
}

// TestUpstreamPreHijack: someone signs in through a provider that did not
// verify the victim's address, which makes an unverified account for it.
// When the victim later proves the address (a password reset link read in
// the mailbox), the upstream link made before goes, and so does the
// intruder's session; the provider no longer signs anyone in to it.
func TestUpstreamPreHijack(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newUpstreamEnv(t, backend, nil)
			ctx := t.Context()
			const victim = "victim@example.com"
			e.fake.as("sub-intruder", victim, false)
			intruder := newBrowserSignedInUpstream(t, e, e.conn.ID)
			if who := e.signedInAs(t, intruder); who != victim {
				t.Fatalf("the intruder's sign-in made %q, want an unverified account for the victim's address", who)
			}
			u, err := e.store.GetUserByEmail(ctx, victim)
			if err != nil || u.EmailVerified {
				t.Fatalf("account %+v, %v; want it unverified", u, err)
			}

			b := newBrowser(t)
			forgot := e.fetch(t, b, http.MethodGet, "/forgot-password", nil)
			if r := e.signinEnv.post(t, b, "/forgot-password", forgot.body, url.Values{"email": {victim}}); r.status != http.StatusSeeOther {
				t.Fatalf("POST /forgot-password = %d", r.status)
			}
			var link string
			for _, m := range e.mail.Wait(t, 1) {
				if m.To == victim {
					link = m.Link(t)
				}
			}
			reset := e.fetch(t, b, http.MethodGet, linkPath(t, link), nil)
			if r := e.signinEnv.post(t, b, "/reset-password", reset.body, url.Values{"password": {"victim's own passphrase"}}); r.status != http.StatusSeeOther {
				t.Fatalf("POST /reset-password = %v", r)
			}
			if u, _ := e.store.GetUserByEmail(ctx, victim); !u.EmailVerified {
				t.Error("the reset did not verify the address")
			}
			if _, err := e.store.GetExternalIdentity(ctx, e.conn.ID, "sub-intruder"); err == nil {
				t.Error("the link made before the address was proven survived")
			}
			if who := e.signedInAs(t, intruder); who != "" {
				t.Errorf("the intruder's session survived as %q", who)
			}
			if who := e.signedInAs(t, newBrowserSignedInUpstream(t, e, e.conn.ID)); who == victim {
				t.Error("the provider still signs in to the victim's account")
			}
			entries, err := e.store.ListAuditEntries(ctx, storage.AuditQuery{UserID: u.ID, Type: audit.IdentityUnlinked})
			if err != nil || len(entries) != 1 || entries[0].Reason != "linked_before_address_verified" || entries[0].TargetID != e.conn.ID {
				t.Errorf("audit entries %+v, %v; want the link's removal", entries, err)
			}
		})
	}
}

// wantUpstreamAudit checks that q finds exactly one entry, about
// connection target, from a request, whose details contain detail.
func wantUpstreamAudit(t *testing.T, store storage.AuditLog, q storage.AuditQuery, target, detail string) {
	t.Helper()
	got, err := store.ListAuditEntries(t.Context(), q)
	if err != nil || len(got) != 1 || got[0].TargetID != target || !strings.Contains(string(got[0].Details), detail) || got[0].IP == "" {
		t.Errorf("audit entries for %+v = %+v, %v; want one about %s with %s", q, got, err, target, detail)
	}
}
