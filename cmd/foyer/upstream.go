package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/config"
	"github.com/foyerdev/foyer/idp/upstream"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates"
)

// upstreamSealer seals upstream client secrets with a key derived from the
// encryption key, so the CLI seals what the server opens.
func upstreamSealer(key []byte) (*keys.Cipher, error) {
	return keys.NewCipher(deriveKey(key, "foyer upstream client secret seal v1"))
}

func upstreamHandleKey(key []byte) []byte { return deriveKey(key, "foyer upstream handle hmac v1") }

// configuredConnections turns the configuration file's connections into
// idp/upstream's.
func configuredConnections(cs []config.Connection) []upstream.NewConnection {
	out := make([]upstream.NewConnection, 0, len(cs))
	for _, c := range cs {
		out = append(out, upstream.NewConnection{
			ID: c.ID, OrgSlug: c.Organization, Type: c.Type, Name: c.Name, Issuer: c.Issuer,
			ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes,
			AuthURL: c.AuthURL, TokenURL: c.TokenURL, APIURL: c.APIURL,
			Mapping:     upstream.Mapping{EmailClaim: c.EmailClaim, EmailVerifiedClaim: c.EmailVerifiedClaim, NameClaim: c.NameClaim},
			MultiFactor: c.MultiFactor, LinkByEmail: c.LinkByEmail,
		})
	}
	return out
}

// adminUpstream adapts *upstream.Service to admin.Upstream; its
// *upstream.FieldError has the FieldMessage method admin reads.
type adminUpstream struct{ s *upstream.Service }

func (u adminUpstream) view(c upstream.Connection) admin.UpstreamConnection {
	v := admin.UpstreamConnection{
		ID: c.ID, OrgID: c.OrgID, Type: c.Type, Name: c.Name, Issuer: c.Issuer, ClientID: c.ClientID, Scopes: c.Scopes,
		AuthURL: c.AuthURL, TokenURL: c.TokenURL, APIURL: c.APIURL, MultiFactor: c.MultiFactor, LinkByEmail: c.LinkByEmail,
		Configured: c.Configured, CallbackURL: u.s.CallbackURL(c.ID), CreatedAt: c.CreatedAt,
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	m := c.MappingOf()
	v.Mapping = admin.UpstreamMapping{EmailClaim: m.EmailClaim, EmailVerifiedClaim: m.EmailVerifiedClaim, NameClaim: m.NameClaim}
	return v
}

func (u adminUpstream) Create(ctx context.Context, in admin.NewUpstreamConnection) (admin.UpstreamConnection, error) {
	c, err := u.s.CreateConnection(ctx, upstream.NewConnection{
		OrgID: in.OrgID, Type: in.Type, Name: in.Name, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret,
		Scopes: in.Scopes, AuthURL: in.AuthURL, TokenURL: in.TokenURL, APIURL: in.APIURL,
		Mapping:     upstream.Mapping{EmailClaim: in.Mapping.EmailClaim, EmailVerifiedClaim: in.Mapping.EmailVerifiedClaim, NameClaim: in.Mapping.NameClaim},
		MultiFactor: in.MultiFactor, LinkByEmail: in.LinkByEmail,
	})
	if err != nil {
		return admin.UpstreamConnection{}, err
	}
	return u.view(upstream.Connection{UpstreamConnection: c}), nil
}

func (u adminUpstream) List(ctx context.Context) ([]admin.UpstreamConnection, error) {
	cs, err := u.s.Connections(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.UpstreamConnection, 0, len(cs))
	for _, c := range cs {
		out = append(out, u.view(c))
	}
	return out, nil
}

func (u adminUpstream) Get(ctx context.Context, id string) (admin.UpstreamConnection, error) {
	c, err := u.s.Get(ctx, id)
	if err != nil {
		return admin.UpstreamConnection{}, err
	}
	return u.view(c), nil
}

func (u adminUpstream) Delete(ctx context.Context, id string) error {
	err := u.s.DeleteConnection(ctx, id)
	if errors.Is(err, upstream.ErrConfigured) {
		return admin.ErrConfiguredConnection
	}
	return err
}

// withUpstream opens the store and an upstream service that seals client
// secrets with the server's key, for the `foyer connections` commands.
func (a *app) withUpstream(cmd *cobra.Command, fn func(ctx context.Context, store storage.Store, up adminUpstream) error) error {
	cfg, store, err := a.commandStore(cmd)
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := encryptionKey(cfg, false, a.commandLogger())
	if err != nil {
		return err
	}
	seal, err := upstreamSealer(key)
	if err != nil {
		return err
	}
	s, err := upstream.New(upstream.Options{
		Issuer: cfg.Issuer, Store: store, Sealer: seal, Sessions: session.New(session.Options{Store: store}),
		Authorizations: noAuthorizations{}, Templates: templates.FS, HandleKey: upstreamHandleKey(key),
		Static: configuredConnections(cfg.Connections), Logger: a.commandLogger(),
	})
	if err != nil {
		return err
	}
	return fn(cmd.Context(), store, adminUpstream{s})
}

func (a *app) connectionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connections", Short: "Manage upstream connections: sign-in with an OpenID provider (Google, Entra ID, GitLab, Okta, …) or GitHub"}
	cmd.AddCommand(a.connectionsCreateCommand(), a.connectionsListCommand(), a.connectionsDeleteCommand())
	return cmd
}

