package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// actionTimeout bounds every action and the start of Chromium: a page that
// never shows the element a test waits for fails the test in seconds, with the
// address it was stuck on.
const actionTimeout = 15 * time.Second

// debianChromium is where Debian's chromium package, which .ci/run installs,
// puts the browser.
const debianChromium = "/usr/bin/chromium"

const installHint = "Install Chromium: apt-get install chromium (Debian's package, as .ci/run does), " +
	"or set BROWSERTEST_CHROMIUM to a Chromium or Chrome binary."

// viewport is a screen size to lay pages out at. mobile makes Chromium honour
// the page's <meta name="viewport"> as a phone does.
type viewport struct {
	width, height int64
	mobile        bool
}

var (
	phone   = viewport{390, 844, true} // a current iPhone, in CSS pixels
	desktop = viewport{1280, 800, false}
)

// Browser is one person's browser: a headless Chromium with a fresh profile,
// so cookies of its own, and one tab. Its methods fail the test on error.
type Browser struct {
	t *testing.T
	// ctx is the tab. chromedp keeps the tab in a context, so it lives as
	// long as the Browser; each action runs under a timeout derived from it.
	ctx context.Context

	mu       sync.Mutex
	problems []string // see ConsoleErrors
}

// New starts Chromium for the test and closes it when the test ends. It fails
// the test, never skips it, when Chromium cannot start.
func New(t *testing.T) *Browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		t.Fatalf("browsertest: %v\n%s", err, installHint)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), // a fresh profile: no cookies from another Browser
		chromedp.WindowSize(int(desktop.width), int(desktop.height)),
	)
	if path != "" {
		opts = append(opts, chromedp.ExecPath(path))
	}
	// t.Context ends before cleanups run, and ending it would kill Chromium;
	// the cleanup below closes it gracefully instead, so that no child process
	// still writes in the profile when t.TempDir removes it.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	b := &Browser{t: t}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		if err := chromedp.Cancel(closeCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("browsertest: closing Chromium: %v", err)
		}
		cancelTab()
		cancelAlloc()
	})

	// The first action starts Chromium, and chromedp ties the browser's life
	// to that action's context, so it cannot carry a timeout: a timer bounds
	// the start instead.
	timer := time.AfterFunc(actionTimeout, cancelAlloc)
	err = chromedp.Do(ctx, emulate(desktop))
	if !timer.Stop() {
		err = fmt.Errorf("no answer within %v (%v)", actionTimeout, err)
	}
	if err != nil {
		t.Fatalf("browsertest: starting Chromium: %v\n%s", err, installHint)
	}
	return b
}

// chromiumPath picks the browser: BROWSERTEST_CHROMIUM, else Debian's chromium,
// else "" to let chromedp search the usual names.
func chromiumPath() (string, error) {
	if p := os.Getenv("BROWSERTEST_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("BROWSERTEST_CHROMIUM: %w", err)
		}
		return p, nil
	}
	if _, err := exec.LookPath(debianChromium); err == nil {
		return debianChromium, nil
	}
	return "", nil
}

// Navigate loads url and waits for the page's load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	run(b, fmt.Sprintf("Navigate(%q)", url), chromedp.Navigate(url))
}

// Fill replaces the value of the field that selector (CSS) matches with text,
// typed key by key as a person would, once the field is visible.
func (b *Browser) Fill(selector, text string) {
	b.t.Helper()
	run(b, fmt.Sprintf("Fill(%q)", selector), chromedp.Steps(
		chromedp.Clear(chromedp.CSS(selector)),
		chromedp.SendKeys(chromedp.CSS(selector), text),
	))
}

// Click clicks the middle of the element that selector (CSS) matches, with
// the mouse, once it is visible. It does not wait for a page the click loads.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	run(b, fmt.Sprintf("Click(%q)", selector), chromedp.Click(chromedp.CSS(selector)))
}

// Submit presses Enter in the field that selector (CSS) matches, which
// submits its form through the form's default button, as a person does; the
// form's submit event and validation run. It does not wait for the next page.
func (b *Browser) Submit(selector string) {
	b.t.Helper()
	run(b, fmt.Sprintf("Submit(%q)", selector), chromedp.SendKeys(chromedp.CSS(selector), kb.Enter))
}

// WaitVisible waits until an element that selector (CSS) matches is visible.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	run(b, fmt.Sprintf("WaitVisible(%q)", selector), chromedp.WaitVisible(chromedp.CSS(selector)))
}

// Text returns the visible text of the element that selector (CSS) matches.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	return run(b, fmt.Sprintf("Text(%q)", selector), chromedp.Text(chromedp.CSS(selector)))
}

