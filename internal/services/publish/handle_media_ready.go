package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/feeds"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/render"
	"github.com/pressline/pressline/internal/slug"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/tracing"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (s *Service) handleMediaReady(ctx context.Context, m *bus.Msg) error {
	var ev pb.MediaReady
	if err := proto.Unmarshal(m.Data, &ev); err != nil {
		return fault.Permanent(fmt.Errorf("publish %s: decode event: %w", m.ArticleID, err))
	}
	ref := ev.GetArticle()
	// Its revision too: publish's own write at the end needs no read
	// before it unless someone wrote in between.
	st, rev, err := s.cfg.Status.GetRevision(ctx, ref.GetId())
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	switch current := st.GetArticle().GetVersion(); {
	case current > ref.GetVersion():
		// A newer version (a correction, a withdrawal) was sent after
		// this one: publishing this would bring back what it replaced.
		return s.recordEarlierPages(ctx, m, ref, &ev, st)
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
	if ref.GetEmbargoUntil() != nil {
		if err := s.releaseMedia(ctx, &article); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
	}
	kind := events.Published
	first := firstPublished(st)
	if !first.IsZero() {
		kind = events.Updated
	} else {
		first = now
	}
	var urls []string
	for _, site := range ref.GetSites() {
		url := s.pageURL(st, site, &article, ref)
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
		// The page and its ninjs are written at once; the feed entry,
		// which links to the page, only once both are there, so a site's
		// index never links to a page that is not.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return s.cfg.Blobs.Put(gctx, prefix+layout.NinjsFile, ninjs, "application/json") })
		g.Go(func() error { return s.cfg.Blobs.Put(gctx, prefix+layout.PageFile, page, "text/html; charset=utf-8") })
		if err := g.Wait(); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		if err := s.feeds.upsert(ctx, site, entryOf(&article, meta)); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		if err := s.tellPublished(ctx, ref, kind, site, url, ninjs, &article, now); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		urls = append(urls, url)
	}
	// A correction that no longer names a site takes the article down
	// there, as a withdrawal from that site would. The status's urls are
	// the pages up now (an older version's late pages included), so a
	// site dropped by an earlier correction is not taken down again.
	for _, site := range s.sitesOf(st.GetUrls(), nil) {
		if slices.Contains(ref.GetSites(), site) {
			continue
		}
		if err := s.takeDown(ctx, st, ref.GetId(), site); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		if err := s.tellWithdrawn(ctx, ref, st, site, now); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
	}
	if err := s.cfg.Status.RecordOn(ctx, st, rev, ref, status.Step{Stage: Stage, State: status.Published, URLs: urls, Detail: string(kind)}); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	tracing.Observe(ctx, s.metrics.latency, now.Sub(ref.GetReceivedAt().AsTime()).Seconds())
	m.Log.Info(string(kind), "urls", urls)
	return nil
}

// pageURL is where the article's page on site is: where it already is
// (an article keeps its URL across corrections), or made from its title.
func (s *Service) pageURL(st *pb.ArticleStatus, site string, a *pb.Article, ref *pb.ArticleRef) string {
	if url := s.urlOn(st, site); url != "" {
		return url
	}
	return s.articleURL(site, slug.WithID(slug.Make(a.GetTitle()), ref.GetId()))
}

// releaseMedia makes public the photos of an article that was under
// embargo: imageproc kept their renditions held (layout.Held) so that
// nothing of it was public before its time. A file already public (the
// same photo in an article published before) is left as it is.
func (s *Service) releaseMedia(ctx context.Context, a *pb.Article) error {
	var media []*pb.Media
	for _, b := range a.GetBlocks() {
		media = append(media, b.GetImage().GetMedia(), b.GetEmbed().GetThumbnailMedia())
		for _, img := range b.GetGallery().GetImages() {
			media = append(media, img.GetMedia())
		}
	}
	for _, m := range media {
		if m == nil {
			continue
		}
		var keys []string
		for _, r := range append(slices.Clone(m.GetRenditions()), m.GetCrops()...) {
			keys = append(keys, r.GetKey())
		}
		// The index last: its presence says every file is there.
		for _, key := range append(keys, layout.MediaIndex(m.GetSha256())) {
			if _, err := s.cfg.Blobs.Stat(ctx, key); err == nil {
				continue
			} else if !errors.Is(err, blob.ErrNotFound) {
				return err
			}
			if err := s.cfg.Blobs.Copy(ctx, key, layout.Held(key)); err != nil {
				return err
			}
		}
	}
	return nil
}

