// Package supervise keeps a process's background loops running (feed
// rendering, embargo release, feed polling, the reconciler): a loop that
// panics is logged with where it panicked, counted, and started again
// after a pause, rather than ending the process with every service in
// it. Stage handlers have the same guard in the bus.
package supervise

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/ops"
)

// Supervisor runs loops under the guard. Build one per process: its
// metric is the process's.
type Supervisor struct {
	log    *slog.Logger
	panics *prometheus.CounterVec
	// pause is how long a loop that panicked waits before it starts
	// again, so a loop that panics at once does not spin.
	pause time.Duration
}

// New returns a supervisor that logs to log and counts panics in reg (nil
// reg: counted, not exported, for a service built alone in a test).
func New(log *slog.Logger, reg prometheus.Registerer) *Supervisor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{log: log, pause: time.Second, panics: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ops.Namespace, Subsystem: "loop", Name: "panics_total",
		Help: "Panics of a background loop; each is logged, and the loop starts again.",
	}, []string{"loop"})}
	if reg != nil {
		reg.MustRegister(s.panics)
	}
	return s
}

// Run runs fn until it returns, and returns what it returned; when fn
// panics, Run logs and counts it and runs fn again after a pause, until
// ctx is cancelled.
func (s *Supervisor) Run(ctx context.Context, name string, fn func(context.Context) error) error {
	for {
		err := s.once(ctx, name, fn)
		var pe *fault.PanicError
		if !errors.As(err, &pe) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.pause):
		}
	}
}

// Go runs fn under the guard and reports nothing, for a loop that has no
// error to return.
func (s *Supervisor) Go(ctx context.Context, name string, fn func(context.Context)) {
	_ = s.Run(ctx, name, func(ctx context.Context) error { fn(ctx); return nil })
}

func (s *Supervisor) once(ctx context.Context, name string, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Caught(r, debug.Stack())
			s.panics.WithLabelValues(name).Inc()
			s.log.Error("loop panicked; starting it again", "loop", name, "err", err, "pause", s.pause)
		}
	}()
	return fn(ctx)
}
