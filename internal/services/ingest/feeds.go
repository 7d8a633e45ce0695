package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mmcdole/gofeed"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/safefetch"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// feedFetcher is the conditional GET the poller needs.
type feedFetcher interface {
	GetIf(ctx context.Context, url string, v safefetch.Validators) (safefetch.Response, error)
}

// FeedPoller polls one newsroom feed; it remembers the feed's validators
// between polls, so an unchanged feed costs one 304.
type FeedPoller struct {
	s        *Service
	newsroom config.Newsroom
	feed     config.Feed
	mu       sync.Mutex
	v        safefetch.Validators
}

// Poller returns the poller of a newsroom's feed.
func (s *Service) Poller(nr config.Newsroom, f config.Feed) *FeedPoller {
	return &FeedPoller{s: s, newsroom: nr, feed: f}
}

func (s *Service) runFeeds(ctx context.Context) {
	if s.cfg.Feeds == nil {
		return
	}
	var wg sync.WaitGroup
	for _, nr := range s.cfg.Newsrooms {
		for _, f := range nr.Feeds {
			p := s.Poller(nr, f)
			wg.Go(func() {
				s.cfg.Supervisor.Go(ctx, "ingest-feed", func(ctx context.Context) {
					t := time.NewTicker(f.Every)
					defer t.Stop()
					for {
						if n, err := p.Poll(ctx); err != nil && !errors.Is(err, context.Canceled) {
							s.log.Warn("feed", "newsroom", nr.Name, "url", f.URL, "err", err, "ingested", n)
						}
						select {
						case <-ctx.Done():
							return
						case <-t.C:
						}
					}
				})
			})
		}
	}
	wg.Wait()
}

// Poll fetches the feed and ingests each item it has not ingested yet,
// or whose content changed (as a correction), keyed by the item's guid
// as the newsroom's External-Id. It returns how many items it sent.
func (p *FeedPoller) Poll(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	resp, err := p.s.cfg.Feeds.GetIf(ctx, p.feed.URL, p.v)
	if errors.Is(err, safefetch.ErrNotModified) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	parsed, err := gofeed.NewParser().Parse(bytes.NewReader(resp.Body))
	if err != nil {
		return 0, fmt.Errorf("parse: %w", err)
	}
	sent := 0
	for _, item := range parsed.Items {
		id := item.GUID
		if id == "" {
			id = item.Link
		}
		if id == "" {
			continue // nothing names it: it could not be told from the next
		}
		a := &submission{body: []byte(itemHTML(item)), contentType: "text/html; charset=utf-8"}
		if u, err := url.Parse(item.Link); err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") {
			a.location = u.String() // the item's own page: its relative links resolve there
		}
		tgt, err := p.s.resolve(ctx, refs.External, "feed:"+p.feed.URL+"#"+id, p.newsroom.Name, a)
		var no *refusal
		if errors.As(err, &no) {
			p.s.log.Warn("feed item refused", "newsroom", p.newsroom.Name, "guid", id, "reason", no.Detail)
			continue
		}
		if err != nil {
			return sent, err
		}
		if tgt.repeat {
			continue
		}
		ref := &pb.ArticleRef{Id: tgt.id, Version: tgt.version, Newsroom: p.newsroom.Name, Sites: p.newsroom.Sites, ReceivedAt: timestamppb.New(p.s.now())}
		if _, err := p.s.accept(ctx, ref, a); err != nil {
			// The validators are kept: the next poll fetches again, and
			// an item stored already goes out once (same id, same
			// message id).
			return sent, err
		}
		sent++
	}
	p.v = resp.Validators // only once every item is safely in
	return sent, nil
}

// itemHTML makes a page of a feed item for the cleaner: its title,
// author and time where the cleaner reads them, then its content.
func itemHTML(item *gofeed.Item) string {
	var b strings.Builder
	b.WriteString("<article><h1>" + html.EscapeString(item.Title) + "</h1>\n")
	if item.PublishedParsed != nil {
		b.WriteString(`<time datetime="` + item.PublishedParsed.Format(time.RFC3339) + `"></time>` + "\n")
	}
	for _, a := range item.Authors {
		if a != nil && a.Name != "" {
			b.WriteString(`<p class="byline">By ` + html.EscapeString(a.Name) + "</p>\n")
		}
	}
	content := item.Content
	if content == "" {
		content = item.Description
	}
	b.WriteString(content)
	b.WriteString("\n</article>\n")
	return b.String()
}
