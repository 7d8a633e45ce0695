package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/config"
)

// cmdRun runs the named services against external NATS and S3.
func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	l, fs, err := parseConfig("run", args, fmt.Sprintf("pressline run [flags] SERVICE...\nservices: %v", app.Services))
	if err != nil {
		return err
	}
	cfg, err := l.Load(true)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	names := fs.Args()
	if len(names) == 0 {
		return fmt.Errorf("name the services to run: %v", app.Services)
	}
	for _, n := range names {
		if !slices.Contains(app.Services, n) {
			return fmt.Errorf("unknown service %q; choose from %v", n, app.Services)
		}
	}
	if !l.Given("service-name") {
		cfg.ServiceName = "pressline-" + strings.Join(names, "-")
	}
	log := app.NewLogger(cfg.LogFormat, stderr)
	setMemoryLimit(log)
	p, err := app.Connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	runners, err := p.Build(ctx, names)
	if err != nil {
		return err
	}
	runners = append(runners, p.Ops())
	log.Info("running", "services", names, "pid", os.Getpid(), "ops", cfg.OpsAddr)
	return app.RunAll(ctx, log, runners)
}

// cmdDev runs the whole pipeline in one process on embedded NATS and S3.
func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	l, _, err := parseConfig("dev", args, "pressline dev [flags]")
	if err != nil {
		return err
	}
	cfg, err := l.Load(false)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if !l.Given("log-format") {
		cfg.LogFormat = "text" // a person reads it
	}
	log := app.NewLogger(cfg.LogFormat, stderr)
	setMemoryLimit(log)
	return app.Dev(ctx, cfg, log, stdout)
}

// parseConfig reads a command's flags, with PRESSLINE_* variables behind
// them; each command loads what it needs of them.
func parseConfig(name string, args []string, usage string) (*config.Loader, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	l := config.Bind(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return l, fs, nil
}

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's (its cgroup's), unless GOMEMLIMIT says otherwise: without
// one the collector lets the heap double past the last live size and a
// spike (a large page, a burst of photos) ends in the kernel's OOM kill
// instead of an earlier collection.
func setMemoryLimit(log *slog.Logger) {
	limit, err := memlimit.Set(memlimit.WithRatio(0.9), memlimit.WithProvider(memlimit.FromCgroup))
	switch {
	case err != nil && !errors.Is(err, memlimit.ErrCgroupsNotSupported) && !errors.Is(err, memlimit.ErrNoCgroup):
		log.Warn("memory limit not set from the cgroup", "err", err)
	case err == nil && limit > 0 && limit < math.MaxInt64:
		log.Info("memory limit", "bytes", limit)
	}
}
