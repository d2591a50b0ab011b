package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// foyer login, whoami, logout and api: a person signs in from a terminal
// with the device authorization grant (RFC 8628) as the built-in public
// client foyer-cli, and the other commands use (and refresh) the tokens
// kept in credentials.json.

const (
	// refreshMargin: an access token this close to expiry is refreshed
	// first, so it does not expire on its way to the server.
	refreshMargin = 30 * time.Second
	// maxResponse bounds what the commands read of a server's answer.
	maxResponse = 16 << 20
)

// defaultLoginScopes are what foyer login asks for without --scope:
// offline_access for a refresh token, foyer:admin for foyer api.
func defaultLoginScopes() []string {
	return []string{"openid", "profile", "email", "offline_access", "foyer:admin"}
}

// remoteContext carries the HTTP client of the commands that talk to a
// Foyer (to go-oidc and x/oauth2 too): no request hangs forever.
func remoteContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, &http.Client{Timeout: 30 * time.Second})
}

func remoteClient(ctx context.Context) *http.Client {
	if c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok {
		return c
	}
	return http.DefaultClient
}

func (a *app) loginCommand() *cobra.Command {
	var issuer string
	var scopes []string
	cmd := &cobra.Command{
		Use:   "login --issuer URL [--scope S...]",
		Short: "Sign in to a Foyer from this terminal: enter the code shown in a browser (RFC 8628)",
		Long: "Sign in to a Foyer from this terminal as the built-in client foyer-cli: open the address shown in a\n" +
			"browser (or scan the QR code), enter the code and allow. The tokens are kept in\n" +
			"the user's configuration directory (foyer/credentials.json, mode 0600), one entry per issuer;\n" +
			"whoami, logout and api use them. With --json, stdout has two JSON documents: the code to\n" +
			"enter, then who signed in.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "issuer"); err != nil {
				return err
			}
			issuer = normalizeIssuer(issuer)
			if err := checkIssuerURL(issuer); err != nil {
				return usageError{err}
			}
			return a.login(remoteContext(cmd.Context()), issuer, scopes)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "the Foyer's issuer URL, such as https://id.example.com (required)")
	cmd.Flags().StringArrayVar(&scopes, "scope", defaultLoginScopes(), "scope to ask for (repeat for several; replaces the default)")
	return cmd
}

// checkIssuerURL refuses an issuer that is not an https URL: tokens and a
// password-equivalent code travel to it. Plain http is for loopback only.
func checkIssuerURL(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--issuer: %q is not an issuer URL such as https://id.example.com", issuer)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--issuer: %q must use https (http only for localhost)", issuer)
}

// discovered is what login reads from the discovery document beyond what
// go-oidc's Provider offers.
type discovered struct {
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	RevocationEndpoint          string `json:"revocation_endpoint"`
	UserinfoEndpoint            string `json:"userinfo_endpoint"`
}

// identity is who a token belongs to, from the ID token or userinfo.
type identity struct {
	Subject string `json:"sub"`
	Email   string `json:"email"`
	Name    string `json:"name"`
}

func (id identity) String() string {
	switch {
	case id.Email != "" && id.Name != "":
		return fmt.Sprintf("%s (%s)", id.Email, id.Name)
	case id.Email != "":
		return id.Email
	case id.Name != "":
		return id.Name
	}
	return id.Subject
}

