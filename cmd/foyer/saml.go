package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/authz/keys"
	"github.com/foyerdev/foyer/config"
	sso "github.com/foyerdev/foyer/idp/saml"
	"github.com/foyerdev/foyer/session"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates"
)

// samlSealer seals the SP private keys of SAML connections. The server and
// `foyer saml create` both use it: a key one seals the other must open.
func samlSealer(key []byte) (*keys.Cipher, error) {
	return keys.NewCipher(deriveKey(key, "foyer saml sp key seal v1"))
}

// samlSealer's companion for the sign-in handles; the CLI never signs
// anyone in, but its service is built like the server's.
func samlHandleKey(key []byte) []byte { return deriveKey(key, "foyer saml handle hmac v1") }

// noAuthorizations is the CLI's stand-in for the provider: the CLI's
// SAML service makes and changes connections, never signs anyone in.
type noAuthorizations struct{}

func (noAuthorizations) CompleteLogin(context.Context, string) (string, error) {
	return "", errors.New("saml: no sign-in from the CLI")
}

// withSAML opens the store and a SAML service provider that seals SP keys
// with the server's key, for the `foyer saml` commands.
func (a *app) withSAML(cmd *cobra.Command, fn func(ctx context.Context, store storage.Store, sp adminSAML) error) error {
	cfg, store, err := a.commandStore(cmd)
	if err != nil {
		return err
	}
	defer store.Close()
	sp, err := commandSAML(cfg, store, a)
	if err != nil {
		return err
	}
	return fn(cmd.Context(), store, adminSAML{sp})
}

func commandSAML(cfg config.Config, store storage.Store, a *app) (*sso.Service, error) {
	key, err := encryptionKey(cfg, false, a.commandLogger())
	if err != nil {
		return nil, err
	}
	seal, err := samlSealer(key)
	if err != nil {
		return nil, err
	}
	return sso.New(sso.Options{
		Issuer: cfg.Issuer, Store: store, Sealer: seal, Sessions: session.New(session.Options{Store: store}),
		Authorizations: noAuthorizations{}, Templates: templates.FS, HandleKey: samlHandleKey(key),
		AllowPrivateMetadata: cfg.Dev, Logger: a.commandLogger(),
	})
}

func (a *app) samlCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "saml", Short: "Manage organizations' SAML connections (enterprise single sign-on) and their email domains"}
	cmd.AddCommand(a.samlCreateCommand(), a.samlListCommand(), a.samlGetCommand(), a.samlDeleteCommand(),
		a.samlAddDomainCommand(), a.samlVerifyDomainCommand())
	return cmd
}

// samlView shows connection c with its domains.
func samlView(ctx context.Context, store storage.Store, sp adminSAML, c storage.SAMLConnection) (admin.SAMLConnection, error) {
	ds, err := store.ListSAMLDomains(ctx, c.ID)
	if err != nil {
		return admin.SAMLConnection{}, err
	}
	return admin.SAMLConnectionView(c, ds, sp.SP(c.ID)), nil
}

