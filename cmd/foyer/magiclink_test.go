package main

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"
)

// Magic links against SECURITY.md ML-01…07 and scenario F6, with the email
// read from a real SMTP server.

const otherDeviceWarning = "You are signing in as alice@example.com on this device. Continue only if you asked for this link just now."

// TestMagicLinkSignIn: the whole way with an authorization, on both
// backends: the link from the email, opened in the browser that asked,
// signs in with amr "email" and resumes the authorization (ML-07), which
// ends at the client with a code.
func TestMagicLinkSignIn(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			b := newBrowser(t)
			v, verifier := authParams(e.web, callback)
			resp, err := b.Get(e.issuer + "/oauth2/authorize?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			page := read(t, resp)
			challenge := hidden(page).Get("challenge")
			link := e.newLink(t, b, page, e.email, 1)
			if u, _ := url.Parse(link); len(u.Query()) != 1 || !validLinkToken(u.Query().Get("token")) {
				t.Errorf("emailed link %q: want one parameter, a 256-bit token, and no redirect target (ML-07)", link)
			}

			confirm := e.fetch(t, b, http.MethodGet, linkPath(t, link), nil)
			text := visibleText(confirm.body)
			if confirm.status != http.StatusOK || !strings.Contains(text, "You are signing in as alice@example.com.") ||
				!strings.Contains(text, "to continue to Web App") || strings.Contains(text, "on this device") {
				t.Errorf("link in the browser that asked = %d:\n%s\nwant the plain confirmation", confirm.status, text)
			}
			r := e.post(t, b, "/login/link", confirm.body, nil)
			if want := "/oauth2/authorize/continue?challenge=" + url.QueryEscape(challenge); r.status != http.StatusSeeOther || r.header.Get("Location") != want {
				t.Fatalf("Sign in = %d to %q, want 303 to %q (ML-07)", r.status, r.header.Get("Location"), want)
			}
			resp, err = b.Get(e.issuer + r.header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			consent := read(t, resp)
			form := formFields(t, consent)
			form.Set("decision", "allow")
			if resp, err = b.PostForm(e.issuer+"/consent", form); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil || !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("state") != v.Get("state") {
				t.Fatalf("after consent: %v %v, want the callback with the state", loc, err)
			}
			claims := e.idTokenClaims(t, loc.Query().Get("code"), verifier)
			if len(claims.AMR) != 1 || claims.AMR[0] != "email" || claims.Email != e.email {
				t.Errorf("ID token amr %q email %q, want [email] and %s", claims.AMR, claims.Email, e.email)
			}
		})
	}
}

// validLinkToken: 43 characters of base64url, 256 bits.
func validLinkToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

