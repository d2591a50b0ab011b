package authz

import (
	"github.com/foyerdev/foyer/keyed"

	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The device authorization grant (RFC 8628), for CLIs and devices without
// a browser:
//
//	device ──POST /oauth2/device_authorization──► device_code, user_code
//	person ──GET/POST /device (types the code)──► GET /device/confirm?challenge=…
//	        └─ not signed in: /login?challenge=… and back ──┘     │
//	                                       Allow / Deny ──POST─────┘
//	device ──POST /oauth2/token (polls) ──► authorization_pending … tokens
//
// The confirmation page is a challenge like the authorization flow's, so
// every sign-in method works in between (CompleteLogin sends the person
// back). Approving stores the session the tokens are issued from; the
// device's next poll spends it, once (deviceGrant).

// DeviceOptions configure the device grant.
type DeviceOptions struct {
	// Limiter and the two policies limit user codes typed at /device per
	// browser and per client IP (DV-02). Required.
	Limiter       *ratelimit.Limiter
	SessionPolicy ratelimit.Policy
	IPPolicy      ratelimit.Policy
	// RequestIPPolicy limits device authorization requests per client
	// IP: anyone may ask with a public client's ID, and each request
	// stores a device code. Required.
	RequestIPPolicy ratelimit.Policy
	// CodeTTL is how long a device code works (default 10 minutes, at most
	// 15: DV-02). Interval is the least time between polls (default 5 s).
	CodeTTL  time.Duration
	Interval time.Duration
}

const (
	// userCodeAlphabet has no vowels, so a code never spells a word, and
	// no easily confused letters (DV-01, RFC 8628 §6.1): 20^8 ≈ 2^34.6.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
	// slowDownStep is what each slow_down adds to a code's interval
	// (RFC 8628 §3.5).
	slowDownStep = 5 * time.Second
	// userCodeHashLabel keys user code hashes apart from other HMACs.
	userCodeHashLabel = "foyer device user code v1"
)

// Errors of the device grant's token endpoint (RFC 8628 §3.5), which
// fosite v0.49 does not define.
var (
	errAuthorizationPending = &fosite.RFC6749Error{ErrorField: "authorization_pending", CodeField: http.StatusBadRequest,
		DescriptionField: "The person has not yet approved the request. Poll again after the interval."}
	errSlowDown = &fosite.RFC6749Error{ErrorField: "slow_down", CodeField: http.StatusBadRequest,
		DescriptionField: "Polling too fast. The interval of this device code is now 5 seconds longer."}
	errExpiredToken = &fosite.RFC6749Error{ErrorField: "expired_token", CodeField: http.StatusBadRequest,
		DescriptionField: "The device code has expired. Start again."}
	// fosite's ErrAccessDenied is 403, for the authorization endpoint; the
	// token endpoint answers 400 (RFC 6749 §5.2).
	errDeviceDenied = &fosite.RFC6749Error{ErrorField: "access_denied", CodeField: http.StatusBadRequest,
		DescriptionField: "The person denied the request."}
)

func (o *DeviceOptions) defaults() error {
	if o.Limiter == nil {
		return errors.New("authz: Device.Limiter is required")
	}
	if err := errors.Join(o.SessionPolicy.Validate(), o.IPPolicy.Validate(), o.RequestIPPolicy.Validate()); err != nil {
		return fmt.Errorf("authz: device policies: %w", err)
	}
	if o.CodeTTL == 0 {
		o.CodeTTL = 10 * time.Minute
	}
	if o.Interval == 0 {
		o.Interval = 5 * time.Second
	}
	if o.CodeTTL < time.Minute || o.CodeTTL > 15*time.Minute || o.Interval < time.Second {
		return errors.New("authz: device codes live 1 to 15 minutes and are polled at most once a second")
	}
	return nil
}

// newUserCode draws a user code: 8 letters of userCodeAlphabet, uniformly
// (bytes at or above 240 = 12·20 are drawn again).
func newUserCode() string {
	var out [userCodeLength]byte
	var b [1]byte
	for i := 0; i < userCodeLength; {
		rand.Read(b[:]) // never returns an error (crypto/rand docs)
		if b[0] < 240 {
			out[i] = userCodeAlphabet[b[0]%20]
			i++
		}
	}
	return string(out[:])
}

// normalizeUserCode reads a code as a person types it: any case, with or
// without the dash, spaces anywhere. ok=false when it cannot be a code.
func normalizeUserCode(typed string) (code string, ok bool) {
	if len(typed) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case strings.ContainsRune(userCodeAlphabet, r):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// displayUserCode is a normalized code as shown: XXXX-XXXX.
func displayUserCode(code string) string { return code[:4] + "-" + code[4:] }

// userCodeHash is the at-rest form of a normalized user code: keyed, since
// 2^34.6 values are few enough to hash them all (DV-03 for device codes
// holds for these too).
func (p *Provider) userCodeHash(code string) string {
	return keyed.Hash(p.opts.HMACSecret, userCodeHashLabel, code)
}

type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// deviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1-3.2). Confidential clients authenticate as at the token endpoint;
// a public client names itself with client_id.
func (p *Provider) deviceAuthorization(c *gin.Context) {
	ctx := c.Request.Context()
	if err := c.Request.ParseForm(); err != nil {
		p.writeAccessError(c, nil, fosite.ErrInvalidRequest.WithHint("The request body is not a form."))
		return
	}
	for _, k := range []string{"client_id", "scope"} {
		if len(c.Request.PostForm[k]) > 1 {
			p.writeAccessError(c, nil, fosite.ErrInvalidRequest.WithHintf("The parameter %s was sent more than once.", k))
			return
		}
	}
	fc, err := p.oauth.AuthenticateClient(ctx, c.Request, c.Request.PostForm)
	if err != nil {
		p.writeAccessError(c, nil, err)
		return
	}
	cl, ok := fc.(*client)
	if !ok || !cl.GetGrantTypes().Has(clients.GrantDeviceCode) {
		// DV-08: pinned to unauthorized_client (RFC 6749 §5.2).
		p.writeAccessError(c, nil, fosite.ErrUnauthorizedClient.WithHint("This client may not use the device authorization grant."))
		return
	}
	scopes := fosite.RemoveEmpty(strings.Split(c.Request.PostForm.Get("scope"), " "))
	for _, s := range scopes {
		if !fosite.ExactScopeStrategy(cl.GetScopes(), s) {
			p.writeAccessError(c, nil, fosite.ErrInvalidScope.WithHintf("The client may not request the scope %s.", s))
			return
		}
	}
	d, err := p.opts.Device.Limiter.Allow(ctx, p.opts.Device.RequestIPPolicy, ratelimit.IPKey(c.ClientIP()))
	if err != nil {
		p.writeAccessError(c, nil, err)
		return
	}
	if !d.Allowed {
		c.Header("Retry-After", fmt.Sprint(d.RetryAfterSeconds()))
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "temporarily_unavailable",
			"error_description": "Too many device authorization requests from this address. Retry later."})
		return
	}
	deviceCode := randomToken() // 256 bits (DV-03)
	now := p.now()
	dc := storage.DeviceCode{
		DeviceCodeHash: hashHandle(deviceCode), ClientID: cl.ID, Scopes: scopes, Status: storage.DevicePending,
		Interval: p.opts.Device.Interval, CreatedAt: now, ExpiresAt: now.Add(p.opts.Device.CodeTTL),
	}
	var userCode string
	for range 3 { // a collision of user codes is rare; draw again
		userCode = newUserCode()
		dc.UserCodeHash = p.userCodeHash(userCode)
		if err = p.store.CreateDeviceCode(ctx, dc); !errors.Is(err, storage.ErrAlreadyExists) {
			break
		}
	}
	if err != nil {
		p.writeAccessError(c, nil, err)
		return
	}
	shown := displayUserCode(userCode)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, deviceAuthorizationResponse{
		DeviceCode:              deviceCode,
		UserCode:                shown,
		VerificationURI:         p.opts.Issuer + "/device",
		VerificationURIComplete: p.opts.Issuer + "/device?user_code=" + url.QueryEscape(shown),
		ExpiresIn:               int(p.opts.Device.CodeTTL / time.Second),
		Interval:                int(p.opts.Device.Interval / time.Second),
	})
}