// samlText is a connection in a few lines.
func samlText(v admin.SAMLConnection) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s (organization %s)\n", v.ID, v.Name, v.OrgID)
	if v.MetadataURL != "" {
		fmt.Fprintf(&b, "  IdP metadata:    %s\n", v.MetadataURL)
	}
	if v.MetadataError != "" {
		fmt.Fprintf(&b, "  last refresh:    failed: %s\n", v.MetadataError)
	}
	fmt.Fprintf(&b, "  SP entity ID:    %s\n  SP ACS URL:      %s\n  SP metadata:     %s\n", v.SPEntityID, v.SPACSURL, v.SPMetadataURL)
	fmt.Fprintf(&b, "  IdP-initiated:   %t\n", v.AllowIDPInitiated)
	for _, d := range v.Domains {
		fmt.Fprintf(&b, "  domain %s: %s\n", d.Domain, domainStatus(d))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func domainStatus(d admin.SAMLDomain) string {
	if d.Verified {
		return "verified"
	}
	r := d.VerificationRecord
	return fmt.Sprintf("not verified (publish %s %s %q)", r.Name, r.Type, r.Value)
}

// findSAMLConnection reads connection id, reported on field "connection".
func findSAMLConnection(ctx context.Context, store storage.Store, id string) (storage.SAMLConnection, error) {
	c, err := store.GetSAMLConnection(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return c, &admin.FieldError{Field: "connection", Message: fmt.Sprintf("no SAML connection %q", id)}
	}
	return c, err
}

func (a *app) samlCreateCommand() *cobra.Command {
	var org, name, metadataURL, metadataFile string
	var allowIDPInitiated bool
	var groupRoles []string
	var m admin.SAMLMapping
	cmd := &cobra.Command{
		Use: "create --org ORG --name N (--metadata-url URL | --metadata-file FILE) [--allow-idp-initiated] " +
			"[--group-role GROUP=ROLE...] [--default-role R]",
		Short: "Create a SAML connection from the IdP's metadata; prints the SP entity ID, ACS URL and metadata URL to give the IdP",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org", "name"); err != nil {
				return err
			}
			if (metadataURL == "") == (metadataFile == "") {
				return usageError{fmt.Errorf("%s: give one of --metadata-url and --metadata-file", cmd.CommandPath())}
			}
			in := admin.NewSAMLConnection{Name: name, MetadataURL: metadataURL, AllowIDPInitiated: allowIDPInitiated}
			if metadataFile != "" {
				md, err := os.ReadFile(metadataFile)
				if err != nil {
					return &admin.FieldError{Field: "metadata", Message: fmt.Sprintf("cannot read %s: %v", metadataFile, errors.Unwrap(err))}
				}
				if len(md) == 0 {
					return &admin.FieldError{Field: "metadata", Message: metadataFile + " is empty"}
				}
				in.Metadata = string(md)
			}
			for _, gr := range groupRoles {
				i := strings.LastIndex(gr, "=")
				if i <= 0 || i == len(gr)-1 {
					return &admin.FieldError{Field: "group-role", Message: fmt.Sprintf("%q is not GROUP=ROLE", gr)}
				}
				m.GroupRoles = append(m.GroupRoles, admin.SAMLGroupRole{Group: gr[:i], Role: gr[i+1:]})
			}
			in.Mapping = m
			return a.withSAML(cmd, func(ctx context.Context, store storage.Store, sp adminSAML) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				in.OrgID = o.ID
				c, err := createSAML(ctx, store, sp, in)
				if err != nil {
					return err
				}
				v := admin.SAMLConnectionView(c, nil, sp.SP(c.ID))
				return a.print(v, fmt.Sprintf("created SAML connection %s in %s\n", c.ID, o.Slug)+samlText(v))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	cmd.Flags().StringVar(&name, "name", "", "name of the connection, such as the IdP's (required)")
	cmd.Flags().StringVar(&metadataURL, "metadata-url", "", "https URL of the IdP's metadata, fetched now and refreshed hourly")
	cmd.Flags().StringVar(&metadataFile, "metadata-file", "", "file with the IdP's metadata XML")
	cmd.Flags().BoolVar(&allowIDPInitiated, "allow-idp-initiated", false, "accept responses that no sign-in at Foyer asked for (no RelayState)")
	cmd.Flags().StringArrayVar(&groupRoles, "group-role", nil, "GROUP=ROLE: members of the IdP group get ROLE (first match wins; repeat)")
	cmd.Flags().StringVar(&m.DefaultRole, "default-role", "", "role of people in no mapped group (default member)")
	cmd.Flags().StringVar(&m.EmailAttribute, "email-attribute", "", "attribute with the email (default: the usual names, else the NameID)")
	cmd.Flags().StringVar(&m.FirstNameAttribute, "first-name-attribute", "", "attribute with the given name")
	cmd.Flags().StringVar(&m.LastNameAttribute, "last-name-attribute", "", "attribute with the surname")
	cmd.Flags().StringVar(&m.GroupsAttribute, "groups-attribute", "", "attribute with the groups")
	return cmd
}

// createSAML creates connection in and records it in the audit log in the
// same transaction (AD-07). The metadata fetch (up to 10 s) and the key
// pair come first, outside it: the embedded database's write lock must not
// wait on an IdP while a running server's sign-ins wait on the lock.
func createSAML(ctx context.Context, store storage.Store, sp adminSAML, in admin.NewSAMLConnection) (storage.SAMLConnection, error) {
	c, err := admin.PrepareSAMLConnection(ctx, store, sp, in)
	if err != nil {
		return c, err
	}
	err = inTx(ctx, store, func(ctx context.Context) error {
		var err error
		if c, err = store.CreateSAMLConnection(ctx, c); err != nil {
			return err
		}
		return recordCLI(ctx, store, cliEntry(admin.AuditSAMLConnectionCreated, admin.TargetSAMLConnection, c.ID, c.OrgID),
			nil, admin.SAMLAuditFields(c))
	})
	return c, err
}

func (a *app) samlListCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list --org ORG",
		Short: "List an organization's SAML connections with their domains",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			return a.withSAML(cmd, func(ctx context.Context, store storage.Store, sp adminSAML) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				cs, err := store.ListSAMLConnections(ctx, o.ID)
				if err != nil {
					return err
				}
				out := []admin.SAMLConnection{}
				var text strings.Builder
				for _, c := range cs {
					v, err := samlView(ctx, store, sp, c)
					if err != nil {
						return err
					}
					out = append(out, v)
					domains := make([]string, 0, len(v.Domains))
					for _, d := range v.Domains {
						if !d.Verified {
							d.Domain += " (not verified)"
						}
						domains = append(domains, d.Domain)
					}
					fmt.Fprintf(&text, "%-30s  %-30s  %s\n", c.ID, c.Name, strings.Join(domains, ", "))
				}
				if len(out) == 0 {
					fmt.Fprintf(&text, "no SAML connections in %s\n", o.Slug)
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}

func (a *app) samlGetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a SAML connection: its domains and what to give the IdP",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withSAML(cmd, func(ctx context.Context, store storage.Store, sp adminSAML) error {
				c, err := findSAMLConnection(ctx, store, args[0])
				if err != nil {
					return err
				}
				v, err := samlView(ctx, store, sp, c)
				if err != nil {
					return err
				}
				return a.print(v, samlText(v))
			})
		},
	}
}

