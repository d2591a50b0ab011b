package saml

import (
	"github.com/foyerdev/foyer/keyed"

	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/gin-gonic/gin"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"github.com/foyerdev/foyer/outbound"
	"github.com/foyerdev/foyer/ratelimit"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates/render"
)

// The service provider's routes, on the browser group:
//
//	GET  /sso/:id/metadata   the SP metadata: entity ID, ACS URL, signing certificate
//	GET  /sso/:id/start      a signed AuthnRequest by HTTP-Redirect to the IdP
//	                         (?challenge= the authorization to resume)
//	POST /sso/:id/acs        the IdP's response: checked, provisioned, signed in
//
// The AuthnRequest's ID is kept server-side with the authorization to
// resume, under a handle that is both the RelayState and a cookie of this
// browser, and is spent on first use (SP-10, SP-14).

const (
	purposeAuthn   = "saml_authn"
	authnTTL       = 10 * time.Minute
	relayCookie    = "foyer_saml"
	maxResponse    = 256 << 10 // SP-13: a SAMLResponse larger than this is refused unread
	assertionLabel = "saml assertion"
)

// Mount adds the routes.
func (s *Service) Mount(r gin.IRouter) {
	r.GET("/sso/:id/metadata", s.metadata)
	r.GET("/sso/:id/start", s.start)
	r.POST("/sso/:id/acs", s.acs)
	r.POST("/sso/:id/confirm", s.confirm)
}

func (s *Service) entityID(connectionID string) string {
	return strings.TrimSuffix(s.o.Issuer, "/") + "/sso/" + connectionID + "/metadata"
}

func (s *Service) acsURL(connectionID string) string {
	return strings.TrimSuffix(s.o.Issuer, "/") + "/sso/" + connectionID + "/acs"
}

// StartPath is where a sign-in through connection id begins, resuming the
// authorization challenge (if any) afterwards.
func StartPath(id, challenge string) string {
	p := "/sso/" + url.PathEscape(id) + "/start"
	if challenge != "" {
		p += "?" + url.Values{"challenge": {challenge}}.Encode()
	}
	return p
}

