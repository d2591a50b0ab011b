package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyerdev/foyer/templates"
	"github.com/foyerdev/foyer/templates/render"
	"github.com/google/go-cmp/cmp"
)

// TestInvitationEmailGolden compares the invitation email with
// testdata/email_invitation.golden.html and .golden.txt (-update rewrites
// them). The organization's name is escaped in the HTML part.
func TestInvitationEmailGolden(t *testing.T) {
	e, err := render.NewInvitationEmails(templates.FS)
	if err != nil {
		t.Fatalf("NewInvitationEmails(templates.FS) = %v", err)
	}
	const link = "https://id.example.com/invitations/accept?token=tok_123"
	m, err := e.Invitation(render.InvitationEmail{
		Email: "new@example.com", OrgName: "Acme <Labs>", Role: "editor", InvitedBy: "Ada Admin",
		Link: link, ValidFor: 7 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("Invitation() error = %v", err)
	}
	if !strings.Contains(m.HTML, `href="`+link+`"`) || !strings.Contains(m.Text, "\n"+link+"\n") {
		t.Errorf("Invitation() lacks the link in a part:\n%s\n%s", m.HTML, m.Text)
	}
	if strings.Contains(m.HTML, "<Labs>") {
		t.Errorf("Invitation() HTML part does not escape the organization's name")
	}
	for ext, got := range map[string]string{
		".golden.html": m.HTML,
		".golden.txt":  "Subject: " + m.Subject + "\n\n" + m.Text,
	} {
		path := filepath.Join("testdata", "email_invitation"+ext)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./templates/render -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
		}
	}
	if _, err := e.Invitation(render.InvitationEmail{Link: "/invitations/accept?token=x", ValidFor: time.Hour}); err == nil {
		t.Error("Invitation(relative link) error = nil, want an error")
	}
}
