package outbound

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		private bool
		ok      bool
	}{
		{"93.184.216.34:443", false, true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", false, true},
		{"127.0.0.1:80", false, false},
		{"127.0.0.1:80", true, true},
		{"10.1.2.3:80", false, false},
		{"192.168.0.1:80", false, false},
		{"172.16.5.4:80", false, false},
		{"169.254.169.254:80", false, false}, // cloud metadata
		{"[::1]:80", false, false},
		{"[fe80::1]:80", false, false},
		{"[fd00::1]:80", false, false},
		{"0.0.0.0:80", false, false},
		{"224.0.0.1:80", false, false},
		{"example.com:80", true, false}, // not an IP: the dialer resolves first
		{"garbage", true, false},
	} {
		err := CheckAddress(tc.addr, tc.private)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddress(%q, %v) = %v, want ok=%v", tc.addr, tc.private, err, tc.ok)
		}
	}
}

func TestClientRefusesLoopbackAndRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/go" {
			http.Redirect(w, r, "/there", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()

	_, err := Client(time.Second, false).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "internal address") {
		t.Fatalf("Get(loopback) error = %v, want a refusal", err)
	}
	resp, err := Client(time.Second, true).Get(srv.URL + "/go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("redirect status = %d, want 302 returned, not followed", resp.StatusCode)
	}
}
