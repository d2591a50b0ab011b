package authz

import "encoding/json"

// discovery is the OpenID Provider Metadata (OIDC Discovery 1.0 §3) and
// RFC 8414 document. It lists only what Foyer really supports.
type discovery struct {
	Issuer                             string   `json:"issuer"`
	AuthorizationEndpoint              string   `json:"authorization_endpoint"`
	TokenEndpoint                      string   `json:"token_endpoint"`
	UserinfoEndpoint                   string   `json:"userinfo_endpoint"`
	JWKSURI                            string   `json:"jwks_uri"`
	IntrospectionEndpoint              string   `json:"introspection_endpoint"`
	RevocationEndpoint                 string   `json:"revocation_endpoint"`
	PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
	DeviceAuthorizationEndpoint        string   `json:"device_authorization_endpoint"`
	EndSessionEndpoint                 string   `json:"end_session_endpoint"`
	ScopesSupported                    []string `json:"scopes_supported"`
	ResponseTypesSupported             []string `json:"response_types_supported"`
	ResponseModesSupported             []string `json:"response_modes_supported"`
	GrantTypesSupported                []string `json:"grant_types_supported"`
	SubjectTypesSupported              []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported   []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported  []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs       []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported      []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                    []string `json:"claims_supported"`
	PromptValuesSupported              []string `json:"prompt_values_supported"`
	ACRValuesSupported                 []string `json:"acr_values_supported"`
	RequestParameterSupported          bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported       bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameter  bool     `json:"authorization_response_iss_parameter_supported"`
}

func discoveryDocument(issuer, alg string) ([]byte, error) {
	auth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	return json.MarshalIndent(discovery{
		Issuer:                             issuer,
		AuthorizationEndpoint:              issuer + "/oauth2/authorize",
		TokenEndpoint:                      issuer + "/oauth2/token",
		UserinfoEndpoint:                   issuer + "/userinfo",
		JWKSURI:                            issuer + "/.well-known/jwks.json",
		IntrospectionEndpoint:              issuer + "/oauth2/introspect",
		RevocationEndpoint:                 issuer + "/oauth2/revoke",
		PushedAuthorizationRequestEndpoint: issuer + "/oauth2/par",
		DeviceAuthorizationEndpoint:        issuer + "/oauth2/device_authorization",
		EndSessionEndpoint:                 issuer + "/oauth2/logout",
		ScopesSupported:                    []string{"openid", "profile", "email", "offline_access", "org", "orgs"},
		ResponseTypesSupported:             []string{"code"},
		ResponseModesSupported:             []string{"query", "form_post"},
		GrantTypesSupported:                []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"},
		SubjectTypesSupported:              []string{"public"},
		IDTokenSigningAlgValuesSupported:   []string{alg},
		TokenEndpointAuthMethodsSupported:  append(auth, "none"),
		TokenEndpointAuthSigningAlgs:       []string{"RS256", "ES256", "EdDSA"},
		IntrospectionAuthMethodsSupported:  auth,
		RevocationAuthMethodsSupported:     append(auth, "none"),
		CodeChallengeMethodsSupported:      []string{"S256"},
		ClaimsSupported:                    []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash", "email", "email_verified", "name", "org_id", "org_slug", "org_role", "org_permissions", "orgs"},
		PromptValuesSupported:              []string{"none", "login", "consent", "select_account"},
		ACRValuesSupported:                 acrLevels,
		RequestParameterSupported:          false,
		RequestURIParameterSupported:       false,
		AuthorizationResponseIssParameter:  true,
	}, "", "  ")
}
