// Package clean is the stage that turns an original, as the newsroom sent
// it, into a structured Article (see pkg/cleaner), stores the cleaned
// article's JSON document beside the original, and emits
// pressline.article.cleaned.
package clean

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/layout"
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
		RecordKept(ctx context.Context, ref *pb.ArticleRef, step status.Step) (*pb.ArticleStatus, uint64, error)
		MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error)
	}
)

// Stage is this stage's name in consumers, metrics, logs and status.
const Stage = "clean"

// Config holds the stage's dependencies.
type Config struct {
	Bus         eventBus
	Blobs       claimcheck.Store
	Status      statusRecorder
	Consumer    bus.ConsumerConfig // Stage and Subject are filled in
	InlineLimit int
	Cleaner     *cleaner.Cleaner // the newsroom's house rules, compiled
	Log         *slog.Logger
}

// Service is the clean stage.
type Service struct{ cfg Config }

// New builds the stage.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil || cfg.Cleaner == nil {
		return nil, errors.New("clean: Bus, Blobs, Status and Cleaner are required")
	}
	cfg.Consumer.Stage, cfg.Consumer.Subject = Stage, layout.SubjectReceived
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	return &Service{cfg: cfg}, nil
}

// Run consumes until ctx is cancelled, then finishes in-flight articles.
func (s *Service) Run(ctx context.Context) error {
	return s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handleReceived)
}