// serviceProvider is crewjam's SP for connection c: its own key and
// certificate, the IdP's metadata, and Foyer's stricter audience check.
func (s *Service) serviceProvider(c storage.SAMLConnection) (*saml.ServiceProvider, error) {
	keyDER, err := s.o.Sealer.Open(c.SPKey, sealContext(c.ID))
	if err != nil {
		return nil, fmt.Errorf("open SP key: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(c.SPCertificate)
	if err != nil {
		return nil, err
	}
	idp, err := parseIDPMetadata(c.Metadata)
	if err != nil {
		return nil, err
	}
	metadataURL, _ := url.Parse(s.entityID(c.ID))
	acs, _ := url.Parse(s.acsURL(c.ID))
	sp := &saml.ServiceProvider{
		EntityID: s.entityID(c.ID), Key: key.(crypto.Signer), Certificate: cert,
		MetadataURL: *metadataURL, AcsURL: *acs, IDPMetadata: idp,
		AuthnNameIDFormat: saml.UnspecifiedNameIDFormat, AllowIDPInitiated: c.AllowIDPInitiated,
		SignatureMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
	}
	entityID := sp.EntityID
	// SP-08: an assertion must be restricted to this SP; crewjam accepts
	// one with no AudienceRestriction at all.
	sp.ValidateAudienceRestriction = func(a *saml.Assertion) error {
		if a.Conditions == nil || len(a.Conditions.AudienceRestrictions) == 0 {
			return errors.New("no AudienceRestriction")
		}
		for _, ar := range a.Conditions.AudienceRestrictions {
			if ar.Audience.Value == entityID {
				return nil
			}
		}
		return fmt.Errorf("audience is not %s", entityID)
	}
	return sp, nil
}

// samlspParseMetadata reads an EntityDescriptor, or the first IdP of an
// EntitiesDescriptor, after checking that the XML survives a round trip
// through encoding/xml unchanged (SP-05).
func samlspParseMetadata(md []byte) (*saml.EntityDescriptor, error) {
	if err := xrv.Validate(bytes.NewReader(md)); err != nil {
		return nil, err
	}
	var ed saml.EntityDescriptor
	err := xml.Unmarshal(md, &ed)
	if err == nil {
		return &ed, nil
	}
	var all saml.EntitiesDescriptor
	if xml.Unmarshal(md, &all) != nil {
		return nil, err
	}
	for i, e := range all.EntityDescriptors {
		if len(e.IDPSSODescriptors) > 0 {
			return &all.EntityDescriptors[i], nil
		}
	}
	return nil, errors.New("no identity provider in it")
}

// fetchMetadata reads an IdP's metadata with a timeout and a size cap,
// refusing to connect to loopback, private and link-local addresses
// unless AllowPrivateMetadata (F7: an admin-given URL is no way into
// Foyer's own network), and following no redirects.
func (s *Service) fetchMetadata(ctx context.Context, raw string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	client := outbound.Client(metadataTimeout, s.o.AllowPrivateMetadata)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
}

// connection reads the connection of the path; ok=false: answered.
func (s *Service) connection(c *gin.Context) (storage.SAMLConnection, bool) {
	conn, err := s.o.Store.GetSAMLConnection(c.Request.Context(), c.Param("id"))
	if errors.Is(err, storage.ErrNotFound) {
		s.page(c, http.StatusNotFound, "Unknown sign-in connection", "This single sign-on connection does not exist.", "/login", "Sign in")
		return conn, false
	}
	if err != nil {
		s.unavailable(c, err)
		return conn, false
	}
	return conn, true
}

func (s *Service) metadata(c *gin.Context) {
	conn, ok := s.connection(c)
	if !ok {
		return
	}
	sp, err := s.serviceProvider(conn)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	out, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="foyer-sp-`+conn.ID+`.xml"`)
	c.Data(http.StatusOK, "application/samlmetadata+xml", out)
}

// authnState is what the ACS needs of the request it answers.
type authnState struct {
	RequestID string `json:"request_id"`
	Challenge string `json:"challenge,omitempty"`
}

// start sends the browser to the IdP with a signed AuthnRequest.
func (s *Service) start(c *gin.Context) {
	ctx := c.Request.Context()
	conn, ok := s.connection(c)
	if !ok || !s.startAllowed(c) {
		return
	}
	sp, err := s.serviceProvider(conn)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	challenge := c.Query("challenge")
	if len(challenge) > 128 {
		challenge = ""
	}
	data, _ := json.Marshal(authnState{RequestID: req.ID, Challenge: challenge})
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(ctx, storage.MFAChallenge{
		ID: s.handleHash(handle), Purpose: purposeAuthn, Data: data, CreatedAt: now, ExpiresAt: now.Add(authnTTL),
	}); err != nil {
		s.unavailable(c, err)
		return
	}
	s.setRelayCookie(c, handle, int(authnTTL/time.Second))
	to, err := req.Redirect(handle, sp)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, to.String())
}

// acs receives the IdP's response, checks it (crewjam's checks and
// Foyer's: audience required, the request this browser made, once, the
// assertion never seen before), provisions the person and signs in.
func (s *Service) acs(c *gin.Context) {
	ctx := c.Request.Context()
	conn, ok := s.connection(c)
	if !ok {
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxResponse)
	if err := c.Request.ParseForm(); err != nil || c.Request.PostForm.Get("SAMLResponse") == "" {
		s.refuse(c, conn, reasonMissing, "the response is missing or too large", err)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(c.Request.PostForm.Get("SAMLResponse"))
	if err != nil || hasDTD(raw) {
		s.refuse(c, conn, reasonMalformed, "the response is not base64 XML without DTD", err) // SP-13
		return
	}
	// SP-10/14: the request this browser made, spent now.
	var state authnState
	relay := c.Request.PostForm.Get("RelayState")
	handle := s.relayCookie(c)
	s.setRelayCookie(c, "", -1)
	switch {
	case relay == "" && conn.AllowIDPInitiated:
		// IdP-initiated (SP-12): no request to match; only when enabled.
	case relay == "" || len(relay) > 64 || !hmac.Equal([]byte(relay), []byte(handle)):
		s.refuse(c, conn, reasonUnsolicited, "the response does not answer a sign-in started in this browser", nil)
		return
	default:
		st, err := s.o.Store.TakeMFAChallenge(ctx, s.handleHash(handle), purposeAuthn, s.o.Now())
		if err == nil {
			err = json.Unmarshal(st.Data, &state)
		}
		if errors.Is(err, storage.ErrNotFound) {
			s.refuse(c, conn, reasonRequestExpired, "the sign-in expired or was already used", nil)
			return
		}
		if err != nil {
			s.unavailable(c, err)
			return
		}
	}
	sp, err := s.serviceProvider(conn)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	var ids []string
	if state.RequestID != "" {
		ids = []string{state.RequestID}
		sp.AllowIDPInitiated = false // a response to our request must say so
	}
	assertion, err := parseResponse(sp, raw, ids)
	if err != nil {
		s.refuse(c, conn, reasonInvalid, "the identity provider's response is not valid", err)
		return
	}
	// SP-11: an assertion is accepted once, on any instance.
	until := s.o.Now().Add(saml.MaxClockSkew + saml.MaxIssueDelay)
	if a := assertion.Conditions; a != nil && a.NotOnOrAfter.After(until) {
		until = a.NotOnOrAfter.Add(saml.MaxClockSkew)
	}
	if err := s.o.Store.UseAssertionJTI(ctx, s.handleHashLabel(assertionLabel, conn.ID+"\x00"+assertion.ID), until); errors.Is(err, storage.ErrAlreadyExists) {
		s.refuse(c, conn, reasonReplayed, "the assertion was used before", nil)
		return
	} else if err != nil {
		s.unavailable(c, err)
		return
	}
	if state.RequestID == "" {
		s.confirmIDPInitiated(c, conn, assertion)
		return
	}
	userID, err := s.provision(ctx, conn, assertion)
	if !s.startSession(c, conn, userID, err, false) {
		return
	}
	next := "/account"
	if state.Challenge != "" {
		n, err := s.o.Authorizations.CompleteLogin(ctx, state.Challenge)
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

// hasDTD reports a document type or entity declaration, which no SAML
// message needs and XML bombs do (SP-13).
func hasDTD(xml []byte) bool {
	return bytes.Contains(xml, []byte("<!DOCTYPE")) || bytes.Contains(xml, []byte("<!ENTITY"))
}

// parseResponse checks a decoded SAMLResponse with crewjam (signatures,
// issuer, destination, recipient, times, InResponseTo against ids, one
// assertion; SP-01…SP-09) and Foyer's audience rule, and returns the
// assertion it verified. The error says why, for the log only.
func parseResponse(sp *saml.ServiceProvider, raw []byte, ids []string) (*saml.Assertion, error) {
	if hasDTD(raw) {
		return nil, errors.New("DTD in the response")
	}
	assertion, err := sp.ParseXMLResponse(raw, ids, sp.AcsURL)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		err = ire.PrivateErr
	}
	return assertion, err
}

// refuse answers a response Foyer will not accept: the reason (a short
// code) goes to the audit log, the message and the cause to the log, and
// the person gets the message and a way back.
func (s *Service) refuse(c *gin.Context, conn storage.SAMLConnection, reason, message string, cause error) {
	s.o.Logger.WarnContext(c.Request.Context(), "saml: response refused", "connection", conn.ID, "org_id", conn.OrgID,
		"reason", message, "err", cause)
	s.recordRefusal(c, conn, reason)
	s.page(c, http.StatusBadRequest, "Single sign-on failed",
		"Your organization's sign-in could not be completed: "+message+". Try again, or ask your IT administrator.", "/login", "Sign in")
}

// attributes reads an assertion's attributes by name and friendly name.
type attributes map[string][]string

func attributesOf(a *saml.Assertion) attributes {
	out := attributes{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				for _, k := range []string{at.Name, at.FriendlyName} {
					if k != "" {
						out[k] = append(out[k], v.Value)
					}
				}
			}
		}
	}
	return out
}

func (a attributes) first(names ...string) string {
	for _, n := range names {
		for _, v := range a[n] {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	return ""
}

func (a attributes) all(names ...string) []string {
	for _, n := range names {
		if len(a[n]) > 0 {
			return a[n]
		}
	}
	return nil
}

// provision finds the person of an assertion by (connection, NameID)
// (MT-05), or links an existing account or creates one, only for an email
// of a domain this connection has claimed and verified (MT-07); then
// brings their membership in the connection's organization up to date
// with the mapped role.
func (s *Service) provision(ctx context.Context, conn storage.SAMLConnection, a *saml.Assertion) (string, error) {
	p, err := personOf(conn, a)
	if err != nil {
		return "", err
	}
	return s.provisionPerson(ctx, conn, p)
}

// person is what an assertion says about who signed in, read through the
// connection's mapping.
type person struct {
	Subject string `json:"subject"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Role    string `json:"role"`
}

func personOf(conn storage.SAMLConnection, a *saml.Assertion) (person, error) {
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) == "" {
		return person{}, &refusal{reasonNoSubject, "the assertion names no subject"}
	}
	subject := a.Subject.NameID.Value // the full text (SP-04)
	var m Mapping
	if len(conn.Mapping) > 0 {
		if err := json.Unmarshal(conn.Mapping, &m); err != nil {
			return person{}, err
		}
	}
	attrs := attributesOf(a)
	email := attrs.first(nonEmpty(m.EmailAttribute, "email"), "mail", "emailaddress",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "urn:oid:0.9.2342.19200300.100.1.3")
	if email == "" && strings.Contains(subject, "@") {
		email = subject
	}
	name := strings.TrimSpace(attrs.first(nonEmpty(m.FirstNameAttribute, "givenName"), "firstName",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42") + " " +
		attrs.first(nonEmpty(m.LastNameAttribute, "sn"), "surname", "lastName",
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4"))
	groups := attrs.all(nonEmpty(m.GroupsAttribute, "groups"), "memberOf", "eduPersonAffiliation",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")
	role := nonEmpty(m.DefaultRole, storage.RoleMember)
	for _, gr := range m.GroupRoles {
		if slices.Contains(groups, gr.Group) {
			role = gr.Role
			break
		}
	}
	return person{Subject: subject, Email: email, Name: name, Role: role}, nil
}

// provisionPerson finds or provisions p (see provision).
func (s *Service) provisionPerson(ctx context.Context, conn storage.SAMLConnection, p person) (string, error) {
	subject, email, name, role := p.Subject, p.Email, p.Name, p.Role
	now := s.o.Now()
	var userID string
	err := s.inTx(ctx, func(ctx context.Context) error {
		id, err := s.o.Store.GetExternalIdentity(ctx, conn.ID, subject)
		switch {
		case err == nil:
			userID = id.UserID
			if err := s.o.Store.TouchExternalIdentity(ctx, conn.ID, subject, now); err != nil {
				return err
			}
		case errors.Is(err, storage.ErrNotFound):
			if userID, err = s.linkOrCreate(ctx, conn, email, name, now); err != nil {
				return err
			}
			if err := s.o.Store.CreateExternalIdentity(ctx, storage.ExternalIdentity{
				ConnectionID: conn.ID, Subject: subject, UserID: userID, CreatedAt: now, LastLoginAt: now,
			}); err != nil {
				return err
			}
		default:
			return err
		}
		return s.syncMembership(ctx, conn.OrgID, userID, role)
	})
	return userID, err
}

// linkOrCreate is the first sign-in of a subject: the address must be of
// a domain this connection claims and verified; an account with it is
// linked when its address was verified (MT-06), or one is made, its
// address verified by the IdP of its domain.
func (s *Service) linkOrCreate(ctx context.Context, conn storage.SAMLConnection, email, name string, now time.Time) (string, error) {
	addr, err := mail.ParseAddress(email)
	if email == "" || err != nil || addr.Address != email {
		return "", &refusal{reasonNoEmail, "the identity provider sent no email address"}
	}
	domain := strings.ToLower(email[strings.LastIndex(email, "@")+1:])
	d, err := s.o.Store.GetSAMLDomain(ctx, domain)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (d.ConnectionID != conn.ID || d.VerifiedAt.IsZero())) {
		return "", &refusal{reasonDomain, "addresses of " + domain + " do not sign in through this connection"}
	}
	if err != nil {
		return "", err
	}
	u, err := s.o.Store.GetUserByEmail(ctx, email)
	if err == nil && !u.EmailVerified {
		// MT-06: whoever registered an address they never verified may
		// not be its owner; linking would hand them the IdP's account.
		return "", &refusal{reasonUnverified, "an account with this address exists but its address was never verified; sign in to it and verify the address first"}
	}
	if err == nil {
		return u.ID, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	u, err = s.o.Store.CreateUser(ctx, storage.User{
		ID: storage.NewID(storage.PrefixUser), Email: email, Name: name, EmailVerified: true, CreatedAt: now, UpdatedAt: now,
	})
	return u.ID, err
}

// syncMembership gives the person role in the organization, adding them.
func (s *Service) syncMembership(ctx context.Context, orgID, userID, role string) error {
	if _, err := s.o.Store.GetRole(ctx, orgID, role); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return &refusal{reasonUnknownRole, fmt.Sprintf("the connection maps to the role %q, which the organization does not have", role)}
		}
		return err
	}
	m, err := s.o.Store.GetMembership(ctx, orgID, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		_, err = s.o.Store.CreateMembership(ctx, storage.Membership{OrgID: orgID, UserID: userID, Role: role, CreatedAt: s.o.Now()})
		return err
	case err != nil:
		return err
	case m.Role != role:
		_, err = s.o.Store.UpdateMembership(ctx, orgID, userID, func(m storage.Membership) (storage.Membership, error) {
			m.Role = role
			return m, nil
		})
		return err
	}
	return nil
}

func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tx, err := s.o.Store.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, s.o.Store.Rollback(tx))
	}
	return s.o.Store.Commit(tx)
}