func (a *app) login(ctx context.Context, issuer string, scopes []string) error {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return fmt.Errorf("discovery at %s: %w", issuer, err)
	}
	var meta discovered
	if err := provider.Claims(&meta); err != nil {
		return fmt.Errorf("discovery at %s: %w", issuer, err)
	}
	if meta.DeviceAuthorizationEndpoint == "" {
		return fmt.Errorf("%s does not offer sign-in from a terminal: its discovery document has no device_authorization_endpoint", issuer)
	}
	conf := oauth2.Config{ClientID: cliClientID, Endpoint: provider.Endpoint(), Scopes: scopes}
	// A public client: client_id in the form, no secret (RFC 6749 §2.3).
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return fmt.Errorf("device authorization at %s: %w", issuer, oauthProblem(err))
	}
	if err := a.showCode(da); err != nil {
		return err
	}
	// DeviceAccessToken waits the interval between polls, longer after
	// slow_down (RFC 8628 §3.5), and gives up when the code expires.
	tok, err := conf.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		return errors.New("access denied: the sign-in was refused in the browser")
	case errors.As(err, &re) && re.ErrorCode == "expired_token", errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the code %s expired before it was approved; run foyer login again", da.UserCode)
	case errors.Is(err, context.Canceled):
		return errors.New("sign-in interrupted")
	case err != nil:
		return fmt.Errorf("waiting for approval at %s: %w", issuer, oauthProblem(err))
	}

	cred := credential{
		Issuer:             issuer,
		TokenEndpoint:      provider.Endpoint().TokenURL,
		RevocationEndpoint: meta.RevocationEndpoint,
		UserinfoEndpoint:   meta.UserinfoEndpoint,
		Scopes:             scopes,
	}
	cred.setToken(tok)
	if s, ok := tok.Extra("scope").(string); ok && s != "" {
		cred.Scopes = strings.Fields(s)
	}
	if cred.IDToken != "" {
		idt, err := provider.Verifier(&oidc.Config{ClientID: cliClientID}).Verify(ctx, cred.IDToken)
		if err != nil {
			return fmt.Errorf("the ID token from %s does not verify: %w", issuer, err)
		}
		var who identity
		if err := idt.Claims(&who); err != nil {
			return fmt.Errorf("the ID token from %s: %w", issuer, err)
		}
		cred.Subject, cred.Email, cred.Name = idt.Subject, who.Email, who.Name
	}

	creds, err := userCredentials()
	if err != nil {
		return err
	}
	unlock, err := creds.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := creds.load()
	if err != nil {
		return err
	}
	f.Issuers[issuer] = cred
	if err := creds.save(f); err != nil {
		return err
	}
	who := identity{Subject: cred.Subject, Email: cred.Email, Name: cred.Name}
	text := "signed in to " + issuer
	if s := who.String(); s != "" {
		text += " as " + s
	}
	return a.print(whoView{Issuer: issuer, Subject: who.Subject, Email: who.Email, Name: who.Name, Scopes: cred.Scopes}, text)
}

// showCode tells the person where to go and what to type: on stderr as
// text, with a QR code of the complete URI when stderr is a terminal wide
// enough; with --json, as one line of JSON on stdout.
func (a *app) showCode(da *oauth2.DeviceAuthResponse) error {
	if a.json {
		b, err := json.Marshal(struct {
			VerificationURI         string    `json:"verification_uri"`
			VerificationURIComplete string    `json:"verification_uri_complete,omitempty"`
			UserCode                string    `json:"user_code"`
			ExpiresAt               time.Time `json:"expires_at,omitzero"`
		}{da.VerificationURI, da.VerificationURIComplete, da.UserCode, da.Expiry})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(&b, "or open %s\n", da.VerificationURIComplete)
		if cols := a.terminalColumns(a.stderr); cols > 0 {
			if code := terminalQR(da.VerificationURIComplete, cols); code != "" {
				b.WriteString("or scan this code:\n" + code)
			}
		}
	}
	b.WriteString("Check that the page shows the same code. Waiting for approval…\n")
	_, err := io.WriteString(a.stderr, b.String())
	return err
}

// setToken copies what a token response carries into c; a refresh
// response may omit the refresh and ID tokens, which then stay.
func (c *credential) setToken(tok *oauth2.Token) {
	c.AccessToken, c.TokenType, c.Expiry = tok.AccessToken, tok.TokenType, tok.Expiry
	if tok.RefreshToken != "" {
		c.RefreshToken = tok.RefreshToken
	}
	if id, ok := tok.Extra("id_token").(string); ok && id != "" {
		c.IDToken = id
	}
}

// oauthProblem makes an OAuth error answer one readable line: its code
// and description, not x/oauth2's dump of the body.
func oauthProblem(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	switch {
	case re.ErrorCode != "" && re.ErrorDescription != "":
		return fmt.Errorf("%s: %s", re.ErrorCode, re.ErrorDescription)
	case re.ErrorCode != "":
		return errors.New(re.ErrorCode)
	case re.Response != nil:
		return fmt.Errorf("the server answered %s", re.Response.Status)
	}
	return err
}

