package render

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	texttemplate "text/template"
	"time"
)

// InvitationEmail invites an address to an organization with a role.
type InvitationEmail struct {
	Email     string        // the invited address
	OrgName   string        // the organization's name
	Role      string        // the role the membership will have
	InvitedBy string        // who invited: a person's name or email, or "An administrator"
	Link      string        // the accept URL, built from the issuer (LG-09)
	ValidFor  time.Duration // how long the link works
}

// InvitationEmails renders invitation emails. It is safe for concurrent use.
type InvitationEmails struct{ invitation email }

const invitationSubject = "You are invited to join an organization on Foyer"

// NewInvitationEmails parses email_invitation.html and .txt with the email
// shells from fsys, and executes them once with the zero data.
func NewInvitationEmails(fsys fs.FS) (*InvitationEmails, error) {
	htmlLayout, err := htmltemplate.New(emailLayoutHTML).Funcs(htmltemplate.FuncMap(emailFuncs)).ParseFS(fsys, emailLayoutHTML)
	if err != nil {
		return nil, fmt.Errorf("render: email layout: %w", err)
	}
	textLayout, err := texttemplate.New(emailLayoutText).Funcs(texttemplate.FuncMap(emailFuncs)).ParseFS(fsys, emailLayoutText)
	if err != nil {
		return nil, fmt.Errorf("render: email layout: %w", err)
	}
	view := emailView{Subject: invitationSubject, Data: InvitationEmail{}}
	h, herr := parseHTMLEmail(htmlLayout, fsys, "email_invitation.html", view)
	if herr != nil {
		herr = fmt.Errorf("render: email email_invitation.html: %w", herr)
	}
	t, terr := parseTextEmail(textLayout, fsys, "email_invitation.txt", view)
	if terr != nil {
		terr = fmt.Errorf("render: email email_invitation.txt: %w", terr)
	}
	if err := errors.Join(herr, terr); err != nil {
		return nil, err
	}
	return &InvitationEmails{email{name: "invitation", subject: invitationSubject, html: h, text: t}}, nil
}

// Invitation renders the invitation message.
func (e *InvitationEmails) Invitation(d InvitationEmail) (Email, error) {
	if err := checkLinkEmail(e.invitation.name, d.Link, d.ValidFor); err != nil {
		return Email{}, err
	}
	return e.invitation.render(d)
}
