package clean

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/claimcheck"
	"github.com/pressline/pressline/pkg/cleaner"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (s *Service) handleReceived(ctx context.Context, m *bus.Msg) error {
	var ev pb.ArticleReceived
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("clean %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	original, err := claimcheck.Open(ctx, s.cfg.Blobs, ev.GetOriginal())
	if err != nil {
		return fmt.Errorf("clean %s: original: %w", ref.GetId(), err)
	}
	article, err := cleaner.Clean(original, cleaner.Options{Location: s.cfg.Location})
	if err != nil {
		// The same bytes will fail the same way: no retry.
		return fault.Permanent(fmt.Errorf("clean %s: %w", ref.GetId(), err))
	}
	data, err := proto.Marshal(article)
	if err != nil {
		return fault.Permanent(fmt.Errorf("clean %s: encode: %w", ref.GetId(), err))
	}
	key := fmt.Sprintf("articles/%s/v%d/cleaned.pb", ref.GetId(), ref.GetVersion())
	payload, err := claimcheck.Pack(ctx, s.cfg.Blobs, key, data, "application/protobuf", s.cfg.InlineLimit)
	if err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	out := &pb.ArticleCleaned{Article: ref, Content: payload}
	if err := s.cfg.Bus.Publish(ctx, bus.SubjectCleaned, bus.MsgID(ref, "cleaned"), ref, out); err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	detail := fmt.Sprintf("%q: %d blocks", article.GetTitle(), len(article.GetBlocks()))
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Cleaned, Detail: detail, Warnings: article.GetWarnings()}); err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	m.Log.Info("cleaned", "title", article.GetTitle(), "blocks", len(article.GetBlocks()))
	return nil
}
