// Package ops serves what operators and orchestrators ask of every Pressline
// process: /metrics for Prometheus, /healthz (the process is alive) and
// /readyz (it can do its work: NATS and S3 reachable, stages consuming).
package ops

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace starts the name of every metric Pressline defines:
// pressline_<subsystem>_<name>_<unit>.
const Namespace = "pressline"

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
