package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/pkg/feeds"
)

// FeedBucket holds each site's newest entries, one key per site. It is
// the source of truth the index page and feeds are rendered from; a
// revision check serialises writers in every process.
const FeedBucket = "pressline_feeds"

type feedState struct {
	kv   jetstream.KeyValue
	size int
}

type siteEntries struct {
	Entries []feeds.Entry `json:"entries"`
}

func openFeedState(ctx context.Context, js jetstream.JetStream, replicas, size int) (*feedState, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: FeedBucket, Description: "Each site's newest articles, for its index page and feeds.",
		Storage: jetstream.FileStorage, Replicas: replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("publish: bucket %s: %w", FeedBucket, err)
	}
	return &feedState{kv: kv, size: size}, nil
}

// upsert puts an article's entry on its site's list, replacing an older
// version's; the newest first publications lead.
func (f *feedState) upsert(ctx context.Context, site string, e feeds.Entry) error {
	return f.change(ctx, site, func(list []feeds.Entry) []feeds.Entry {
		i := slices.IndexFunc(list, func(o feeds.Entry) bool { return o.ID == e.ID })
		switch {
		case i >= 0 && list[i].Version > e.Version:
			return list // a redelivered older version
		case i >= 0:
			list[i] = e
		default:
			list = append(list, e)
		}
		slices.SortStableFunc(list, func(a, b feeds.Entry) int { return b.Published.Compare(a.Published) })
		return list[:min(len(list), f.size)]
	})
}

// remove takes an article off its site's list.
func (f *feedState) remove(ctx context.Context, site, id string) error {
	return f.change(ctx, site, func(list []feeds.Entry) []feeds.Entry {
		return slices.DeleteFunc(list, func(o feeds.Entry) bool { return o.ID == id })
	})
}

func (f *feedState) change(ctx context.Context, site string, edit func([]feeds.Entry) []feeds.Entry) error {
	for attempt := 0; ; attempt++ {
		list, rev, err := f.get(ctx, site)
		if err != nil {
			return err
		}
		data, err := json.Marshal(siteEntries{Entries: edit(list)})
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = f.kv.Create(ctx, site, data)
		} else {
			_, err = f.kv.Update(ctx, site, data, rev)
		}
		if err == nil {
			return nil
		}
		var apiErr *jetstream.APIError
		conflict := errors.Is(err, jetstream.ErrKeyExists) ||
			(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence)
		if !conflict || attempt >= 20 {
			return fmt.Errorf("feed %s: %w", site, err)
		}
	}
}

func (f *feedState) get(ctx context.Context, site string) ([]feeds.Entry, uint64, error) {
	e, err := f.kv.Get(ctx, site)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("feed %s: %w", site, err)
	}
	var se siteEntries
	if err := json.Unmarshal(e.Value(), &se); err != nil {
		return nil, 0, fmt.Errorf("feed %s: %w", site, err)
	}
	return se.Entries, e.Revision(), nil
}

// renderFeeds rewrites a site's index page, feeds and sitemap whenever its
// list changes, after FeedDelay to gather a burst into one rewrite. The
// watch starts with every site's current list, so a process that stopped
// between a change and its rewrite catches up when it starts; and every
// process renders the newest revision it saw last, so concurrent
// processes end on the same files.
func (s *Service) renderFeeds(ctx context.Context) error {
	w, err := s.feeds.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("publish: watch %s: %w", FeedBucket, err)
	}
	defer func() { _ = w.Stop() }()
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
			dirty[e.Key()] = true
			if timer == nil {
				timer = time.After(s.cfg.FeedDelay)
			}
		case <-timer:
			timer = nil
			for site := range dirty {
				if err := s.renderSite(ctx, site); err != nil {
					s.metrics.feeds.WithLabelValues("error").Inc()
					s.log.Warn("feeds not rendered; will retry", "site", site, "err", err)
					timer = time.After(time.Second)
					continue
				}
				s.metrics.feeds.WithLabelValues("ok").Inc()
				delete(dirty, site)
			}
		}
	}
}

func (s *Service) renderSite(ctx context.Context, site string) error {
	entries, _, err := s.feeds.get(ctx, site)
	if err != nil {
		return err
	}
	files, err := feeds.All(feeds.Site{Name: site, Title: site, URL: s.siteURL(site), Language: languageOf(entries)}, entries, s.now())
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.cfg.Blobs.Put(ctx, PublicPrefix+site+"/"+f.Name, f.Data, f.ContentType); err != nil {
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
