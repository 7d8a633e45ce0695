// Package app wires Pressline's services into a process: it connects to
// NATS and S3, declares what Pressline keeps there, builds the services a
// process runs from its typed configuration, and runs them until the
// context ends. `pressline run`, `pressline dev` and `pressline bench` are
// this package with flags in front; the end-to-end and chaos tests beside
// it drive it directly.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/imaging"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/mediarefs"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/safefetch"
	"github.com/pressline/pressline/internal/services/clean"
	"github.com/pressline/pressline/internal/services/imageproc"
	"github.com/pressline/pressline/internal/services/ingest"
	"github.com/pressline/pressline/internal/services/notify"
	"github.com/pressline/pressline/internal/services/publish"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/supervise"
	"github.com/pressline/pressline/internal/tracing"
	"github.com/pressline/pressline/internal/webhooks"
)

// Services are every service, in pipeline order.
var Services = []string{"ingest", "clean", "imageproc", "publish", "notify"}

// Process holds the connections and shared state of one process; every
// service in the process uses the same ones.
type Process struct {
	Config   *config.Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	NATS     *nats.Conn
	Bus      *bus.Bus
	Blobs    *blob.Store
	Status   *status.Store
	Refs     *refs.Store
	// media is opened by the first service that needs it (imageproc,
	// publish): the others have no right to its buckets.
	media   *mediarefs.Refs
	hooks   *webhooks.Store // opened by ingest or notify, as media is
	hookLog *webhooks.Log
	metrics *bus.Metrics
	s3      *blob.Metrics
	tracing *tracing.Provider
	// loops guards the services' background loops, with one metric for
	// the process.
	loops *supervise.Supervisor
}

// RoundTrips are the requests a process has made so far: to S3 by
// operation, and the messages it sent to NATS (publishes, JetStream API
// requests, key-value writes, acknowledgements and pull requests alike).
type RoundTrips struct {
	S3   map[string]uint64
	NATS uint64
}

// RoundTrips counts what the process has sent so far.
func (p *Process) RoundTrips() RoundTrips {
	return RoundTrips{S3: p.s3.Requests(), NATS: p.NATS.Stats().OutMsgs}
}

// Sub is what was sent between an earlier count and this one.
func (r RoundTrips) Sub(earlier RoundTrips) RoundTrips {
	out := RoundTrips{S3: map[string]uint64{}, NATS: r.NATS - earlier.NATS}
	for op, n := range r.S3 {
		if d := n - earlier.S3[op]; d > 0 {
			out.S3[op] = d
		}
	}
	return out
}

// NewLogger logs as --log-format says, to w.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// NATSAuth are the connection options of cfg's NATS credentials.
func NATSAuth(cfg *config.Config) []nats.Option {
	var opts []nats.Option
	if cfg.NATSToken != "" {
		opts = append(opts, nats.Token(cfg.NATSToken))
	}
	if cfg.NATSUser != "" {
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword), nats.CustomInboxPrefix(InboxPrefix(cfg.NATSUser)))
	}
	return opts
}

