package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/signin"
	"github.com/foyerdev/foyer/storage"
	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
)

// addManageCommands adds the management commands that work on the
// database directly: users list/delete, orgs list/members/set-role/
// remove-member, roles, invitations (create and resend queue the email in
// the outbox, which the running server's mail worker sends) and saml.
func (a *app) addManageCommands(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "users":
			c.AddCommand(a.usersListCommand(), a.usersDeleteCommand())
		case "orgs":
			c.AddCommand(a.orgsListCommand(), a.orgsMembersCommand(), a.orgsSetRoleCommand(), a.orgsRemoveMemberCommand())
		}
	}
	root.AddCommand(a.rolesCommand(), a.invitationsCommand(), a.samlCommand(), a.connectionsCommand())
}

// withStore opens the store for a one-shot command and runs fn with it.
func (a *app) withStore(cmd *cobra.Command, fn func(ctx context.Context, store storage.Store) error) error {
	_, store, err := a.commandStore(cmd)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(cmd.Context(), store)
}

// inTx runs fn in one store transaction: committed when it returns nil,
// rolled back otherwise.
func inTx(ctx context.Context, store storage.Store, fn func(ctx context.Context) error) error {
	tx, err := store.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollbackErr(store.Rollback(tx)))
	}
	return store.Commit(tx)
}

func rollbackErr(err error) error {
	if err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// findOrg looks an organization up by ID (org_…) or, otherwise, by slug.
func findOrg(ctx context.Context, store storage.Store, ref string) (storage.Organization, error) {
	var o storage.Organization
	var err error
	if strings.HasPrefix(ref, storage.PrefixOrganization) {
		o, err = store.GetOrganization(ctx, ref)
	} else {
		o, err = store.GetOrganizationBySlug(ctx, ref)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return o, &idp.FieldError{Field: "org", Message: fmt.Sprintf("no organization %q", ref), Err: err}
	}
	return o, err
}

// findRole checks that role is a role of o, reported on field "role".
func findRole(ctx context.Context, store storage.Store, o storage.Organization, role string) error {
	_, err := store.GetRole(ctx, o.ID, role)
	if errors.Is(err, storage.ErrNotFound) {
		return &idp.FieldError{Field: "role", Message: fmt.Sprintf("%q is not a role of %s", role, o.Slug), Err: err}
	}
	return err
}

// allPages collects every page of a list ordered by key.
func allPages[T any](list func(p storage.Page) ([]T, error), key func(T) string) ([]T, error) {
	var out []T
	p := storage.Page{Limit: storage.MaxPageLimit}
	for {
		items, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) < p.EffectiveLimit() {
			return out, nil
		}
		p.After = key(items[len(items)-1])
	}
}

// --- users ---

func (a *app) usersListCommand() *cobra.Command {
	var q, org string
	cmd := &cobra.Command{
		Use:   "list [--q TEXT] [--org ORG]",
		Short: "List users, optionally matching TEXT in email or name, or members of ORG",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				query := storage.UserQuery{Search: q}
				if org != "" {
					o, err := findOrg(ctx, store, org)
					if err != nil {
						return err
					}
					query.OrgID = o.ID
				}
				us, err := allPages(func(p storage.Page) ([]storage.User, error) {
					query.Page = p
					us, _, err := store.SearchUsers(ctx, query)
					return us, err
				}, func(u storage.User) string { return u.ID })
				if err != nil {
					return err
				}
				out := []user{}
				var text strings.Builder
				for _, u := range us {
					out = append(out, userView(u))
					fmt.Fprintf(&text, "%-30s  %-30s  %s\n", u.ID, u.Email, u.Name)
				}
				if len(out) == 0 {
					text.WriteString("no users\n")
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&q, "q", "", "text to find in the email or name (ignoring case)")
	cmd.Flags().StringVar(&org, "org", "", "only members of this organization (slug or ID)")
	return cmd
}

func (a *app) usersDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER_ID_OR_EMAIL",
		Short: "Delete a user: revokes their grants, ends their sessions and memberships",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				u, err := findUser(ctx, store, args[0])
				if err != nil {
					return err
				}
				// As the admin API does: grants revoked and the user deleted
				// in one transaction, so a failure leaves both as they were.
				err = inTx(ctx, store, func(ctx context.Context) error {
					if _, err := store.RevokeUserGrants(ctx, u.ID, time.Now().Add(storage.MaxAccessTokenTTL)); err != nil {
						return err
					}
					if err := store.DeleteUser(ctx, u.ID); err != nil {
						return err
					}
					e := cliEntry(admin.AuditUserDeleted, admin.TargetUser, u.ID, "")
					e.UserID = u.ID
					return recordCLI(ctx, store, e, admin.UserAuditFields(u), nil)
				})
				if err != nil {
					return fmt.Errorf("delete user %s: %w", u.ID, err)
				}
				return a.print(struct {
					ID      string `json:"id"`
					Email   string `json:"email"`
					Deleted bool   `json:"deleted"`
				}{u.ID, u.Email, true}, fmt.Sprintf("deleted user %s <%s>", u.ID, u.Email))
			})
		},
	}
}