// signedIn returns the stored credential for issuer ("" for the only
// one), refreshed first when its access token expires within
// refreshMargin, or always with force. A refresh token the server refuses
// (invalid_grant: revoked, expired, the person deleted) ends the stored
// sign-in: the entry is removed and the error is notSignedIn.
func signedIn(ctx context.Context, issuer string, force bool) (credential, error) {
	creds, err := userCredentials()
	if err != nil {
		return credential{}, err
	}
	unlock, err := creds.lock()
	if err != nil {
		return credential{}, err
	}
	defer unlock()
	f, err := creds.load()
	if err != nil {
		return credential{}, err
	}
	cred, err := f.pick(issuer)
	if err != nil {
		return credential{}, err
	}
	if !force && (cred.Expiry.IsZero() || time.Until(cred.Expiry) > refreshMargin) {
		return cred, nil
	}
	forget := func() (credential, error) {
		delete(f.Issuers, cred.Issuer)
		if err := creds.save(f); err != nil {
			return credential{}, err
		}
		return credential{}, notSignedIn{cred.Issuer}
	}
	if cred.RefreshToken == "" {
		return forget() // nothing to renew the access token with
	}
	conf := oauth2.Config{ClientID: cliClientID, Endpoint: oauth2.Endpoint{TokenURL: cred.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: cred.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return forget()
	}
	if err != nil {
		return credential{}, fmt.Errorf("refresh the tokens at %s: %w", cred.Issuer, oauthProblem(err))
	}
	cred.setToken(tok)
	f.Issuers[cred.Issuer] = cred
	if err := creds.save(f); err != nil {
		return credential{}, err
	}
	return cred, nil
}

// errTokenRefused is a 401 from a resource: the access token was revoked
// or has expired early; one refresh is worth a try.
var errTokenRefused = errors.New("the access token was refused")

// whoView is what whoami (and login) print with --json.
type whoView struct {
	Issuer  string   `json:"issuer"`
	Subject string   `json:"subject"`
	Email   string   `json:"email,omitempty"`
	Name    string   `json:"name,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
}

func (a *app) whoamiCommand() *cobra.Command {
	var issuer string
	cmd := &cobra.Command{
		Use:   "whoami [--issuer URL]",
		Short: "Show who foyer login signed in, as the Foyer's userinfo endpoint says",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := remoteContext(cmd.Context())
			var who identity
			cred, err := withToken(ctx, issuer, func(cred credential) (err error) {
				who, err = userinfo(ctx, cred)
				return err
			})
			if err != nil {
				return err
			}
			text := fmt.Sprintf("email:   %s\nname:    %s\nsubject: %s\nissuer:  %s", who.Email, who.Name, who.Subject, cred.Issuer)
			return a.print(whoView{Issuer: cred.Issuer, Subject: who.Subject, Email: who.Email, Name: who.Name, Scopes: cred.Scopes}, text)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuer signed in to (needed when signed in to several)")
	return cmd
}

// withToken calls use with a fresh stored credential for issuer; if the
// server refuses its access token, it refreshes once and tries again.
func withToken(ctx context.Context, issuer string, use func(credential) error) (credential, error) {
	cred, err := signedIn(ctx, issuer, false)
	if err != nil {
		return cred, err
	}
	err = use(cred)
	if !errors.Is(err, errTokenRefused) {
		return cred, err
	}
	if cred, err = signedIn(ctx, cred.Issuer, true); err != nil {
		return cred, err
	}
	if err := use(cred); errors.Is(err, errTokenRefused) {
		return cred, fmt.Errorf("%s refused a freshly refreshed access token; run foyer login --issuer %s", cred.Issuer, cred.Issuer)
	} else if err != nil {
		return cred, err
	}
	return cred, nil
}

// userinfo asks the OIDC userinfo endpoint who the access token is for.
func userinfo(ctx context.Context, cred credential) (identity, error) {
	if cred.UserinfoEndpoint == "" {
		return identity{}, fmt.Errorf("%s has no userinfo endpoint", cred.Issuer)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cred.UserinfoEndpoint, nil)
	if err != nil {
		return identity{}, fmt.Errorf("userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cred.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := remoteClient(ctx).Do(req)
	if err != nil {
		return identity{}, fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return identity{}, fmt.Errorf("userinfo: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return identity{}, errTokenRefused
	}
	if resp.StatusCode != http.StatusOK {
		return identity{}, fmt.Errorf("userinfo at %s: %s", cred.Issuer, httpProblem(resp, body))
	}
	var who identity
	if err := json.Unmarshal(body, &who); err != nil {
		return identity{}, fmt.Errorf("userinfo at %s: %w", cred.Issuer, err)
	}
	return who, nil
}

func (a *app) logoutCommand() *cobra.Command {
	var issuer string
	cmd := &cobra.Command{
		Use:   "logout [--issuer URL]",
		Short: "Revoke the tokens of foyer login at the Foyer and forget them here",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.logout(remoteContext(cmd.Context()), issuer)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuer to sign out of (needed when signed in to several)")
	return cmd
}

// logout revokes the refresh token, which ends the grant, and the access
// token (RFC 7009), then forgets both, even when revocation failed: the
// person asked for them to be gone from this machine.
func (a *app) logout(ctx context.Context, issuer string) error {
	creds, err := userCredentials()
	if err != nil {
		return err
	}
	unlock, err := creds.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := creds.load()
	if err != nil {
		return err
	}
	cred, err := f.pick(issuer)
	if err != nil {
		return err
	}
	var revokeErr error
	if cred.RevocationEndpoint == "" {
		revokeErr = errors.New("it has no revocation endpoint")
	} else {
		for _, t := range []struct{ token, hint string }{{cred.RefreshToken, "refresh_token"}, {cred.AccessToken, "access_token"}} {
			if t.token == "" {
				continue
			}
			if revokeErr = revoke(ctx, cred.RevocationEndpoint, t.token, t.hint); revokeErr != nil {
				break
			}
		}
	}
	delete(f.Issuers, cred.Issuer)
	if err := creds.save(f); err != nil {
		return err
	}
	if revokeErr != nil {
		return fmt.Errorf("forgot the tokens for %s here, but revoking them there failed: %w", cred.Issuer, revokeErr)
	}
	return a.print(struct {
		Issuer    string `json:"issuer"`
		SignedOut bool   `json:"signed_out"`
	}{cred.Issuer, true}, "signed out of "+cred.Issuer)
}

// revoke asks the revocation endpoint to revoke token, as the public
// client: client_id in the form (RFC 7009 §2.1). 200 means revoked, or
// already worthless (§2.2).
func revoke(ctx context.Context, endpoint, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}, "client_id": {cliClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := remoteClient(ctx).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke the %s: %s", strings.ReplaceAll(hint, "_", " "), httpProblem(resp, body))
	}
	return nil
}

func (a *app) apiCommand() *cobra.Command {
	var issuer, data string
	cmd := &cobra.Command{
		Use:   "api [--issuer URL] METHOD PATH [--data JSON]",
		Short: "Call a Foyer's API (such as /admin/v1/users) with the token of foyer login",
		Long: "Send METHOD PATH to the issuer signed in to with foyer login, as the person who signed in\n" +
			"(Authorization: Bearer, refreshed when needed), and print the answer, JSON indented.\n" +
			"The admin API needs the scope foyer:admin, which foyer login asks for by default.",
		Example: "  foyer api GET /admin/v1/users\n" +
			"  foyer api POST /admin/v1/organizations --data '{\"slug\":\"acme\",\"name\":\"Acme\"}'",
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			method, path := strings.ToUpper(args[0]), args[1]
			if !strings.HasPrefix(path, "/") {
				return usageError{fmt.Errorf("%s: PATH must start with /, such as /admin/v1/users", cmd.CommandPath())}
			}
			if cmd.Flags().Changed("data") && !json.Valid([]byte(data)) {
				return usageError{fmt.Errorf("%s: --data is not valid JSON", cmd.CommandPath())}
			}
			var body []byte
			if cmd.Flags().Changed("data") {
				body = []byte(data)
			}
			ctx := remoteContext(cmd.Context())
			var out []byte
			_, err := withToken(ctx, issuer, func(cred credential) (err error) {
				out, err = callAPI(ctx, cred, method, path, body)
				return err
			})
			if err != nil {
				return err
			}
			if len(out) == 0 {
				return nil
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, out, "", "  ") == nil {
				out = pretty.Bytes()
			}
			if !bytes.HasSuffix(out, []byte("\n")) {
				out = append(out, '\n')
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "the issuer signed in to (needed when signed in to several)")
	cmd.Flags().StringVar(&data, "data", "", "JSON request body, sent as application/json")
	return cmd
}

// callAPI sends one request to the issuer's path with the access token and
// returns the body of a 2xx answer.
func callAPI(ctx context.Context, cred credential, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, cred.Issuer+path, r)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+cred.AccessToken)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := remoteClient(ctx).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, errTokenRefused
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s", method, path, httpProblem(resp, out))
	}
	return out, nil
}

// httpProblem describes an error answer in one line: the status, then an
// RFC 9457 problem's title and detail, or an OAuth error's code and
// description.
func httpProblem(resp *http.Response, body []byte) string {
	var p struct {
		Title            string `json:"title"`
		Detail           string `json:"detail"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	msg := resp.Status
	if json.Unmarshal(body, &p) != nil {
		return msg
	}
	for _, s := range []string{p.Title, p.Detail, p.Error, p.ErrorDescription} {
		if s != "" && !strings.Contains(msg, s) {
			msg += ": " + s
		}
	}
	return msg
}
