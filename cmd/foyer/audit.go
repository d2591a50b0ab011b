package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foyerdev/foyer/admin"
	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/idp"
	"github.com/foyerdev/foyer/storage"
)

// cliEntry starts the audit entry of a change the CLI makes: the actor is
// the operator's foyer command on the database, who has no ID.
func cliEntry(typ, targetType, targetID, orgID string) storage.AuditEntry {
	return storage.AuditEntry{Type: typ, ActorType: storage.ActorCLI, TargetType: targetType, TargetID: targetID, OrgID: orgID}
}

// recordCLI appends e, with the fields that differ between before and
// after, in the transaction ctx carries: its error fails the change, as
// in the admin API (AD-07).
func recordCLI(ctx context.Context, log storage.AuditLog, e storage.AuditEntry, before, after map[string]any) error {
	e.Details = audit.Details(audit.Diff(before, after))
	return audit.New(log, time.Now, nil).Record(ctx, e)
}

func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log"}
	cmd.AddCommand(a.auditListCommand())
	return cmd
}

// maxAuditList bounds what one `audit list` prints.
const maxAuditList = 10000

func (a *app) auditListCommand() *cobra.Command {
	var org, user, typ string
	var since time.Duration
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--org ORG] [--user USER] [--type TYPE] [--since DURATION] [--limit N]",
		Short: "List audit entries, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > maxAuditList {
				return usageError{fmt.Errorf("%s: --limit must be from 1 to %d", cmd.CommandPath(), maxAuditList)}
			}
			if since < 0 {
				return usageError{fmt.Errorf("%s: --since must be a positive duration such as 24h", cmd.CommandPath())}
			}
			return a.withStore(cmd, func(ctx context.Context, store storage.Store) error {
				q := storage.AuditQuery{Type: typ}
				if org != "" {
					o, err := findOrg(ctx, store, org)
					if err != nil {
						return err
					}
					q.OrgID = o.ID
				}
				if user != "" {
					// A deleted person's entries stay: an ID that names no
					// user any more still filters.
					q.UserID = user
					if !strings.HasPrefix(user, storage.PrefixUser) {
						u, err := findUser(ctx, store, user)
						if err != nil {
							return err
						}
						q.UserID = u.ID
					}
				}
				if since > 0 {
					q.From = time.Now().Add(-since)
				}
				var es []storage.AuditEntry
				for len(es) < limit {
					q.Limit = min(limit-len(es), storage.MaxPageLimit)
					page, err := store.ListAuditEntries(ctx, q)
					if err != nil {
						return err
					}
					es = append(es, page...)
					if len(page) < q.Limit {
						break
					}
					last := page[len(page)-1]
					q.BeforeTime, q.BeforeID = last.OccurredAt, last.ID
				}
				out := []admin.AuditEvent{}
				var text strings.Builder
				for _, e := range es {
					out = append(out, admin.AuditEventView(e))
					fmt.Fprintf(&text, "%s  %-32s  %s", e.OccurredAt.UTC().Format(time.RFC3339), e.Type, who(e.ActorType, e.ActorID))
					if e.TargetType != "" {
						fmt.Fprintf(&text, "  %s", who(e.TargetType, e.TargetID))
					}
					if e.OrgID != "" {
						fmt.Fprintf(&text, "  org=%s", e.OrgID)
					}
					if e.UserID != "" {
						fmt.Fprintf(&text, "  user=%s", e.UserID)
					}
					if e.Reason != "" {
						fmt.Fprintf(&text, "  reason=%q", e.Reason)
					}
					text.WriteString("\n")
				}
				if len(out) == 0 {
					text.WriteString("no audit entries\n")
				}
				return a.print(out, strings.TrimSuffix(text.String(), "\n"))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&org, "org", "", "entries concerning this organization (slug or ID)")
	f.StringVar(&user, "user", "", "entries concerning this user (ID or email)")
	f.StringVar(&typ, "type", "", "entries of this type, such as admin.user.updated or signin.failed")
	f.DurationVar(&since, "since", 0, "entries of the last DURATION only, such as 24h")
	f.IntVar(&limit, "limit", 50, fmt.Sprintf("at most N entries (1 to %d)", maxAuditList))
	return cmd
}

// who shows an actor or target as type:id, or type alone.
func who(typ, id string) string {
	if id == "" {
		return typ
	}
	return typ + ":" + id
}

// notFoundField reports a missing record of the CLI as a problem with a
// field, like findOrg.
func notFoundField(field, format string, args ...any) error {
	return &idp.FieldError{Field: field, Message: fmt.Sprintf(format, args...), Err: storage.ErrNotFound}
}