// devicePage asks for the code (GET), and checks a typed code (POST): a
// pending one starts the confirmation, as a challenge. Every typed code
// counts against the browser's and the IP's limits, and every wrong,
// expired or used code gets the same answer, so guessing finds nothing
// faster than the limits allow (DV-02).
func (p *Provider) devicePage(c *gin.Context) {
	ctx := c.Request.Context()
	data := render.DevicePage{}
	status := http.StatusOK
	if c.Request.Method == http.MethodGet {
		if code, ok := normalizeUserCode(c.Query("user_code")); ok {
			data.UserCode = displayUserCode(code)
		}
	} else {
		if !p.opts.Sessions.CheckCSRF(c) {
			p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
			return
		}
		typed := c.PostForm("user_code")
		if len(typed) <= 64 {
			data.UserCode = typed
		}
		retry, err := p.deviceAttempt(c)
		if err != nil {
			p.unavailable(c, err)
			return
		}
		if retry > 0 {
			c.Header("Retry-After", fmt.Sprint(int((retry+time.Second-1)/time.Second)))
			data.Error = fmt.Sprintf("Too many codes tried. Try again in %s.", retryText(retry))
			status = http.StatusTooManyRequests
		} else {
			id, err := p.startDeviceConfirmation(ctx, typed)
			switch {
			case err == nil:
				c.Redirect(http.StatusSeeOther, "/device/confirm?challenge="+url.QueryEscape(id))
				return
			case errors.Is(err, storage.ErrNotFound):
				data.Error = "That code is not valid or has expired. Check the code on your device and try again."
				status = http.StatusBadRequest
			default:
				p.unavailable(c, err)
				return
			}
		}
	}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, status, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.Device(buf, data)
	})
}

