package templates

import (
	"testing"
	"testing/fstest"
)

func TestFS(t *testing.T) {
	if err := fstest.TestFS(FS,
		"layout.html", "login.html", "consent.html", "select_org.html", "select_account.html",
		"error.html", "logout.html", "logged_out.html",
	); err != nil {
		t.Fatal(err)
	}
}
