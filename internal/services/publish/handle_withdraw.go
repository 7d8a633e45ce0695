package publish

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/pkg/events"
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
	// Every page the article ever had comes down, whatever version wrote
	// it; downstream hears of it on the sites it is live on.
	sites := s.sitesOf(status.PublishedURLs(st), ref.GetSites())
	for _, site := range sites {
		if err := s.takeDown(ctx, st, ref.GetId(), site); err != nil {
			return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
		}
	}
	for _, site := range s.sitesOf(st.GetUrls(), nil) {
		if err := s.tellWithdrawn(ctx, ref, st, site, now); err != nil {
			return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
		}
	}
	// Its photos' files go when no other article uses them; before the
	// status says withdrawn, so that a retry still does it.
	removed, err := s.cfg.Refs.Release(ctx, ref.GetId())
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
	}
	detail := "withdrawn"
	if ev.GetReason() != "" {
		detail += ": " + ev.GetReason()
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Withdrawn, Detail: detail}); err != nil {
		return fmt.Errorf("withdraw %s: %w", ref.GetId(), err)
	}
	m.Log.Info("withdrawn", "sites", sites, "photos_removed", len(removed))
	return nil
}

// takeDown removes the article's page and ninjs on site, and its entry
// in the site's index and feeds.
func (s *Service) takeDown(ctx context.Context, st *pb.ArticleStatus, id, site string) error {
	if prefix, ok := s.keyOf(s.urlOn(st, site)); ok {
		for _, key := range []string{prefix + layout.PageFile, prefix + layout.NinjsFile} {
			if err := s.cfg.Blobs.Delete(ctx, key); err != nil {
				return err
			}
		}
	}
	return s.feeds.remove(ctx, site, id)
}

// tellWithdrawn sends downstream sites the article's withdrawal from
// site, once for this version.
func (s *Service) tellWithdrawn(ctx context.Context, ref *pb.ArticleRef, st *pb.ArticleStatus, site string, now time.Time) error {
	out := &pb.ArticlePublished{Article: downstream(ref), Kind: events.Withdrawn.Proto(), Site: site,
		Url: s.urlOn(st, site), PublishedAt: timestamppb.New(now)}
	return s.cfg.Bus.Publish(ctx, layout.SiteSubject(site, events.Withdrawn), bus.MsgID(ref, "withdrawn/"+site), ref, out)
}

// sitesOf is the sites of urls, then those of more not among them.
func (s *Service) sitesOf(urls []string, more []string) []string {
	var out []string
	for _, u := range urls {
		if site, ok := s.siteOf(u); ok && !slices.Contains(out, site) {
			out = append(out, site)
		}
	}
	for _, site := range more {
		if !slices.Contains(out, site) {
			out = append(out, site)
		}
	}
	return out
}
