package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pressline/pressline/internal/safefetch"
	"github.com/pressline/pressline/pkg/webhook"
)

func TestPostClassifies(t *testing.T) {
	s, _ := webhook.ParseSecret(webhook.NewSecret())
	now := time.Now()
	for _, tc := range []struct {
		status     int
		retryAfter string
		retryable  bool
		wait       time.Duration
	}{
		{200, "", false, 0}, {204, "", false, 0},
		{500, "", true, 0}, {503, "7", true, 7 * time.Second}, {408, "", true, 0},
		{429, now.Add(90 * time.Second).UTC().Format(http.TimeFormat), true, 89 * time.Second},
		{400, "", false, 0}, {401, "", false, 0}, {404, "", false, 0}, {410, "", false, 0}, {301, "", false, 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := s.Verify(r.Header, body, time.Now()); err != nil {
				t.Errorf("receiver: %v", err)
			}
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			w.WriteHeader(tc.status)
		}))
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		_, err := post(context.Background(), client, srv.URL, []webhook.Secret{s}, "msg_1", now, []byte(`{}`), nil)
		srv.Close()
		if tc.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		var e *postError
		if !errors.As(err, &e) || e.Status != tc.status || e.Retryable != tc.retryable || e.RetryAfter < tc.wait || e.RetryAfter > tc.wait+2*time.Second {
			t.Errorf("%d: post = %#v, want retryable=%v after %s", tc.status, err, tc.retryable, tc.wait)
		}
	}
}

func TestPostUnreachableIsRetryableUnlessRefused(t *testing.T) {
	s, _ := webhook.ParseSecret(webhook.NewSecret())
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	_, err := post(context.Background(), http.DefaultClient, url, []webhook.Secret{s}, "msg_1", time.Now(), nil, nil)
	if !isRetryable(err) {
		t.Errorf("connection refused: %v, want retryable", err)
	}
	_, err = post(context.Background(), http.DefaultClient, url, []webhook.Secret{s}, "msg_1", time.Now(), nil, func(error) bool { return true })
	if err == nil || isRetryable(err) {
		t.Errorf("guarded address: %v, want not retryable", err)
	}
}

// A receiver that answers with a redirect gets a failed attempt: the
// body and its signature are not sent on to the Location, with the
// client the service is given in production.
func TestPostDoesNotFollowRedirects(t *testing.T) {
	s, _ := webhook.ParseSecret(webhook.NewSecret())
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, code := range []int{301, 302, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/collect", code)
		}))
		client := safefetch.New(safefetch.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, NoRedirects: true})
		_, err := post(context.Background(), client, srv.URL, []webhook.Secret{s}, "msg_1", time.Now(), []byte(`{}`), nil)
		srv.Close()
		var e *postError
		if !errors.As(err, &e) || e.Status != code || e.Retryable {
			t.Errorf("%d: post = %#v, want a failed attempt with the status, not retried", code, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target received %d deliveries", n)
	}
}

// During a rotation's overlap a receiver that still holds the old
// secret, and one that already holds the new, both accept the request;
// one holding neither does not.
func TestPostSignsWithEverySecret(t *testing.T) {
	secret := func() webhook.Secret { s, _ := webhook.ParseSecret(webhook.NewSecret()); return s }
	current, previous, other := secret(), secret(), secret()
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	if _, err := post(context.Background(), http.DefaultClient, srv.URL, []webhook.Secret{current, previous}, "msg_1", time.Now(), []byte(`{"a":1}`), nil); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s    webhook.Secret
		want error
	}{"current": {current, nil}, "previous": {previous, nil}, "other": {other, webhook.ErrSignature}} {
		if err := tc.s.Verify(got, body, time.Now()); !errors.Is(err, tc.want) {
			t.Errorf("receiver with the %s secret: %v, want %v", name, err, tc.want)
		}
	}
}
