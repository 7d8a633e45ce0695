// Package ingest is the newsroom-facing HTTP API. It authenticates the
// newsroom, checks the request, stores the original untouched in S3 and
// emits pressline.article.received. It answers 202 only once both the
// original and the event are durable.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/render"
	"github.com/pressline/pressline/internal/siteindex"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/supervise"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Interfaces are declared here, where they are used, and hold only what
// ingest calls.
type (
	publisher interface {
		Publish(ctx context.Context, subject, msgID string, ref *pb.ArticleRef, m proto.Message) error
	}
	blobStore interface {
		Put(ctx context.Context, key string, data []byte, contentType string) error
		PutReader(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
		PutWithMetadata(ctx context.Context, key string, data []byte, contentType string, meta map[string]string) error
		Get(ctx context.Context, key string) ([]byte, error)
		Stat(ctx context.Context, key string) (blob.Info, error)
		Delete(ctx context.Context, key string) error
		ListAfter(ctx context.Context, prefix, startAfter string) iter.Seq2[blob.Info, error]
	}
	refStore interface {
		Get(ctx context.Context, kind, newsroom, key string) (refs.Entry, uint64, bool, error)
		Put(ctx context.Context, kind, newsroom, key string, e refs.Entry, rev uint64) error
		NextVersion(ctx context.Context, articleID string, known uint32, withdrawal bool) (uint32, error)
	}
	statusStore interface {
		Record(ctx context.Context, ref *pb.ArticleRef, step status.Step) error
		RecordNew(ctx context.Context, ref *pb.ArticleRef, step status.Step) error
		Get(ctx context.Context, id string) (*pb.ArticleStatus, error)
	}
	// articleIndex lists a newsroom's articles (status.Index); Run
	// keeps it current.
	articleIndex interface {
		Run(ctx context.Context) error
		List(ctx context.Context, f status.Filter) ([]*pb.ArticleStatus, string, error)
	}
	// webhookStore keeps the webhook subscribers (webhooks.Store).
	webhookStore interface {
		Create(ctx context.Context, spec config.WebhookSpec) error
		Get(ctx context.Context, name string) (config.WebhookSpec, uint64, error)
		Change(ctx context.Context, name string, change func(*config.WebhookSpec) error) (config.WebhookSpec, error)
		Delete(ctx context.Context, name string) error
		List(ctx context.Context) ([]config.WebhookSpec, error)
	}
)

// Config holds the service's dependencies and limits.
type Config struct {
	Addr      string
	Bus       publisher
	Blobs     blobStore
	Status    statusStore
	Articles  articleIndex // the newsroom's list; required
	Refs      refStore     // newsroom keys to articles
	Feeds     feedFetcher  // fetches newsroom feeds; nil: feeds are not polled
	Newsrooms []config.Newsroom
	// SiteReaders may read their site's articles and changes;
	// SiteEvents serves them (nil: the content API answers 503).
	SiteReaders []config.SiteReader
	SiteEvents  siteEvents
	// Operators manage the webhook subscribers, kept in Webhooks.
	Operators []config.Operator
	Webhooks  webhookStore
	// DeadLetters are read for operators (nil: GET /v1/deadletters
	// answers 503).
	DeadLetters deadLetterStore
	// SiteURL is where the sites are published (publish's), for
	// previews' links and images.
	SiteURL string
	// WebhookLog is every delivery attempt notify made, which operators
	// read and redeliver from (nil: those answer 503).
	WebhookLog   webhookLog
	InlineLimit  int
	MaxBodyBytes int64 // the article itself
	// Multipart requests: the whole request, and the images in it.
	MaxRequestBytes int64
	MaxImages       int
	MaxImageBytes   int64
	// HTTP bounds what one client holds of the API's server.
	HTTP       ops.Limits
	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Tracing starts each request's trace (or continues the caller's,
	// from its traceparent header); nil makes no spans.
	Tracing trace.TracerProvider
	// Supervisor restarts the reconciler and the feed pollers when they
	// panic; one of its own, with an unexported metric, when nil.
	Supervisor *supervise.Supervisor
	// Reconcile is how often to look for originals stored without their
	// event (0: every minute); ReconcileGrace how old such an original
	// must be, so requests in progress are left alone (0: 30 s).
	Reconcile      time.Duration
	ReconcileGrace time.Duration
	// RatePerSecond and RateBurst limit each newsroom's writes
	// (submissions, withdrawals); 0 means no limit.
	RatePerSecond float64
	RateBurst     int
}

// Service is the ingest API.
type Service struct {
	cfg     Config
	limits  map[string]*rate.Limiter // by newsroom
	log     *slog.Logger
	tracer  trace.Tracer
	handler http.Handler
	metrics *metrics
	now     func() time.Time
	// index is what each site has online, for the content API.
	index *siteindex.Index
	// renderer makes the console's previews, as publish makes pages.
	renderer *render.Renderer
}

// New builds the service; it does not listen until Run.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.Articles == nil || cfg.Refs == nil || cfg.Webhooks == nil {
		return nil, errors.New("ingest: Bus, Blobs, Status, Articles, Refs and Webhooks are required")
	}
	if cfg.MaxBodyBytes <= 0 {
		return nil, errors.New("ingest: MaxBodyBytes must be positive")
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 200 << 20
	}
	if cfg.MaxImages <= 0 {
		cfg.MaxImages = 20
	}
	if cfg.MaxImageBytes <= 0 {
		cfg.MaxImageBytes = 50 << 20
	}
	if cfg.Reconcile <= 0 {
		cfg.Reconcile = time.Minute
	}
	if cfg.ReconcileGrace <= 0 {
		cfg.ReconcileGrace = 30 * time.Second
	}
	if cfg.Tracing == nil {
		cfg.Tracing = noop.NewTracerProvider()
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = supervise.New(cfg.Log, nil)
	}
	renderer, err := render.New()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Log, now: time.Now, metrics: newMetrics(cfg.Registerer), limits: map[string]*rate.Limiter{}, renderer: renderer,
		index:  siteindex.New(),
		tracer: cfg.Tracing.Tracer("github.com/pressline/pressline/internal/services/ingest")}
	if cfg.RatePerSecond > 0 {
		for _, nr := range cfg.Newsrooms {
			s.limits[nr.Name] = rate.NewLimiter(rate.Limit(cfg.RatePerSecond), max(1, cfg.RateBurst))
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the API, for tests and for embedding.
func (s *Service) Handler() http.Handler { return s.handler }

// Run serves the API on cfg.Addr and runs the reconciler until ctx is
// cancelled, then stops taking requests and lets those in progress
// finish.
func (s *Service) Run(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ingest: listen %s: %w", s.cfg.Addr, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.cfg.Supervisor.Go(ctx, "ingest-reconcile", s.reconcileLoop) })
	wg.Go(func() { s.runFeeds(ctx) })
	wg.Go(func() { s.cfg.Supervisor.Go(ctx, "ingest-article-index", s.followStatus) })
	if s.cfg.SiteEvents != nil {
		wg.Go(func() { s.cfg.Supervisor.Go(ctx, "ingest-site-index", s.followSites) })
	}
	err = ops.Serve(ctx, l, s.handler, s.log, s.cfg.HTTP)
	wg.Wait()
	return err
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "ingest", Name: "requests_total",
			Help: "Ingest API requests, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ops.Namespace, Subsystem: "ingest", Name: "request_duration_seconds",
			Help:    "Ingest API request duration, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}
