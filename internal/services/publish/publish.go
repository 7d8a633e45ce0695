// Package publish is the last stage. It renders each article version as
// an IPTC ninjs document and an HTML page for every site the newsroom
// publishes to, keeps each site's index page, feeds and news sitemap up
// to date, holds embargoed articles until their time, takes withdrawn
// articles down, and tells downstream sites with events on
// pressline.site.<site>.<published|updated|withdrawn> (pkg/events), which
// the notify service turns into webhooks.
package publish

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/internal/render"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/supervise"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

type (
	eventBus interface {
		Publish(ctx context.Context, subject, msgID string, ref *pb.ArticleRef, m proto.Message) error
		Consume(ctx context.Context, cfg bus.ConsumerConfig, h bus.Handler) error
	}
	statusRecorder interface {
		Record(ctx context.Context, ref *pb.ArticleRef, step status.Step) error
		RecordOn(ctx context.Context, st *pb.ArticleStatus, rev uint64, ref *pb.ArticleRef, step status.Step) error
		Get(ctx context.Context, id string) (*pb.ArticleStatus, error)
		GetRevision(ctx context.Context, id string) (*pb.ArticleStatus, uint64, error)
		MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error)
	}
	blobStore interface {
		Put(ctx context.Context, key string, data []byte, contentType string) error
		Get(ctx context.Context, key string) ([]byte, error)
		Delete(ctx context.Context, key string) error
		Stat(ctx context.Context, key string) (blob.Info, error)
		Copy(ctx context.Context, dst, src string) error
	}
	mediaRefs interface {
		Release(ctx context.Context, article string) (removed []string, err error)
	}
)

// Stage is this stage's name.
const Stage = "publish"

// Config holds the stage's dependencies.
type Config struct {
	Bus    eventBus
	Blobs  blobStore
	Status statusRecorder
	// Refs gives up a withdrawn article's photos, removing the files of
	// those no other article uses.
	Refs mediaRefs
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
	Log         *slog.Logger
	Registerer  prometheus.Registerer
	// Supervisor restarts the feed renderer and the embargo release when
	// they panic; one of its own, with an unexported metric, when nil.
	Supervisor *supervise.Supervisor
}

// LeaseBucket holds publish's leases; feedsLease is the one for writing
// the sites' feeds, which one process does at a time. A holder that
// stops without giving it up is replaced after leaseTTL.
const (
	LeaseBucket = "pressline_leases"
	feedsLease  = "publish-feeds"
	leaseTTL    = 15 * time.Second
)

// Service is the publish stage.
type Service struct {
	cfg      Config
	log      *slog.Logger
	renderer *render.Renderer
	feeds    *feedState
	held     *kvstore.Bucket
	leases   *kvstore.Leases
	owner    string // this process, as a lease holder
	metrics  metrics
	now      func() time.Time
	// markersPurged is when prune last cleared old delete markers; only
	// renderFeeds's goroutine uses it.
	markersPurged time.Time
}

type metrics struct {
	latency prometheus.Histogram
	feeds   *prometheus.CounterVec
}

// New builds the stage and opens its buckets.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.Refs == nil || cfg.JetStream == nil || cfg.SiteURL == "" {
		return nil, errors.New("publish: Bus, Blobs, Status, Refs, JetStream and SiteURL are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Supervisor == nil {
		cfg.Supervisor = supervise.New(cfg.Log, nil)
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
	// Publications and withdrawals of one article go through one
	// partition, handled one message at a time over all publish
	// processes, so a withdrawal can never be overtaken by the version
	// it takes down, nor a correction by the version it corrects.
	cfg.Consumer.Partitions, cfg.Consumer.PartitionSubjects = layout.PublishPartitions, layout.PublishSubjects
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	s := &Service{cfg: cfg, log: cfg.Log, renderer: r, now: time.Now}
	if s.feeds, err = openFeedState(ctx, cfg.JetStream, cfg.Replicas); err != nil {
		return nil, err
	}
	if s.held, err = openHeld(ctx, cfg.JetStream, cfg.Replicas); err != nil {
		return nil, err
	}
	if s.leases, err = kvstore.OpenLeases(ctx, cfg.JetStream, LeaseBucket, cfg.Replicas, leaseTTL, cfg.Log.Warn); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	host, _ := os.Hostname()
	s.owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
	s.metrics = newMetrics()
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.metrics.latency, s.metrics.feeds)
	}
	return s, nil
}

func newMetrics() metrics {
	return metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ops.Namespace, Subsystem: "pipeline", Name: "ingest_to_published_seconds",
			Help:    "Time from an article version's acceptance at ingest to its publication.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		feeds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ops.Namespace, Subsystem: "publish", Name: "feed_renders_total",
			Help: "Rewrites of a site's index page, feeds and sitemap, by outcome (ok, error).",
		}, []string{"outcome"}),
	}
}

// Run consumes articles to publish and withdrawals, renders feeds and
// releases embargoed articles until ctx is cancelled, then finishes what
// is in flight.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The consumer guards its handler itself (the bus); the loops run
	// under the supervisor.
	parts := []func(context.Context) error{
		func(ctx context.Context) error { return s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handle) },
		// One process at a time writes the sites' feeds: every one
		// writing the same files would race to an older state.
		func(ctx context.Context) error {
			return s.leases.Hold(ctx, feedsLease, s.owner, func(ctx context.Context) error {
				return s.cfg.Supervisor.Run(ctx, "publish-feeds", s.renderFeeds)
			})
		},
		func(ctx context.Context) error { return s.cfg.Supervisor.Run(ctx, "publish-embargo", s.releaseHeld) },
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
	if layout.IsWithdraw(m.Subject) {
		return s.handleWithdraw(ctx, m)
	}
	return s.handleMediaReady(ctx, m)
}

// siteURL is the public URL of a site's home.
func (s *Service) siteURL(site string) string { return s.cfg.SiteURL + "/" + layout.SitePath(site) }

// articleURL is the public URL of an article page: the site, then a slug
// of the title with the id.
func (s *Service) articleURL(site, slugID string) string {
	return s.cfg.SiteURL + "/" + layout.ArticlePath(site, slugID)
}

// keyOf is where the files of the page at a public URL are stored.
func (s *Service) keyOf(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, s.cfg.SiteURL+"/")
	return layout.Public(rest), ok
}

// urlOn finds the URL an article already has on a site: corrections keep
// it, so links people shared still work when a title changes.
func (s *Service) urlOn(st *pb.ArticleStatus, site string) string {
	for _, u := range status.PublishedURLs(st) {
		if strings.HasPrefix(u, s.cfg.SiteURL+"/"+layout.ArticlesPath(site)) {
			return u
		}
	}
	return ""
}

// siteOf is the site an article URL of this service is on.
func (s *Service) siteOf(url string) (string, bool) {
	rest, ok := strings.CutPrefix(url, s.cfg.SiteURL+"/")
	if !ok {
		return "", false
	}
	return layout.ParseArticlePath(rest)
}