// --- orgs ---

func (a *app) orgsListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List organizations",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				orgs, err := allPages(func(p storage.Page) ([]storage.Organization, error) {
					return store.ListOrganizations(ctx, p)
				}, func(o storage.Organization) string { return o.ID })
				if err != nil {
					return err
				}
				out := []admin.Organization{}
				var text strings.Builder
				for _, o := range orgs {
					out = append(out, admin.OrgView(o))
					fmt.Fprintf(&text, "%-30s  %-20s  %s\n", o.ID, o.Slug, o.Name)
				}
				if len(out) == 0 {
					text.WriteString("no organizations\n")
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
}

func (a *app) orgsMembersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "members ORG",
		Short: "List an organization's members and their roles",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, err := findOrg(ctx, store, args[0])
				if err != nil {
					return err
				}
				ms, err := allPages(func(p storage.Page) ([]storage.Membership, error) {
					return store.ListMembershipsByOrganization(ctx, o.ID, p)
				}, func(m storage.Membership) string { return m.UserID })
				if err != nil {
					return err
				}
				out := []membership{}
				var text strings.Builder
				for _, m := range ms {
					v := membership{OrgID: o.ID, OrgSlug: o.Slug, UserID: m.UserID, Role: m.Role, CreatedAt: m.CreatedAt}
					if u, err := store.GetUser(ctx, m.UserID); err == nil {
						v.Email = u.Email
					}
					out = append(out, v)
					fmt.Fprintf(&text, "%-30s  %-30s  %s\n", m.UserID, v.Email, m.Role)
				}
				if len(out) == 0 {
					fmt.Fprintf(&text, "no members in %s\n", o.Slug)
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
}

// member finds ORG and USER and the user's membership.
func member(ctx context.Context, store storage.Store, orgRef, userRef string) (storage.Organization, storage.User, error) {
	o, err := findOrg(ctx, store, orgRef)
	if err != nil {
		return o, storage.User{}, err
	}
	u, err := findUser(ctx, store, userRef)
	if err != nil {
		return o, u, err
	}
	_, err = store.GetMembership(ctx, o.ID, u.ID)
	return o, u, notMember(err, o, u)
}

func notMember(err error, o storage.Organization, u storage.User) error {
	if errors.Is(err, storage.ErrNotFound) {
		return &idp.FieldError{Field: "user", Message: fmt.Sprintf("%s is not a member of %s", u.Email, o.Slug), Err: err}
	}
	return err
}

func (a *app) orgsSetRoleCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "set-role ORG USER ROLE",
		Short: "Change a member's role (takes effect in their next token)",
		Args:  usageArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, u, err := member(ctx, store, args[0], args[1])
				if err != nil {
					return err
				}
				role := args[2]
				if err := findRole(ctx, store, o, role); err != nil {
					return err
				}
				var m storage.Membership
				err = inTx(ctx, store, func(ctx context.Context) error {
					var before storage.Membership
					var err error
					m, err = store.UpdateMembership(ctx, o.ID, u.ID, func(m storage.Membership) (storage.Membership, error) {
						before = m
						m.Role, m.UpdatedAt = role, time.Now()
						return m, nil
					})
					if err != nil {
						return err
					}
					return recordCLI(ctx, store, memberEntry(admin.AuditMembershipUpdated, m), admin.MemberAuditFields(before), admin.MemberAuditFields(m))
				})
				if err != nil {
					return notMember(err, o, u)
				}
				return a.print(membership{
					OrgID: o.ID, OrgSlug: o.Slug, UserID: u.ID, Email: u.Email, Role: m.Role, CreatedAt: m.CreatedAt,
				}, fmt.Sprintf("%s is now %s of %s", u.Email, m.Role, o.Slug))
			})
		},
	}
}

