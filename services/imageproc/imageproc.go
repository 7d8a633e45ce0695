// Package imageproc is the stage between clean and publish that will make
// web renditions of every image. At this step it makes none: it passes each
// article on as pressline.article.media_ready, and records in the status
// how many images went without renditions.
package imageproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/claimcheck"
	"github.com/pressline/pressline/pkg/fault"
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
		MarkFailed(stage string) func(ctx context.Context, m *bus.Msg, err error)
	}
)

// Stage is this stage's name.
const Stage = "imageproc"

// Config holds the stage's dependencies.
type Config struct {
	Bus      eventBus
	Blobs    claimcheck.Store
	Status   statusRecorder
	Consumer bus.ConsumerConfig
	Log      *slog.Logger
}

// Service is the imageproc stage.
type Service struct{ cfg Config }

// New builds the stage.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Blobs == nil || cfg.Status == nil {
		return nil, errors.New("imageproc: Bus, Blobs and Status are required")
	}
	cfg.Consumer.Stage, cfg.Consumer.Subject = Stage, bus.SubjectCleaned
	cfg.Consumer.OnGiveUp = cfg.Status.MarkFailed(Stage)
	return &Service{cfg: cfg}, nil
}

// Run consumes until ctx is cancelled, then finishes in-flight articles.
func (s *Service) Run(ctx context.Context) error {
	return s.cfg.Bus.Consume(ctx, s.cfg.Consumer, s.handleCleaned)
}

func (s *Service) handleCleaned(ctx context.Context, m *bus.Msg) error {
	var ev pb.ArticleCleaned
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("imageproc %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	var article pb.Article
	if err := claimcheck.OpenMessage(ctx, s.cfg.Blobs, ev.GetContent(), &article); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	images := 0
	for _, b := range article.GetBlocks() {
		if b.GetImage() != nil {
			images++
		}
	}
	// The content is unchanged, so the payload travels on as it came.
	out := &pb.MediaReady{Article: ref, Content: ev.GetContent()}
	if err := s.cfg.Bus.Publish(ctx, bus.SubjectMediaReady, bus.MsgID(ref, "media_ready"), ref, out); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	detail := "no images"
	if images > 0 {
		detail = fmt.Sprintf("%d images passed on without renditions (rendition making is not built yet)", images)
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.MediaReady, Detail: detail}); err != nil {
		return fmt.Errorf("imageproc %s: %w", ref.GetId(), err)
	}
	m.Log.Info("media ready", "images", images)
	return nil
}