// Connect reaches NATS and S3 and declares what Pressline keeps there.
func Connect(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Process, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	nc, err := nats.Connect(cfg.NATSURL, append(NATSAuth(cfg),
		nats.Name(cfg.ServiceName),
		nats.MaxReconnects(-1), // a restarting NATS must not end the process
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
		// A permission the server refuses comes back here, not as the
		// error of a call: it must be loud.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Error("nats", "err", err) }),
	)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	tp, err := tracing.New(ctx, tracing.Config{Endpoint: cfg.OTLPEndpoint, Service: cfg.ServiceName})
	if err != nil {
		nc.Close()
		return nil, err
	}
	p := &Process{Config: cfg, Log: log, Registry: reg, NATS: nc, metrics: bus.NewMetrics(reg), tracing: tp, loops: supervise.New(log, reg)}
	fail := func(err error) (*Process, error) {
		nc.Close()
		return nil, err
	}
	busCfg := bus.DefaultConfig()
	busCfg.Replicas = cfg.Replicas
	busCfg.Tracing = tp
	err = declare(ctx, log, "streams and buckets", func() (err error) {
		if p.Bus, err = bus.New(ctx, nc, busCfg, log, p.metrics); err != nil {
			return err
		}
		if p.Status, err = status.Open(ctx, p.Bus.JetStream(), cfg.Replicas); err != nil {
			return err
		}
		p.Refs, err = refs.Open(ctx, p.Bus.JetStream(), cfg.Replicas)
		return err
	})
	if err != nil {
		return fail(err)
	}
	p.s3 = blob.NewMetrics(reg)
	p.Blobs, err = blob.New(ctx, blob.Config{
		Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
		Bucket: cfg.S3Bucket, Region: cfg.S3Region, Secure: cfg.S3Secure, Metrics: p.s3,
	})
	if err != nil {
		return fail(fmt.Errorf("connect to S3 at %s: %w", cfg.S3Endpoint, err))
	}
	return p, nil
}

// Close flushes what the process published and its spans, and
// disconnects.
func (p *Process) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.tracing.Shutdown(ctx); err != nil {
		p.Log.Warn("traces not flushed", "err", err)
	}
	if err := p.NATS.Drain(); err != nil {
		p.Log.Warn("nats drain", "err", err)
	}
	for !p.NATS.IsClosed() {
		time.Sleep(10 * time.Millisecond)
	}
	p.Blobs.Close()
}

// consumer is the stages' consumer settings.
func (p *Process) consumer() bus.ConsumerConfig {
	return bus.ConsumerConfig{
		Workers: p.Config.Workers, MaxAttempts: p.Config.MaxAttempts, AckWait: p.Config.AckWait,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: time.Minute,
	}
}

// Build makes the named services.
func (p *Process) Build(ctx context.Context, names []string) ([]Runner, error) {
	cfg := p.Config
	var out []Runner
	for _, name := range names {
		log := p.Log.With("service", name)
		var r interface{ Run(context.Context) error }
		var err error
		switch name {
		case "ingest":
			if len(cfg.Newsrooms) == 0 {
				return nil, errors.New("ingest needs at least one newsroom: set --newsrooms (PRESSLINE_NEWSROOMS) to name:token:site[,site]")
			}
			hooks, hookLog, err := p.webhooks(ctx, log)
			if err != nil {
				return nil, err
			}
			r, err = ingest.New(ingest.Config{Addr: cfg.HTTPAddr, Bus: p.Bus, Blobs: p.Blobs, Status: p.Status, Articles: p.Status.NewIndex(), Refs: p.Refs,
				Operators: cfg.Operators, Webhooks: hooks, WebhookLog: hookLog, SiteURL: cfg.SiteURL, DeadLetters: p.Bus,
				Feeds:     safefetch.New(safefetch.Config{Allow: cfg.FetchAllow, MaxBytes: 10 << 20}),
				Newsrooms: cfg.Newsrooms, SiteReaders: cfg.SiteReaders, SiteEvents: p.Bus, InlineLimit: cfg.InlineLimit, MaxBodyBytes: cfg.MaxBodyBytes,
				MaxRequestBytes: cfg.MaxRequestBytes, MaxImages: cfg.MaxImages, MaxImageBytes: cfg.MaxImageBytes,
				HTTP:          p.httpLimits(),
				RatePerSecond: cfg.RatePerSecond, RateBurst: cfg.RateBurst,
				Log: log, Registerer: p.Registry, Tracing: p.tracing, Supervisor: p.loops})
		case "clean":
			var cl *cleaner.Cleaner
			if cl, err = cleaner.New(cfg.Cleaning()); err != nil {
				return nil, err
			}
			r, err = clean.New(clean.Config{Bus: p.Bus, Blobs: p.Blobs, Status: p.Status, Consumer: p.consumer(),
				InlineLimit: cfg.InlineLimit, Cleaner: cl, Log: log})
		case "imageproc":
			var proc *imaging.Processor
			if proc, err = ImageProcessor(cfg); err != nil {
				return nil, err
			}
			var media *mediarefs.Refs
			if media, err = p.mediaRefs(ctx, log); err != nil {
				return nil, err
			}
			r, err = imageproc.New(imageproc.Config{Bus: p.Bus, Blobs: p.Blobs, Status: p.Status, Refs: media, Consumer: p.consumer(),
				Fetcher: safefetch.New(safefetch.Config{Allow: cfg.FetchAllow}), Processor: proc,
				InlineLimit: cfg.InlineLimit, MaxImages: cfg.MaxArticleImages, Log: log, Registerer: p.Registry})
		case "publish":
			// publish opens its buckets before it registers its metrics,
			// so trying again registers nothing twice.
			var media *mediarefs.Refs
			if media, err = p.mediaRefs(ctx, log); err != nil {
				return nil, err
			}
			err = declare(ctx, log, "publish's buckets", func() (err error) {
				r, err = publish.New(ctx, publish.Config{Bus: p.Bus, Blobs: p.Blobs, Status: p.Status, Refs: media, Consumer: p.consumer(),
					JetStream: p.Bus.JetStream(), Replicas: cfg.Replicas, SiteURL: cfg.SiteURL, FeedSize: cfg.FeedSize,
					Log: log, Registerer: p.Registry, Supervisor: p.loops})
				return err
			})
		case "notify":
			hooks, hookLog, err := p.webhooks(ctx, log)
			if err != nil {
				return nil, err
			}
			r, err = notify.New(notify.Config{Bus: p.Bus, Subscribers: hooks, Attempts: hookLog, Webhooks: cfg.Webhooks, Consumer: p.consumer(),
				Client:  safefetch.New(safefetch.Config{Allow: cfg.FetchAllow, MaxBytes: 1 << 20, Timeout: 15 * time.Second, NoRedirects: true}),
				Refused: func(err error) bool { return errors.Is(err, safefetch.ErrRefused) },
				Tracing: p.tracing, Log: log, Registerer: p.Registry})
		default:
			return nil, fmt.Errorf("unknown service %q; choose from %s", name, strings.Join(Services, ", "))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Runner{Name: name, Run: r.Run})
	}
	return out, nil
}

