package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/clients"
	"github.com/foyerdev/foyer/storage"
)

// maxJWKSFile bounds what --jwks-file reads; the registrar refuses more
// than 64 KiB with a clear message.
const maxJWKSFile = 1 << 20

func (a *app) clientsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Manage OAuth clients"}
	cmd.AddCommand(a.clientsCreateCommand(), a.clientsUpdateCommand(), a.clientsListCommand(), a.clientsGetCommand(), a.clientsDeleteCommand())
	return cmd
}

func (a *app) clientsCreateCommand() *cobra.Command {
	var in clients.NewClient
	var native bool
	var jwksFile string
	cmd := &cobra.Command{
		Use: "create --name N [--id ID] [--secret S] [--public] --redirect-uri URI... [--post-logout-redirect-uri URI...] " +
			"--grant-type G... [--scope S...] [--first-party] [--access-token-format jwt|opaque]",
		Short: "Register an OAuth client; a confidential client's secret is printed once",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "name", "grant-type"); err != nil {
				return err
			}
			if native {
				in.ApplicationType = clients.ApplicationNative
			}
			if jwksFile != "" {
				doc, err := readJWKSFile(jwksFile)
				if err != nil {
					return err
				}
				in.JWKS = doc
			}
			reg, store, done, err := a.registrar(cmd, true)
			if err != nil {
				return err
			}
			defer done()
			var c storage.Client
			var secret string
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				var err error
				if c, secret, err = reg.Create(ctx, in); err != nil {
					return err
				}
				// The view has no secret, and neither has the entry.
				return recordCLI(ctx, store, cliEntry(admin.AuditClientCreated, admin.TargetClient, c.ID, ""), nil, admin.ClientAuditFields(c))
			})
			if err != nil {
				return err
			}
			v := admin.ClientView(c)
			v.ClientSecret = secret
			text := fmt.Sprintf("created client %s (%s)", c.ID, c.Name)
			if secret != "" {
				text += "; client secret, shown only now: " + secret
			}
			return a.print(v, text)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "display name shown on consent pages (required)")
	f.StringVar(&in.ID, "id", "", "client ID: letters, digits and - . _ ~ (default: generated cli_…)")
	f.StringVar(&in.Secret, "secret", "", "client secret of at least 32 characters (default: 43 generated characters)")
	f.BoolVar(&in.Public, "public", false, "a public client (SPA, mobile, CLI): no secret, PKCE required")
	// StringArray, not StringSlice: a comma is a legal character in a URI.
	f.StringArrayVar(&in.RedirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeat for several; required for authorization_code)")
	f.StringArrayVar(&in.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "where RP-initiated logout may return to (repeatable)")
	f.StringArrayVar(&in.GrantTypes, "grant-type", nil,
		"authorization_code, refresh_token, client_credentials or "+clients.GrantDeviceCode+" (repeat for several; required)")
	f.StringArrayVar(&in.Scopes, "scope", nil, "scope the client may request (repeatable; default: openid profile email offline_access)")
	f.BoolVar(&in.FirstParty, "first-party", false, "an application of the operator's own: no consent page")
	f.StringVar(&in.AccessTokenFormat, "access-token-format", clients.FormatJWT, "jwt or opaque")
	f.StringVar(&in.TokenEndpointAuthMethod, "auth-method", "",
		"client_secret_basic, client_secret_post, private_key_jwt or none (default: client_secret_basic; none with --public)")
	f.BoolVar(&in.RequirePKCE, "require-pkce", false, "require PKCE from a confidential client too (public clients always need it)")
	f.BoolVar(&in.RequirePAR, "require-par", false, "accept only pushed authorization requests (RFC 9126)")
	f.BoolVar(&in.RequireOrganization, "require-organization", false, "refuse sign-in to people who belong to no organization")
	f.BoolVar(&native, "native", false, "a native app (RFC 8252): http://127.0.0.1 or [::1] with any port, or a private-use scheme like com.example.app:/cb")
	f.StringVar(&jwksFile, "jwks-file", "", "JWK Set file with the client's public keys (for --auth-method private_key_jwt)")
	return cmd
}