func (a *app) samlDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a SAML connection with its domains and the links of people to it (their accounts stay)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				c, err := findSAMLConnection(ctx, store, args[0])
				if err != nil {
					return err
				}
				err = inTx(ctx, store, func(ctx context.Context) error {
					if err := store.DeleteSAMLConnection(ctx, c.ID); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditSAMLConnectionDeleted, admin.TargetSAMLConnection, c.ID, c.OrgID),
						admin.SAMLAuditFields(c), nil)
				})
				if err != nil {
					return err
				}
				return a.print(struct {
					ID      string `json:"id"`
					OrgID   string `json:"org_id"`
					Deleted bool   `json:"deleted"`
				}{c.ID, c.OrgID, true}, fmt.Sprintf("deleted SAML connection %s (%s)", c.ID, c.Name))
			})
		},
	}
}

func (a *app) samlAddDomainCommand() *cobra.Command {
	var verified bool
	cmd := &cobra.Command{
		Use:   "add-domain ID DOMAIN [--verified]",
		Short: "Claim an email domain for a SAML connection; prints the DNS TXT record that verifies it",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				c, err := findSAMLConnection(ctx, store, args[0])
				if err != nil {
					return err
				}
				var d storage.SAMLDomain
				err = inTx(ctx, store, func(ctx context.Context) error {
					var err error
					if d, err = admin.AddSAMLDomain(ctx, store, c.ID, args[1], verified, time.Now()); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditSAMLDomainAdded, admin.TargetSAMLDomain, d.Domain, c.OrgID),
						nil, admin.SAMLDomainAuditFields(d))
				})
				if errors.Is(err, storage.ErrAlreadyExists) {
					return &admin.FieldError{Field: "domain", Message: fmt.Sprintf("%s is already claimed by a SAML connection", d.Domain)}
				}
				if err != nil {
					return err
				}
				v := admin.SAMLDomainView(d)
				return a.print(v, fmt.Sprintf("%s claims %s: %s", c.ID, d.Domain, domainStatus(v)))
			})
		},
	}
	cmd.Flags().BoolVar(&verified, "verified", false, "the domain is the organization's: skip the DNS check")
	return cmd
}

func (a *app) samlVerifyDomainCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "verify-domain ID DOMAIN",
		Short: "Verify a claimed domain by its DNS TXT record",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				c, err := findSAMLConnection(ctx, store, args[0])
				if err != nil {
					return err
				}
				d, err := store.GetSAMLDomain(ctx, strings.ToLower(args[1]))
				if errors.Is(err, storage.ErrNotFound) || (err == nil && d.ConnectionID != c.ID) {
					return &admin.FieldError{Field: "domain", Message: fmt.Sprintf("%s does not claim %s", c.ID, args[1])}
				}
				if err != nil {
					return err
				}
				if d.VerifiedAt.IsZero() {
					// DNS first, outside the transaction, as in the admin API:
					// a slow resolver holds no lock. A domain verified already
					// changes nothing and records nothing.
					err = admin.FindVerificationRecord(ctx, net.DefaultResolver.LookupTXT, d)
					if err == nil {
						before := d
						err = inTx(ctx, store, func(ctx context.Context) error {
							var err error
							if d, err = store.VerifySAMLDomain(ctx, d.Domain, time.Now()); err != nil {
								return err
							}
							return recordCLI(ctx, store, cliEntry(admin.AuditSAMLDomainVerified, admin.TargetSAMLDomain, d.Domain, c.OrgID),
								admin.SAMLDomainAuditFields(before), admin.SAMLDomainAuditFields(d))
						})
					}
				}
				if errors.Is(err, admin.ErrVerificationRecordMissing) {
					return &admin.FieldError{Field: "domain", Message: err.Error()}
				}
				if err != nil {
					return err
				}
				return a.print(admin.SAMLDomainView(d), fmt.Sprintf("%s claims %s: verified", c.ID, d.Domain))
			})
		},
	}
}
