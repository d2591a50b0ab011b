package storage

// Built-in role names. Every organization has these three roles; their
// permissions are documented in the README and seeded by every backend from
// BuiltinRoles when it migrates.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleMember = "member"
)

// BuiltinRoles returns the built-in roles with their permissions. Changing a
// permission here changes it for every organization at the next migration.
func BuiltinRoles() []Role {
	return []Role{
		{
			ID: "rol_admin", Name: RoleAdmin,
			Description: "Manages the organization: its settings, members, roles, invitations and SSO.",
			Permissions: []string{
				"org:read", "org:update", "org:delete",
				"org:members:read", "org:members:manage",
				"org:roles:manage", "org:invitations:manage", "org:sso:manage",
			},
		},
		{
			ID: "rol_editor", Name: RoleEditor,
			Description: "Edits the organization's settings and sees its members.",
			Permissions: []string{"org:read", "org:update", "org:members:read"},
		},
		{
			ID: "rol_member", Name: RoleMember,
			Description: "Belongs to the organization and sees its members.",
			Permissions: []string{"org:read", "org:members:read"},
		},
	}
}

// IsBuiltinRole reports whether name is a built-in role name.
func IsBuiltinRole(name string) bool {
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return true
		}
	}
	return false
}