// HTML returns the markup of the whole page as the browser has it now.
func (b *Browser) HTML() string {
	b.t.Helper()
	return run(b, "HTML()", chromedp.OuterHTML(chromedp.CSS("html")))
}

// URL returns the address of the page in the tab. It is the address the tab
// went to even when loading it failed, as for a relying party's callback that
// no server answers (document.location would be Chromium's error page).
func (b *Browser) URL() *url.URL {
	b.t.Helper()
	return b.parseURL(run(b, "URL()", currentURL))
}

// WaitURL waits until the tab's address starts with prefix and returns it:
// the end of a flow that redirects away from Foyer.
func (b *Browser) WaitURL(prefix string) *url.URL {
	b.t.Helper()
	raw := run(b, fmt.Sprintf("WaitURL(%q)", prefix), func(ctx context.Context, t *chromedp.Target) (u string, err error) {
		err = poll(ctx, func() (bool, error) {
			u, err = currentURL(ctx, t)
			return strings.HasPrefix(u, prefix), err
		})
		return u, err
	})
	return b.parseURL(raw)
}

// Cookies returns every cookie the browser holds, for any site.
func (b *Browser) Cookies() []*http.Cookie {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		b.fail("Cookies()", err)
	}
	var cookies []*http.Cookie
	for _, c := range res.Cookies {
		hc := &http.Cookie{
			Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path,
			HttpOnly: c.HTTPOnly, Secure: c.Secure,
		}
		if !c.Session {
			hc.Expires = time.Unix(int64(c.Expires), 0)
		}
		switch c.SameSite {
		case network.CookieSameSiteStrict:
			hc.SameSite = http.SameSiteStrictMode
		case network.CookieSameSiteLax:
			hc.SameSite = http.SameSiteLaxMode
		case network.CookieSameSiteNone:
			hc.SameSite = http.SameSiteNoneMode
		}
		cookies = append(cookies, hc)
	}
	return cookies
}

// Screenshot saves the whole page, not only what fits on the screen, laid out
// at a phone's width and at a desktop's, as <name>-phone.png and
// <name>-desktop.png in the screenshot folder (see the package doc), for a
// person to look at; names are shared by all tests, so make them unique. The
// tab stays at the desktop size.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	if name == "" || strings.ContainsAny(name, `/\`) {
		b.t.Fatalf("browsertest: Screenshot(%q): want a file name without slashes", name)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatalf("browsertest: %v", err)
	}
	for _, shot := range []struct {
		suffix string
		size   viewport
	}{{"phone", phone}, {"desktop", desktop}} {
		png := run(b, fmt.Sprintf("Screenshot(%q) at %s size", name, shot.suffix), func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
			if _, err := emulate(shot.size)(ctx, t); err != nil {
				return nil, err
			}
			return fullPage(ctx, t)
		})
		path := filepath.Join(dir, name+"-"+shot.suffix+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			b.t.Fatalf("browsertest: %v", err)
		}
		b.t.Logf("screenshot: %s", path)
	}
}

// screenshotDir is BROWSERTEST_SCREENSHOTS, else a folder that stays the same from
// run to run, so that the latest pictures are always in one place.
func screenshotDir() string {
	if dir := os.Getenv("BROWSERTEST_SCREENSHOTS"); dir != "" {
		return dir
	}
	return filepath.Join(os.TempDir(), "foyer-screenshots")
}

// ConsoleErrors returns what the pages reported as errors since the tab
// opened: uncaught exceptions, console.error, and the browser's own errors,
// among them Content-Security-Policy violations and failed loads. It first
// waits for the current page to finish loading, so that the page's own
// errors are in.
func (b *Browser) ConsoleErrors() []string {
	b.t.Helper()
	run(b, "ConsoleErrors()", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		return poll(ctx, func() (bool, error) {
			// An error here is a page being replaced: ask the next one.
			state, err := chromedp.Evaluate[string]("document.readyState")(ctx, t)
			return err == nil && state == "complete", nil
		})
	}))
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// listen records the problems ConsoleErrors reports. chromedp calls it for
// every event of the tab, in order, from the loop that reads them, so it
// must be quick and send no command; an event that arrives before the reply
// to a command is recorded before that command returns.
func (b *Browser) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		if d.URL != "" {
			msg += " (" + d.URL + ")"
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ": " + argsText(ev.Args)
	case *log.EventEntryAdded:
		// Chromium reports CSP violations here with the source "security",
		// at the level error when enforced and warning when report-only;
		// both count.
		e := ev.Entry
		if e.Level != log.EntryLevelError && e.Source != log.EntrySourceSecurity {
			return
		}
		msg = fmt.Sprintf("%s %s: %s", e.Source, e.Level, e.Text)
		if e.URL != "" {
			msg += " (" + e.URL + ")"
		}
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, msg)
	b.mu.Unlock()
}