// deviceAttempt counts a typed code against the IP's and the browser's
// limits (the browser is its CSRF cookie, which a form post that got here
// carries); it returns how long to wait when either refuses.
func (p *Provider) deviceAttempt(c *gin.Context) (retry time.Duration, err error) {
	ctx := c.Request.Context()
	o := p.opts.Device
	d, err := o.Limiter.Allow(ctx, o.IPPolicy, ratelimit.IPKey(c.ClientIP()))
	if err != nil || !d.Allowed {
		return max(d.RetryAfter, time.Second), err
	}
	d, err = o.Limiter.Allow(ctx, o.SessionPolicy, hashHandle(c.PostForm("csrf_token")))
	if err != nil || !d.Allowed {
		return max(d.RetryAfter, time.Second), err
	}
	return 0, nil
}

// retryText says a wait in words: "1 minute", "15 minutes".
func retryText(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// startDeviceConfirmation finds the pending device code a person typed
// and saves a challenge for its confirmation. storage.ErrNotFound for a
// code that is malformed, unknown, expired or already answered.
func (p *Provider) startDeviceConfirmation(ctx context.Context, typed string) (string, error) {
	d, code, err := p.pendingDeviceCode(ctx, typed)
	if err != nil {
		return "", err
	}
	id := randomToken()
	ch := challenge{
		Form:       url.Values{"client_id": {d.ClientID}, "scope": {strings.Join(d.Scopes, " ")}},
		CreatedAt:  p.now(),
		DeviceCode: code,
	}
	return id, p.saveChallenge(ctx, id, d.ClientID, ch)
}

// pendingDeviceCode looks a typed code up: storage.ErrNotFound unless it is
// a pending, unexpired device code. It also returns the code normalized.
func (p *Provider) pendingDeviceCode(ctx context.Context, typed string) (storage.DeviceCode, string, error) {
	code, ok := normalizeUserCode(typed)
	if !ok {
		return storage.DeviceCode{}, "", storage.ErrNotFound
	}
	d, err := p.store.GetDeviceCodeByUserCode(ctx, p.userCodeHash(code))
	if err != nil {
		return d, "", err
	}
	if d.Status != storage.DevicePending || !p.now().Before(d.ExpiresAt) {
		return d, "", storage.ErrNotFound
	}
	return d, code, nil
}

// errDeviceAnswered aborts a decision on a code that is no longer pending.
var errDeviceAnswered = errors.New("device code already answered or expired")

// deviceConfirmPage shows the signed-in person what they are about to
// allow (GET) and records Allow or Deny (POST). The page names the client,
// the code, the scopes and the organization and warns against codes
// someone else sent: the defence against remote phishing (DV-07).
func (p *Provider) deviceConfirmPage(c *gin.Context) {
	ctx := c.Request.Context()
	st, ok := p.beginStep(c, true)
	if !ok {
		return
	}
	if st.ch.DeviceCode == "" {
		p.errorPage(c, http.StatusBadRequest, "This sign-in has expired", "Go back to the application and start again.", nil)
		return
	}
	d, _, err := p.pendingDeviceCode(ctx, st.ch.DeviceCode)
	if errors.Is(err, storage.ErrNotFound) {
		p.deviceGone(c)
		return
	}
	if err != nil {
		p.unavailable(c, err)
		return
	}
	cl, err := p.clients.get(ctx, d.ClientID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	ms, err := p.store.ListMembershipsByUser(ctx, st.bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	name := cl.Name
	if name == "" {
		name = cl.ID
	}
	if cl.RequireOrganization && len(ms) == 0 {
		// MT-01: the client's restriction holds on this path too.
		p.errorPage(c, http.StatusForbidden, "An organization is required",
			"You need to belong to an organization to use "+name+". Ask an administrator of your organization to invite you.", nil)
		return
	}
	wantsOrg := fosite.Arguments(d.Scopes).Has(scopeOrg)
	if c.Request.Method == http.MethodPost {
		p.decideDevice(c, st, d, cl, ms, wantsOrg, name)
		return
	}
	u, err := p.store.GetUser(ctx, st.bs.UserID)
	if err != nil {
		p.unavailable(c, err)
		return
	}
	data := render.DeviceConfirmPage{Challenge: st.id, ClientName: name, UserCode: displayUserCode(st.ch.DeviceCode), Email: u.Email}
	for _, s := range d.Scopes {
		data.Scopes = append(data.Scopes, render.Scope{Name: s, Description: scopeDescriptions[s]})
	}
	if wantsOrg {
		for _, m := range ms {
			org, err := p.store.GetOrganization(ctx, m.OrgID)
			if err != nil {
				p.unavailable(c, err)
				return
			}
			data.Organizations = append(data.Organizations, render.Organization{ID: org.ID, Name: org.Name, Role: m.Role})
		}
		if len(data.Organizations) == 1 {
			data.Organization, data.Organizations = data.Organizations[0].Name, nil
		}
	}
	data.Page.CSRFToken = p.opts.Sessions.CSRFToken(c)
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		data.Page.Nonce = nonce
		return p.opts.Pages.DeviceConfirm(buf, data)
	})
}

// decideDevice records the person's answer. Allow stores the session the
// device's tokens are issued from, built as the code flow builds it, with
// the organization chosen here (one of the person's own: MT-02).
func (p *Provider) decideDevice(c *gin.Context, st step, d storage.DeviceCode, cl *client, ms []storage.Membership, wantsOrg bool, name string) {
	ctx := c.Request.Context()
	if !p.opts.Sessions.CheckCSRF(c) {
		p.errorPage(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", nil)
		return
	}
	allow := c.PostForm("decision") == "allow"
	status, session := storage.DeviceDenied, []byte(nil)
	if allow {
		orgID := ""
		if wantsOrg && len(ms) > 0 {
			orgID = ms[0].OrgID
			if len(ms) > 1 {
				orgID = ""
				for _, m := range ms {
					if m.OrgID == c.PostForm("organization") {
						orgID = m.OrgID
					}
				}
				if orgID == "" {
					p.errorPage(c, http.StatusBadRequest, "Choose an organization", "Go back and choose one of your organizations.", nil)
					return
				}
			}
		}
		req := fosite.NewRequest()
		req.Client = cl
		for _, s := range d.Scopes {
			req.GrantScope(s)
		}
		s, err := p.userSession(ctx, req, st.bs, orgID)
		if err == nil {
			session, err = json.Marshal(s)
		}
		if err != nil {
			p.unavailable(c, err)
			return
		}
		status = storage.DeviceApproved
	}
	_, err := p.store.UpdateDeviceCode(ctx, d.DeviceCodeHash, func(d storage.DeviceCode) (storage.DeviceCode, error) {
		if d.Status != storage.DevicePending || !p.now().Before(d.ExpiresAt) {
			return d, errDeviceAnswered
		}
		d.Status, d.UserID, d.Session = status, st.bs.UserID, session
		return d, nil
	})
	if errors.Is(err, errDeviceAnswered) || errors.Is(err, storage.ErrNotFound) {
		p.deviceGone(c)
		return
	}
	if err != nil {
		p.unavailable(c, err)
		return
	}
	if err := p.store.DeleteOAuthSession(ctx, storage.KindChallenge, hashHandle(st.id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.opts.Logger.WarnContext(ctx, "device: delete challenge", "err", err)
	}
	p.page(c, http.StatusOK, func(nonce string, buf *bytes.Buffer) error {
		return p.opts.Pages.DeviceDone(buf, render.DeviceDonePage{Page: render.Page{Nonce: nonce}, ClientName: name, Approved: allow})
	})
}

// deviceGone answers a confirmation whose code expired or was answered.
func (p *Provider) deviceGone(c *gin.Context) {
	p.errorPage(c, http.StatusGone, "This code has expired or was already used",
		"Start again on your device to get a new code.", nil)
}

// deviceGrant is the token endpoint's handler of the device_code grant, a
// fosite handler so client authentication, token issuance and storage are
// the other grants'. A poll locks the device code's row, so of concurrent
// polls of an approved code exactly one gets tokens.
type deviceGrant struct {
	store    *fositeStore
	tokens   accessAndRefreshStrategy
	idTokens idTokenIssuer
	config   *fosite.Config
	now      func() time.Time
}

// accessAndRefreshStrategy issues access and refresh tokens
// (accessTokenFormats).
type accessAndRefreshStrategy interface {
	GenerateAccessToken(ctx context.Context, r fosite.Requester) (token, signature string, err error)
	GenerateRefreshToken(ctx context.Context, r fosite.Requester) (token, signature string, err error)
}

// idTokenIssuer issues ID tokens (openid.IDTokenHandleHelper).
type idTokenIssuer interface {
	GetAccessTokenHash(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) string
	IssueExplicitIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester, resp fosite.AccessResponder) error
}

var _ fosite.TokenEndpointHandler = (*deviceGrant)(nil)

func (g *deviceGrant) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *deviceGrant) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(clients.GrantDeviceCode)
}

