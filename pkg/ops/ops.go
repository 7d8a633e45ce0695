// Package ops serves what operators and orchestrators ask of every Pressline
// process: /metrics for Prometheus, /healthz (the process is alive) and
// /readyz (it can do its work: NATS and S3 reachable, stages consuming).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Handler serves /metrics, /healthz and /readyz. checks are run, each with
// a short timeout, on every /readyz request.
func Handler(g prometheus.Gatherer, checks map[string]Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(checks))
		for n := range checks {
			names = append(names, n)
		}
		sort.Strings(names)
		var failed []string
		var b strings.Builder
		for _, n := range names {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			err := checks[n](ctx)
			cancel()
			if err != nil {
				failed = append(failed, n)
				fmt.Fprintf(&b, "%s: %v\n", n, err)
			} else {
				fmt.Fprintf(&b, "%s: ok\n", n)
			}
		}
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, b.String())
	})
	return mux
}

// Serve serves h on l until ctx is cancelled, then stops taking requests
// and gives those in progress up to 15 seconds to finish.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown", "addr", l.Addr().String(), "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
