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

func (a *app) usersCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "Manage users"}
	cmd.AddCommand(a.usersCreateCommand())
	return cmd
}

func (a *app) usersCreateCommand() *cobra.Command {
	var in idp.NewUser
	cmd := &cobra.Command{
		Use:   "create --email E [--password P] [--name N] [--email-verified] [--admin]",
		Short: "Create a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "email"); err != nil {
				return err
			}
			dir, store, done, err := a.directory(cmd)
			if err != nil {
				return err
			}
			defer done()
			// The user and its audit entry commit together, as in the admin
			// API (AD-07); the password is hashed before, as there.
			u, err := dir.PrepareUser(in)
			if err != nil {
				return err
			}
			err = inTx(cmd.Context(), store, func(ctx context.Context) error {
				var err error
				if u, err = dir.StoreUser(ctx, u); err != nil {
					return err
				}
				e := cliEntry(admin.AuditUserCreated, admin.TargetUser, u.ID, "")
				e.UserID = u.ID
				return recordCLI(ctx, store, e, nil, admin.UserAuditFields(u))
			})
			if err != nil {
				return err
			}
			return a.print(userView(u), fmt.Sprintf("created user %s <%s>", u.ID, u.Email))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Email, "email", "", "email address (required)")
	f.StringVar(&in.Password, "password", "", "password (optional; at least 8 characters)")
	f.StringVar(&in.Name, "name", "", "display name")
	f.BoolVar(&in.EmailVerified, "email-verified", false, "mark the email as verified")
	f.BoolVar(&in.Admin, "admin", false, "make the user a Foyer administrator")
	return cmd
}

// directory opens the store and a directory over it for a one-shot
// command; the store is for the transaction and the audit entry.
func (a *app) directory(cmd *cobra.Command) (*idp.Directory, storage.Store, func(), error) {
	_, store, err := a.commandStore(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	return idp.NewDirectory(idp.Options{Store: store}), store, func() { store.Close() }, nil
}

// user is the CLI's JSON view of a user: never the password hash.
type user struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Admin         bool      `json:"admin"`
	HasPassword   bool      `json:"has_password"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func userView(u storage.User) user {
	return user{
		ID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Admin: u.Admin,
		HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}
