package mfa

import (
	"context"
	"strings"

	"github.com/foyerdev/foyer/mail"
	"github.com/foyerdev/foyer/templates/render"
)

// notify emails the person that one of their second factors changed, or
// that a recovery code of theirs was used, so that a change they did not
// make does not go unnoticed (TO-04, TO-06). d says what changed; notify
// fills in the address, the time and the security page's link. The email
// never carries a secret or a code.
//
// The change has already happened and stays: the email is a notice, so
// a failure to queue it is logged, not returned. It is queued even when
// the browser has gone away.
func (s *Service) notify(ctx context.Context, userID string, d render.SignInMethodsChangedEmail) {
	ctx = context.WithoutCancel(ctx)
	err := func() error {
		u, err := s.o.Store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		d.Email, d.ChangedAt = u.Email, s.o.Now()
		d.SecurityLink = strings.TrimSuffix(s.o.Issuer, "/") + securityPath
		msg, err := s.o.Emails.SignInMethodsChanged(d)
		if err != nil {
			return err
		}
		return s.o.Mailer.Send(ctx, mail.Message{To: u.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML})
	}()
	if err != nil {
		s.o.Logger.ErrorContext(ctx, "queue sign-in methods notice", "user_id", userID, "change", string(d.Change), "err", err)
	}
}
