package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/cleaner"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/imaging"
	"github.com/pressline/pressline/pkg/ops"
	"github.com/pressline/pressline/pkg/refs"
	"github.com/pressline/pressline/pkg/safefetch"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/tracing"
	"github.com/pressline/pressline/services/clean"
	"github.com/pressline/pressline/services/imageproc"
	"github.com/pressline/pressline/services/ingest"
	"github.com/pressline/pressline/services/publish"
)

// allServices in pipeline order.
var allServices = []string{"ingest", "clean", "imageproc", "publish"}

// deps are the connections and shared state of one process; every service
// in the process uses the same ones.
type deps struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	nc      *nats.Conn
	bus     *bus.Bus
	blobs   *blob.Store
	status  *status.Store
	refs    *refs.Store
	metrics *bus.Metrics
	tracing *tracing.Provider
}

func newLogger(format string) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// connect reaches NATS and S3 and declares what Pressline keeps there.
func connect(ctx context.Context, cfg *config.Config, log *slog.Logger) (*deps, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("pressline"),
		nats.MaxReconnects(-1), // a restarting NATS must not end the process
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	tp, err := tracing.New(ctx, tracing.Config{Endpoint: cfg.OTLPEndpoint, Service: cfg.ServiceName})
	if err != nil {
		nc.Close()
		return nil, err
	}
	d := &deps{cfg: cfg, log: log, reg: reg, nc: nc, metrics: bus.NewMetrics(reg), tracing: tp}
	busCfg := bus.DefaultConfig()
	busCfg.Replicas = cfg.Replicas
	busCfg.Tracing = tp
	if d.bus, err = bus.New(ctx, nc, busCfg, log, d.metrics); err != nil {
		nc.Close()
		return nil, err
	}
	if d.status, err = status.Open(ctx, d.bus.JetStream(), cfg.Replicas); err != nil {
		nc.Close()
		return nil, err
	}
	if d.refs, err = refs.Open(ctx, d.bus.JetStream(), cfg.Replicas); err != nil {
		nc.Close()
		return nil, err
	}
	d.blobs, err = blob.New(ctx, blob.Config{
		Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, Secure: cfg.S3Secure, Metrics: blob.NewMetrics(reg),
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to S3 at %s: %w", cfg.S3Endpoint, err)
	}
	return d, nil
}

// close flushes what the process published and its spans, and
// disconnects.
func (d *deps) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.tracing.Shutdown(ctx); err != nil {
		d.log.Warn("traces not flushed", "err", err)
	}
	if err := d.nc.Drain(); err != nil {
		d.log.Warn("nats drain", "err", err)
	}
	for !d.nc.IsClosed() {
		time.Sleep(10 * time.Millisecond)
	}
	d.blobs.Close()
}

func (d *deps) consumer() bus.ConsumerConfig {
	return bus.ConsumerConfig{
		Workers: d.cfg.Workers, MaxAttempts: d.cfg.MaxAttempts, AckWait: d.cfg.AckWait,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: time.Minute,
	}
}

// runner is a service, or any part of a process, that runs until its
// context is cancelled and then finishes cleanly.
type runner struct {
	name string
	run  func(ctx context.Context) error
}

