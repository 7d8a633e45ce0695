// Package publish is the last stage: it renders each article as an IPTC
// ninjs document and an HTML page, stores both under the public prefix in
// S3 for every site the newsroom publishes to, and tells downstream sites
// on pressline.site.<site>.<published|updated>.
package publish

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/render"
	"github.com/pressline/pressline/pkg/status"
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
	Bus        eventBus
	Blobs      blobStore
	Status     statusRecorder
	Consumer   bus.ConsumerConfig
	SiteURL    string // public base URL; pages are at SiteURL/<site>/articles/<id>/
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

// Service is the publish stage.
type Service struct {
	cfg      Config
	renderer *render.Renderer
	latency  prometheus.Histogram
	now      func() time.Time
}

// New builds the stage.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.SiteURL == "" {
		return nil, errors.New("publish: Bus, Blobs, Status and SiteURL are required")
	}
	r, err := render.New()
	if err != nil {
		return nil, err
	}
	cfg.SiteURL = strings.TrimSuffix(cfg.SiteURL, "/")
	cfg.Consumer.Stage, cfg.Consumer.Subject = Stage, bus.SubjectMediaReady
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	s := &Service{cfg: cfg, renderer: r, now: time.Now,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "pressline", Subsystem: "pipeline", Name: "ingest_to_published_seconds",
			Help:    "Time from an article version's acceptance at ingest to its publication.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.latency)
	}
	return s, nil
}

// Run consumes articles to publish and withdrawals until ctx is
// cancelled, then finishes what is in flight.
func (s *Service) Run(ctx context.Context) error {
	withdraw := s.cfg.Consumer
	withdraw.Stage, withdraw.Subject = Stage+"-withdraw", bus.SubjectWithdraw
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.cfg.Bus.Consume(ctx, withdraw, s.handleWithdraw) }()
	err := s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handleMediaReady)
	cancel() // one consumer stopping stops the other
	return errors.Join(err, <-errc)
}

// ArticleURL is the public URL of an article's page on a site.
func ArticleURL(siteURL, site, id string) string {
	return strings.TrimSuffix(siteURL, "/") + "/" + site + "/articles/" + id + "/"
}

func articlePrefix(site, id string) string {
	return PublicPrefix + site + "/articles/" + id + "/"
}