// argsText renders console arguments roughly as DevTools does.
func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var s string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &s) == nil:
		case a.Description != "":
			s = a.Description
		default:
			s = string(a.Value)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// run runs one action under actionTimeout and fails the test if it fails.
func run[T any](b *Browser, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// fail stops the test with the action, the page it was on, and the cause.
func (b *Browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not done within %v: %w", actionTimeout, err)
	}
	at := "unknown page"
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if u, uerr := chromedp.Run(ctx, currentURL); uerr == nil {
		at = u
	}
	b.t.Fatalf("browsertest: %s on %s: %v", what, at, err)
}

func (b *Browser) parseURL(raw string) *url.URL {
	b.t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		b.t.Fatalf("browsertest: the tab's address: %v", err)
	}
	return u
}

// currentURL reads the address from the navigation history rather than
// document.location, which is Chromium's error page when a load failed.
// While Chromium swaps a failed page for its error page it briefly answers
// "Not attached to an active page", so currentURL asks until it gets an
// answer or ctx ends.
func currentURL(ctx context.Context, t *chromedp.Target) (string, error) {
	var u string
	var last error
	err := poll(ctx, func() (bool, error) {
		var h page.GetNavigationHistoryResult
		h, last = cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
		if last == nil && h.CurrentIndex >= 0 && int(h.CurrentIndex) < len(h.Entries) {
			u = h.Entries[h.CurrentIndex].URL
			return true, nil
		}
		return false, nil
	})
	if err != nil && last != nil {
		err = fmt.Errorf("%w (last answer: %v)", err, last)
	}
	return u, err
}

// poll calls check until it reports done, fails, or ctx ends.
func poll(ctx context.Context, check func() (done bool, err error)) error {
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// emulate lays the page out at size v.
func emulate(v viewport) chromedp.Action[chromedp.Void] {
	var opts []chromedp.EmulateViewportOption
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(v.width, v.height, opts...)
}

// fullPage captures the whole page as a PNG, beyond the viewport when the
// page is taller (or wider, when it overflows) than the screen.
func fullPage(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	clip := page.Viewport{
		Width:  max(m.CSSContentSize.Width, float64(m.CSSLayoutViewport.ClientWidth)),
		Height: max(m.CSSContentSize.Height, float64(m.CSSLayoutViewport.ClientHeight)),
		Scale:  1,
	}
	res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		CaptureBeyondViewport: new(true),
		Clip:                  &clip,
	})
	return res.Data, err
}

// Authenticator is a virtual WebAuthn authenticator in a Browser's tab.
type Authenticator struct {
	b  *Browser
	id webauthn.AuthenticatorID
}

// AddPasskeyAuthenticator gives the tab a virtual WebAuthn authenticator
// (the DevTools protocol's WebAuthn domain): a platform authenticator
// speaking CTAP2 with resident keys and user verification that succeeds,
// and presence tests that pass at once, as a person touching a sensor.
func (b *Browser) AddPasskeyAuthenticator() *Authenticator {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.fail("AddPasskeyAuthenticator(): enable", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
			// cdproto always sends generateCmtgKeyOnNextOperation when adding a
			// credential, which Chromium refuses unless the extension is on.
			HasCmtgKey: true,
		},
	})
	if err != nil {
		b.fail("AddPasskeyAuthenticator()", err)
	}
	return &Authenticator{b: b, id: res.AuthenticatorID}
}

// Credentials lists the credentials the authenticator holds.
func (a *Authenticator) Credentials() []webauthn.Credential {
	a.b.t.Helper()
	ctx, cancel := context.WithTimeout(a.b.ctx, actionTimeout)
	defer cancel()
	got, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: a.id})
	if err != nil {
		a.b.fail("credentials of the virtual authenticator", err)
	}
	var out []webauthn.Credential
	for _, c := range got.Credentials {
		out = append(out, *c)
	}
	return out
}

// Add puts a credential into the authenticator, as if it had made it: a
// copy of another authenticator's, for instance.
func (a *Authenticator) Add(c webauthn.Credential) {
	a.b.t.Helper()
	ctx, cancel := context.WithTimeout(a.b.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: a.id, Credential: &c}); err != nil {
		a.b.fail("add a credential to the virtual authenticator", err)
	}
}
