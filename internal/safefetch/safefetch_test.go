package safefetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	c := New(Config{})
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fd00:ec2::254": false, "fe80::1": false, "0.0.0.0": false, "100.64.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "224.0.0.1": false, "255.255.255.255": false, "fc00::1": false,
		// Ranges that carry an IPv4 address inside (6to4 of 127.0.0.1 and
		// of 10.0.0.1, Teredo, IPv4-compatible), or are not public.
		"2002:7f00:1::1": false, "2002:a00:1::": false, "2001:0:4136:e378::1": false, "::127.0.0.1": false, "::10.0.0.1": false,
		"fec0::1": false, "64:ff9b:1::a00:1": false, "64:ff9b::10.0.0.1": false, "2001:db8::1": false, "100::1": false,
		"192.0.2.1": false, "203.0.113.9": false,
	} {
		if got := c.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	allowed := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if !allowed.Allowed(netip.MustParseAddr("10.1.2.3")) || allowed.Allowed(netip.MustParseAddr("192.168.1.1")) {
		t.Error("allow-list not applied exactly")
	}
}

func TestGet(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write([]byte("jpegbytes"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2000)))
		case "/redirect-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/redirect-ftp":
			http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
		case "/slow":
			time.Sleep(2 * time.Second)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	ctx := context.Background()

	if _, _, err := New(Config{}).Get(ctx, srv.URL+"/ok"); !errors.Is(err, ErrRefused) {
		t.Errorf("loopback without allow-list: %v, want refused", err)
	}
	c := New(Config{Allow: loopback, MaxBytes: 1000, Timeout: time.Second})
	body, ct, err := c.Get(ctx, srv.URL+"/ok")
	if err != nil || string(body) != "jpegbytes" || ct != "image/jpeg" {
		t.Errorf("allowed fetch: %q %q %v", body, ct, err)
	}
	tests := []struct {
		path string
		want func(error) bool
	}{
		{"/big", func(err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"/missing", func(err error) bool { var s *StatusError; return errors.As(err, &s) && s.Code == 404 }},
		{"/redirect-metadata", func(err error) bool { return errors.Is(err, ErrRefused) }},
		{"/redirect-ftp", func(err error) bool { return errors.Is(err, ErrRefused) }},
		{"/slow", func(err error) bool { return err != nil && !errors.Is(err, ErrRefused) }},
	}
	for _, tt := range tests {
		if _, _, err := c.Get(ctx, srv.URL+tt.path); !tt.want(err) {
			t.Errorf("%s: %v", tt.path, err)
		}
	}
	for _, u := range []string{"file:///etc/passwd", "gopher://x", "http://[::1]:1/", "http://169.254.169.254/"} {
		if _, _, err := c.Get(ctx, u); err == nil || (strings.HasPrefix(u, "http://169") && !errors.Is(err, ErrRefused)) {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestParseAllow(t *testing.T) {
	p, err := ParseAllow("10.0.0.0/8, 127.0.0.0/8")
	if err != nil || len(p) != 2 {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := ParseAllow("10.0.0.0"); err == nil {
		t.Error("a bare address accepted")
	}
}
