package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/claimcheck"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/feeds"
	"github.com/pressline/pressline/pkg/render"
	"github.com/pressline/pressline/pkg/slug"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/tracing"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (s *Service) handleMediaReady(ctx context.Context, m *bus.Msg) error {
	var ev pb.MediaReady
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("publish %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	st, err := s.cfg.Status.Get(ctx, ref.GetId())
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	switch current := st.GetArticle().GetVersion(); {
	case current > ref.GetVersion():
		// A newer version (a correction, a withdrawal) was sent after
		// this one: publishing this would bring back what it replaced.
		m.Log.Info("stale version skipped", "current", current)
		return nil
	case current == ref.GetVersion() && st.GetState() == status.Published:
		// Redelivered after it was done: a second event or webhook for
		// the same version is exactly what downstream must never see.
		m.Log.Info("already published")
		return nil
	}
	now := s.now()
	if until := ref.GetEmbargoUntil(); until != nil && until.AsTime().After(now) {
		return s.hold(ctx, m, ref, until.AsTime())
	}
	var article pb.Article
	if err := claimcheck.OpenMessage(ctx, s.cfg.Blobs, ev.GetContent(), &article); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	if len(ref.GetSites()) == 0 {
		return fault.Permanent(fmt.Errorf("publish %s: newsroom %q publishes to no site", ref.GetId(), ref.GetNewsroom()))
	}
	kind, kindName := pb.PublicationKind_PUBLICATION_KIND_PUBLISHED, "published"
	first := firstPublished(st)
	if !first.IsZero() {
		kind, kindName = pb.PublicationKind_PUBLICATION_KIND_UPDATED, "updated"
	} else {
		first = now
	}
	var urls []string
	for _, site := range ref.GetSites() {
		url := s.urlOn(st, site)
		if url == "" {
			url = s.articleURL(site, slug.WithID(slug.Make(article.GetTitle()), ref.GetId()))
		}
		prefix, _ := s.keyOf(url)
		meta := render.Meta{ID: ref.GetId(), Version: ref.GetVersion(), Site: site, SiteTitle: site, URL: url,
			Received: ref.GetReceivedAt().AsTime(), Published: now, FirstPublished: first, PublicBase: s.cfg.SiteURL}
		ninjs, err := render.NinjsDoc(&article, meta)
		if err != nil {
			return fault.Permanent(err)
		}
		page, err := s.renderer.Page(&article, meta)
		if err != nil {
			return fault.Permanent(err)
		}
		// The three writes are independent: made at once, they cost one
		// round trip of the handler's time instead of three.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return s.cfg.Blobs.Put(gctx, prefix+"ninjs.json", ninjs, "application/json") })
		g.Go(func() error { return s.cfg.Blobs.Put(gctx, prefix+"index.html", page, "text/html; charset=utf-8") })
		g.Go(func() error { return s.feeds.upsert(gctx, site, entryOf(&article, meta)) })
		if err := g.Wait(); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		out := &pb.ArticlePublished{Article: ref, Kind: kind, Site: site, Url: url, NinjsUrl: url + "ninjs.json",
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
	tracing.Observe(ctx, s.metrics.latency, now.Sub(ref.GetReceivedAt().AsTime()).Seconds())
	m.Log.Info(kindName, "urls", urls)
	return nil
}

// firstPublished is when the article's first version went out, from its
// history; zero if it never did.
func firstPublished(st *pb.ArticleStatus) time.Time {
	for _, h := range st.GetHistory() {
		if h.GetStage() == Stage && h.GetState() == status.Published {
			return h.GetAt().AsTime()
		}
	}
	return time.Time{}
}

// entryOf is what a site's feeds say of an article.
func entryOf(a *pb.Article, m render.Meta) feeds.Entry {
	e := feeds.Entry{ID: m.ID, Version: m.Version, URL: m.URL, Title: a.GetTitle(), Summary: a.GetLead(),
		Kicker: a.GetKicker(), Language: a.GetLanguage(), Published: m.FirstPublished, Updated: m.Published}
	for i, b := range a.GetByline() {
		if i > 0 {
			e.By += ", "
		}
		e.By += b.GetName()
	}
	if img := render.Lead(a, m); img != nil {
		e.Image = &feeds.Image{URL: img.URL, Type: "image/jpeg", Width: img.Width, Height: img.Height, Bytes: img.Bytes, Alt: img.Alt}
	}
	return e
}