func nonEmpty(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// handleHash is the at-rest form of an AuthnRequest handle.
func (s *Service) handleHash(handle string) string { return s.handleHashLabel(purposeAuthn, handle) }

func (s *Service) handleHashLabel(label, value string) string {
	return keyed.Hash(s.o.HandleKey, label, value)
}

func newHandle() string {
	b := make([]byte, 24)
	if _, err := io.ReadFull(randReader, b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// setRelayCookie binds the AuthnRequest to this browser. The IdP posts the
// response cross-site, so over https the cookie is SameSite=None (Secure);
// over http (development, tests on one host) Lax, which same-site posts
// carry.
func (s *Service) setRelayCookie(c *gin.Context, value string, maxAge int) {
	s.setCookieNamed(c, relayCookie, value, maxAge)
}

func (s *Service) relayCookie(c *gin.Context) string { return s.cookieNamed(c, relayCookie) }

func (s *Service) setCookieNamed(c *gin.Context, name, value string, maxAge int) {
	secure := strings.HasPrefix(s.o.Issuer, "https://")
	same := http.SameSiteLaxMode
	if secure {
		same, name = http.SameSiteNoneMode, "__Host-"+name
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: same})
}

func (s *Service) cookieNamed(c *gin.Context, name string) string {
	if strings.HasPrefix(s.o.Issuer, "https://") {
		name = "__Host-" + name
	}
	v, _ := c.Cookie(name)
	return v
}

func (s *Service) page(c *gin.Context, status int, title, message, next, nextText string) {
	d := render.ErrorPage{Page: render.Page{Title: title, CSRFToken: s.o.Sessions.CSRFToken(c)}, Message: message,
		RequestID: c.Writer.Header().Get("X-Request-Id"), Next: next, NextText: nextText}
	if err := render.WritePage(c.Writer, status, false, s.errorPage, &d, &d.Page); err != nil {
		s.o.Logger.ErrorContext(c.Request.Context(), "render page", "err", err)
	}
}

func (s *Service) unavailable(c *gin.Context, err error) {
	s.o.Logger.ErrorContext(c.Request.Context(), "saml request failed", "err", err)
	c.Header("Retry-After", "5")
	s.page(c, http.StatusServiceUnavailable, "Try again shortly", "Foyer could not complete this request. Please try again in a moment.", "", "")
}

// An IdP-initiated response answers no request of this browser, so anyone
// could post one, of their own account, into a victim's browser (login
// CSRF). It is accepted only on connections that enable it, and then only
// after the person confirms, with this browser's CSRF token, which
// account they are signing in as (SP-12).

const (
	purposeIDPInitiated = "saml_idp_initiated"
	confirmCookie       = "foyer_saml_confirm"
)

func (s *Service) confirmIDPInitiated(c *gin.Context, conn storage.SAMLConnection, a *saml.Assertion) {
	ctx := c.Request.Context()
	p, err := personOf(conn, a)
	var r *refusal
	if errors.As(err, &r) {
		s.refuse(c, conn, r.reason, r.message, nil)
		return
	}
	data, err := json.Marshal(p)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	handle, now := newHandle(), s.o.Now()
	if err := s.o.Store.CreateMFAChallenge(ctx, storage.MFAChallenge{
		ID: s.handleHashLabel(purposeIDPInitiated, handle), Purpose: purposeIDPInitiated, Data: data,
		CreatedAt: now, ExpiresAt: now.Add(authnTTL),
	}); err != nil {
		s.unavailable(c, err)
		return
	}
	s.setCookieNamed(c, confirmCookie, handle, int(authnTTL/time.Second))
	d := render.SSOConfirmPage{Action: "/sso/" + conn.ID + "/confirm", ConnectionName: conn.Name, Email: p.Email}
	d.Page.CSRFToken = s.o.Sessions.CSRFToken(c)
	if err := render.WritePage(c.Writer, http.StatusOK, false, s.confirmPage, &d, &d.Page); err != nil {
		s.o.Logger.ErrorContext(ctx, "render page", "err", err)
	}
}

// confirm finishes an IdP-initiated sign-in the person confirmed.
func (s *Service) confirm(c *gin.Context) {
	ctx := c.Request.Context()
	conn, ok := s.connection(c)
	if !ok {
		return
	}
	if !s.o.Sessions.CheckCSRF(c) {
		s.page(c, http.StatusForbidden, "Please try again", "This form expired. Go back and try again.", "/login", "Sign in")
		return
	}
	handle := s.cookieNamed(c, confirmCookie)
	s.setCookieNamed(c, confirmCookie, "", -1)
	var p person
	ch, err := s.o.Store.TakeMFAChallenge(ctx, s.handleHashLabel(purposeIDPInitiated, handle), purposeIDPInitiated, s.o.Now())
	if err == nil {
		err = json.Unmarshal(ch.Data, &p)
	}
	if errors.Is(err, storage.ErrNotFound) || handle == "" {
		s.refuse(c, conn, reasonRequestExpired, "the sign-in expired or was already used", nil)
		return
	}
	if err != nil {
		s.unavailable(c, err)
		return
	}
	userID, err := s.provisionPerson(ctx, conn, p)
	if s.startSession(c, conn, userID, err, true) {
		c.Redirect(http.StatusSeeOther, "/account")
	}
}

// startSession signs in the person provisioning returned (userID, err):
// a refusal is answered as one, and the session (amr "ext") is recorded
// in the audit log. false: answered.
func (s *Service) startSession(c *gin.Context, conn storage.SAMLConnection, userID string, err error, idpInitiated bool) bool {
	var r *refusal
	if errors.As(err, &r) {
		s.refuse(c, conn, r.reason, r.message, nil)
		return false
	}
	if err == nil {
		_, err = s.o.Sessions.Start(c, userID, []string{"ext"})
	}
	if err != nil {
		s.unavailable(c, err)
		return false
	}
	s.recordSignIn(c, conn, userID, idpInitiated)
	return true
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
