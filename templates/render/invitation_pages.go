package render

// Invitation modes: what the invitation page offers.
const (
	// InvitationAccept: the browser is signed in as the invited address;
	// an Accept form posts token and csrf_token to /invitations/accept.
	InvitationAccept = "accept"
	// InvitationOtherAccount: signed in as someone else; a form posts
	// csrf_token to /account/sign-out.
	InvitationOtherAccount = "other_account"
	// InvitationSignUp: nobody is signed in and no account uses the
	// address; a form posts token, name, password and csrf_token to
	// /invitations/accept/signup.
	InvitationSignUp = "signup"
	// InvitationSignIn: nobody is signed in and an account uses the
	// address; a link to /login?invitation=<token> brings the person back
	// here once signed in.
	InvitationSignIn = "signin"
	// InvitationClosed: no account uses the address and sign-up is
	// disabled.
	InvitationClosed = "closed"
)

// InvitationPage is what an emailed invitation link opens: "<OrgName>
// invited you as <Role>". Opening it consumes nothing (mail scanners fetch
// links); only its forms do.
type InvitationPage struct {
	Page
	// Token is the link's token, posted back as "token".
	Token   string
	OrgName string
	Role    string
	// Email is the invited address.
	Email string
	// SignedInAs is the signed-in person's address (InvitationOtherAccount).
	SignedInAs string
	// Mode is one of the Invitation* constants.
	Mode string
	// Name pre-fills the sign-up form after a refused attempt; the
	// password is never sent back.
	Name                     string
	NameError, PasswordError string
}
