package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// ErrIndexNotReady means the index is still reading the bucket after it
// started: a list now would miss articles.
var ErrIndexNotReady = errors.New("the article index is still reading the status bucket")

// Index keeps in memory which articles each newsroom has, with their
// state, so a list is a walk of a tree and a read of the page's records,
// not a scan of every key of the bucket. It follows the bucket (a watch:
// every record's last value, then each write), so it adds no write to
// the pipeline. Build it with Store.NewIndex and Run it.
type Index struct {
	store *Store
	ready atomic.Bool
	mu    sync.RWMutex
	byID  map[string]*indexed
	// newsroom's articles, newest id first (ids sort by time).
	newsrooms map[string]*btree.BTreeG[*indexed]
}

// indexed is what a list filters on.
type indexed struct {
	id, newsroom, state string
	received            time.Time
	// What the list filters on: the title folded to lower case, the
	// warnings' codes, the sites.
	title           string
	warnings, sites []string
}

// matches reports whether n is one of f's.
func (n *indexed) matches(f Filter, title string) bool {
	return (f.State == "" || n.state == f.State) && (f.Since.IsZero() || !n.received.Before(f.Since)) &&
		(title == "" || strings.Contains(n.title, title)) &&
		(f.Warning == "" || slices.Contains(n.warnings, f.Warning)) && (f.Site == "" || slices.Contains(n.sites, f.Site))
}

// NewIndex returns an index of the store's bucket; it is empty until Run
// has read the bucket.
func (s *Store) NewIndex() *Index {
	return &Index{store: s, byID: map[string]*indexed{}, newsrooms: map[string]*btree.BTreeG[*indexed]{}}
}

// Ready reports whether the index has read every record the bucket held
// when Run started.
func (x *Index) Ready() bool { return x.ready.Load() }

// Run follows the bucket until ctx ends, and returns why it stopped
// (nil when ctx ended).
func (x *Index) Run(ctx context.Context) error {
	w, err := x.store.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("status index: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("status index: the watch ended")
			}
			if e == nil {
				x.ready.Store(true) // every record there was has been read
				continue
			}
			x.apply(e)
		}
	}
}

func (x *Index) apply(e jetstream.KeyValueEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.byID[e.Key()]
	if e.Operation() != jetstream.KeyValuePut {
		if old != nil {
			x.newsrooms[old.newsroom].Delete(old)
			delete(x.byID, e.Key())
		}
		return
	}
	st := &pb.ArticleStatus{}
	if proto.Unmarshal(e.Value(), st) != nil {
		return // not a record of this schema: the list cannot show it
	}
	n := &indexed{id: e.Key(), newsroom: st.GetArticle().GetNewsroom(), state: st.GetState(), received: st.GetArticle().GetReceivedAt().AsTime(),
		title: strings.ToLower(st.GetTitle()), sites: st.GetArticle().GetSites()}
	for _, w := range st.GetWarnings() {
		n.warnings = append(n.warnings, w.GetCode())
	}
	if old != nil {
		x.newsrooms[old.newsroom].Delete(old)
	}
	t := x.newsrooms[n.newsroom]
	if t == nil {
		t = btree.NewG(32, func(a, b *indexed) bool { return a.id > b.id })
		x.newsrooms[n.newsroom] = t
	}
	x.byID[n.id] = n
	t.ReplaceOrInsert(n)
}

// List returns the newsroom's articles that match f, newest first, and
// the token of the next page ("" when there is none).
func (x *Index) List(ctx context.Context, f Filter) ([]*pb.ArticleStatus, string, error) {
	if !x.Ready() {
		return nil, "", ErrIndexNotReady
	}
	var ids []string
	more := false
	title := strings.ToLower(strings.TrimSpace(f.Title))
	x.mu.RLock()
	if t := x.newsrooms[f.Newsroom]; t != nil {
		visit := func(n *indexed) bool {
			if !n.matches(f, title) {
				return true
			}
			if len(ids) == f.Limit {
				more = true
				return false
			}
			ids = append(ids, n.id)
			return true
		}
		if f.Before == "" {
			t.Ascend(visit)
		} else {
			t.AscendGreaterOrEqual(&indexed{id: f.Before}, func(n *indexed) bool { return n.id == f.Before || visit(n) })
		}
	}
	x.mu.RUnlock()

	// The page's records, read a few at a time: they are the truth, the
	// index only says which to read.
	out := make([]*pb.ArticleStatus, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			st, _, err := x.store.get(gctx, id)
			out[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, "", err
	}
	page := out[:0]
	for _, st := range out {
		if st != nil {
			page = append(page, st)
		}
	}
	if !more || len(ids) == 0 {
		return page, "", nil
	}
	return page, ids[len(ids)-1], nil
}
