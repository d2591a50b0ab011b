package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The authorization flow, as a small state machine kept in a challenge row:
//
//	GET /oauth2/authorize ──► no session or prompt=login ──► GET /login ──POST──┐
//	        │                                                                  │
//	        ├──► consent needed ──► GET /consent ──POST allow──┐               │
//	        │                                                  ▼               ▼
//	        └──► code issued ◄──────────── GET /oauth2/authorize/continue?challenge=…
//
// prompt=select_account puts GET /select-account before consent: "Continue
// as …" resumes the flow, "Use another account" goes to GET /login.
//
// The sign-in pages at /login are package signin's: they read the challenge
// with LoginChallenge and, once the person signed in, CompleteLogin records
// it and names the URL that resumes the flow.
//
// A challenge stores the validated authorization request, so the flow can
// resume after sign-in or consent without trusting the browser with it.

// challengeTTL bounds how long a person may take to sign in and consent.
const challengeTTL = 30 * time.Minute

// challenge is the state of one authorization in progress.
type challenge struct {
	Form           url.Values `json:"form"`
	CreatedAt      time.Time  `json:"created_at"`
	LoggedInAt     time.Time  `json:"logged_in_at,omitzero"`
	ConsentedBy    string     `json:"consented_by,omitempty"`    // the user who pressed Allow (SC-04: consent is theirs alone)
	Account        string     `json:"account,omitempty"`         // chose "Continue as …" on the account chooser
	AnotherAccount bool       `json:"another_account,omitempty"` // chose "Use another account": sign in afresh, as with prompt=login
	OrgID          string     `json:"org_id,omitempty"`          // picked on the organization picker
	// DeviceCode makes this the confirmation of a device authorization:
	// the user code typed at /device, normalized (device.go).
	DeviceCode string `json:"device_code,omitempty"`
}

func (p *Provider) saveChallenge(ctx context.Context, id, clientID string, ch challenge) error {
	data, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	sig := hashHandle(id)
	if err := p.store.DeleteOAuthSession(ctx, storage.KindChallenge, sig); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return p.store.CreateOAuthSession(ctx, storage.OAuthSession{
		Kind: storage.KindChallenge, Signature: sig, RequestID: id, ClientID: clientID, Active: true,
		RequestedAt: ch.CreatedAt, ExpiresAt: ch.CreatedAt.Add(challengeTTL), Request: data,
	})
}

// loadChallenge returns the challenge named id, or storage.ErrNotFound when
// it is unknown or expired.
func (p *Provider) loadChallenge(ctx context.Context, id string) (challenge, string, error) {
	var ch challenge
	if id == "" || len(id) > 128 {
		return ch, "", storage.ErrNotFound
	}
	row, err := p.store.GetOAuthSession(ctx, storage.KindChallenge, hashHandle(id))
	if err != nil {
		return ch, "", err
	}
	if !p.now().Before(row.ExpiresAt) {
		return ch, "", storage.ErrNotFound
	}
	if err := json.Unmarshal(row.Request, &ch); err != nil {
		return ch, "", fmt.Errorf("challenge: %w", err)
	}
	return ch, row.ClientID, nil
}

// authorize is the authorization endpoint (GET and POST).
func (p *Provider) authorize(c *gin.Context) {
	ctx := c.Request.Context()
	if dup := repeatedParameter(c.Request); dup != "" {
		// Which copy would win is a guess an attacker can exploit (AZ-10).
		p.errorPage(c, http.StatusBadRequest, "This sign-in request is not valid",
			"The application sent the parameter "+dup+" more than once (invalid_request).", nil)
		return
	}
	ar, err := p.oauth.NewAuthorizeRequest(ctx, c.Request)
	if err != nil {
		p.authorizeError(c, ar, err)
		return
	}
	cl := ar.GetClient().(*client)
	if uri := c.Request.Form.Get("redirect_uri"); uri != "" && cl.ApplicationType != "native" && !slices.Contains(cl.RedirectURIs, uri) {
		// fosite forgives the port (and scheme case) of loopback URIs for
		// every client; only native clients get that (RFC 8252 §7.3).
		p.errorPage(c, http.StatusBadRequest, "This sign-in request is not valid",
			"The application asked to return to an address it has not registered (invalid_request).", nil)
		return
	}
	switch {
	case cl.RequirePKCE && ar.GetRequestForm().Get("code_challenge") == "":
		p.authorizeError(c, ar, fosite.ErrInvalidRequest.WithHint("This client must use PKCE with code_challenge_method=S256."))
		return
	case cl.RequirePAR && !strings.HasPrefix(c.Request.FormValue("request_uri"), "urn:ietf:params:oauth:request_uri:"):
		p.authorizeError(c, ar, fosite.ErrInvalidRequest.WithHint("This client must push its authorization requests (PAR, RFC 9126)."))
		return
	}
	p.proceed(c, ar, "", challenge{CreatedAt: p.now()})
}

