package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pressline/pressline/pkg/webhook"
)

// Doer sends a request; *safefetch.Client is one, with the address guard.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// postError is a delivery that did not succeed.
type postError struct {
	Status int // 0 when no response came
	// Retryable: a timeout, a connection failure, 5xx, 408 or 429. Any
	// other answer means the receiver will not take the request as it is.
	Retryable  bool
	RetryAfter time.Duration // what the receiver asked for, if anything
	Err        error
}

func (e *postError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("webhook: HTTP %d", e.Status)
	}
	return fmt.Sprintf("webhook: %v", e.Err)
}

func (e *postError) Unwrap() error { return e.Err }

// post delivers one signed request and returns the receiver's status (0
// when none came). Whether to try again is in the
// returned *postError; refused (guarded) addresses are not retryable,
// since no retry can make them allowed.
// Every secret signs: during a rotation's overlap the header carries
// both signatures, space-separated as Standard Webhooks allows, and a
// receiver holding either secret accepts the request.
func post(ctx context.Context, client Doer, url string, secrets []webhook.Secret, id string, now time.Time, body []byte, refused func(error) bool) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, &postError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	secrets[0].SetHeaders(req.Header, id, now, body)
	if len(secrets) > 1 {
		sigs := make([]string, len(secrets))
		for i, s := range secrets {
			sigs[i] = s.Sign(id, now, body)
		}
		req.Header.Set(webhook.HeaderSignature, strings.Join(sigs, " "))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, &postError{Err: err, Retryable: refused == nil || !refused(err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	e := &postError{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests:
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	}
	return resp.StatusCode, e
}

// retryAfter reads Retry-After as seconds or as an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// gone reports whether the receiver answered 410 Gone: it asks for no
// more deliveries (Standard Webhooks), so the subscriber is disabled.
func gone(err error) bool {
	var e *postError
	return errors.As(err, &e) && e.Status == http.StatusGone
}

// isRetryable reports whether err from post may succeed later.
func isRetryable(err error) bool {
	var e *postError
	return errors.As(err, &e) && e.Retryable
}
