package templates

import (
	"testing"
	"testing/fstest"
)

func TestFS(t *testing.T) {
	if err := fstest.TestFS(FS,
		"layout.html", "consent.html", "select_org.html", "select_account.html",
		"login_identifier.html", "login_password.html", "check_email.html", "magic_link.html",
		"error.html", "logout.html", "logged_out.html",
	); err != nil {
		t.Fatal(err)
	}
}