func (a *app) clientsUpdateCommand() *cobra.Command {
	var name string
	var redirects, logoutRedirects, grants, scopes []string
	var requireOrg bool
	cmd := &cobra.Command{
		Use: "update CLIENT_ID [--name N] [--redirect-uri URI...] [--post-logout-redirect-uri URI...] " +
			"[--grant-type G...] [--scope S...] [--require-organization=true|false]",
		Short: "Change an OAuth client: each flag given replaces that setting, checked by the rules of create",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch clients.Changes
			f := cmd.Flags()
			if f.Changed("name") {
				ch.Name = &name
			}
			if f.Changed("redirect-uri") {
				ch.RedirectURIs = &redirects
			}
			if f.Changed("post-logout-redirect-uri") {
				ch.PostLogoutRedirectURIs = &logoutRedirects
			}
			if f.Changed("grant-type") {
				ch.GrantTypes = &grants
			}
			if f.Changed("scope") {
				ch.Scopes = &scopes
			}
			if f.Changed("require-organization") {
				ch.RequireOrganization = &requireOrg
			}
			if ch == (clients.Changes{}) {
				return usageError{fmt.Errorf("nothing to change: give at least one of --name, --redirect-uri, " +
					"--post-logout-redirect-uri, --grant-type, --scope, --require-organization")}
			}
			reg, store, done, err := a.registrar(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			var c storage.Client
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				before, err := reg.Get(ctx, args[0])
				if err != nil {
					return err
				}
				if c, err = reg.Update(ctx, before.ID, ch); err != nil {
					return err
				}
				return recordCLI(ctx, store, cliEntry(admin.AuditClientUpdated, admin.TargetClient, c.ID, ""),
					admin.ClientAuditFields(before), admin.ClientAuditFields(c))
			})
			if err != nil {
				return err
			}
			return a.print(admin.ClientView(c), fmt.Sprintf("updated client %s (%s); running servers use it within 5 s", c.ID, c.Name))
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "display name shown on consent pages")
	f.StringArrayVar(&redirects, "redirect-uri", nil, "redirect URI (repeat for several; replaces the list)")
	f.StringArrayVar(&logoutRedirects, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable; replaces the list)")
	f.StringArrayVar(&grants, "grant-type", nil, "grant type (repeatable; replaces the list)")
	f.StringArrayVar(&scopes, "scope", nil, "scope the client may request (repeatable; replaces the list)")
	f.BoolVar(&requireOrg, "require-organization", false, "refuse sign-in to people who belong to no organization")
	return cmd
}

func (a *app) clientsListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List OAuth clients",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, done, err := a.registrar(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			out := []admin.Client{}
			var text strings.Builder
			p := storage.Page{Limit: storage.MaxPageLimit}
			for {
				page, err := reg.List(cmd.Context(), p)
				if err != nil {
					return err
				}
				for _, c := range page {
					out = append(out, admin.ClientView(c))
					fmt.Fprintf(&text, "%-30s  %-12s  %s\n", c.ID, clientType(c), c.Name)
				}
				if len(page) < p.Limit {
					break
				}
				p.After = page[len(page)-1].ID
			}
			if len(out) == 0 {
				text.WriteString("no clients\n")
			}
			return a.print(out, strings.TrimSuffix(text.String(), "\n"))
		},
	}
}

func (a *app) clientsGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get CLIENT_ID",
		Short: "Show an OAuth client (never its secret)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, done, err := a.registrar(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			c, err := reg.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(admin.ClientView(c), fmt.Sprintf("%s  %s  %s  grant types: %s  redirect URIs: %s",
				c.ID, clientType(c), c.Name, strings.Join(c.GrantTypes, " "), strings.Join(c.RedirectURIs, " ")))
		},
	}
}

func (a *app) clientsDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLIENT_ID",
		Short: "Delete an OAuth client",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, store, done, err := a.registrar(cmd, false)
			if err != nil {
				return err
			}
			defer done()
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				before, err := reg.Get(ctx, args[0])
				if err != nil {
					return err
				}
				if err := reg.Delete(ctx, before.ID); err != nil {
					return err
				}
				return recordCLI(ctx, store, cliEntry(admin.AuditClientDeleted, admin.TargetClient, before.ID, ""), admin.ClientAuditFields(before), nil)
			})
			if err != nil {
				return err
			}
			return a.print(struct {
				ClientID string `json:"client_id"`
				Deleted  bool   `json:"deleted"`
			}{args[0], true}, "deleted client "+args[0])
		},
	}
}

// registrar opens the store and a client registrar for a one-shot command.
// With hashing it also loads the encryption key (secrets.encryption_key or
// the data directory's encryption.key), from which the secret-hashing key is
// derived: create needs it, reading and deleting do not. The store is for
// the transaction of a change and its audit entry.
func (a *app) registrar(cmd *cobra.Command, hashing bool) (*clients.Registrar, storage.Store, func(), error) {
	cfg, store, err := a.commandStore(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	var hasher *clients.SecretHasher
	if hashing {
		key, err := encryptionKey(cfg, false, a.commandLogger())
		if err != nil {
			store.Close()
			return nil, nil, nil, err
		}
		hasher = clients.NewSecretHasher(clients.DeriveKey(key))
	}
	return clients.NewRegistrar(store, hasher, nil), store, func() { store.Close() }, nil
}

// readJWKSFile reads the --jwks-file document; the registrar checks it.
func readJWKSFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jwks-file: %w", err)
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, maxJWKSFile))
	if err != nil {
		return nil, fmt.Errorf("jwks-file: %w", err)
	}
	return doc, nil
}

// usageArgs makes a wrong number of arguments a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err)}
		}
		return nil
	}
}

// orEmpty prints an absent list as [], not null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func clientType(c storage.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}