// build makes the named services.
func (d *deps) build(ctx context.Context, names []string) ([]runner, error) {
	rules, err := loadHouseRules(d.cfg.HouseRules)
	if err != nil {
		return nil, err
	}
	if rules.TimeZone == "" {
		rules.TimeZone = d.cfg.TimeZone // the house rules' own zone wins
	}
	cl, err := cleaner.New(rules)
	if err != nil {
		return nil, err
	}
	var out []runner
	for _, name := range names {
		log := d.log.With("service", name)
		var r interface{ Run(context.Context) error }
		switch name {
		case "ingest":
			if len(d.cfg.Newsrooms) == 0 {
				return nil, errors.New("ingest needs at least one newsroom: set --newsrooms (PRESSLINE_NEWSROOMS) to name:token:site[,site]")
			}
			var allow []netip.Prefix
			if allow, err = safefetch.ParseAllow(d.cfg.FetchAllow); err != nil {
				return nil, err
			}
			r, err = ingest.New(ingest.Config{Addr: d.cfg.HTTPAddr, Bus: d.bus, Blobs: d.blobs, Status: d.status, Refs: d.refs,
				Feeds:     safefetch.New(safefetch.Config{Allow: allow, MaxBytes: 10 << 20}),
				Newsrooms: d.cfg.Newsrooms, InlineLimit: d.cfg.InlineLimit, MaxBodyBytes: d.cfg.MaxBodyBytes,
				MaxRequestBytes: d.cfg.MaxRequestBytes, MaxImages: d.cfg.MaxImages, MaxImageBytes: d.cfg.MaxImageBytes,
				RatePerSecond: d.cfg.RatePerSecond, RateBurst: d.cfg.RateBurst,
				Log: log, Registerer: d.reg, Tracing: d.tracing})
		case "clean":
			r, err = clean.New(clean.Config{Bus: d.bus, Blobs: d.blobs, Status: d.status, Consumer: d.consumer(),
				InlineLimit: d.cfg.InlineLimit, Cleaner: cl, Log: log})
		case "imageproc":
			var proc *imaging.Processor
			var allow []netip.Prefix
			if proc, err = d.imageProcessor(); err != nil {
				return nil, err
			}
			if allow, err = safefetch.ParseAllow(d.cfg.FetchAllow); err != nil {
				return nil, err
			}
			r, err = imageproc.New(imageproc.Config{Bus: d.bus, Blobs: d.blobs, Status: d.status, Consumer: d.consumer(),
				Fetcher: safefetch.New(safefetch.Config{Allow: allow}), Processor: proc,
				InlineLimit: d.cfg.InlineLimit, Log: log, Registerer: d.reg})
		case "publish":
			var allow []netip.Prefix
			if allow, err = safefetch.ParseAllow(d.cfg.FetchAllow); err != nil {
				return nil, err
			}
			r, err = publish.New(ctx, publish.Config{Bus: d.bus, Blobs: d.blobs, Status: d.status, Consumer: d.consumer(),
				JetStream: d.bus.JetStream(), Replicas: d.cfg.Replicas,
				SiteURL: d.cfg.SiteURL, FeedSize: d.cfg.FeedSize, Webhooks: d.cfg.Webhooks,
				WebhookClient: safefetch.New(safefetch.Config{Allow: allow, MaxBytes: 1 << 20, Timeout: 15 * time.Second}),
				Refused:       func(err error) bool { return errors.Is(err, safefetch.ErrRefused) },
				Tracing:       d.tracing, Log: log, Registerer: d.reg})
		default:
			return nil, fmt.Errorf("unknown service %q; choose from %s", name, strings.Join(allServices, ", "))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, runner{name: name, run: r.Run})
	}
	return out, nil
}

func (d *deps) imageProcessor() (*imaging.Processor, error) {
	var cfg imaging.Config
	for _, f := range strings.Split(d.cfg.ImageFormats, ",") {
		cfg.Formats = append(cfg.Formats, imaging.Format(strings.TrimSpace(f)))
	}
	for _, w := range strings.Split(d.cfg.ImageWidths, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(w)) // checked by Validate
		cfg.Widths = append(cfg.Widths, n)
	}
	return imaging.New(cfg)
}

// opsRunner serves /metrics, /healthz and /readyz for the process.
func (d *deps) opsRunner(addr string) runner {
	checks := map[string]ops.Check{
		"nats": func(context.Context) error {
			if !d.nc.IsConnected() {
				return fmt.Errorf("not connected (%s)", d.nc.Status())
			}
			return nil
		},
		"s3": d.blobs.Ping,
	}
	return httpRunner("ops", addr, ops.Handler(d.reg, checks), d.log)
}

func httpRunner(name, addr string, h http.Handler, log *slog.Logger) runner {
	return runner{name: name, run: func(ctx context.Context) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen %s: %w", name, addr, err)
		}
		return ops.Serve(ctx, l, h, log)
	}}
}

// runAll runs every runner until ctx is cancelled or one fails; a failure
// stops the others. It returns when all have finished.
func runAll(ctx context.Context, log *slog.Logger, runners []runner) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(runners))
	for i, r := range runners {
		wg.Go(func() {
			if err := r.run(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", r.name, err)
				log.Error("stopped", "service", r.name, "err", err)
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
