// Package siteindex keeps, in memory, which articles each site has online
// now: the content API's list and lookups read it. It is a projection of
// the sites' event stream (published, updated, withdrawn), which JetStream
// keeps for ever; a process builds it by reading that stream from the
// start and follows it from then on, so the index costs the pipeline no
// write at all, and every process that serves the API holds its own.
package siteindex

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Entry is one article online on a site, as its last event there says.
type Entry struct {
	ID       string
	Version  uint32
	Title    string
	URL      string
	NinjsURL string
	NinjsKey string
	Section  string
	Subjects []*pb.Concept
	Keywords []string
	// FirstPublished is when the article first went up on the site; a
	// list is ordered by it, newest first, so a correction does not move
	// an article up. Updated is when its current version went up.
	FirstPublished time.Time
	Updated        time.Time
	// Seq is the sequence, in the sites' stream, of the event this entry
	// is from.
	Seq uint64
}

// Query selects a page of a site's articles.
type Query struct {
	// Since and Until bound FirstPublished: at or after Since, before
	// Until; zero for no bound.
	Since, Until time.Time
	// Section, Subject and Keyword must match when set, regardless of
	// case; a subject matches by its name, code or URI.
	Section, Subject, Keyword string
	// After is a page's Next: the page after it.
	After string
	Limit int
}

// Page is a page of a list.
type Page struct {
	Entries []Entry
	// Next is the cursor of the following page; "" on the last.
	Next string
	// Total counts the entries matching the query's filters, over all
	// pages.
	Total int
}

// ErrBadCursor means a query's After is not a cursor this index made.
var ErrBadCursor = errors.New("not a cursor of this list")

// Index is every site's articles online. The zero value is not usable:
// call New.
type Index struct {
	mu    sync.RWMutex
	sites map[string]*site
	seq   uint64
	ready atomic.Bool
}

type site struct {
	byID map[string]*Entry
	// withdrawn holds the version each withdrawn article was withdrawn
	// at: an event for an earlier version that comes after it (an
	// earlier attempt's page, recorded late) does not bring it back.
	withdrawn map[string]uint32
	order     *btree.BTreeG[*Entry]
}

// newest orders entries newest first, ties by id, so that a cursor is a
// position that stays put while articles come and go.
func newest(a, b *Entry) bool {
	if !a.FirstPublished.Equal(b.FirstPublished) {
		return a.FirstPublished.After(b.FirstPublished)
	}
	return a.ID > b.ID
}

// New returns an empty index.
func New() *Index { return &Index{sites: map[string]*site{}} }

// CaughtUp marks the index as holding every event the stream had when
// its reader started, and reports whether it was not marked before.
func (x *Index) CaughtUp() bool { return !x.ready.Swap(true) }

// Ready reports whether the index has caught up: until then a list
// would miss articles that are online.
func (x *Index) Ready() bool { return x.ready.Load() }

// Seq is the sequence of the last event applied.
func (x *Index) Seq() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.seq
}

// Apply takes in the event stored at seq in the sites' stream. Events
// must come in the stream's order; one at or before the last applied (a
// reader reconnecting) changes nothing.
func (x *Index) Apply(seq uint64, ev *pb.ArticlePublished) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq <= x.seq {
		return
	}
	x.seq = seq
	s := x.sites[ev.GetSite()]
	if s == nil {
		s = &site{byID: map[string]*Entry{}, withdrawn: map[string]uint32{}, order: btree.NewG(32, newest)}
		x.sites[ev.GetSite()] = s
	}
	id, version := ev.GetArticle().GetId(), ev.GetArticle().GetVersion()
	old := s.byID[id]
	switch events.KindOf(ev.GetKind()) {
	case events.Withdrawn:
		s.withdrawn[id] = max(s.withdrawn[id], version)
		if old != nil && old.Version <= version {
			s.order.Delete(old)
			delete(s.byID, id)
		}
	case events.Published, events.Updated:
		if w, ok := s.withdrawn[id]; ok && version <= w {
			return
		}
		if old != nil && version < old.Version {
			return
		}
		at := ev.GetPublishedAt().AsTime()
		e := &Entry{ID: id, Version: version, Title: ev.GetTitle(), URL: ev.GetUrl(), NinjsURL: ev.GetNinjsUrl(),
			NinjsKey: ev.GetNinjsKey(), Section: ev.GetSection(), Subjects: ev.GetSubjects(), Keywords: ev.GetKeywords(),
			FirstPublished: at, Updated: at, Seq: seq}
		if old != nil {
			e.FirstPublished = old.FirstPublished
			s.order.Delete(old)
		}
		s.byID[id] = e
		s.order.ReplaceOrInsert(e)
	}
}

// Get returns article id as it is online on siteName.
func (x *Index) Get(siteName, id string) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.sites[siteName]
	if s == nil || s.byID[id] == nil {
		return Entry{}, false
	}
	return *s.byID[id], true
}

// List returns a page of the site's articles that match q, newest first.
func (x *Index) List(siteName string, q Query) (Page, error) {
	var from *Entry
	if q.After != "" {
		var err error
		if from, err = decodeCursor(q.After); err != nil {
			return Page{}, err
		}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	page := Page{Entries: []Entry{}}
	s := x.sites[siteName]
	if s == nil {
		return page, nil
	}
	visit := func(e *Entry) bool {
		if !q.Since.IsZero() && e.FirstPublished.Before(q.Since) {
			return false // older ones follow
		}
		if !q.matches(e) {
			return true
		}
		page.Total++
		if from != nil && !newest(from, e) {
			return true // at or before the cursor
		}
		if len(page.Entries) < q.Limit {
			page.Entries = append(page.Entries, *e)
		} else if page.Next == "" {
			page.Next = cursor(&page.Entries[len(page.Entries)-1])
		}
		return true
	}
	if q.Until.IsZero() {
		s.order.Ascend(visit)
	} else {
		// Newest first: the first entry published before Until is where
		// the list starts.
		s.order.AscendGreaterOrEqual(&Entry{FirstPublished: q.Until.Add(-time.Nanosecond), ID: "\xff"}, visit)
	}
	return page, nil
}

func (q Query) matches(e *Entry) bool {
	if q.Section != "" && !strings.EqualFold(q.Section, e.Section) {
		return false
	}
	if q.Keyword != "" && !containsFold(e.Keywords, q.Keyword) {
		return false
	}
	if q.Subject != "" {
		for _, c := range e.Subjects {
			if containsFold([]string{c.GetName(), c.GetCode(), c.GetUri()}, q.Subject) {
				return true
			}
		}
		return false
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if v != "" && strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// A cursor is the position of a page's last entry: its time and id. It
// is opaque to readers (base64), so its form may change.
func cursor(e *Entry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.FirstPublished.UnixNano(), 10) + "." + e.ID))
}

func decodeCursor(c string) (*Entry, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, ErrBadCursor
	}
	return &Entry{FirstPublished: time.Unix(0, n), ID: id}, nil
}
