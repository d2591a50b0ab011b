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
	"github.com/foyerdev/foyer/storage"
)

func (a *app) consentsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "consents", Short: "List and revoke what users have allowed OAuth clients"}
	cmd.AddCommand(a.consentsListCommand(), a.consentsRevokeCommand())
	return cmd
}

func (a *app) consentsListCommand() *cobra.Command {
	var userRef string
	cmd := &cobra.Command{
		Use:   "list --user USER_ID_OR_EMAIL",
		Short: "List the clients a user has allowed, and the scopes allowed",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "user"); err != nil {
				return err
			}
			_, store, err := a.commandStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := cmd.Context()
			u, err := findUser(ctx, store, userRef)
			if err != nil {
				return err
			}
			list, err := store.ListConsents(ctx, u.ID)
			if err != nil {
				return err
			}
			out := []consent{}
			var text strings.Builder
			for _, c := range list {
				v := consent{UserID: c.UserID, ClientID: c.ClientID, Scopes: orEmpty(c.Scopes), GrantedAt: c.GrantedAt}
				// A consent goes with its client, so the name is there; a
				// failed look-up only leaves it out.
				if cl, err := store.GetClient(ctx, c.ClientID); err == nil {
					v.ClientName = cl.Name
				}
				out = append(out, v)
				fmt.Fprintf(&text, "%-30s  %-20s  %s  %s\n", c.ClientID, v.ClientName,
					c.GrantedAt.UTC().Format(time.RFC3339), strings.Join(c.Scopes, " "))
			}
			if len(out) == 0 {
				fmt.Fprintf(&text, "no consents for %s\n", u.Email)
			}
			return a.print(out, strings.TrimSuffix(text.String(), "\n"))
		},
	}
	cmd.Flags().StringVar(&userRef, "user", "", "the user's ID (usr_…) or email (required)")
	return cmd
}

func (a *app) consentsRevokeCommand() *cobra.Command {
	var userRef, clientID string
	cmd := &cobra.Command{
		Use:   "revoke --user USER_ID_OR_EMAIL --client CLIENT_ID",
		Short: "Revoke a user's consent to a client: its next sign-in asks again",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "user", "client"); err != nil {
				return err
			}
			_, store, err := a.commandStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := cmd.Context()
			u, err := findUser(ctx, store, userRef)
			if err != nil {
				return err
			}
			err = inTx(ctx, store, func(ctx context.Context) error {
				c, err := store.GetConsent(ctx, u.ID, clientID)
				if err != nil {
					return err
				}
				if err := store.DeleteConsent(ctx, u.ID, clientID); err != nil {
					return err
				}
				e := cliEntry(admin.AuditConsentRevoked, admin.TargetConsent, c.ClientID, "")
				e.UserID = u.ID
				return recordCLI(ctx, store, e, map[string]any{"client_id": c.ClientID, "scopes": orEmpty(c.Scopes)}, nil)
			})
			if errors.Is(err, storage.ErrNotFound) {
				return &idp.FieldError{Field: "client", Message: fmt.Sprintf("%s has no consent to client %q", u.Email, clientID), Err: err}
			}
			if err != nil {
				return err
			}
			return a.print(struct {
				UserID   string `json:"user_id"`
				ClientID string `json:"client_id"`
				Revoked  bool   `json:"revoked"`
			}{u.ID, clientID, true}, fmt.Sprintf("revoked the consent of %s to client %s", u.Email, clientID))
		},
	}
	cmd.Flags().StringVar(&userRef, "user", "", "the user's ID (usr_…) or email (required)")
	cmd.Flags().StringVar(&clientID, "client", "", "the client ID (required)")
	return cmd
}

// findUser looks a user up by ID (usr_…) or, otherwise, by email.
func findUser(ctx context.Context, store storage.Store, ref string) (storage.User, error) {
	var u storage.User
	var err error
	if strings.HasPrefix(ref, storage.PrefixUser) {
		u, err = store.GetUser(ctx, ref)
	} else {
		u, err = store.GetUserByEmail(ctx, ref)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return u, &idp.FieldError{Field: "user", Message: fmt.Sprintf("no user %q", ref), Err: err}
	}
	return u, err
}

// consent is the CLI's JSON view of a consent.
type consent struct {
	UserID     string    `json:"user_id"`
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []string  `json:"scopes"`
	GrantedAt  time.Time `json:"granted_at"`
}
