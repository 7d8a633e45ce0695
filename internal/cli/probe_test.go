package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbe(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nats: not connected", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	if err := cmdProbe(context.Background(), []string{ready.URL}); err != nil {
		t.Errorf("ready: %v", err)
	}
	if err := cmdProbe(context.Background(), []string{notReady.URL}); err == nil {
		t.Error("a 503 passed the probe")
	}
	if err := cmdProbe(context.Background(), nil); err == nil {
		t.Error("no URL passed the probe")
	}
}
