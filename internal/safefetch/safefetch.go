// Package safefetch fetches URLs that come from untrusted input (image
// sources in articles, webhook targets) without letting that input reach
// what only the server can: loopback, private networks, link-local and
// cloud metadata addresses are refused unless an operator allow-lists
// them. The address is checked when each connection is dialled, so a DNS
// answer or a redirect cannot slip past the check.
package safefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Config sets the limits.
type Config struct {
	// Allow lists networks that may be reached even though they are not
	// public (e.g. 10.0.0.0/8 for an internal image server, 127.0.0.0/8
	// in tests).
	Allow []netip.Prefix
	// MaxBytes is the largest body read; default 50 MiB.
	MaxBytes int64
	// Timeout bounds the whole request, redirects and body included;
	// default 30 s.
	Timeout time.Duration
	// MaxRedirects; default 5.
	MaxRedirects int
	// NoRedirects makes a 3xx the answer, not a place to go: a webhook
	// followed to its Location would hand the body and its signature to
	// whoever the receiver (or an attacker on it) names.
	NoRedirects bool
}

// Client fetches with the guard in place.
type Client struct {
	cfg  Config
	http *http.Client
}

// ErrRefused is wrapped by every refusal of an address or scheme.
var ErrRefused = errors.New("address not allowed")

// ErrTooLarge is wrapped when a body exceeds MaxBytes.
var ErrTooLarge = errors.New("response too large")

// New builds a client.
func New(cfg Config) *Client {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 50 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	c := &Client{cfg: cfg}
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: c.control}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		Proxy:                 nil, // a proxy would dial for us, unchecked
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	c.http = &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if cfg.NoRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) >= cfg.MaxRedirects {
				return fmt.Errorf("more than %d redirects", cfg.MaxRedirects)
			}
			return checkScheme(req.URL.Scheme)
		},
	}
	return c
}

// control runs on every dial, with the address DNS resolved to.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	if !c.Allowed(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrRefused, ap.Addr())
	}
	return nil
}

// Allowed reports whether addr may be reached: a public unicast address,
// or one in the allow-list.
func (c *Client) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range c.cfg.Allow {
		if p.Contains(addr) {
			return true
		}
	}
	if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsMulticast() || addr.IsUnspecified() || addr.IsInterfaceLocalMulticast() || !addr.IsValid() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// reserved are ranges that are neither private nor public, which the
// standard library's predicates do not cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, broadcast
	netip.MustParsePrefix("192.0.2.0/24"),      // documentation
	netip.MustParsePrefix("198.51.100.0/24"),   // documentation
	netip.MustParsePrefix("203.0.113.0/24"),    // documentation
	netip.MustParsePrefix("::/96"),             // IPv4-compatible (deprecated): an IPv4 inside
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64 can reach IPv4 private space
	netip.MustParsePrefix("64:ff9b:1::/48"),    // local-use NAT64, likewise
	netip.MustParsePrefix("100::/64"),          // discard-only
	netip.MustParsePrefix("2001::/32"),         // Teredo: an IPv4 inside
	netip.MustParsePrefix("2001:2::/48"),       // benchmarking
	netip.MustParsePrefix("2001:db8::/32"),     // documentation
	netip.MustParsePrefix("2002::/16"),         // 6to4: an IPv4 inside, any of them
	netip.MustParsePrefix("fec0::/10"),         // site-local (deprecated), private in practice
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6
}

func checkScheme(s string) error {
	if s != "http" && s != "https" {
		return fmt.Errorf("%w: scheme %q (only http and https)", ErrRefused, s)
	}
	return nil
}

// StatusError is a response other than 200.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d", e.Code) }

// Get fetches rawURL and returns its body and Content-Type.
func (c *Client) Get(ctx context.Context, rawURL string) ([]byte, string, error) {
	r, err := c.GetIf(ctx, rawURL, Validators{})
	return r.Body, r.ContentType, err
}

// Validators are what a previous response said, for a conditional GET.
type Validators struct {
	ETag, LastModified string
}

// Response is a fetched body and its validators.
type Response struct {
	Body        []byte
	ContentType string
	Validators  Validators
}

// ErrNotModified is returned by GetIf when the server says nothing
// changed since the validators.
var ErrNotModified = errors.New("not modified")

// GetIf is a conditional GET: with validators from an earlier response it
// asks only for a changed body, and returns ErrNotModified otherwise.
func (c *Client) GetIf(ctx context.Context, rawURL string, v Validators) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Response{}, err
	}
	if err := checkScheme(req.URL.Scheme); err != nil {
		return Response{}, err
	}
	req.Header.Set("User-Agent", "Pressline/1")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, unwrapRefusal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return Response{Validators: v}, ErrNotModified
	}
	if resp.StatusCode != http.StatusOK {
		return Response{}, &StatusError{Code: resp.StatusCode}
	}
	out := Response{ContentType: resp.Header.Get("Content-Type"),
		Validators: Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}
	if resp.ContentLength > c.cfg.MaxBytes {
		return Response{}, fmt.Errorf("%w: %d bytes declared, limit %d", ErrTooLarge, resp.ContentLength, c.cfg.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return Response{}, err
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return Response{}, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, c.cfg.MaxBytes)
	}
	out.Body = body
	return out, nil
}

// unwrapRefusal keeps ErrRefused visible through url.Error and OpError.
func unwrapRefusal(err error) error {
	if errors.Is(err, ErrRefused) {
		return err
	}
	if strings.Contains(err.Error(), ErrRefused.Error()) {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return err
}

// ParseAllow reads a comma-separated list of CIDR prefixes.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network like 10.0.0.0/8", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// Do sends a request with the guard in place (a webhook's POST); the
// caller closes the body.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if err := checkScheme(req.URL.Scheme); err != nil {
		return nil, err
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Pressline/1")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unwrapRefusal(err)
	}
	return resp, nil
}
