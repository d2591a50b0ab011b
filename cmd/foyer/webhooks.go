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

// The webhooks commands work on the database, like the admin API's
// /webhooks routes, and record their changes in the audit log with the
// actor "cli".

func (a *app) webhooksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "webhooks", Short: "Manage webhook endpoints and their deliveries"}
	cmd.AddCommand(a.webhooksCreateCommand(), a.webhooksListCommand(), a.webhooksDeleteCommand(),
		a.webhooksDeliveriesCommand(), a.webhooksReplayCommand())
	return cmd
}

func (a *app) webhooksCreateCommand() *cobra.Command {
	var in admin.NewWebhook
	var org string
	var allowPrivate bool
	cmd := &cobra.Command{
		Use:   "create --url URL [--org ORG] [--events TYPE,...] [--description D]",
		Short: "Register a webhook endpoint; prints its signing secret, the only time it is shown",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "url"); err != nil {
				return err
			}
			cfg, store, err := a.commandStore(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			// The secret is sealed with a key derived from the encryption
			// key, which the server's events worker opens to sign.
			key, err := encryptionKey(cfg, false, a.commandLogger())
			if err != nil {
				return err
			}
			sealer, err := webhookSealer(key)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if org != "" {
				o, err := findOrg(ctx, store, org)
				if err != nil {
					return err
				}
				in.OrgID = o.ID
			}
			e, secret, err := admin.CreateWebhook(ctx, store, sealer, in, allowPrivate, time.Now(),
				func(ctx context.Context, e storage.WebhookEndpoint) error {
					return recordCLI(ctx, store, cliEntry(admin.AuditWebhookCreated, admin.TargetWebhook, e.ID, e.OrgID),
						nil, admin.AuditFields(admin.WebhookView(e), "secret"))
				})
			if err != nil {
				return err
			}
			v := admin.WebhookView(e)
			v.Secret = secret
			return a.print(v, fmt.Sprintf("created webhook %s for %s\nsigning secret (shown only now; store it): %s", e.ID, e.URL, secret))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.URL, "url", "", "https URL that receives the events (required)")
	f.StringVar(&org, "org", "", "send this organization's events only (slug or ID); default every event")
	f.StringSliceVar(&in.EventTypes, "events", nil, "event types to send, comma-separated: user.created, user.*, *… (default all)")
	f.StringVar(&in.Description, "description", "", "what the endpoint is for")
	f.BoolVar(&allowPrivate, "allow-private", false, "allow plain http and internal addresses (development only)")
	return cmd
}

func (a *app) webhooksListCommand() *cobra.Command {
	var org string
	cmd := &cobra.Command{
		Use:   "list [--org ORG]",
		Short: "List webhook endpoints (never their secrets)",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				orgID := ""
				if org != "" {
					o, err := findOrg(ctx, store, org)
					if err != nil {
						return err
					}
					orgID = o.ID
				}
				es, err := store.ListWebhookEndpoints(ctx, orgID)
				if err != nil {
					return err
				}
				out := []admin.Webhook{}
				var text strings.Builder
				for _, e := range es {
					out = append(out, admin.WebhookView(e))
					scope, state, types := e.OrgID, "enabled", strings.Join(e.EventTypes, ",")
					if scope == "" {
						scope = "global"
					}
					if e.Disabled {
						state = "disabled"
					}
					if types == "" {
						types = "*"
					}
					fmt.Fprintf(&text, "%-30s  %-30s  %-8s  %s  %s\n", e.ID, scope, state, e.URL, types)
				}
				if len(out) == 0 {
					text.WriteString("no webhook endpoints\n")
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "only this organization's endpoints (slug or ID)")
	return cmd
}

// findWebhook reads endpoint id, reported on field "webhook" when missing.
func findWebhook(ctx context.Context, store storage.Store, id string) (storage.WebhookEndpoint, error) {
	e, err := store.GetWebhookEndpoint(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return e, notFoundField("webhook", "no webhook endpoint %q", id)
	}
	return e, err
}

func (a *app) webhooksDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a webhook endpoint with its deliveries",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				e, err := findWebhook(ctx, store, args[0])
				if err != nil {
					return err
				}
				err = inTx(ctx, store, func(ctx context.Context) error {
					if err := store.DeleteWebhookEndpoint(ctx, e.ID); err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditWebhookDeleted, admin.TargetWebhook, e.ID, e.OrgID),
						admin.AuditFields(admin.WebhookView(e), "secret"), nil)
				})
				if err != nil {
					return fmt.Errorf("delete webhook %s: %w", e.ID, err)
				}
				return a.print(struct {
					ID      string `json:"id"`
					Deleted bool   `json:"deleted"`
				}{e.ID, true}, fmt.Sprintf("deleted webhook %s (%s)", e.ID, e.URL))
			})
		},
	}
}

