package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

func (a *app) orgsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "orgs", Short: "Manage organizations and their members"}
	cmd.AddCommand(a.orgsCreateCommand(), a.orgsUpdateCommand(), a.orgsAddMemberCommand())
	return cmd
}

func (a *app) orgsCreateCommand() *cobra.Command {
	var n idp.NewOrganization
	cmd := &cobra.Command{
		Use:   "create --slug S --name N [--logo-url URL] [--brand-color #rrggbb] [--require-mfa]",
		Short: "Create an organization",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "slug", "name"); err != nil {
				return err
			}
			dir, store, done, err := a.directory(cmd)
			if err != nil {
				return err
			}
			defer done()
			var o storage.Organization
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				var err error
				if o, err = dir.CreateOrganizationWith(ctx, n); err != nil {
					return err
				}
				return recordCLI(ctx, store, cliEntry(admin.AuditOrganizationCreated, admin.TargetOrganization, o.ID, o.ID),
					nil, admin.OrgAuditFields(o))
			})
			if err != nil {
				return err
			}
			return a.print(admin.OrgView(o), fmt.Sprintf("created organization %s (%s)", o.ID, o.Slug))
		},
	}
	f := cmd.Flags()
	f.StringVar(&n.Slug, "slug", "", "URL-safe identifier: lowercase letters, digits, hyphens (required)")
	f.StringVar(&n.Name, "name", "", "display name (required)")
	f.StringVar(&n.LogoURL, "logo-url", "", "https URL of the logo shown on sign-in pages")
	f.StringVar(&n.BrandColor, "brand-color", "", "brand colour as #rrggbb (default Foyer's)")
	f.BoolVar(&n.RequireMFA, "require-mfa", false, "members must have a second factor to sign in")
	return cmd
}

func (a *app) orgsUpdateCommand() *cobra.Command {
	var name, logoURL, brandColor string
	var requireMFA bool
	cmd := &cobra.Command{
		Use:   "update SLUG-OR-ID [--name N] [--logo-url URL] [--brand-color #rrggbb] [--require-mfa=true|false]",
		Short: "Change an organization: each flag given replaces that setting; \"\" removes the logo or colour",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch idp.OrgChanges
			f := cmd.Flags()
			if f.Changed("name") {
				ch.Name = &name
			}
			if f.Changed("logo-url") {
				ch.LogoURL = &logoURL
			}
			if f.Changed("brand-color") {
				ch.BrandColor = &brandColor
			}
			if f.Changed("require-mfa") {
				ch.RequireMFA = &requireMFA
			}
			if ch == (idp.OrgChanges{}) {
				return usageError{fmt.Errorf("nothing to change: give at least one of --name, --logo-url, --brand-color, --require-mfa")}
			}
			dir, store, done, err := a.directory(cmd)
			if err != nil {
				return err
			}
			defer done()
			var o storage.Organization
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				before, err := findOrg(ctx, store, args[0])
				if err != nil {
					return err
				}
				if o, err = dir.UpdateOrganization(ctx, before.ID, ch); err != nil {
					return err
				}
				return recordCLI(ctx, store, cliEntry(admin.AuditOrganizationUpdated, admin.TargetOrganization, o.ID, o.ID),
					admin.OrgAuditFields(before), admin.OrgAuditFields(o))
			})
			if err != nil {
				return err
			}
			return a.print(admin.OrgView(o), fmt.Sprintf("updated organization %s (%s)", o.ID, o.Slug))
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "display name")
	f.StringVar(&logoURL, "logo-url", "", "https URL of the logo shown on sign-in pages (\"\" for none)")
	f.StringVar(&brandColor, "brand-color", "", "brand colour as #rrggbb (\"\" for Foyer's)")
	f.BoolVar(&requireMFA, "require-mfa", false, "members must have a second factor to sign in")
	return cmd
}

func (a *app) orgsAddMemberCommand() *cobra.Command {
	var org, email, role string
	cmd := &cobra.Command{
		Use:   "add-member --org S --email E --role R",
		Short: "Add a user to an organization with a role",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org", "email", "role"); err != nil {
				return err
			}
			dir, store, done, err := a.directory(cmd)
			if err != nil {
				return err
			}
			defer done()
			var m idp.Member
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				var err error
				if m, err = dir.AddMember(ctx, org, email, role); err != nil {
					return err
				}
				return recordCLI(ctx, store, memberEntry(admin.AuditMembershipCreated, m.Membership), nil, admin.MemberAuditFields(m.Membership))
			})
			if err != nil {
				return err
			}
			return a.print(membership{
				OrgID: m.OrgID, OrgSlug: m.OrgSlug, UserID: m.UserID, Email: m.Email,
				Role: m.Role, CreatedAt: m.CreatedAt,
			}, fmt.Sprintf("added %s to %s as %s", m.Email, m.OrgSlug, m.Role))
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	cmd.Flags().StringVar(&email, "email", "", "the user's email (required)")
	cmd.Flags().StringVar(&role, "role", "", "admin, editor, member or a custom role (required)")
	return cmd
}

// memberEntry starts the entry of a change to membership m, as the admin
// API's: the target is the member, the organization and person are named.
func memberEntry(typ string, m storage.Membership) storage.AuditEntry {
	e := cliEntry(typ, admin.TargetMembership, m.UserID, m.OrgID)
	e.UserID = m.UserID
	return e
}

type membership struct {
	OrgID     string    `json:"org_id"`
	OrgSlug   string    `json:"org_slug"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}
