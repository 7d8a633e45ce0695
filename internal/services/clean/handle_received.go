package clean

import (
	"context"
	"fmt"
	"mime"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
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
	format, charset := inputOf(ev.GetOriginal().GetContentType())
	article, err := s.cfg.Cleaner.CleanContext(ctx, cleaner.Input{Data: original, Format: format, Charset: charset, BaseURL: ev.GetContentLocation()})
	if err != nil {
		// The same bytes will fail the same way: no retry. An article
		// that outlasts the handler's time would outlast it again, at
		// the cost of every attempt's CPU: it is a dead letter at once,
		// for an operator to replay with a longer --ack-wait.
		return fault.Permanent(fmt.Errorf("clean %s: %w", ref.GetId(), err))
	}
	doc, err := cleaner.JSON(article)
	if err != nil {
		return fault.Permanent(fmt.Errorf("clean %s: render: %w", ref.GetId(), err))
	}
	// The document an editor can fetch and compare with `pressline clean`.
	if err := s.cfg.Blobs.Put(ctx, layout.CleanedJSON(ref.GetId(), ref.GetVersion()), doc, "application/json"); err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	data, err := proto.Marshal(article)
	if err != nil {
		return fault.Permanent(fmt.Errorf("clean %s: encode: %w", ref.GetId(), err))
	}
	payload, err := claimcheck.Pack(ctx, s.cfg.Blobs, layout.CleanedClaim(ref.GetId(), ref.GetVersion()), data, "application/protobuf", s.cfg.InlineLimit)
	if err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	detail := fmt.Sprintf("%q: %d blocks, %d warnings", article.GetTitle(), len(article.GetBlocks()), len(article.GetWarnings()))
	// The status first, then the event: imageproc writes its own step
	// as soon as the event comes, and the two would race. The event
	// carries the record as written, for imageproc to write on.
	st, rev, err := s.cfg.Status.RecordKept(ctx, ref, status.Step{Stage: Stage, State: status.Cleaned, Detail: detail, Warnings: article.GetWarnings(), Title: article.GetTitle()})
	if err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	out := &pb.ArticleCleaned{Article: ref, Content: payload, StatusRevision: rev}
	if out.Status, err = proto.Marshal(st); err != nil {
		return fault.Permanent(fmt.Errorf("clean %s: encode status: %w", ref.GetId(), err))
	}
	if err := s.cfg.Bus.Publish(ctx, layout.SubjectCleaned, bus.MsgID(ref, "cleaned"), ref, out); err != nil {
		return fmt.Errorf("clean %s: %w", ref.GetId(), err)
	}
	m.Log.Info("cleaned", "title", article.GetTitle(), "blocks", len(article.GetBlocks()), "warnings", len(article.GetWarnings()))
	return nil
}

// inputOf reads the cleaner's format and the declared charset from the
// Content-Type the newsroom sent.
func inputOf(contentType string) (cleaner.Format, string) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return cleaner.FormatAuto, ""
	}
	charset := params["charset"]
	switch {
	case mediaType == "text/plain":
		return cleaner.FormatText, charset
	case mediaType == "text/html" || mediaType == "application/xhtml+xml":
		return cleaner.FormatHTML, charset
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return cleaner.FormatNinjs, charset
	case mediaType == "text/markdown" || mediaType == "text/x-markdown":
		return cleaner.FormatMarkdown, charset
	}
	return cleaner.FormatAuto, charset
}
