package clients

import "testing"

// TestRequireOrganization: Create keeps the flag (off by default) and
// Update changes it only when asked.
func TestRequireOrganization(t *testing.T) {
	r, _ := newTestRegistrar()
	ctx := t.Context()
	in := NewClient{Name: "Org App", GrantTypes: []string{"client_credentials"}}
	plain, _, err := r.Create(ctx, in)
	if err != nil || plain.RequireOrganization {
		t.Fatalf("Create without the flag = %+v, %v; want RequireOrganization false", plain, err)
	}
	in.RequireOrganization = true
	c, _, err := r.Create(ctx, in)
	if err != nil || !c.RequireOrganization {
		t.Fatalf("Create with the flag = %+v, %v; want RequireOrganization true", c, err)
	}
	name := "Renamed"
	if c, err = r.Update(ctx, c.ID, Changes{Name: &name}); err != nil || !c.RequireOrganization {
		t.Errorf("Update of the name only = %+v, %v; want RequireOrganization kept", c, err)
	}
	off := false
	if c, err = r.Update(ctx, c.ID, Changes{RequireOrganization: &off}); err != nil || c.RequireOrganization {
		t.Errorf("Update RequireOrganization=false = %+v, %v", c, err)
	}
}