func (a *app) webhooksDeliveriesCommand() *cobra.Command {
	var status string
	var limit int
	cmd := &cobra.Command{
		Use:   "deliveries ID [--status pending|delivered|failed] [--limit N]",
		Short: "List an endpoint's deliveries, newest first",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch status {
			case "", storage.DeliveryPending, storage.DeliveryDelivered, storage.DeliveryFailed:
			default:
				return usageError{fmt.Errorf("%s: --status must be pending, delivered or failed", cmd.CommandPath())}
			}
			if limit < 1 || limit > storage.MaxPageLimit {
				return usageError{fmt.Errorf("%s: --limit must be from 1 to %d", cmd.CommandPath(), storage.MaxPageLimit)}
			}
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				e, err := findWebhook(ctx, store, args[0])
				if err != nil {
					return err
				}
				ds, err := store.ListDeliveries(ctx, storage.DeliveryQuery{EndpointID: e.ID, Status: status, Limit: limit})
				if err != nil {
					return err
				}
				out := []admin.WebhookDelivery{}
				var text strings.Builder
				for _, d := range ds {
					out = append(out, admin.DeliveryView(d))
					fmt.Fprintf(&text, "%-30s  %-9s  %s  attempts=%d", d.ID, d.Status, d.CreatedAt.UTC().Format(time.RFC3339), d.Attempts)
					if d.LastStatusCode != 0 {
						fmt.Fprintf(&text, "  status=%d", d.LastStatusCode)
					}
					if d.LastError != "" {
						fmt.Fprintf(&text, "  error=%q", d.LastError)
					}
					text.WriteString("\n")
				}
				if len(out) == 0 {
					text.WriteString("no deliveries\n")
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only deliveries in this state: pending, delivered or failed")
	cmd.Flags().IntVar(&limit, "limit", 50, fmt.Sprintf("at most N deliveries (1 to %d)", storage.MaxPageLimit))
	return cmd
}

func (a *app) webhooksReplayCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "replay ID DELIVERY_ID",
		Short: "Send a failed or delivered delivery's event to the endpoint again, as a new delivery",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				e, err := findWebhook(ctx, store, args[0])
				if err != nil {
					return err
				}
				old, err := store.GetDelivery(ctx, args[1])
				if errors.Is(err, storage.ErrNotFound) || (err == nil && old.EndpointID != e.ID) {
					return notFoundField("delivery", "no delivery %q of webhook %s", args[1], e.ID)
				}
				if err != nil {
					return err
				}
				now := time.Now()
				var d storage.EventDelivery
				err = inTx(ctx, store, func(ctx context.Context) error {
					var err error
					d, err = store.ReplayDelivery(ctx, old.ID, storage.EventDelivery{
						ID: storage.NewID(storage.PrefixDelivery), Status: storage.DeliveryPending, NextAttemptAt: now, CreatedAt: now,
					})
					if err != nil {
						return err
					}
					return recordCLI(ctx, store, cliEntry(admin.AuditWebhookDeliveryReplayed, admin.TargetDelivery, d.ID, e.OrgID),
						nil, map[string]any{"webhook_id": e.ID, "event_id": d.EventID, "replay_of": old.ID})
				})
				if errors.Is(err, storage.ErrConflict) {
					return &idp.FieldError{Field: "delivery", Message: fmt.Sprintf("%s is still pending: it is retried on its own", old.ID), Err: err}
				}
				if err != nil {
					return err
				}
				return a.print(admin.DeliveryView(d), fmt.Sprintf("replaying %s as %s (pending)", old.ID, d.ID))
			})
		},
	}
}
