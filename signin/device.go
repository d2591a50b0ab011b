package signin

import (
	"fmt"
	"strings"
	"time"
)

// The account page names each session's browser in plain words, from its
// User-Agent header: "Chrome on Linux", "Safari on iPhone". The header is
// whatever the client sent, so this is a hint for a person, never a
// security decision, and a few substring checks in the right order are
// enough (no dependency, nothing to keep up to date but these lists).

// browsers are checked in order: most browsers also claim to be the ones
// further down ("Edg/… Chrome/… Safari/…").
var browsers = []struct{ token, name string }{
	{"Edg/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
	{"curl/", "curl"},
}

// systems are checked in order: Android and ChromeOS also say "Linux",
// and iPhones say "like Mac OS X".
var systems = []struct{ token, name string }{
	{"iPhone", "iPhone"},
	{"iPad", "iPad"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"},
	{"Mac OS X", "macOS"},
	{"Linux", "Linux"},
}

// describeDevice says what browser on what system userAgent is, as far as
// it can tell.
func describeDevice(userAgent string) string {
	browser, system := "", ""
	for _, b := range browsers {
		if strings.Contains(userAgent, b.token) {
			browser = b.name
			break
		}
	}
	for _, sys := range systems {
		if strings.Contains(userAgent, sys.token) {
			system = sys.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "A browser on " + system
	}
	return "Unknown device"
}

// lastSeen says when a session was last used, in words, relative to now.
func lastSeen(now, t time.Time) string {
	switch d := now.Sub(t); {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 7*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return fmt.Sprintf("on %s", t.UTC().Format("2 January 2006"))
}