// tellPublished sends downstream sites the article's page on site, once
// for this version.
func (s *Service) tellPublished(ctx context.Context, ref *pb.ArticleRef, kind events.Kind, site, url string, ninjs []byte, a *pb.Article, now time.Time) error {
	prefix, _ := s.keyOf(url)
	out := &pb.ArticlePublished{Article: downstream(ref), Kind: kind.Proto(), Site: site, Url: url, NinjsUrl: url + layout.NinjsFile,
		NinjsKey: prefix + layout.NinjsFile, HtmlKey: prefix + layout.PageFile,
		PublishedAt: timestamppb.New(now), Title: a.GetTitle(),
		Section: a.GetSection(), Subjects: a.GetSubjects(), Keywords: a.GetKeywords()}
	if len(ninjs) <= maxEventNinjs {
		out.Ninjs = string(ninjs)
	}
	return s.cfg.Bus.Publish(ctx, layout.SiteSubject(site, kind), bus.MsgID(ref, "published/"+site), ref, out)
}

// downstream is what a site event says of the article: what was sent
// with it (upload names, the storage keys of the originals) stays inside.
func downstream(ref *pb.ArticleRef) *pb.ArticleRef {
	out := proto.Clone(ref).(*pb.ArticleRef)
	out.Uploads = nil
	return out
}

// recordEarlierPages handles a version that a newer one overtook. An
// earlier attempt at it may have put its pages up and then failed (the
// process killed, the status write lost) before the newer version was
// recorded: those pages are online, and what takes the article down
// finds pages in its status. So each page this version would have
// written that holds this version is recorded, and downstream is told
// of it (again: the stream drops an event it already has).
func (s *Service) recordEarlierPages(ctx context.Context, m *bus.Msg, ref *pb.ArticleRef, ev *pb.MediaReady, st *pb.ArticleStatus) error {
	var article pb.Article
	if err := claimcheck.OpenMessage(ctx, s.cfg.Blobs, ev.GetContent(), &article); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	kind := events.Published
	if !firstPublished(st).IsZero() {
		kind = events.Updated
	}
	var urls []string
	for _, site := range ref.GetSites() {
		url := s.pageURL(st, site, &article, ref)
		prefix, _ := s.keyOf(url)
		ninjs, err := s.cfg.Blobs.Get(ctx, prefix+layout.NinjsFile)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		var doc struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(ninjs, &doc) != nil || doc.Version != strconv.FormatUint(uint64(ref.GetVersion()), 10) {
			continue // another version's page
		}
		if err := s.tellPublished(ctx, ref, kind, site, url, ninjs, &article, s.now()); err != nil {
			return fmt.Errorf("publish %s: %w", ref.GetId(), err)
		}
		urls = append(urls, url)
	}
	if len(urls) == 0 {
		m.Log.Info("stale version skipped", "current", st.GetArticle().GetVersion())
		return nil
	}
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: Stage, State: status.Published, URLs: urls, Detail: string(kind)}); err != nil {
		return fmt.Errorf("publish %s: %w", ref.GetId(), err)
	}
	m.Log.Warn("a stale version's pages, put up by an earlier attempt, recorded", "current", st.GetArticle().GetVersion(), "urls", urls)
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

// maxEventNinjs bounds the ninjs document an event carries inline; NATS
// messages end at 1 MiB, and a larger document is a fetch away.
const maxEventNinjs = 256 << 10

// maxFeedContent bounds the body a feed entry carries: entries are
// key-value records, and NATS messages end at 1 MiB.
const maxFeedContent = 256 << 10

// entryOf is what a site's feeds say of an article.
func entryOf(a *pb.Article, m render.Meta) feeds.Entry {
	e := feeds.Entry{ID: m.ID, Version: m.Version, URL: m.URL, Title: a.GetTitle(), Summary: a.GetLead(),
		Kicker: a.GetKicker(), Language: a.GetLanguage(), Published: m.FirstPublished, Updated: m.Published}
	// The whole body, for readers that show articles in full; a body too
	// large for the feed's key-value entry is left to the page.
	if body := render.BodyHTML(a, m); len(body) <= maxFeedContent {
		e.Content = body
	}
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
