package signin

import (
	"testing"
	"time"
	"unicode/utf8"
)

var deviceCases = []struct{ userAgent, want string }{
	{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"},
	{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
	{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
	{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "Firefox on iPad"},
	{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
	{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
	{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
	{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera on Windows"},
	{"curl/8.5.0", "curl"},
	{"Mozilla/5.0 (X11; Linux x86_64)", "A browser on Linux"},
	{"", "Unknown device"},
	{"<script>alert(1)</script>", "Unknown device"},
}

func TestDescribeDevice(t *testing.T) {
	for _, tc := range deviceCases {
		if got := describeDevice(tc.userAgent); got != tc.want {
			t.Errorf("describeDevice(%q) = %q, want %q", tc.userAgent, got, tc.want)
		}
	}
}

// FuzzDescribeDevice: a User-Agent is whatever the client sent; the answer
// is always one of the fixed names, never a piece of the header.
func FuzzDescribeDevice(f *testing.F) {
	for _, tc := range deviceCases {
		f.Add(tc.userAgent)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := describeDevice(ua)
		if got == "" || len(got) > 40 || !utf8.ValidString(got) {
			t.Fatalf("describeDevice(%q) = %q", ua, got)
		}
	})
}

func TestLastSeen(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{48 * time.Hour, "2 days ago"},
		{8 * 24 * time.Hour, "on 14 November 2026"},
	} {
		if got := lastSeen(now, now.Add(-tc.ago)); got != tc.want {
			t.Errorf("lastSeen(%s ago) = %q, want %q", tc.ago, got, tc.want)
		}
	}
}
