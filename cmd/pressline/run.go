package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pressline/pressline/pkg/config"
)

// cmdRun runs the named services against external NATS and S3.
func cmdRun(ctx context.Context, args []string) error {
	cfg, fs, err := parseConfig("run", args, fmt.Sprintf("pressline run [flags] SERVICE...\nservices: %v", allServices))
	if err != nil {
		return err
	}
	if err := cfg.Validate(true); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	names := fs.Args()
	if len(names) == 0 {
		return fmt.Errorf("name the services to run: %v", allServices)
	}
	for _, n := range names {
		if !slices.Contains(allServices, n) {
			return fmt.Errorf("unknown service %q; choose from %v", n, allServices)
		}
	}
	if cfg.ServiceName == "pressline" {
		cfg.ServiceName = "pressline-" + strings.Join(names, "-")
	}
	log := newLogger(cfg.LogFormat)
	d, err := connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	runners, err := d.build(ctx, names)
	if err != nil {
		return err
	}
	runners = append(runners, d.opsRunner(cfg.OpsAddr))
	log.Info("running", "services", names, "pid", os.Getpid(), "ops", cfg.OpsAddr)
	return runAll(ctx, log, runners)
}

// parseConfig reads a command's flags, with PRESSLINE_* variables behind
// them; it does not validate, as each command needs different settings.
func parseConfig(name string, args []string, usage string) (*config.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cfg config.Config
	envErr := cfg.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\n", usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return &cfg, fs, envErr
}
