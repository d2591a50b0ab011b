package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// strictCSP is the shape of the policy Foyer's pages send: nothing runs or
// loads unless the policy names it.
const strictCSP = "default-src 'none'; style-src 'nonce-n0nce'"

// TestBrowser checks the harness itself against a small site: a form, a
// cookie, a redirect to an address nobody answers, and pages that break the
// Content-Security-Policy, which ConsoleErrors must report, or the "no CSP
// violations" checks of the real tests would prove nothing.
func TestBrowser(t *testing.T) {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		fmt.Fprintf(w, "<!DOCTYPE html><title>t</title><style nonce=n0nce>body{margin:2rem}</style>%s", body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method=post action=/hello><input id=name name=name><button>Go</button></form>`)
	})
	mux.HandleFunc("POST /hello", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		page(w, `<p id=greeting>Hello, `+r.FormValue("name")+`</p>`)
	})
	mux.HandleFunc("GET /leave", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method=post action=/away><button>Leave</button></form>`)
	})
	mux.HandleFunc("POST /away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:9/callback?code=c", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /inline-script", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<script>document.title = "ran"</script>`)
	})
	mux.HandleFunc("GET /inline-style", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<p style="color:red">red</p>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	t.Setenv("BROWSERTEST_SCREENSHOTS", t.TempDir())

	b := New(t)
	b.Navigate(srv.URL)
	b.Fill("#name", "Ada")
	b.Submit("#name")
	b.WaitVisible("#greeting")
	if got := b.Text("#greeting"); got != "Hello, Ada" {
		t.Errorf("Text(#greeting) = %q, want %q", got, "Hello, Ada")
	}
	if got := b.HTML(); !strings.Contains(got, `<p id="greeting">Hello, Ada</p>`) {
		t.Errorf("HTML() lacks the greeting:\n%s", got)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("a page within its policy reported errors: %q", errs)
	}
	cookies := b.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "seen" || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("Cookies() = %v, want the HttpOnly, SameSite=Lax cookie seen", cookies)
	}
	b.Screenshot("greeting")
	for _, f := range []string{"greeting-phone.png", "greeting-desktop.png"} {
		png, err := os.ReadFile(filepath.Join(os.Getenv("BROWSERTEST_SCREENSHOTS"), f))
		if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Errorf("screenshot %s: not a PNG (%v)", f, err)
		}
	}

	b.Navigate(srv.URL + "/leave")
	b.Click("button")
	if u := b.WaitURL("http://127.0.0.1:9/callback"); u.Query().Get("code") != "c" {
		t.Errorf("WaitURL = %s, want the callback with code=c", u)
	}

	// A second person: no cookies of the first, and pages that break the
	// policy.
	b2 := New(t)
	if c := b2.Cookies(); c != nil {
		t.Errorf("a second Browser has the first one's cookies: %v", c)
	}
	for _, path := range []string{"/inline-script", "/inline-style"} {
		b2.Navigate(srv.URL + path)
	}
	errs := strings.Join(b2.ConsoleErrors(), "\n")
	for _, path := range []string{"/inline-script", "/inline-style"} {
		if !strings.Contains(errs, "Content Security Policy") || !strings.Contains(errs, srv.URL+path) {
			t.Errorf("ConsoleErrors() = %q, want the CSP violation of %s", errs, path)
		}
	}
}

// TestChromiumPathMissing: a BROWSERTEST_CHROMIUM that points nowhere is an error
// (New turns it into a failure that says how to install Chromium), never a
// silent fallback to another browser or a skip.
func TestChromiumPathMissing(t *testing.T) {
	t.Setenv("BROWSERTEST_CHROMIUM", filepath.Join(t.TempDir(), "chromium"))
	if p, err := chromiumPath(); err == nil {
		t.Errorf("chromiumPath() = %q, nil; want an error", p)
	}
}
