package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/feeds"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/layout"
)

// FeedBucket holds the entries sites' feeds are rendered from, one key
// per article and site (<site>.<id>). One small key each, rather than a
// list per site, means publications never contend for a key and a change
// writes a few hundred bytes, not the whole list.
const FeedBucket = "pressline_feeds"

type feedState struct {
	kv *kvstore.Bucket
}

func openFeedState(ctx context.Context, js jetstream.JetStream, replicas int) (*feedState, error) {
	kv, err := kvstore.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket: FeedBucket, Description: "Each site's articles as its index page and feeds list them.",
		Storage: jetstream.FileStorage, Replicas: replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return &feedState{kv: kv}, nil
}

func feedKey(site, id string) string { return site + "." + id }

// upsert puts an article version's entry on its site. The stage's
// ordered lanes and its stale-version check mean the last write is the
// newest version.
func (f *feedState) upsert(ctx context.Context, site string, e feeds.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := f.kv.Put(ctx, feedKey(site, e.ID), data); err != nil {
		return fmt.Errorf("feed %s: %w", site, err)
	}
	return nil
}

// remove takes an article off its site.
func (f *feedState) remove(ctx context.Context, site, id string) error {
	if err := f.kv.Delete(ctx, feedKey(site, id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("feed %s: %w", site, err)
	}
	return nil
}

// renderFeeds rewrites a site's index page, feeds and sitemap whenever its
// entries change, after FeedDelay to gather a burst into one rewrite. It
// keeps every site's entries in memory from a watch of the bucket, which
// starts with all current values: a process that stopped between a
// change and its rewrite catches up when it starts, and every process
// renders the newest state it saw last, so concurrent processes end on
// the same files. Entries far below a site's newest FeedSize are deleted,
// which bounds the bucket and the memory.
func (s *Service) renderFeeds(ctx context.Context) error {
	w, err := s.feeds.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("publish: watch %s: %w", FeedBucket, err)
	}
	defer func() { _ = w.Stop() }()
	sites := map[string]map[string]feeds.Entry{}
	dirty := map[string]bool{}
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil // the watch ends with ctx
				}
				return errors.New("publish: feed watch closed")
			}
			if e == nil { // the initial values are all in
				continue
			}
			site, id, ok := strings.Cut(e.Key(), ".")
			if !ok {
				continue
			}
			if sites[site] == nil {
				sites[site] = map[string]feeds.Entry{}
			}
			var entry feeds.Entry
			if e.Operation() != jetstream.KeyValuePut {
				delete(sites[site], id)
			} else if err := json.Unmarshal(e.Value(), &entry); err == nil {
				sites[site][id] = entry
			}
			dirty[site] = true
			if timer == nil {
				timer = time.After(s.cfg.FeedDelay)
			}
		case <-timer:
			timer = nil
			for site := range dirty {
				entries := newestFirst(sites[site])
				if err := s.renderSite(ctx, site, entries[:min(len(entries), s.cfg.FeedSize)]); err != nil {
					s.metrics.feeds.WithLabelValues("error").Inc()
					s.log.Warn("feeds not rendered; will retry", "site", site, "err", err)
					timer = time.After(time.Second)
					continue
				}
				s.metrics.feeds.WithLabelValues("ok").Inc()
				delete(dirty, site)
				s.prune(ctx, site, entries)
			}
		}
	}
}

func newestFirst(m map[string]feeds.Entry) []feeds.Entry {
	out := make([]feeds.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b feeds.Entry) int {
		if c := b.Published.Compare(a.Published); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// prune deletes a site's entries once there are half as many again as it
// lists, keeping the newest FeedSize; deleting in batches keeps the
// bucket's tombstones few.
func (s *Service) prune(ctx context.Context, site string, entries []feeds.Entry) {
	if len(entries) <= s.cfg.FeedSize*3/2 {
		return
	}
	for _, e := range entries[s.cfg.FeedSize:] {
		if err := s.feeds.kv.Purge(ctx, feedKey(site, e.ID)); err != nil {
			s.log.Warn("feed entry not pruned", "site", site, "article_id", e.ID, "err", err)
		}
	}
	// Purging leaves a marker per key; old markers go too, so that the
	// watch at start-up does not replay years of them. Finding them reads
	// the whole bucket, so at most every ten minutes.
	if s.now().Sub(s.markersPurged) < 10*time.Minute {
		return
	}
	s.markersPurged = s.now()
	if err := s.feeds.kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(time.Hour)); err != nil {
		s.log.Warn("feed markers not purged", "err", err)
	}
}

func (s *Service) renderSite(ctx context.Context, site string, entries []feeds.Entry) error {
	files, err := feeds.All(feeds.Site{Name: site, Title: site, URL: s.siteURL(site), Language: languageOf(entries)}, entries, s.now())
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.cfg.Blobs.Put(ctx, layout.SiteFile(site, f.Name), f.Data, f.ContentType); err != nil {
			return err
		}
	}
	return nil
}

// languageOf is the language most of a site's entries are in.
func languageOf(entries []feeds.Entry) string {
	count := map[string]int{}
	best := ""
	for _, e := range entries {
		count[e.Language]++
		if e.Language != "" && count[e.Language] > count[best] {
			best = e.Language
		}
	}
	return best
}
