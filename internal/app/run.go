package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/internal/services/publish"
)

// Runner is a service, or any part of a process, that runs until its
// context is cancelled and then finishes cleanly.
type Runner struct {
	Name string
	Run  func(ctx context.Context) error
}

// Ops serves /metrics, /healthz and /readyz for the process.
func (p *Process) Ops() Runner {
	checks := map[string]ops.Check{
		"nats": func(context.Context) error {
			if !p.NATS.IsConnected() {
				return fmt.Errorf("not connected (%s)", p.NATS.Status())
			}
			return nil
		},
		"jetstream": p.Bus.Ping,
		"s3":        p.Blobs.Ping,
	}
	return p.httpRunner("ops", p.Config.OpsAddr, ops.Handler(p.Registry, checks))
}

// Site serves what was published, as a CDN would in production.
func (p *Process) Site() Runner {
	return p.httpRunner("site", p.Config.SiteAddr, publish.SiteHandler(p.Blobs, p.Log))
}

func (p *Process) httpRunner(name, addr string, h http.Handler) Runner {
	return Runner{Name: name, Run: func(ctx context.Context) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen %s: %w", name, addr, err)
		}
		return ops.Serve(ctx, l, h, p.Log, p.httpLimits())
	}}
}

// httpLimits are every HTTP server's bounds on what one client holds.
func (p *Process) httpLimits() ops.Limits {
	lim := ops.DefaultLimits()
	lim.MaxConns, lim.MinBodyRate = p.Config.MaxConnections, p.Config.MinBodyRate
	return lim
}

// RunAll runs every runner until ctx is cancelled or one fails; a failure
// stops the others. It returns when all have finished.
func RunAll(ctx context.Context, log *slog.Logger, runners []Runner) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", r.Name, err)
				log.Error("stopped", "service", r.Name, "err", err)
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Pipeline is a process's services running in the background, as a test
// or a benchmark drives them.
type Pipeline struct {
	*Process
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start connects, builds the named services with extra runners beside
// them, and runs them until Stop. With ingest among them, it returns once
// the API listens.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger, names []string, extra ...func(*Process) Runner) (*Pipeline, error) {
	p, err := Connect(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	runners, err := p.Build(ctx, names)
	if err != nil {
		p.Close()
		return nil, err
	}
	for _, x := range extra {
		runners = append(runners, x(p))
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pl := &Pipeline{Process: p, cancel: cancel, done: make(chan error, 1)}
	go func() { pl.done <- RunAll(rctx, log, runners) }()
	for deadline := time.Now().Add(10 * time.Second); slices.Contains(names, "ingest"); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", cfg.HTTPAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = pl.Stop()
			return nil, fmt.Errorf("the ingest API did not start listening on %s", cfg.HTTPAddr)
		}
	}
	return pl, nil
}

// Stop shuts the pipeline down as SIGTERM does: in-flight work finishes,
// then the connections close.
// Stopping twice is stopping once.
func (p *Pipeline) Stop() error {
	p.once.Do(func() {
		p.cancel()
		p.err = <-p.done
		p.Close()
	})
	return p.err
}