// HandleTokenEndpointRequest answers a poll (RFC 8628 §3.4-3.5): pending,
// slow_down, denied, expired or spent; an approved code is spent here and
// its session becomes the request's.
func (g *deviceGrant) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	cl := r.GetClient()
	if !cl.GetGrantTypes().Has(clients.GrantDeviceCode) {
		return fosite.ErrUnauthorizedClient.WithHint("This client may not use the device authorization grant.")
	}
	form := r.GetRequestForm()
	if len(form["device_code"]) != 1 || form.Get("device_code") == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter must be given once.")
	}
	var outcome error
	d, err := g.store.store.UpdateDeviceCode(ctx, hashHandle(form.Get("device_code")), func(d storage.DeviceCode) (storage.DeviceCode, error) {
		now := g.now()
		switch {
		case d.ClientID != cl.GetID():
			// DV-06: bound to the client that asked for it.
			return d, fosite.ErrInvalidGrant.WithHint("The device code was not issued to this client.")
		case d.Status == storage.DeviceUsed:
			return d, fosite.ErrInvalidGrant.WithHint("The device code has already been used.")
		case !now.Before(d.ExpiresAt):
			return d, errExpiredToken
		case d.Status == storage.DeviceDenied:
			return d, errDeviceDenied
		case d.Status == storage.DeviceApproved:
			d.Status, d.LastPolledAt = storage.DeviceUsed, now
			return d, nil
		case !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < d.Interval:
			d.Interval += slowDownStep
			outcome = errSlowDown
		default:
			outcome = errAuthorizationPending
		}
		d.LastPolledAt = now
		return d, nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The device code is not valid.")
	}
	if err != nil {
		return err
	}
	if outcome != nil {
		return outcome
	}
	s := newSession()
	if err := json.Unmarshal(d.Session, s); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug("device code session does not decode")
	}
	r.SetSession(s)
	r.SetRequestedScopes(d.Scopes)
	for _, sc := range d.Scopes {
		r.GrantScope(sc)
	}
	now := g.now().UTC()
	s.SetExpiresAt(fosite.AccessToken, now.Add(g.config.GetAccessTokenLifespan(ctx)).Round(time.Second))
	if g.issuesRefreshToken(r) {
		s.SetExpiresAt(fosite.RefreshToken, now.Add(g.config.GetRefreshTokenLifespan(ctx)).Round(time.Second))
	}
	return nil
}

