package ops

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pressline_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	var natsDown bool
	srv := httptest.NewServer(Handler(reg, map[string]Check{
		"nats": func(context.Context) error {
			if natsDown {
				return errors.New("disconnected")
			}
			return nil
		},
		"s3": func(context.Context) error { return nil },
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		path     string
		natsDown bool
		code     int
		contains string
	}{
		{"metrics", "/metrics", false, 200, "pressline_test_total 1"},
		{"alive", "/healthz", true, 200, "ok"},
		{"ready", "/readyz", false, 200, "nats: ok"},
		{"not ready", "/readyz", true, 503, "nats: disconnected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			natsDown = tt.natsDown
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s = %d %q; want %d containing %q", tt.path, resp.StatusCode, body, tt.code, tt.contains)
			}
		})
	}
}