// resume continues an authorization after sign-in or consent.
func (p *Provider) resume(c *gin.Context) {
	st, ok := p.beginStep(c, false)
	if !ok {
		return
	}
	ar, err := p.replay(c.Request.Context(), c.Request, st.ch)
	if err != nil {
		p.authorizeError(c, ar, err)
		return
	}
	p.proceed(c, ar, st.id, st.ch)
}

// step is a request to one of the flow's pages: the challenge it names and,
// after sign-in, the person's browser session.
type step struct {
	id       string
	clientID string
	ch       challenge
	bs       *storage.BrowserSession
}

// beginStep loads the challenge a flow page names (in the query of a GET,
// the form of a POST). With signedIn it also needs a browser session and
// sends the person to sign in without one. ok=false: the answer is written.
func (p *Provider) beginStep(c *gin.Context, signedIn bool) (st step, ok bool) {
	st.id = c.Query("challenge")
	if c.Request.Method == http.MethodPost {
		st.id = c.PostForm("challenge")
	}
	var err error
	st.ch, st.clientID, err = p.loadChallenge(c.Request.Context(), st.id)
	if errors.Is(err, storage.ErrNotFound) {
		p.errorPage(c, http.StatusBadRequest, "This sign-in has expired", "Go back to the application and start again.", nil)
		return st, false
	}
	if err != nil {
		p.unavailable(c, err)
		return st, false
	}
	if !signedIn {
		return st, true
	}
	if st.bs, err = p.opts.Sessions.Current(c); err != nil {
		p.unavailable(c, err)
		return st, false
	}
	if st.bs == nil {
		c.Redirect(http.StatusSeeOther, "/login?challenge="+url.QueryEscape(st.id))
		return st, false
	}
	return st, true
}

// replay re-validates the stored authorization request from scratch, so a
// resumed flow gets every check the first request got.
func (p *Provider) replay(ctx context.Context, r *http.Request, ch challenge) (fosite.AuthorizeRequester, error) {
	replayed := r.Clone(ctx)
	replayed.Method = http.MethodGet
	replayed.URL.RawQuery = ch.Form.Encode()
	replayed.Form, replayed.PostForm = nil, nil
	replayed.Body = http.NoBody
	return p.oauth.NewAuthorizeRequest(ctx, replayed)
}