// issuesRefreshToken: with offline_access granted, to a client that may
// refresh.
func (g *deviceGrant) issuesRefreshToken(r fosite.Requester) bool {
	return r.GetGrantedScopes().Has("offline_access") && r.GetClient().GetGrantTypes().Has("refresh_token")
}

// PopulateTokenEndpointResponse issues the tokens of a spent device code
// exactly as the code flow issues them: access token, refresh token with
// offline_access, ID token with openid.
func (g *deviceGrant) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	access, accessSig, err := g.tokens.GenerateAccessToken(ctx, r)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	var refresh, refreshSig string
	if g.issuesRefreshToken(r) {
		if refresh, refreshSig, err = g.tokens.GenerateRefreshToken(ctx, r); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	txCtx, err := g.store.BeginTX(ctx)
	if err != nil {
		return err
	}
	err = g.store.CreateAccessTokenSession(txCtx, accessSig, r.Sanitize(nil))
	if err == nil && refreshSig != "" {
		err = g.store.CreateRefreshTokenSession(txCtx, refreshSig, accessSig, r.Sanitize(nil))
	}
	if err != nil {
		return errors.Join(err, g.store.Rollback(txCtx))
	}
	if err := g.store.Commit(txCtx); err != nil {
		return err
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(r.GetSession().GetExpiresAt(fosite.AccessToken).Sub(g.now()).Round(time.Second))
	resp.SetScopes(r.GetGrantedScopes())
	if refresh != "" {
		resp.SetExtra("refresh_token", refresh)
	}
	if !r.GetGrantedScopes().Has("openid") {
		return nil
	}
	s := r.GetSession().(*Session)
	s.IDTokenClaims().AccessTokenHash = g.idTokens.GetAccessTokenHash(ctx, r, resp)
	return g.idTokens.IssueExplicitIDToken(ctx, g.config.GetIDTokenLifespan(ctx), r, resp)
}