// declareFor is how long a process keeps trying to declare its streams
// and buckets while JetStream is not answering, before it gives up.
const declareFor = 2 * time.Minute

// mediaRefs opens the photos' references once for the process.
func (p *Process) mediaRefs(ctx context.Context, log *slog.Logger) (*mediarefs.Refs, error) {
	if p.media != nil {
		return p.media, nil
	}
	err := declare(ctx, log, "the photos' references", func() (err error) {
		p.media, err = mediarefs.Open(ctx, p.Bus.JetStream(), p.Config.Replicas, p.Blobs, log.Warn)
		return err
	})
	return p.media, err
}

// webhooks opens the webhook subscribers' bucket and their delivery
// log once for the process.
func (p *Process) webhooks(ctx context.Context, log *slog.Logger) (*webhooks.Store, *webhooks.Log, error) {
	if p.hooks != nil {
		return p.hooks, p.hookLog, nil
	}
	err := declare(ctx, log, "the webhook subscribers", func() (err error) {
		if p.hookLog, err = webhooks.OpenLog(ctx, p.Bus.JetStream(), p.Config.Replicas, p.Config.WebhookLogRetention); err != nil {
			return err
		}
		p.hooks, err = webhooks.Open(ctx, p.Bus.JetStream(), p.Config.Replicas)
		return err
	})
	return p.hooks, p.hookLog, err
}

// declare runs fn, which declares streams or buckets, again while it
// fails with an error JetStream may get over (a timeout, no responders,
// no quorum yet): processes starting together on a cluster, or before
// it has a leader, wait for it rather than exit.
func declare(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	deadline := time.Now().Add(declareFor)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := fn()
		// A stream another process is making may not be found for a
		// moment on a cluster (seen in TestChaosCluster, two publish
		// processes starting together).
		retry := kvstore.Transient(err) || errors.Is(err, jetstream.ErrStreamNotFound)
		if err == nil || !retry || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		log.Warn("JetStream not ready; trying again", "declaring", what, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// ImageProcessor is the rendition maker the configuration describes.
func ImageProcessor(cfg *config.Config) (*imaging.Processor, error) {
	ic := imaging.Config{Widths: cfg.ImageWidths, MemoryBudget: cfg.ImageMemory}
	for _, f := range cfg.ImageFormats {
		ic.Formats = append(ic.Formats, imaging.Format(f))
	}
	return imaging.New(ic)
}
