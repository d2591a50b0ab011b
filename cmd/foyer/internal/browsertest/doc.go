// Package browsertest drives Foyer's pages in a real headless Chromium, for
// the end-to-end tests of cmd/foyer: the flows a person walks through
// (sign-in, consent, and later sign-up, magic links, the account page) are
// tested where they run, in a browser that follows redirects, keeps cookies,
// applies the Content-Security-Policy and lays the page out.
//
// A test gets a [Browser] from [New]: one Chromium process with a fresh
// profile, so its own cookie jar, and one tab. Every method fails the test
// when its action does not finish within 15 seconds, so a broken page fails
// fast instead of hanging:
//
//	b := browsertest.New(t)
//	b.Navigate(authURL)
//	b.Fill("#email", "alice@example.com")
//	b.Click("button[type=submit]")
//	b.WaitVisible("button[value=allow]") // something only the next page has
//	b.Screenshot("consent")
//	if errs := b.ConsoleErrors(); len(errs) > 0 { t.Errorf(...) }
//
// Actions do not wait for the navigation they cause: after a click that
// loads a new page, wait for an element of that page ([Browser.WaitVisible])
// or for its address ([Browser.WaitURL]) before reading from it.
//
// Chromium comes from BROWSERTEST_CHROMIUM, else /usr/bin/chromium (Debian's
// chromium package, which .ci/run installs), else chromedp's search of the
// usual names. A missing browser fails the test; it never skips, so CI cannot
// pass without running the browser tests.
//
// Screenshots go to BROWSERTEST_SCREENSHOTS, else $TMPDIR/foyer-screenshots, as
// <name>-phone.png (390x844) and <name>-desktop.png (1280x800), full page.
package browsertest
