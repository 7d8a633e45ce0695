package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPostClassifies(t *testing.T) {
	s, _ := ParseSecret(NewSecret())
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
		err := Post(context.Background(), client, srv.URL, s, "msg_1", now, []byte(`{}`), nil)
		srv.Close()
		if tc.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Retryable != tc.retryable || e.RetryAfter < tc.wait || e.RetryAfter > tc.wait+2*time.Second {
			t.Errorf("%d: Post = %#v, want retryable=%v after %s", tc.status, err, tc.retryable, tc.wait)
		}
	}
}

func TestPostUnreachableIsRetryableUnlessRefused(t *testing.T) {
	s, _ := ParseSecret(NewSecret())
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	err := Post(context.Background(), http.DefaultClient, url, s, "msg_1", time.Now(), nil, nil)
	if !IsRetryable(err) {
		t.Errorf("connection refused: %v, want retryable", err)
	}
	err = Post(context.Background(), http.DefaultClient, url, s, "msg_1", time.Now(), nil, func(error) bool { return true })
	if err == nil || IsRetryable(err) {
		t.Errorf("guarded address: %v, want not retryable", err)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		d := Backoff(time.Second, time.Minute, attempt, 0)
		ceiling := min(time.Second<<min(attempt-1, 30), time.Minute)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("attempt %d: %s outside [%s, %s]", attempt, d, ceiling/2, ceiling)
		}
	}
	if d := Backoff(time.Second, time.Minute, 1, 5*time.Minute); d != 5*time.Minute {
		t.Errorf("Retry-After not honoured: %s", d)
	}
}
