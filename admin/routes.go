package admin

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// route is one operation: the router mounts Handle at Method and Path, and
// the OpenAPI document describes it from the same fields.
type route struct {
	Method      string
	Path        string // gin syntax, relative to Prefix: /users/:id
	OperationID string
	Summary     string
	Query       []param
	Request     any // the body's type, nil for none
	Response    any // the success body's type, nil for none
	Status      int // the success status
	Handle      func(*API, *gin.Context)
}

// param is a query parameter.
type param struct {
	Name, Description string
	Type              string // OpenAPI type: string, integer
}

var pageParams = []param{
	{"limit", "Items per page, 1 to 200 (default 50).", "integer"},
	{"cursor", "next_cursor of the previous page.", "string"},
}

// routes is the API, in the order the OpenAPI document lists it.
func routes() []route {
	return []route{
		{http.MethodGet, "/users", "listUsers", "List users",
			append([]param{
				{"q", "Substring of the email or the name, ignoring case.", "string"},
				{"organization", "Members of this organization ID only (required for an admin of several organizations).", "string"},
				{"role", "Holders of this role name only (in the organization when given).", "string"},
			}, pageParams...), nil, List[User]{}, http.StatusOK, (*API).listUsers},
		{http.MethodPost, "/users", "createUser", "Create a user (Foyer admins)", nil,
			createUserRequest{}, User{}, http.StatusCreated, (*API).createUser},
		{http.MethodGet, "/users/:id", "getUser", "Get a user", nil, nil, User{}, http.StatusOK, (*API).getUser},
		{http.MethodPatch, "/users/:id", "updateUser", "Change a user's name, admin or email_verified (Foyer admins)", nil,
			updateUserRequest{}, User{}, http.StatusOK, (*API).updateUser},
		{http.MethodDelete, "/users/:id", "deleteUser", "Delete a user, revoking their tokens and sessions (Foyer admins)", nil,
			nil, nil, http.StatusNoContent, (*API).deleteUser},

		{http.MethodGet, "/organizations", "listOrganizations", "List organizations", pageParams,
			nil, List[Organization]{}, http.StatusOK, (*API).listOrganizations},
		{http.MethodPost, "/organizations", "createOrganization", "Create an organization (Foyer admins)", nil,
			createOrganizationRequest{}, Organization{}, http.StatusCreated, (*API).createOrganization},
		{http.MethodGet, "/organizations/:id", "getOrganization", "Get an organization", nil,
			nil, Organization{}, http.StatusOK, (*API).getOrganization},
		{http.MethodPatch, "/organizations/:id", "updateOrganization", "Change an organization's name, logo, brand colour or second-factor requirement", nil,
			updateOrganizationRequest{}, Organization{}, http.StatusOK, (*API).updateOrganization},
		{http.MethodDelete, "/organizations/:id", "deleteOrganization", "Delete an organization with its memberships and roles (Foyer admins)", nil,
			nil, nil, http.StatusNoContent, (*API).deleteOrganization},

		{http.MethodGet, "/organizations/:id/members", "listMembers", "List an organization's members", pageParams,
			nil, List[Member]{}, http.StatusOK, (*API).listMembers},
		{http.MethodPost, "/organizations/:id/members", "addMember", "Add a user to an organization (Foyer admins)", nil,
			addMemberRequest{}, Member{}, http.StatusCreated, (*API).addMember},
		{http.MethodPatch, "/organizations/:id/members/:user_id", "updateMember", "Change a member's role", nil,
			updateMemberRequest{}, Member{}, http.StatusOK, (*API).updateMember},
		{http.MethodDelete, "/organizations/:id/members/:user_id", "removeMember", "Remove a member", nil,
			nil, nil, http.StatusNoContent, (*API).removeMember},

		{http.MethodGet, "/organizations/:id/roles", "listRoles", "List the roles usable in an organization, built-in ones first", nil,
			nil, List[Role]{}, http.StatusOK, (*API).listRoles},
		{http.MethodPost, "/organizations/:id/roles", "createRole", "Create a custom role", nil,
			createRoleRequest{}, Role{}, http.StatusCreated, (*API).createRole},
		{http.MethodPatch, "/organizations/:id/roles/:name", "updateRole", "Change a custom role's description or permissions", nil,
			updateRoleRequest{}, Role{}, http.StatusOK, (*API).updateRole},
		{http.MethodDelete, "/organizations/:id/roles/:name", "deleteRole", "Delete a custom role no member holds", nil,
			nil, nil, http.StatusNoContent, (*API).deleteRole},

		{http.MethodGet, "/organizations/:id/invitations", "listInvitations", "List an organization's invitations, open ones first", nil,
			nil, List[Invitation]{}, http.StatusOK, (*API).listInvitations},
		{http.MethodPost, "/organizations/:id/invitations", "createInvitation", "Invite an email address with a role; the link goes by email only and supersedes an open invitation of the address", nil,
			createInvitationRequest{}, Invitation{}, http.StatusCreated, (*API).createInvitation},
		{http.MethodPost, "/organizations/:id/invitations/:invitation_id/resend", "resendInvitation", "Email an open invitation again with a new link and expiry; the old link stops working", nil,
			nil, Invitation{}, http.StatusOK, (*API).resendInvitation},
		{http.MethodDelete, "/organizations/:id/invitations/:invitation_id", "revokeInvitation", "Revoke an open invitation", nil,
			nil, nil, http.StatusNoContent, (*API).revokeInvitation},

		{http.MethodGet, "/organizations/:id/saml-connections", "listSAMLConnections", "List an organization's SAML connections with their domains", nil,
			nil, List[SAMLConnection]{}, http.StatusOK, (*API).listSAMLConnections},
		{http.MethodPost, "/organizations/:id/saml-connections", "createSAMLConnection", "Create a SAML connection from the identity provider's metadata (XML) or metadata URL; Foyer makes its SP key pair", nil,
			NewSAMLConnection{}, SAMLConnection{}, http.StatusCreated, (*API).createSAMLConnection},
		{http.MethodGet, "/organizations/:id/saml-connections/:connection_id", "getSAMLConnection", "Get a SAML connection with its domains and Foyer's SP entity ID, ACS URL and metadata URL", nil,
			nil, SAMLConnection{}, http.StatusOK, (*API).getSAMLConnection},
		{http.MethodPatch, "/organizations/:id/saml-connections/:connection_id", "updateSAMLConnection", "Change a SAML connection's name, IdP-initiated setting, mapping or metadata (metadata_url refetches)", nil,
			SAMLConnectionChanges{}, SAMLConnection{}, http.StatusOK, (*API).updateSAMLConnection},
		{http.MethodDelete, "/organizations/:id/saml-connections/:connection_id", "deleteSAMLConnection", "Delete a SAML connection with its domains and the links of people to it", nil,
			nil, nil, http.StatusNoContent, (*API).deleteSAMLConnection},
		{http.MethodPost, "/organizations/:id/saml-connections/:connection_id/domains", "addSAMLDomain", "Claim an email domain for a SAML connection; 409 when a connection claims it already (verified: Foyer admins only)", nil,
			addSAMLDomainRequest{}, SAMLDomain{}, http.StatusCreated, (*API).addSAMLDomain},
		{http.MethodPost, "/organizations/:id/saml-connections/:connection_id/domains/:domain/verify", "verifySAMLDomain", "Verify a claimed domain by its DNS TXT record; 409 while the record is not found", nil,
			nil, SAMLDomain{}, http.StatusOK, (*API).verifySAMLDomain},
		{http.MethodDelete, "/organizations/:id/saml-connections/:connection_id/domains/:domain", "removeSAMLDomain", "Stop claiming a domain for a SAML connection", nil,
			nil, nil, http.StatusNoContent, (*API).removeSAMLDomain},

		{http.MethodGet, "/upstream-connections", "listUpstreamConnections", "List upstream connections (an organization admin sees their organizations')", nil,
			nil, List[UpstreamConnection]{}, http.StatusOK, (*API).listUpstreamConnections},
		{http.MethodPost, "/upstream-connections", "createUpstreamConnection", "Create a global upstream connection (OpenID provider or GitHub); client_secret is write-only (Foyer admins)", nil,
			NewUpstreamConnection{}, UpstreamConnection{}, http.StatusCreated, (*API).createUpstreamConnection},
		{http.MethodGet, "/upstream-connections/:connection_id", "getUpstreamConnection", "Get an upstream connection, never its client secret", nil,
			nil, UpstreamConnection{}, http.StatusOK, (*API).getUpstreamConnection},
		{http.MethodDelete, "/upstream-connections/:connection_id", "deleteUpstreamConnection", "Delete an upstream connection with the links of people to it; 409 for one of the configuration file", nil,
			nil, nil, http.StatusNoContent, (*API).deleteUpstreamConnection},
		{http.MethodGet, "/organizations/:id/upstream-connections", "listOrganizationUpstreamConnections", "List an organization's upstream connections", nil,
			nil, List[UpstreamConnection]{}, http.StatusOK, (*API).listOrgUpstreamConnections},
		{http.MethodPost, "/organizations/:id/upstream-connections", "createOrganizationUpstreamConnection", "Create an upstream connection of an organization; its users become members", nil,
			NewUpstreamConnection{}, UpstreamConnection{}, http.StatusCreated, (*API).createOrgUpstreamConnection},

		{http.MethodGet, "/clients", "listClients", "List OAuth clients, never their secrets (Foyer admins)", pageParams,
			nil, List[Client]{}, http.StatusOK, (*API).listClients},
		{http.MethodPost, "/clients", "createClient", "Register an OAuth client; its secret is in this answer only (Foyer admins)", nil,
			NewClient{}, Client{}, http.StatusCreated, (*API).createClient},
		{http.MethodGet, "/clients/:id", "getClient", "Get an OAuth client (Foyer admins)", nil,
			nil, Client{}, http.StatusOK, (*API).getClient},
		{http.MethodPatch, "/clients/:id", "updateClient", "Change a client's name, redirect URIs, scopes or grant types (Foyer admins)", nil,
			ClientChanges{}, Client{}, http.StatusOK, (*API).updateClient},
		{http.MethodDelete, "/clients/:id", "deleteClient", "Delete an OAuth client (Foyer admins)", nil,
			nil, nil, http.StatusNoContent, (*API).deleteClient},

		{http.MethodGet, "/users/:id/sessions", "listSessions", "List a user's browser sessions, newest first (Foyer admins)", nil,
			nil, List[Session]{}, http.StatusOK, (*API).listSessions},
		{http.MethodDelete, "/users/:id/sessions", "endSessions", "End every browser session of a user (Foyer admins)", nil,
			nil, nil, http.StatusNoContent, (*API).endSessions},
		{http.MethodDelete, "/users/:id/sessions/:sid", "endSession", "End one browser session of a user (Foyer admins)", nil,
			nil, nil, http.StatusNoContent, (*API).endSession},

		{http.MethodGet, "/keys", "listKeys", "List the token-signing keys, never their private parts (Foyer admins)", nil,
			nil, List[SigningKey]{}, http.StatusOK, (*API).listKeys},
		{http.MethodPost, "/keys/rotate", "rotateKeys", "Activate the next signing key now; 409 while it is younger than keys.prepublish unless force (Foyer admins)", nil,
			rotateKeysRequest{}, List[SigningKey]{}, http.StatusOK, (*API).rotateKeys},
		{http.MethodPost, "/keys/:kid/revoke", "revokeKey", "Withdraw a signing key from the JWKS at once (Foyer admins)", nil,
			nil, List[SigningKey]{}, http.StatusOK, (*API).revokeKey},

		{http.MethodGet, "/audit-events", "listAuditEvents", "Read the audit log, newest first (Foyer admins)", globalAuditParams,
			nil, List[AuditEvent]{}, http.StatusOK, (*API).listAuditEvents},
		{http.MethodGet, "/organizations/:id/audit-events", "listOrganizationAuditEvents", "Read an organization's entries of the audit log, newest first", orgAuditParams,
			nil, List[AuditEvent]{}, http.StatusOK, (*API).listOrgAuditEvents},

		{http.MethodGet, "/webhooks", "listWebhooks", "List webhook endpoints: every one for a Foyer admin, an organization admin's organizations' otherwise",
			[]param{{"organization", "Endpoints of this organization ID only.", "string"}}, nil, List[Webhook]{}, http.StatusOK, (*API).listWebhooks},
		{http.MethodPost, "/webhooks", "createWebhook", "Register a webhook endpoint for every organization's events; its secret is in this answer only (Foyer admins)", nil,
			NewWebhook{}, Webhook{}, http.StatusCreated, (*API).createWebhook},
		{http.MethodGet, "/organizations/:id/webhooks", "listOrganizationWebhooks", "List an organization's webhook endpoints", nil,
			nil, List[Webhook]{}, http.StatusOK, (*API).listOrgWebhooks},
		{http.MethodPost, "/organizations/:id/webhooks", "createOrganizationWebhook", "Register a webhook endpoint for an organization's events; its secret is in this answer only", nil,
			NewWebhook{}, Webhook{}, http.StatusCreated, (*API).createOrgWebhook},
		{http.MethodGet, "/webhooks/:id", "getWebhook", "Get a webhook endpoint, never its secret", nil,
			nil, Webhook{}, http.StatusOK, (*API).getWebhook},
		{http.MethodPatch, "/webhooks/:id", "updateWebhook", "Change a webhook endpoint's url, description, event_types or disabled", nil,
			WebhookChanges{}, Webhook{}, http.StatusOK, (*API).updateWebhook},
		{http.MethodDelete, "/webhooks/:id", "deleteWebhook", "Delete a webhook endpoint with its deliveries", nil,
			nil, nil, http.StatusNoContent, (*API).deleteWebhook},
		{http.MethodGet, "/webhooks/:id/deliveries", "listWebhookDeliveries", "List a webhook endpoint's deliveries, newest first", deliveryParams,
			nil, List[WebhookDelivery]{}, http.StatusOK, (*API).listDeliveries},
		{http.MethodPost, "/webhooks/:id/deliveries/:delivery_id/replay", "replayWebhookDelivery", "Send a failed or delivered delivery's event again as a new delivery; 409 while it is pending", nil,
			nil, WebhookDelivery{}, http.StatusCreated, (*API).replayDelivery},
	}
}
