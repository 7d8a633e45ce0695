package publish

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// handleWithdraw takes an article's pages down on every site, takes it off
// the sites' indexes and feeds, and tells downstream sites.
func (s *Service) handleWithdraw(ctx context.Context, m *bus.Msg) error {
	var ev pb.Withdraw
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("withdraw %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	st, err := s.cfg.Status.Get(ctx, ref.GetId())
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
	}
	if st.GetArticle().GetVersion() == ref.GetVersion() && st.GetState() == status.Withdrawn {
		m.Log.Info("already withdrawn")
		return nil
	}
	now := s.now()
	for _, site := range ref.GetSites() {
		url := s.urlOn(st, site)
		if prefix, ok := s.keyOf(url); url != "" && ok {
			for _, key := range []string{prefix + "index.html", prefix + "ninjs.json"} {
				if err := s.cfg.Blobs.Delete(ctx, key); err != nil {
					return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
				}
			}
		}
		if err := s.feeds.remove(ctx, site, ref.GetId()); err != nil {
			return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
		}
		out := &pb.ArticlePublished{Article: ref, Kind: pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN, Site: site,
			Url: url, PublishedAt: timestamppb.New(now)}
		if err := s.cfg.Bus.Publish(ctx, bus.SiteSubject(site, "withdrawn"), bus.MsgID(ref, "withdrawn/"+site), ref, out); err != nil {
			return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
		}
	}
	detail := "withdrawn"
	if ev.GetReason() != "" {
		detail += ": " + ev.GetReason()
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Withdrawn, Detail: detail}); err != nil {
		return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
	}
	m.Log.Info("withdrawn", "sites", ref.GetSites())
	return nil
}