type idClaims struct {
	AMR           []string `json:"amr"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
}

// idTokenClaims redeems a code of the web client and reads its ID token
// (its signature is the OIDC tests' business).
func (e *signinEnv) idTokenClaims(t *testing.T, code, verifier string) idClaims {
	t.Helper()
	conf := oauth2.Config{ClientID: e.web.id, ClientSecret: e.web.secret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{TokenURL: e.issuer + "/oauth2/token"}}
	tok, err := conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q is not a JWS", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMagicLinkML01OnlyHashStored: the database holds a keyed hash of the
// link's token and of the binding cookie, never either value.
func TestMagicLinkML01OnlyHashStored(t *testing.T) {
	for _, backend := range []string{"embedded", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newSigninEnv(t, backend)
			b := newBrowser(t)
			link := e.newLink(t, b, e.loginPage(t, b), e.email, 1)
			token, _ := url.Parse(link)
			rows := e.oneTimeTokenRows(t)
			if len(rows) != 1 {
				t.Fatalf("one_time_tokens has %d rows, want 1: %q", len(rows), rows)
			}
			secrets := map[string]string{"token": token.Query().Get("token")}
			for _, c := range b.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.issuer, "http://"), Path: "/"}) {
				if c.Name == "foyer_link" {
					secrets["binding cookie"] = c.Value
				}
			}
			if len(secrets) != 2 {
				t.Fatal("the browser has no binding cookie")
			}
			for name, secret := range secrets {
				if strings.Contains(rows[0], secret) {
					t.Errorf("one_time_tokens row holds the %s itself: %s", name, rows[0])
				}
			}
			if hash, _, _ := strings.Cut(rows[0], " "); len(hash) != 43 {
				t.Errorf("stored hash %q, want an HMAC-SHA256 in base64url", hash)
			}
		})
	}
}

// oneTimeTokenRows reads the one_time_tokens table straight from the
// database, one line per row.
func (e *signinEnv) oneTimeTokenRows(t *testing.T) []string {
	t.Helper()
	const query = `SELECT hash || ' ' || purpose || ' ' || user_id || ' ' || email || ' ' || binding || ' ' || challenge FROM one_time_tokens`
	var rows []string
	env := strings.Join(e.dbEnv, "\n")
	if dsn, ok := strings.CutPrefix(env, "FOYER_DATABASE_URL="); ok {
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		r, _ := conn.Query(t.Context(), query)
		if rows, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	dir, _ := strings.CutPrefix(env, "FOYER_DATA_DIR=")
	db, err := sql.Open("sqlite", filepath.Join(dir, "foyer.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, s)
	}
	return rows
}

// TestMagicLinkML02UsedOnce: a link signs in once. A second use, in the
// same browser or another, is refused with no session; of ten uses at once
// exactly one signs in.
func TestMagicLinkML02UsedOnce(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	alice := e.user(t, e.email)
	b, other := newBrowser(t), newBrowser(t)
	link := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 1))
	page := e.fetch(t, b, http.MethodGet, link, nil).body
	otherPage := e.fetch(t, other, http.MethodGet, link, nil).body

	if r := e.post(t, b, "/login/link", page, nil); r.status != http.StatusSeeOther {
		t.Fatalf("first use = %v, want 303", r)
	}
	for name, tc := range map[string]struct {
		b    *http.Client
		page string
	}{"same browser": {b, page}, "another browser": {other, otherPage}} {
		r := e.post(t, tc.b, "/login/link", tc.page, nil)
		if r.status != http.StatusGone || !strings.Contains(r.body, "This link was already used") || hasSessionCookie(r) {
			t.Errorf("second use in the %s = %d (session cookie %t):\n%s\nwant 410 already used, no session", name, r.status, hasSessionCookie(r), visibleText(r.body))
		}
	}
	if r := e.fetch(t, other, http.MethodGet, link, nil); r.status != http.StatusGone {
		t.Errorf("opening a used link = %v, want 410", r)
	}
	if n := e.sessions(t, alice.ID); n != 1 {
		t.Errorf("alice has %d sessions, want the first use's only", n)
	}

	// Ten uses at once: one signs in.
	e.clock.Advance(16 * time.Minute) // the per-IP email limit
	link = linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 2))
	page = e.fetch(t, b, http.MethodGet, link, nil).body
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/login/link", strings.NewReader(hidden(page).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if r, err := do(stay(b), req); err == nil {
				statuses[i] = r.status
			}
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusSeeOther] != 1 || count[http.StatusGone] != 9 {
		t.Errorf("ten uses of one link at once: statuses %v, want one 303 and nine 410", count)
	}
}

// TestMagicLinkML03Expired: a link is refused from 10 minutes on, and an
// earlier link once a newer one was sent.
func TestMagicLinkML03Expired(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	link := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 1))
	page := e.fetch(t, b, http.MethodGet, link, nil).body
	e.clock.Advance(10 * time.Minute)
	for name, r := range map[string]reply{
		"open":    e.fetch(t, b, http.MethodGet, link, nil),
		"sign in": e.post(t, b, "/login/link", page, nil),
	} {
		if r.status != http.StatusGone || !strings.Contains(r.body, "This link has expired") || hasSessionCookie(r) {
			t.Errorf("%s an expired link = %d:\n%s\nwant 410 expired, no session", name, r.status, visibleText(r.body))
		}
	}

	e.clock.Advance(6 * time.Minute) // the per-IP email limit
	first := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 2))
	firstPage := e.fetch(t, b, http.MethodGet, first, nil).body
	second := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 3))
	if r := e.post(t, b, "/login/link", firstPage, nil); r.status != http.StatusGone || hasSessionCookie(r) {
		t.Errorf("the earlier link after a newer one = %v, want 410 and no session", r)
	}
	if r := e.fetch(t, b, http.MethodGet, first, nil); r.status != http.StatusGone {
		t.Errorf("opening the earlier link = %v, want 410", r)
	}
	if r := e.post(t, b, "/login/link", e.fetch(t, b, http.MethodGet, second, nil).body, nil); r.status != http.StatusSeeOther {
		t.Errorf("the newer link = %v, want 303", r)
	}
}

// TestMagicLinkML04PrefetchConsumesNothing: a mail scanner fetching the
// link (GET, twice, and HEAD) uses nothing; the person's Sign in works
// after it.
func TestMagicLinkML04PrefetchConsumesNothing(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	alice := e.user(t, e.email)
	b, scanner := newBrowser(t), newBrowser(t)
	link := linkPath(t, e.newLink(t, b, e.loginPage(t, b), e.email, 1))
	for range 2 {
		if r := e.fetch(t, scanner, http.MethodGet, link, nil); r.status != http.StatusOK || hasSessionCookie(r) {
			t.Errorf("scanner GET = %v, want 200 and no session", r)
		}
	}
	head, _ := http.NewRequest(http.MethodHead, e.issuer+link, nil)
	if r, err := do(stay(scanner), head); err != nil || hasSessionCookie(r) {
		t.Errorf("scanner HEAD = %v, %v; want no session", r, err)
	}
	if n := e.sessions(t, alice.ID); n != 0 {
		t.Errorf("alice has %d sessions after the scanner, want 0", n)
	}
	if r := e.post(t, b, "/login/link", e.fetch(t, b, http.MethodGet, link, nil).body, nil); r.status != http.StatusSeeOther || !hasSessionCookie(r) {
		t.Errorf("Sign in after the scanner = %v, want 303 with a session", r)
	}
}

// TestMagicLinkML05OtherBrowser: a link opened in a browser that did not
// ask for it says plainly which account it signs in to, before any session
// exists; the browser that asked sees no warning.
func TestMagicLinkML05OtherBrowser(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	alice := e.user(t, e.email)
	asked, victim := newBrowser(t), newBrowser(t)
	link := linkPath(t, e.newLink(t, asked, e.loginPage(t, asked), e.email, 1))

	r := e.fetch(t, victim, http.MethodGet, link, nil)
	if r.status != http.StatusOK || !strings.Contains(visibleText(r.body), otherDeviceWarning) || hasSessionCookie(r) {
		t.Errorf("link in another browser = %d:\n%s\nwant %q and no session", r.status, visibleText(r.body), otherDeviceWarning)
	}
	if n := e.sessions(t, alice.ID); n != 0 {
		t.Errorf("alice has %d sessions before anyone pressed Sign in, want 0", n)
	}
	if r := e.fetch(t, asked, http.MethodGet, link, nil); strings.Contains(r.body, "on this device") {
		t.Errorf("the browser that asked is warned:\n%s", visibleText(r.body))
	}
	// Having read the warning, the person may go on.
	if r := e.post(t, victim, "/login/link", r.body, nil); r.status != http.StatusSeeOther {
		t.Errorf("Sign in after the warning = %v, want 303", r)
	}
}

// TestMagicLinkVerifiesEmail: signing in with a link proves the mailbox, so
// an unverified address becomes verified; a link without an authorization
// ends at the account page.
func TestMagicLinkVerifiesEmail(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	bob := e.createUser(t, "bob@example.com", "", false)
	b := newBrowser(t)
	link := linkPath(t, e.newLink(t, b, e.loginPage(t, b), bob.Email, 1))
	if r := e.post(t, b, "/login/link", e.fetch(t, b, http.MethodGet, link, nil).body, nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("Sign in = %v, want 303 to /account", r)
	}
	if !e.user(t, bob.Email).EmailVerified {
		t.Error("bob's email is not verified after he signed in with a link")
	}
}

// TestMagicLinkBadTokens: junk in the link is a clear 400 page, never a
// 500.
func TestMagicLinkBadTokens(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	page := e.loginPage(t, b)
	for _, token := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("a", 20000), "%00%ff", "../../etc/passwd"} {
		r := e.fetch(t, b, http.MethodGet, "/login/link?token="+url.QueryEscape(token), nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "This link is not valid") {
			t.Errorf("GET /login/link?token=%.20q = %d, want 400 not valid", token, r.status)
		}
		form := hidden(page)
		form.Set("token", token)
		if r := e.fetch(t, b, http.MethodPost, "/login/link", form); r.status != http.StatusBadRequest {
			t.Errorf("POST /login/link token=%.20q = %d, want 400", token, r.status)
		}
	}
}

// TestMagicLinkF6MailServerDown: with the mail server down, asking for a
// link gets the usual page at once; the email waits in the outbox and
// arrives when the server is back.
func TestMagicLinkF6MailServerDown(t *testing.T) {
	e := newSigninEnv(t, "embedded")
	b := newBrowser(t)
	addr := e.mail.Addr
	e.mail.Close()
	start := time.Now()
	r := e.requestLink(t, b, e.passwordStep(t, b, e.loginPage(t, b), e.email))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Check your email") || time.Since(start) > 5*time.Second {
		t.Fatalf("link request with SMTP down = %v after %v, want the usual page at once", r, time.Since(start))
	}
	e.mail = startMailbox(t, addr)
	link := e.mail.Wait(t, 1)[0].Link(t)
	if r := e.post(t, b, "/login/link", e.fetch(t, b, http.MethodGet, linkPath(t, link), nil).body, nil); r.status != http.StatusSeeOther {
		t.Errorf("the link that waited out the outage = %v, want 303", r)
	}
}
