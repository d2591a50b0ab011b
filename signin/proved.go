package signin

import (
	"context"
	"strings"

	"github.com/foyerdev/foyer/audit"
	"github.com/foyerdev/foyer/storage"
)

// addressProved runs, in the transaction of the change, when a link sent
// to an account's address verified that address for the first time. An
// upstream sign-in can make an account for an address its provider never
// verified (idp/upstream), so its links were never proven to belong to
// whoever reads the mailbox: someone could have pre-registered a victim's
// address at a provider that does not check it, waiting for the victim to
// take the account over ("pre-account hijacking"). So those links go now,
// with every session of the account; the owner links their provider again
// from the account page if it was theirs.
func (s *Service) addressProved(ctx context.Context, userID string) error {
	ids, err := s.o.Store.ListExternalIdentities(ctx, userID)
	if err != nil {
		return err
	}
	dropped := 0
	for _, id := range ids {
		if !strings.HasPrefix(id.ConnectionID, storage.PrefixUpstreamConnection) {
			continue // SAML links come from an organization's proven domain (MT-07)
		}
		if err := s.o.Store.DeleteExternalIdentity(ctx, userID, id.ConnectionID, id.Subject); err != nil {
			return err
		}
		if err := s.o.Audit.Record(ctx, storage.AuditEntry{
			Type: audit.IdentityUnlinked, ActorType: storage.ActorSystem, UserID: userID,
			TargetType: "upstream_connection", TargetID: id.ConnectionID, Reason: "linked_before_address_verified",
		}); err != nil {
			return err
		}
		dropped++
	}
	if dropped > 0 {
		_, err = s.endSessions(ctx, userID, "")
	}
	return err
}
