// Package publish is the last stage. It renders each article version as
// an IPTC ninjs document and an HTML page for every site the newsroom
// publishes to, keeps each site's index page, feeds and news sitemap up
// to date, holds embargoed articles until their time, takes withdrawn
// articles down, and tells downstream sites: events on
// pressline.site.<site>.<published|updated|withdrawn>, and signed webhooks.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/render"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

type (
	eventBus interface {
		Publish(ctx context.Context, subject, msgID string, ref *pb.ArticleRef, m proto.Message) error
		Consume(ctx context.Context, cfg bus.ConsumerConfig, h bus.Handler) error
	}
	statusRecorder interface {
		Record(ctx context.Context, ref *pb.ArticleRef, step status.Step) error
		Get(ctx context.Context, id string) (*pb.ArticleStatus, error)
		MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error)
	}
	blobStore interface {
		Put(ctx context.Context, key string, data []byte, contentType string) error
		Get(ctx context.Context, key string) ([]byte, error)
		Delete(ctx context.Context, key string) error
	}
)

// Stage is this stage's name.
const Stage = "publish"

// PublicPrefix is where everything readers may see is stored.
const PublicPrefix = "public/"

// Config holds the stage's dependencies.
type Config struct {
	Bus    eventBus
	Blobs  blobStore
	Status statusRecorder
	// JetStream holds the stage's own state: each site's feed entries and
	// the embargoed articles waiting for their time.
	JetStream jetstream.JetStream
	Replicas  int // of those buckets
	Consumer  bus.ConsumerConfig
	SiteURL   string // public base URL; a site's pages are under SiteURL/<site>/
	// FeedSize is how many articles a site's index and feeds list.
	FeedSize int
	// FeedDelay gathers changes before a site's feeds are rewritten, so a
	// burst of articles costs one rewrite, not one each.
	FeedDelay time.Duration
	// EmbargoTick is how often held articles are checked for release.
	EmbargoTick time.Duration
	Webhooks    []config.Webhook
	// WebhookClient sends webhooks; a *safefetch.Client keeps them off
	// loopback, private and metadata addresses. Refused says whether an
	// error was such a refusal, which no retry can change.
	WebhookClient webhook.Doer
	Refused       func(error) bool
	// Tracing makes a span for each webhook attempt; nil makes none.
	Tracing    trace.TracerProvider
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

// Service is the publish stage.
type Service struct {
	cfg      Config
	log      *slog.Logger
	renderer *render.Renderer
	feeds    *feedState
	held     jetstream.KeyValue
	hooks    []*subscriber
	metrics  metrics
	tracer   trace.Tracer
	now      func() time.Time
	// markersPurged is when prune last cleared old delete markers; only
	// renderFeeds's goroutine uses it.
	markersPurged time.Time
}

type metrics struct {
	latency    prometheus.Histogram
	feeds      *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	attempts   *prometheus.HistogramVec
}

// New builds the stage and opens its buckets.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.JetStream == nil || cfg.SiteURL == "" {
		return nil, errors.New("publish: Bus, Blobs, Status, JetStream and SiteURL are required")
	}
	if len(cfg.Webhooks) > 0 && cfg.WebhookClient == nil {
		return nil, errors.New("publish: webhooks need a WebhookClient")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.FeedSize <= 0 {
		cfg.FeedSize = 100
	}
	if cfg.FeedDelay <= 0 {
		cfg.FeedDelay = 500 * time.Millisecond
	}
	if cfg.EmbargoTick <= 0 {
		cfg.EmbargoTick = time.Second
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	r, err := render.New()
	if err != nil {
		return nil, err
	}
	cfg.SiteURL = strings.TrimSuffix(cfg.SiteURL, "/")
	cfg.Consumer.Stage, cfg.Consumer.Subject = Stage, ""
	// Publications and withdrawals of one article go through one ordered
	// lane, so a withdrawal can never be overtaken by the version it
	// takes down.
	cfg.Consumer.Subjects = []string{bus.SubjectMediaReady, bus.SubjectWithdraw}
	cfg.Consumer.Ordered = true
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	if cfg.Tracing == nil {
		cfg.Tracing = noop.NewTracerProvider()
	}
	s := &Service{cfg: cfg, log: cfg.Log, renderer: r, now: time.Now, tracer: cfg.Tracing.Tracer("github.com/pressline/pressline/services/publish")}
	if s.feeds, err = openFeedState(ctx, cfg.JetStream, cfg.Replicas); err != nil {
		return nil, err
	}
	if s.held, err = openHeld(ctx, cfg.JetStream, cfg.Replicas); err != nil {
		return nil, err
	}
	for _, w := range cfg.Webhooks {
		sub, err := newSubscriber(w)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		s.hooks = append(s.hooks, sub)
	}
	s.metrics = newMetrics()
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.metrics.latency, s.metrics.feeds, s.metrics.deliveries, s.metrics.attempts)
	}
	return s, nil
}

func newMetrics() metrics {
	return metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "pressline", Subsystem: "pipeline", Name: "ingest_to_published_seconds",
			Help:    "Time from an article version's acceptance at ingest to its publication.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		feeds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pressline", Subsystem: "publish", Name: "feed_renders_total",
			Help: "Rewrites of a site's index page, feeds and sitemap, by outcome (ok, error).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "pressline", Subsystem: "webhook", Name: "deliveries_total",
			Help: "Webhook delivery attempts by subscriber and outcome: delivered, retry (will be tried again), failed (a dead letter).",
		}, []string{"subscriber", "outcome"}),
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "pressline", Subsystem: "webhook", Name: "attempt_duration_seconds",
			Help:    "Time of one webhook POST, answered or not.",
			Buckets: prometheus.DefBuckets,
		}, []string{"subscriber"}),
	}
}

// Run consumes articles to publish and withdrawals, renders feeds, releases
// embargoed articles and delivers webhooks until ctx is cancelled, then
// finishes what is in flight.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := []func(context.Context) error{
		func(ctx context.Context) error { return s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handle) },
		s.renderFeeds,
		s.releaseHeld,
	}
	for _, sub := range s.hooks {
		parts = append(parts, func(ctx context.Context) error {
			return s.cfg.Bus.Consume(ctx, sub.consumer(s.cfg.Consumer), s.deliver(ctx, sub))
		})
	}
	errc := make(chan error, len(parts))
	for _, run := range parts {
		go func() {
			err := run(ctx)
			cancel() // one part stopping stops the rest
			errc <- err
		}()
	}
	var errs []error
	for range parts {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// handle routes the stage's one ordered consumer.
func (s *Service) handle(ctx context.Context, m *bus.Msg) error {
	if m.Subject == bus.SubjectWithdraw {
		return s.handleWithdraw(ctx, m)
	}
	return s.handleMediaReady(ctx, m)
}

// siteURL is the public URL of a site's home.
func (s *Service) siteURL(site string) string { return s.cfg.SiteURL + "/" + site + "/" }

// articleURL is the public URL of an article page: the site, then a slug
// of the title with the id.
func (s *Service) articleURL(site, slugID string) string {
	return s.siteURL(site) + "articles/" + slugID + "/"
}

// keyOf is where the page at a public URL is stored.
func (s *Service) keyOf(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, s.cfg.SiteURL+"/")
	return PublicPrefix + rest, ok
}

// urlOn finds the URL an article already has on a site: corrections keep
// it, so links people shared still work when a title changes.
func (s *Service) urlOn(st *pb.ArticleStatus, site string) string {
	for _, u := range st.GetUrls() {
		if strings.HasPrefix(u, s.siteURL(site)+"articles/") {
			return u
		}
	}
	return ""
}
