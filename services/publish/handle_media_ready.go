package publish

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/claimcheck"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/render"
	"github.com/pressline/pressline/pkg/status"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (s *Service) handleMediaReady(ctx context.Context, m *bus.Msg) error {
	var ev pb.MediaReady
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("publish %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	// A newer version (a correction, a withdrawal) was sent after this
	// one: publishing this would bring back what it replaced.
	if st, err := s.cfg.Status.Get(ctx, ref.GetId()); err == nil && st.GetArticle().GetVersion() > ref.GetVersion() {
		m.Log.Info("stale version skipped", "current", st.GetArticle().GetVersion())
		return nil
	}
	var article pb.Article
	if err := claimcheck.OpenMessage(ctx, s.cfg.Blobs, ev.GetContent(), &article); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	if len(ref.GetSites()) == 0 {
		return fault.Permanent(fmt.Errorf("publish %s: newsroom %q publishes to no site", ref.GetId(), ref.GetNewsroom()))
	}
	now := s.now()
	kind, kindName := pb.PublicationKind_PUBLICATION_KIND_PUBLISHED, "published"
	if ref.GetVersion() > 1 {
		kind, kindName = pb.PublicationKind_PUBLICATION_KIND_UPDATED, "updated"
	}
	var urls []string
	for _, site := range ref.GetSites() {
		url := ArticleURL(s.cfg.SiteURL, site, ref.GetId())
		meta := render.Meta{ID: ref.GetId(), Version: ref.GetVersion(), Site: site, URL: url,
			Received: ref.GetReceivedAt().AsTime(), Published: now, PublicBase: s.cfg.SiteURL}
		ninjs, err := render.NinjsDoc(&article, meta)
		if err != nil {
			return fault.Permanent(err)
		}
		page, err := s.renderer.Page(&article, meta)
		if err != nil {
			return fault.Permanent(err)
		}
		prefix := articlePrefix(site, ref.GetId())
		if err := s.cfg.Blobs.Put(ctx, prefix+"ninjs.json", ninjs, "application/json"); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		if err := s.cfg.Blobs.Put(ctx, prefix+"index.html", page, "text/html; charset=utf-8"); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		out := &pb.ArticlePublished{Article: ref, Kind: kind, Site: site, Url: url,
			NinjsKey: prefix + "ninjs.json", HtmlKey: prefix + "index.html",
			PublishedAt: timestamppb.New(now), Title: article.GetTitle()}
		if err := s.cfg.Bus.Publish(ctx, bus.SiteSubject(site, kindName), bus.MsgID(ref, "published/"+site), ref, out); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		urls = append(urls, url)
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Published, URLs: urls, Detail: kindName}); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	s.latency.Observe(now.Sub(ref.GetReceivedAt().AsTime()).Seconds())
	m.Log.Info(kindName, "urls", urls)
	return nil
}
