package ingest

import (
	"context"
	"net/http"
	"time"

	"github.com/pressline/pressline/internal/bus"
)

// The API's lists are answered from indexes in memory, each a projection
// of what JetStream already holds: the newsroom's articles from the
// status bucket, the sites' articles from the sites' stream. They add no
// write to the pipeline; each ingest process keeps its own.

// followStatus keeps the newsroom's article index current.
func (s *Service) followStatus(ctx context.Context) {
	s.keepFollowing(ctx, "article index", s.cfg.Articles.Run)
}

// followSites keeps s.index current with the sites' stream, from where it
// got to.
func (s *Service) followSites(ctx context.Context) {
	s.keepFollowing(ctx, "site index", func(ctx context.Context) error {
		return s.cfg.SiteEvents.FollowSites(ctx, s.index.Seq(),
			func(e bus.SiteEvent) { s.index.Apply(e.Seq, e.Event) },
			func() {
				if s.index.CaughtUp() {
					s.log.Info("site index caught up", "seq", s.index.Seq())
				}
			})
	})
}

// indexLoading answers 503 for a list whose index has not yet read what
// JetStream held when the process started, which the list would miss;
// reading names the index and what it reads, for the detail.
func indexLoading(w http.ResponseWriter, reading string) {
	w.Header().Set("Retry-After", "2")
	writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
		Detail: "the " + reading + " since this server started; try again in a few seconds"})
}

// keepFollowing runs follow until ctx ends, and starts it again when it
// stops on an error (a lost connection, a server restart): at once the
// first time, then after a pause that doubles up to 30 s while it keeps
// failing.
func (s *Service) keepFollowing(ctx context.Context, what string, follow func(context.Context) error) {
	pause := time.Duration(0)
	for {
		start := time.Now()
		err := follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			pause = 0 // it had been following: not a failure in a row
		}
		s.log.Warn(what+": following stopped; starting again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(max(2*pause, time.Second), 30*time.Second)
	}
}