func (a *app) orgsRemoveMemberCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove-member ORG USER",
		Short: "Remove a user from an organization",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, u, err := member(ctx, store, args[0], args[1])
				if err != nil {
					return err
				}
				err = inTx(ctx, store, func(ctx context.Context) error {
					m, err := store.GetMembership(ctx, o.ID, u.ID)
					if err != nil {
						return err
					}
					if err := store.DeleteMembership(ctx, o.ID, u.ID); err != nil {
						return err
					}
					return recordCLI(ctx, store, memberEntry(admin.AuditMembershipDeleted, m), admin.MemberAuditFields(m), nil)
				})
				if err != nil {
					return notMember(err, o, u)
				}
				return a.print(struct {
					OrgID   string `json:"org_id"`
					UserID  string `json:"user_id"`
					Removed bool   `json:"removed"`
				}{o.ID, u.ID, true}, fmt.Sprintf("removed %s from %s", u.Email, o.Slug))
			})
		},
	}
}

// --- roles ---

func (a *app) rolesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "roles", Short: "Manage an organization's roles"}
	cmd.AddCommand(a.rolesListCommand(), a.rolesCreateCommand(), a.rolesDeleteCommand())
	return cmd
}

// role is the CLI's JSON view of a role.
type role struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id,omitempty"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Permissions []string  `json:"permissions"`
	Builtin     bool      `json:"builtin"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func roleView(r storage.Role) role {
	return role{ID: r.ID, OrgID: r.OrgID, Name: r.Name, Description: r.Description, Permissions: orEmpty(r.Permissions),
		Builtin: r.Builtin(), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (a *app) rolesListCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list --org ORG",
		Short: "List an organization's roles: the built-in ones, then its custom roles",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				rs, err := store.ListRoles(ctx, o.ID)
				if err != nil {
					return err
				}
				out := []role{}
				var text strings.Builder
				for _, r := range rs {
					out = append(out, roleView(r))
					kind := "custom"
					if r.Builtin() {
						kind = "built-in"
					}
					fmt.Fprintf(&text, "%-20s  %-8s  %s\n", r.Name, kind, strings.Join(r.Permissions, " "))
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}

func (a *app) rolesCreateCommand() *cobra.Command {
	var org, name, description string
	var permissions []string
	cmd := &cobra.Command{
		Use:   "create --org ORG --name N --permission P [--permission P...] [--description D]",
		Short: "Create a custom role: a named set of permissions",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org", "name", "permission"); err != nil {
				return err
			}
			if err := admin.ValidateRole(name, description, permissions); err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				now := time.Now()
				var r storage.Role
				err = inTx(ctx, store, func(ctx context.Context) error {
					var err error
					r, err = store.CreateRole(ctx, storage.Role{
						ID: storage.NewID(storage.PrefixRole), OrgID: o.ID, Name: name, Description: strings.TrimSpace(description),
						Permissions: permissions, CreatedAt: now, UpdatedAt: now,
					})
					if err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditRoleCreated, admin.TargetRole, r.ID, r.OrgID), nil, admin.RoleAuditFields(r))
				})
				if errors.Is(err, storage.ErrAlreadyExists) {
					return &idp.FieldError{Field: "name", Message: fmt.Sprintf("%q is already a role of %s", name, o.Slug), Err: err}
				}
				if err != nil {
					return err
				}
				return a.print(roleView(r), fmt.Sprintf("created role %s in %s", r.Name, o.Slug))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	cmd.Flags().StringVar(&name, "name", "", "role name: lowercase letters, digits and : _ . - (required)")
	cmd.Flags().StringArrayVar(&permissions, "permission", nil, "a permission such as org:billing:read (required; repeat for more)")
	cmd.Flags().StringVar(&description, "description", "", "what the role is for")
	return cmd
}

// checkRole checks a custom role's name and permissions as the admin API
// does (admin's validateRole is not exported): 1 to 63 (name) or 128
// (permission) characters of lowercase letters, digits and : _ . -, at most

func (a *app) rolesDeleteCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "delete --org ORG NAME",
		Short: "Delete a custom role that no member holds",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			name := args[0]
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				// DeleteRole answers ErrConflict for both refusals: tell
				// which one it is.
				if storage.IsBuiltinRole(name) {
					return &idp.FieldError{Field: "role", Message: fmt.Sprintf("%q is a built-in role and cannot be deleted", name)}
				}
				err = inTx(ctx, store, func(ctx context.Context) error {
					r, err := store.GetRole(ctx, o.ID, name)
					if err != nil {
						return err
					}
					if err := store.DeleteRole(ctx, o.ID, r.Name); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditRoleDeleted, admin.TargetRole, r.ID, r.OrgID), admin.RoleAuditFields(r), nil)
				})
				switch {
				case errors.Is(err, storage.ErrNotFound):
					return &idp.FieldError{Field: "role", Message: fmt.Sprintf("%q is not a custom role of %s", name, o.Slug), Err: err}
				case errors.Is(err, storage.ErrConflict):
					return &idp.FieldError{Field: "role", Message: fmt.Sprintf("%q is still held by members of %s; give them another role first (orgs set-role)", name, o.Slug), Err: err}
				case err != nil:
					return err
				}
				return a.print(struct {
					OrgID   string `json:"org_id"`
					Name    string `json:"name"`
					Deleted bool   `json:"deleted"`
				}{o.ID, name, true}, fmt.Sprintf("deleted role %s from %s", name, o.Slug))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}

// --- invitations ---

func (a *app) invitationsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "invitations", Short: "Invite people to an organization; list, resend and revoke invitations"}
	cmd.AddCommand(a.invitationsCreateCommand(), a.invitationsListCommand(), a.invitationsResendCommand(), a.invitationsRevokeCommand())
	return cmd
}

// cliInviter is the subject an invitation made with the CLI records.
var cliInviter = admin.InvitedBy{Subject: "cli"}

// withInviter opens the store and an admin.Inviter whose emails go to the
// outbox, for the running server's mail worker to send.
func (a *app) withInviter(cmd *cobra.Command, fn func(ctx context.Context, store storage.Store, iv *admin.Inviter) error) error {
	cfg, store, err := a.commandStore(cmd)
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := encryptionKey(cfg, false, a.commandLogger())
	if err != nil {
		return err
	}
	emails, err := render.NewInvitationEmails(templates.FS)
	if err != nil {
		return err
	}
	iv, err := admin.NewInviter(store, admin.InvitationOptions{
		Issuer: cfg.Issuer, Links: signin.InvitationLinks{TokenKey: oneTimeTokenKey(key)},
		Mailer: mail.NewMailer(mail.MailerOptions{Outbox: store}), Emails: emails, TTL: cfg.Invitations.TTL,
	}, nil)
	if err != nil {
		return err
	}
	return fn(cmd.Context(), store, iv)
}

func (a *app) invitationsCreateCommand() *cobra.Command {
	var org, email, role string
	cmd := &cobra.Command{
		Use:   "create --org ORG --email EMAIL --role ROLE",
		Short: "Invite EMAIL into ORG with ROLE: the link goes by email only (sent by the running server)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org", "email", "role"); err != nil {
				return err
			}
			return a.withInviter(cmd, func(ctx context.Context, store storage.Store, iv *admin.Inviter) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				inv, err := iv.Invite(ctx, o, email, role, cliInviter, func(ctx context.Context, inv storage.Invitation) error {
					return recordCLI(ctx, store, cliEntry(admin.AuditInvitationCreated, admin.TargetInvitation, inv.ID, inv.OrgID),
						nil, admin.AuditFields(admin.InvitationView(inv, time.Now())))
				})
				if err != nil {
					return err
				}
				return a.print(admin.InvitationView(inv, time.Now()), fmt.Sprintf("invited %s to %s as %s (%s, expires %s)",
					inv.Email, o.Slug, inv.Role, inv.ID, inv.ExpiresAt.UTC().Format(time.RFC3339)))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	cmd.Flags().StringVar(&email, "email", "", "address to invite (required)")
	cmd.Flags().StringVar(&role, "role", "", "role the person gets on accepting (required)")
	return cmd
}

func (a *app) invitationsResendCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "resend --org ORG ID",
		Short: "Email an open invitation again with a new link and expiry; the old link stops working",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			return a.withInviter(cmd, func(ctx context.Context, store storage.Store, iv *admin.Inviter) error {
				o, inv, err := findInvitation(ctx, store, org, args[0])
				if err != nil {
					return err
				}
				before := inv
				inv, err = iv.Resend(ctx, o, inv, cliInviter, func(ctx context.Context, inv storage.Invitation) error {
					return recordCLI(ctx, store, cliEntry(admin.AuditInvitationResent, admin.TargetInvitation, inv.ID, inv.OrgID),
						admin.AuditFields(admin.InvitationView(before, time.Now())), admin.AuditFields(admin.InvitationView(inv, time.Now())))
				})
				if errors.Is(err, storage.ErrConflict) {
					return &idp.FieldError{Field: "invitation", Message: fmt.Sprintf("%s was already accepted or revoked", inv.ID), Err: err}
				}
				if err != nil {
					return err
				}
				return a.print(admin.InvitationView(inv, time.Now()), fmt.Sprintf("sent invitation %s to %s again (expires %s)",
					inv.ID, inv.Email, inv.ExpiresAt.UTC().Format(time.RFC3339)))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}

// findInvitation reads invitation id of organization ref; one of another
// organization is answered like a missing one.
func findInvitation(ctx context.Context, store storage.Store, ref, id string) (storage.Organization, storage.Invitation, error) {
	o, err := findOrg(ctx, store, ref)
	if err != nil {
		return o, storage.Invitation{}, err
	}
	inv, err := store.GetInvitation(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && inv.OrgID != o.ID) {
		return o, inv, &idp.FieldError{Field: "invitation", Message: fmt.Sprintf("no invitation %q to %s", id, o.Slug), Err: storage.ErrNotFound}
	}
	return o, inv, err
}

func (a *app) invitationsListCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list --org ORG",
		Short: "List an organization's invitations: open ones first, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				is, err := store.ListInvitations(ctx, o.ID)
				if err != nil {
					return err
				}
				now := time.Now()
				out := []admin.Invitation{}
				var text strings.Builder
				for _, i := range is {
					v := admin.InvitationView(i, now)
					out = append(out, v)
					fmt.Fprintf(&text, "%-30s  %-30s  %-12s  %-8s  expires %s\n", i.ID, i.Email, i.Role, v.Status,
						i.ExpiresAt.UTC().Format(time.RFC3339))
				}
				if len(out) == 0 {
					fmt.Fprintf(&text, "no invitations to %s\n", o.Slug)
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}

func (a *app) invitationsRevokeCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "revoke --org ORG ID",
		Short: "Revoke an open invitation: its link stops working",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "org"); err != nil {
				return err
			}
			id := args[0]
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				o, inv, err := findInvitation(ctx, store, org, id)
				if err != nil {
					return err
				}
				now := time.Now()
				before := inv
				err = inTx(ctx, store, func(ctx context.Context) error {
					var err error
					if inv, err = store.RevokeInvitation(ctx, inv.ID, now); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditInvitationRevoked, admin.TargetInvitation, inv.ID, inv.OrgID),
						admin.AuditFields(admin.InvitationView(before, now)), admin.AuditFields(admin.InvitationView(inv, now)))
				})
				if errors.Is(err, storage.ErrConflict) {
					return &idp.FieldError{Field: "invitation", Message: fmt.Sprintf("%s was already accepted or revoked", id), Err: err}
				}
				if err != nil {
					return err
				}
				return a.print(admin.InvitationView(inv, now), fmt.Sprintf("revoked invitation %s of %s to %s", inv.ID, inv.Email, o.Slug))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization slug or ID (required)")
	return cmd
}