// proceed decides the next step: sign in, choose the account, consent, or
// issue the code.
func (p *Provider) proceed(c *gin.Context, ar fosite.AuthorizeRequester, id string, ch challenge) {
	ctx := c.Request.Context()
	form := ar.GetRequestForm()
	prompts := strings.Fields(form.Get("prompt"))
	bs, err := p.opts.Sessions.Current(c)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	fresh := !ch.LoggedInAt.IsZero()
	// Step-up: a session that does not reach the requested acr_values
	// signs in again, with every factor the person has; after that the
	// flow goes on with what they reached (acr_values is voluntary, and
	// the ID token's acr says what was reached).
	needLogin := bs == nil ||
		(slices.Contains(prompts, "login") || ch.AnotherAccount) && !fresh ||
		maxAgeExceeded(form.Get("max_age"), bs, p.now()) && !fresh ||
		!acrSatisfied(form.Get("acr_values"), bs.AMR) && !fresh
	if needLogin {
		if slices.Contains(prompts, "none") {
			p.authorizeError(c, ar, fosite.ErrLoginRequired.WithHint("The person is not signed in."))
			return
		}
		p.redirectToStep(c, ar, id, ch, loginPath(form.Get("connection")))
		return
	}
	// select_account (OIDC Core §3.1.2.1): a sign-in during this flow is
	// the choice already; otherwise the person confirms the account, and
	// must again if the browser's account changed since.
	if slices.Contains(prompts, "select_account") && !fresh && ch.Account != bs.UserID {
		if slices.Contains(prompts, "none") {
			p.authorizeError(c, ar, errAccountSelectionRequired.WithHint("The person must choose an account."))
			return
		}
		p.redirectToStep(c, ar, id, ch, "/select-account")
		return
	}

	cl := ar.GetClient().(*client)
	// Before consent: a person the client refuses is not asked to allow it.
	if !p.requireOrganization(c, ar, id, ch, cl, bs.UserID) {
		return
	}
	if !cl.FirstParty && ch.ConsentedBy != bs.UserID {
		covered, err := p.consentCovers(ctx, bs.UserID, cl.ID, ar.GetRequestedScopes())
		if err != nil {
			p.unavailable(c, err)
			return
		}
		if !covered || slices.Contains(prompts, "consent") {
			if slices.Contains(prompts, "none") {
				p.authorizeError(c, ar, fosite.ErrConsentRequired.WithHint("The person has not allowed this application yet."))
				return
			}
			p.redirectToStep(c, ar, id, ch, "/consent")
			return
		}
	}

	orgID, ok := p.chooseOrganization(c, ar, id, ch, bs.UserID)
	if !ok {
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	sess, err := p.userSession(ctx, ar, bs, orgID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	resp, err := p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		p.authorizeError(c, ar, err)
		return
	}
	if id != "" {
		if err := p.store.DeleteOAuthSession(ctx, storage.KindChallenge, hashHandle(id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.unavailable(c, err)
			return
		}
	}
	allowFormPost(c)
	p.oauth.WriteAuthorizeResponse(ctx, issWriter(c, p.opts.Issuer), ar, resp)
}

// loginPath is where a sign-in starts: the sign-in page, or, with the
// connection parameter, that single sign-on connection's (idp/saml serves
// /sso/{id}/start, idp/upstream /login/upstream/{id}/start for ups_ IDs).
// An ID of the wrong shape goes to the sign-in page.
func loginPath(connection string) string {
	if connection == "" || len(connection) > 64 || strings.Trim(connection, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return "/login"
	}
	if strings.HasPrefix(connection, storage.PrefixUpstreamConnection) {
		return "/login/upstream/" + connection + "/start"
	}
	return "/sso/" + connection + "/start"
}

// redirectToStep saves the request as a challenge and sends the browser to
// the sign-in or consent page.
func (p *Provider) redirectToStep(c *gin.Context, ar fosite.AuthorizeRequester, id string, ch challenge, path string) {
	id, err := p.storeChallenge(c.Request.Context(), ar, id, ch)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, path+"?challenge="+url.QueryEscape(id))
}

// storeChallenge saves ch as challenge id, or as a new challenge holding
// the request when id is empty, and returns its id.
func (p *Provider) storeChallenge(ctx context.Context, ar fosite.AuthorizeRequester, id string, ch challenge) (string, error) {
	if id == "" {
		id = randomToken()
		ch.Form = url.Values{}
		for k, v := range ar.GetRequestForm() {
			// A pushed request was consumed when it was read; the stored
			// form carries its parameters instead.
			if k != "request_uri" {
				ch.Form[k] = v
			}
		}
		ch.Form.Set("client_id", ar.GetClient().GetID())
	}
	if err := p.saveChallenge(ctx, id, ar.GetClient().GetID(), ch); err != nil {
		return "", err
	}
	return id, nil
}

// authorizeError answers an authorization error: to the client's redirect
// URI when it is valid, else as a page here (never a redirect to an
// unregistered URI).
func (p *Provider) authorizeError(c *gin.Context, ar fosite.AuthorizeRequester, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		err = fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	if ar == nil || !ar.IsRedirectURIValid() {
		rfc := clean(err)
		status := http.StatusBadRequest
		if rfc.CodeField >= 500 {
			status = rfc.CodeField
		}
		p.errorPage(c, status, "This sign-in request is not valid",
			"The application sent a request Foyer cannot accept ("+rfc.ErrorField+"). "+rfc.HintField, err)
		return
	}
	allowFormPost(c)
	p.oauth.WriteAuthorizeError(c.Request.Context(), issWriter(c, p.opts.Issuer), ar, clean(err))
}

func maxAgeExceeded(raw string, bs *storage.BrowserSession, now time.Time) bool {
	if raw == "" || bs == nil {
		return false
	}
	secs, err := strconv.Atoi(raw)
	if err != nil || secs < 0 {
		return false // fosite has rejected a malformed max_age already
	}
	return now.Sub(bs.AuthTime) > time.Duration(secs)*time.Second
}

func (p *Provider) consentCovers(ctx context.Context, userID, clientID string, scopes []string) (bool, error) {
	consent, err := p.store.GetConsent(ctx, userID, clientID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(consent.Scopes, s) {
			return false, nil
		}
	}
	return true, nil
}

// LoginChallenge describes a pending authorization for the sign-in pages:
// the name of the client asking and the login_hint it sent (to pre-fill,
// never to trust). storage.ErrNotFound when the authorization expired or
// never existed.
func (p *Provider) LoginChallenge(ctx context.Context, id string) (clientName, loginHint string, err error) {
	ch, clientID, err := p.loadChallenge(ctx, id)
	if err != nil {
		return "", "", err
	}
	return p.clientName(ctx, clientID), ch.Form.Get("login_hint"), nil
}

// CompleteLogin records that the person signed in during authorization id,
// which satisfies its prompt=login and max_age, and returns the URL where
// the browser resumes it (the device confirmation, for a device code).
func (p *Provider) CompleteLogin(ctx context.Context, id string) (next string, err error) {
	ch, clientID, err := p.loadChallenge(ctx, id)
	if err != nil {
		return "", err
	}
	ch.LoggedInAt = p.now()
	if err := p.saveChallenge(ctx, id, clientID, ch); err != nil {
		return "", err
	}
	if ch.DeviceCode != "" {
		return "/device/confirm?challenge=" + url.QueryEscape(id), nil
	}
	return "/oauth2/authorize/continue?challenge=" + url.QueryEscape(id), nil
}

// consentPage asks the signed-in person to allow the client.
func (p *Provider) consentPage(c *gin.Context) {
	ctx := c.Request.Context()
	st, ok := p.beginStep(c, true)
	if !ok {
		return
	}
	id, ch, clientID, bs := st.id, st.ch, st.clientID, st.bs
	ar, err := p.replay(ctx, c.Request, ch)
	if err != nil {
		p.authorizeError(c, ar, err)
		return
	}
	if c.Request.Method == http.MethodPost {
		if !p.opts.Sessions.CheckCSRF(c) {
			p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
			return
		}
		if c.PostForm("decision") != "allow" {
			p.authorizeError(c, ar, fosite.ErrAccessDenied.WithHint("The person denied the request."))
			return
		}
		if _, err := p.store.SaveConsent(ctx, storage.Consent{
			UserID: bs.UserID, ClientID: clientID, Scopes: ar.GetRequestedScopes(), GrantedAt: p.now(),
		}); err != nil {
			p.unavailable(c, err)
			return
		}
		ch.ConsentedBy = bs.UserID
		if err := p.saveChallenge(ctx, id, clientID, ch); err != nil {
			p.unavailable(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/oauth2/authorize/continue?challenge="+url.QueryEscape(id))
		return
	}
	u, err := p.store.GetUser(ctx, bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	data := render.ConsentPage{Challenge: id, Action: "/consent", ClientName: p.clientName(ctx, clientID), Email: u.Email}
	for _, s := range ar.GetRequestedScopes() {
		data.Scopes = append(data.Scopes, render.Scope{Name: s, Description: scopeDescriptions[s]})
	}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.Consent(buf, data)
	})
}

var scopeDescriptions = map[string]string{
	"openid":         "Sign you in",
	"profile":        "See your name",
	"email":          "See your email address",
	"offline_access": "Stay signed in when you are away",
	"org":            "See the organization you choose and your role in it",
	"orgs":           "See every organization you belong to and your roles",
	"foyer:admin":    "Manage Foyer with your administrator rights",
}

func (p *Provider) clientName(ctx context.Context, id string) string {
	c, err := p.store.GetClient(ctx, id)
	if err != nil {
		return id
	}
	return c.Name
}

// repeatedParameter names an authorization parameter sent more than once.
func repeatedParameter(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return ""
	}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state",
		"nonce", "code_challenge", "code_challenge_method", "prompt", "max_age", "organization", "request_uri", "connection"} {
		if len(r.Form[k]) > 1 {
			return k
		}
	}
	return ""
}
