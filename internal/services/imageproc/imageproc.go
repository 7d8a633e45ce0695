// Package imageproc is the stage that makes web renditions of every image
// in an article (see pkg/imaging), stores them content-addressed under
// public/media/<sha256>/, attaches them to the image blocks, and emits
// pressline.article.media_ready. An image that cannot be had or is
// refused is left out with a warning; the article still goes on.
package imageproc

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/imaging"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/internal/status"
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
		MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error)
	}
	fetcher interface {
		Get(ctx context.Context, url string) ([]byte, string, error)
	}
	mediaRefs interface {
		Use(ctx context.Context, sum, article string) error
	}
)

// Stage is this stage's name.
const Stage = "imageproc"

// Config holds the stage's dependencies.
type Config struct {
	Bus     eventBus
	Blobs   claimcheck.Store
	Status  statusRecorder
	Fetcher fetcher
	// Refs records which articles use each photo, so that its files
	// stay while one does.
	Refs      mediaRefs
	Processor *imaging.Processor
	Consumer  bus.ConsumerConfig
	// FetchAttempts is how many deliveries an image URL that does not
	// answer gets before the image is left out (with a warning) and the
	// article goes on: a dead link must not hold an article for the
	// minutes the stage's own retries last. 3 when zero.
	FetchAttempts int
	// MaxImages is the most images one article gets renditions for
	// (body, galleries and embed thumbnails, from any input); the rest
	// are left out with one warning. 100 when zero.
	MaxImages   int
	InlineLimit int
	Log         *slog.Logger
	Registerer  prometheus.Registerer
}

// Service is the imageproc stage.
type Service struct {
	cfg    Config
	images *prometheus.CounterVec
}

// New builds the stage.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.Fetcher == nil || cfg.Refs == nil || cfg.Processor == nil {
		return nil, errors.New("imageproc: Bus, Blobs, Status, Fetcher, Refs and Processor are required")
	}
	if cfg.FetchAttempts <= 0 {
		cfg.FetchAttempts = 3
	}
	if cfg.MaxImages <= 0 {
		cfg.MaxImages = 100
	}
	cfg.Consumer.Stage, cfg.Consumer.Subject = Stage, layout.SubjectCleaned
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	s := &Service{cfg: cfg, images: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ops.Namespace, Subsystem: "imageproc", Name: "images_total",
		Help: "Images handled, by outcome: rendered, reused (same source seen before), refused (limits, corrupt, unsupported), unreachable, no_source, over_limit (past the article's --max-article-images).",
	}, []string{"outcome"})}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.images)
	}
	return s, nil
}

// Run consumes until ctx is cancelled, then finishes in-flight articles.
func (s *Service) Run(ctx context.Context) error {
	return s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handleCleaned)
}
