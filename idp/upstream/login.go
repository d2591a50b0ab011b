package upstream

import (
	"github.com/foyerdev/foyer/keyed"

	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

const (
	purposeAuthn = "upstream_authn"
	authnTTL     = 10 * time.Minute
	stateCookie  = "foyer_upstream"
	// maxIDToken bounds an upstream ID token before it is parsed (TJ-07).
	maxIDToken = 16 << 10
)

// GitHub's endpoints, unless a connection replaces them.
const (
	gitHubAuthURL  = "https://github.com/login/oauth/authorize"
	gitHubTokenURL = "https://github.com/login/oauth/access_token"
	gitHubAPIURL   = "https://api.github.com"
)

// signingAlgs are the ID token algorithms accepted: asymmetric only, so
// neither "none" nor an HMAC keyed with a public key (TJ-02).
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// Mount adds the routes to the browser group.
func (s *Service) Mount(r gin.IRouter) {
	r.GET("/login/upstream/:id/start", s.start)
	r.GET("/login/upstream/:id/callback", s.callback)
	r.GET(linkPath, s.showLink)
	r.POST(linkPath, s.makeLink)
	r.POST("/account/connections/remove", s.removeLink)
}

// authnState is what the callback needs of the request it answers.
type authnState struct {
	ConnectionID string `json:"connection_id"`
	Verifier     string `json:"verifier"`
	Nonce        string `json:"nonce"`
	Challenge    string `json:"challenge,omitempty"`
}

// connection reads the connection of the path; ok=false: answered.
func (s *Service) connection(c *gin.Context) (storage.UpstreamConnection, bool) {
	id := c.Param("id")
	conn, err := s.Get(c.Request.Context(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && !strings.HasPrefix(id, storage.PrefixUpstreamConnection)) {
		s.page(c, http.StatusNotFound, "Unknown sign-in connection", "This sign-in connection does not exist.", "/login", "Sign in")
		return conn.UpstreamConnection, false
	}
	if err != nil {
		s.unavailable(c, err)
		return conn.UpstreamConnection, false
	}
	return conn.UpstreamConnection, true
}

// oauthConfig is the OAuth 2.0 client of conn, with its secret opened.
func (s *Service) oauthConfig(ctx context.Context, conn storage.UpstreamConnection) (*oauth2.Config, *oidc.Provider, error) {
	secret, err := s.o.Sealer.Open(conn.ClientSecret, sealContext(conn.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("open client secret: %w", err)
	}
	cfg := &oauth2.Config{ClientID: conn.ClientID, ClientSecret: string(secret), RedirectURL: s.CallbackURL(conn.ID), Scopes: conn.Scopes}
	if conn.Type == storage.UpstreamGitHub {
		cfg.Endpoint = oauth2.Endpoint{
			AuthURL: nonEmpty(conn.AuthURL, gitHubAuthURL), TokenURL: nonEmpty(conn.TokenURL, gitHubTokenURL),
			AuthStyle: oauth2.AuthStyleInParams,
		}
		return cfg, nil, nil
	}
	p, err := s.oidcProvider(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	cfg.Endpoint = p.Endpoint()
	return cfg, p, nil
}

// start sends the browser to the upstream's authorization endpoint.
func (s *Service) start(c *gin.Context) {
	ctx := c.Request.Context()
	conn, ok := s.connection(c)
	if !ok || !s.startAllowed(c) {
		return
	}
	cfg, _, err := s.oauthConfig(ctx, conn)
	if err != nil {
		s.refuse(c, conn, "the provider cannot be reached", err)
		return
	}
	challenge := c.Query("challenge")
	if len(challenge) > 128 {
		challenge = ""
	}
	st := authnState{ConnectionID: conn.ID, Verifier: oauth2.GenerateVerifier(), Nonce: newHandle(), Challenge: challenge}
	data, err := json.Marshal(st)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(ctx, storage.MFAChallenge{
		ID: s.handleHash(purposeAuthn, handle), Purpose: purposeAuthn, Data: data, CreatedAt: now, ExpiresAt: now.Add(authnTTL),
	}); err != nil {
		s.unavailable(c, err)
		return
	}
	s.setCookie(c, stateCookie, handle, int(authnTTL/time.Second))
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier)}
	if conn.Type == storage.UpstreamOIDC {
		opts = append(opts, oidc.Nonce(st.Nonce))
	}
	c.Redirect(http.StatusSeeOther, cfg.AuthCodeURL(handle, opts...))
}

// callback receives the upstream's answer: the state must be this
// browser's and is spent once; the code is exchanged with the PKCE
// verifier; the person is read from the verified ID token (or GitHub's
// API), found or provisioned, and signed in.
func (s *Service) callback(c *gin.Context) {
	ctx := c.Request.Context()
	conn, ok := s.connection(c)
	if !ok {
		return
	}
	handle := s.cookie(c, stateCookie)
	s.setCookie(c, stateCookie, "", -1)
	state := c.Query("state")
	if state == "" || handle == "" || len(state) > 64 || subtle.ConstantTimeCompare([]byte(state), []byte(handle)) != 1 {
		s.refuse(c, conn, "the answer does not belong to a sign-in started in this browser", nil)
		return
	}
	var st authnState
	ch, err := s.o.Store.TakeMFAChallenge(ctx, s.handleHash(purposeAuthn, handle), purposeAuthn, s.o.Now())
	if err == nil {
		err = json.Unmarshal(ch.Data, &st)
	}
	if errors.Is(err, storage.ErrNotFound) {
		s.refuse(c, conn, "the sign-in expired or was already used", nil)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if st.ConnectionID != conn.ID {
		s.refuse(c, conn, "the answer came back to another connection", nil)
		return
	}
	if e := c.Query("error"); e != "" {
		// The person cancelled, or the upstream refused (RFC 6749 §4.1.2.1).
		s.refuse(c, conn, "the provider did not sign you in", fmt.Errorf("upstream error %.100q: %.200q", e, c.Query("error_description")))
		return
	}
	code := c.Query("code")
	if code == "" || len(code) > 2048 {
		s.refuse(c, conn, "the provider sent no authorization code", nil)
		return
	}
	p, err := s.identify(ctx, conn, code, st)
	if err != nil {
		s.refuse(c, conn, "the provider's answer could not be verified", err)
		return
	}
	s.finish(c, conn, p, st.Challenge)
}

// identify exchanges the code and reads the person it proves.
func (s *Service) identify(ctx context.Context, conn storage.UpstreamConnection, code string, st authnState) (person, error) {
	cfg, provider, err := s.oauthConfig(ctx, conn)
	if err != nil {
		return person{}, err
	}
	client := s.httpClient(conn)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return person{}, fmt.Errorf("token exchange: %w", err)
	}
	if conn.Type == storage.UpstreamGitHub {
		return s.gitHubPerson(ctx, conn, client, tok)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || len(raw) > maxIDToken {
		return person{}, errors.New("no ID token, or one larger than 16 KiB")
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: conn.ClientID, SupportedSigningAlgs: signingAlgs, Now: s.o.Now})
	idt, err := verifier.Verify(oidc.ClientContext(ctx, client), raw)
	if err != nil {
		return person{}, fmt.Errorf("ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return person{}, errors.New("ID token: nonce does not match")
	}
	var m Mapping
	if len(conn.Mapping) > 0 {
		if err := json.Unmarshal(conn.Mapping, &m); err != nil {
			return person{}, err
		}
	}
	var claims json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return person{}, err
	}
	p, err := claimsPerson(claims, m)
	if err != nil {
		return person{}, fmt.Errorf("ID token: %w", err)
	}
	if p.Email != "" || provider.UserInfoEndpoint() == "" {
		return p, nil
	}
	// No address in the ID token: ask userinfo, and take the address and
	// its verified flag from there together, never one from each source.
	ui, err := provider.UserInfo(oidc.ClientContext(ctx, client), oauth2.StaticTokenSource(tok))
	if err != nil {
		s.o.Logger.InfoContext(ctx, "upstream: userinfo failed; signing in without an address", "connection", conn.ID, "err", err)
		return p, nil
	}
	var uiClaims json.RawMessage
	if err := ui.Claims(&uiClaims); err != nil {
		return p, nil
	}
	up, err := claimsPerson(uiClaims, m)
	if err != nil || up.Subject != p.Subject { // OIDC Core §5.3.2
		return p, nil
	}
	p.Email, p.EmailVerified = up.Email, up.EmailVerified
	if p.Name == "" {
		p.Name = up.Name
	}
	return p, nil
}

// gitHubPerson reads the signed-in GitHub user and their verified
// primary address from GitHub's API.
func (s *Service) gitHubPerson(ctx context.Context, conn storage.UpstreamConnection, client *http.Client, tok *oauth2.Token) (person, error) {
	api := strings.TrimSuffix(nonEmpty(conn.APIURL, gitHubAPIURL), "/")
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return body, nil
	}
	raw, err := get("/user")
	if err != nil {
		return person{}, err
	}
	p, err := gitHubUser(raw)
	if err != nil {
		return person{}, err
	}
	if raw, err = get("/user/emails"); err != nil {
		return person{}, err
	}
	if p.Email, err = gitHubEmail(raw); err != nil {
		return person{}, err
	}
	p.EmailVerified = p.Email != ""
	return p, nil
}

// finish signs in the person an upstream proved: found or provisioned,
// then the second factor unless the connection is multi-factor, then the
// session (amr "ext") and the pending authorization.
func (s *Service) finish(c *gin.Context, conn storage.UpstreamConnection, p person, challenge string) {
	ctx := c.Request.Context()
	userID, err := s.provision(ctx, conn, p)
	var needLink *needsLinkError
	var fe *FieldError
	switch {
	case errors.As(err, &needLink):
		s.startLink(c, conn, p, needLink.userID, challenge)
		return
	case errors.As(err, &fe):
		s.refuse(c, conn, fe.Message, nil)
		return
	case err != nil:
		s.unavailable(c, err)
		return
	}
	amr := []string{"ext"}
	if conn.MultiFactor {
		// The upstream enforces multi-factor sign-in itself.
		amr = append(amr, "mfa")
	} else if s.o.SecondFactor != nil {
		handled, err := s.o.SecondFactor.Begin(c, userID, amr, challenge, "")
		if err != nil {
			s.unavailable(c, err)
			return
		}
		if handled {
			return
		}
	}
	if _, err := s.o.Sessions.Start(c, userID, amr); err != nil {
		s.unavailable(c, err)
		return
	}
	s.recordSignIn(c, conn, userID, amr)
	s.resume(c, challenge, "/account")
}

// resume sends the browser to the pending authorization, or to fallback.
func (s *Service) resume(c *gin.Context, challenge, fallback string) {
	next := fallback
	if challenge != "" {
		n, err := s.o.Authorizations.CompleteLogin(c.Request.Context(), challenge)
		switch {
		case err == nil:
			next = n
		case !errors.Is(err, storage.ErrNotFound):
			s.unavailable(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, next)
}

// refuse answers a sign-in Foyer will not accept; the reason goes to the
// log, the person gets a sentence and a way back.
func (s *Service) refuse(c *gin.Context, conn storage.UpstreamConnection, reason string, cause error) {
	s.o.Logger.WarnContext(c.Request.Context(), "upstream: sign-in refused", "connection", conn.ID, "org_id", conn.OrgID,
		"reason", reason, "err", cause)
	s.recordRefusal(c, conn, reason)
	s.page(c, http.StatusBadRequest, "Sign-in failed",
		"Signing in with "+conn.Name+" did not work: "+reason+". Try again, or use another way to sign in.", "/login", "Sign in")
}

func (s *Service) page(c *gin.Context, status int, title, message, next, nextText string) {
	d := render.ErrorPage{Page: render.Page{Title: title, CSRFToken: s.o.Sessions.CSRFToken(c)}, Message: message,
		RequestID: c.Writer.Header().Get("X-Request-Id"), Next: next, NextText: nextText}
	if err := render.WritePage(c.Writer, status, false, s.errorPage, &d, &d.Page); err != nil {
		s.o.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
	}
}

func (s *Service) unavailable(c *gin.Context, err error) {
	s.o.Logger.ErrorContext(c.Request.Context(), "upstream request failed", "err", err)
	c.Header("Retry-After", "5")
	s.page(c, http.StatusServiceUnavailable, "Try again shortly", "Foyer could not complete this request. Please try again in a moment.", "", "")
}

// handleHash is the at-rest form of a handle.
func (s *Service) handleHash(label, handle string) string {
	return keyed.Hash(s.o.HandleKey, label, handle)
}

func newHandle() string { return rand.Text() + rand.Text() }

// setCookie binds state to this browser. The upstream sends the browser
// back with a top-level GET, which carries SameSite=Lax cookies.
func (s *Service) setCookie(c *gin.Context, name, value string, maxAge int) {
	secure := strings.HasPrefix(s.o.Issuer, "https://")
	if secure {
		name = "__Host-" + name
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}

func (s *Service) cookie(c *gin.Context, name string) string {
	if strings.HasPrefix(s.o.Issuer, "https://") {
		name = "__Host-" + name
	}
	v, _ := c.Cookie(name)
	return v
}

// startAllowed applies the per-IP limit on sign-in starts (Options.Limiter,
// StartPolicy): anyone may start one, and each stores its state, so a
// flood must not fill the database. false: answered.
func (s *Service) startAllowed(c *gin.Context) bool {
	if s.o.Limiter == nil {
		return true
	}
	d, err := s.o.Limiter.Allow(c.Request.Context(), s.o.StartPolicy, ratelimit.IPKey(c.ClientIP()))
	if err != nil {
		s.unavailable(c, err)
		return false
	}
	if !d.Allowed {
		c.Header("Retry-After", strconv.Itoa(d.RetryAfterSeconds()))
		s.page(c, http.StatusTooManyRequests, "Too many sign-ins",
			"Too many sign-ins were started from your network. Try again in a few minutes.", "", "")
		return false
	}
	return true
}