// connectionText is a connection in a few lines.
func connectionText(v admin.UpstreamConnection) string {
	var b strings.Builder
	scope := "global"
	if v.OrgID != "" {
		scope = "organization " + v.OrgID
	}
	fmt.Fprintf(&b, "%s  %s (%s, %s)\n", v.ID, v.Name, v.Type, scope)
	if v.Issuer != "" {
		fmt.Fprintf(&b, "  issuer:        %s\n", v.Issuer)
	}
	fmt.Fprintf(&b, "  client ID:     %s\n  callback URL:  %s\n", v.ClientID, v.CallbackURL)
	fmt.Fprintf(&b, "  multi-factor:  %t   link by email: %t", v.MultiFactor, v.LinkByEmail)
	if v.Configured {
		b.WriteString("\n  (from the configuration file)")
	}
	return b.String()
}

func (a *app) connectionsCreateCommand() *cobra.Command {
	var in admin.NewUpstreamConnection
	var org string
	cmd := &cobra.Command{
		Use: "create --type oidc|github --name N --client-id ID --client-secret S [--issuer URL] [--org ORG] " +
			"[--scope S...] [--auth-url U --token-url U --api-url U] [--multi-factor] [--link-by-email]",
		Short: "Create an upstream connection; prints the callback URL to register at the provider",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "type", "name", "client-id", "client-secret"); err != nil {
				return err
			}
			return a.withUpstream(cmd, func(ctx context.Context, store storage.Store, up adminUpstream) error {
				if org != "" {
					o, err := findOrg(ctx, store, org)
					if err != nil {
						return err
					}
					in.OrgID = o.ID
				}
				var v admin.UpstreamConnection
				err := inTx(ctx, store, func(ctx context.Context) error {
					var err error
					if v, err = up.Create(ctx, in); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditUpstreamConnectionCreated, admin.TargetUpstream, v.ID, v.OrgID),
						nil, admin.UpstreamAuditFields(v))
				})
				if err != nil {
					return err
				}
				return a.print(v, "created upstream connection "+v.ID+"\n"+connectionText(v))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Type, "type", "", "oidc (any OpenID provider, found by discovery) or github (required)")
	f.StringVar(&in.Name, "name", "", `shown as "Continue with NAME" (required)`)
	f.StringVar(&in.Issuer, "issuer", "", "the OpenID provider's issuer or discovery URL (oidc)")
	f.StringVar(&in.ClientID, "client-id", "", "client ID registered at the provider (required)")
	f.StringVar(&in.ClientSecret, "client-secret", "", "client secret registered at the provider (required; stored encrypted)")
	f.StringVar(&org, "org", "", "organization slug or ID: its connection, whose users become members (default: global)")
	f.StringArrayVar(&in.Scopes, "scope", nil, "scope to ask for (repeat; default openid email profile, or read:user user:email for github)")
	f.StringVar(&in.AuthURL, "auth-url", "", "GitHub authorization endpoint (default github.com's)")
	f.StringVar(&in.TokenURL, "token-url", "", "GitHub token endpoint (default github.com's)")
	f.StringVar(&in.APIURL, "api-url", "", "GitHub API base URL (default https://api.github.com)")
	f.StringVar(&in.Mapping.EmailClaim, "email-claim", "", "claim with the email (default email)")
	f.StringVar(&in.Mapping.EmailVerifiedClaim, "email-verified-claim", "", "claim saying the email is verified (default email_verified)")
	f.StringVar(&in.Mapping.NameClaim, "name-claim", "", "claim with the name (default name)")
	f.BoolVar(&in.MultiFactor, "multi-factor", false, "the provider enforces multi-factor sign-in: Foyer asks no second factor after it")
	f.BoolVar(&in.LinkByEmail, "link-by-email", false, "link a first sign-in to the account with the same address when both sides verified it")
	return cmd
}

func (a *app) connectionsListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List upstream connections, the configuration file's first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withUpstream(cmd, func(ctx context.Context, _ storage.Store, up adminUpstream) error {
				cs, err := up.List(ctx)
				if err != nil {
					return err
				}
				texts := make([]string, 0, len(cs))
				for _, c := range cs {
					texts = append(texts, connectionText(c))
				}
				if len(texts) == 0 {
					texts = append(texts, "no upstream connections")
				}
				return a.print(cs, strings.Join(texts, "\n"))
			})
		},
	}
}

func (a *app) connectionsDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an upstream connection with the links of people to it (their accounts stay)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withUpstream(cmd, func(ctx context.Context, store storage.Store, up adminUpstream) error {
				err := inTx(ctx, store, func(ctx context.Context) error {
					v, err := up.Get(ctx, args[0])
					if err != nil {
						return err
					}
					if err := up.Delete(ctx, v.ID); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditUpstreamConnectionDeleted, admin.TargetUpstream, v.ID, v.OrgID),
						admin.UpstreamAuditFields(v), nil)
				})
				switch {
				case errors.Is(err, storage.ErrNotFound):
					return &admin.FieldError{Field: "connection", Message: fmt.Sprintf("no upstream connection %q", args[0])}
				case errors.Is(err, admin.ErrConfiguredConnection):
					return &admin.FieldError{Field: "connection", Message: args[0] + " is in the configuration file; remove it there"}
				case err != nil:
					return err
				}
				return a.print(struct {
					ID      string `json:"id"`
					Deleted bool   `json:"deleted"`
				}{args[0], true}, "deleted upstream connection "+args[0])
			})
		},
	}
}
