package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pressline/pressline/pkg/client"
)

// TestSubmitAlwaysSendsAnIdempotencyKey: a submission without a key gets
// one, and a retry after a 503 sends the same one, so an article the
// server did keep is answered as a repeat rather than accepted twice.
func TestSubmitAlwaysSendsAnIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(client.HeaderIdempotencyKey))
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"urn:pressline:problem:unavailable","status":503,"title":"Service Unavailable","detail":"not accepted"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"01ABC","version":1,"status_url":"/v1/articles/01ABC"}`))
	}))
	defer srv.Close()
	c := &client.Client{Server: srv.URL, Token: "t", Retries: 1}
	acc, err := c.Submit(context.Background(), client.Submission{Body: []byte("Tiêu đề\n\nNội dung."), ContentType: "text/plain; charset=utf-8"})
	if err != nil || acc.ID != "01ABC" {
		t.Fatalf("submit: %+v, %v", acc, err)
	}
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("keys sent %q, want one key, the same on the retry", keys)
	}
	// A second submission is another article: another key.
	if _, err := c.Submit(context.Background(), client.Submission{Body: []byte("Khác"), ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if keys[2] == "" || keys[2] == keys[0] {
		t.Errorf("second submission's key %q, first %q", keys[2], keys[0])
	}
	// A key given is the key sent.
	if _, err := c.Submit(context.Background(), client.Submission{Body: []byte("x"), ContentType: "text/plain", IdempotencyKey: "cms-4711-v1"}); err != nil {
		t.Fatal(err)
	}
	if keys[3] != "cms-4711-v1" {
		t.Errorf("given key sent as %q", keys[3])
	}
}
