package siteindex

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// event is the site event of article id's version on site, minutes
// after t0.
func event(site, id string, version uint32, kind pb.PublicationKind, minutes int) *pb.ArticlePublished {
	return &pb.ArticlePublished{Article: &pb.ArticleRef{Id: id, Version: version}, Kind: kind, Site: site,
		Title: fmt.Sprintf("%s v%d", id, version), Url: "https://" + site + ".example/" + id + "/",
		PublishedAt: timestamppb.New(t0.Add(time.Duration(minutes) * time.Minute))}
}

const (
	published = pb.PublicationKind_PUBLICATION_KIND_PUBLISHED
	updated   = pb.PublicationKind_PUBLICATION_KIND_UPDATED
	withdrawn = pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN
)

func ids(p Page) []string {
	var out []string
	for _, e := range p.Entries {
		out = append(out, fmt.Sprintf("%s v%d", e.ID, e.Version))
	}
	return out
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []*pb.ArticlePublished
		want   []string
	}{
		{"newest first", []*pb.ArticlePublished{event("front", "A", 1, published, 0), event("front", "B", 1, published, 1), event("front", "C", 1, published, 2)},
			[]string{"C v1", "B v1", "A v1"}},
		{"a correction stays where the article first went up", []*pb.ArticlePublished{
			event("front", "A", 1, published, 0), event("front", "B", 1, published, 1), event("front", "A", 2, updated, 5)},
			[]string{"B v1", "A v2"}},
		{"a withdrawal takes the article off", []*pb.ArticlePublished{
			event("front", "A", 1, published, 0), event("front", "B", 1, published, 1), event("front", "A", 2, withdrawn, 2)},
			[]string{"B v1"}},
		{"an earlier version's page told after the withdrawal does not bring it back", []*pb.ArticlePublished{
			event("front", "A", 1, published, 0), event("front", "A", 3, withdrawn, 2), event("front", "A", 2, updated, 3)},
			nil},
		{"an older version told late does not replace a newer one", []*pb.ArticlePublished{
			event("front", "A", 3, updated, 0), event("front", "A", 2, updated, 1)},
			[]string{"A v3"}},
		{"other sites are apart", []*pb.ArticlePublished{
			event("front", "A", 1, published, 0), event("regional", "B", 1, published, 1), event("regional", "A", 2, withdrawn, 2)},
			[]string{"A v1"}},
		{"a withdrawal of an article never published", []*pb.ArticlePublished{event("front", "A", 2, withdrawn, 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := New()
			for i, ev := range tc.events {
				x.Apply(uint64(i+1), ev)
			}
			p, err := x.List("front", Query{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
				t.Errorf("got %v (total %d), want %v", got, p.Total, tc.want)
			}
		})
	}
}

func TestCaughtUp(t *testing.T) {
	x := New()
	if x.Ready() {
		t.Error("a new index is ready")
	}
	if !x.CaughtUp() || x.CaughtUp() || !x.Ready() {
		t.Error("CaughtUp reports the first time only, and makes the index ready")
	}
}

func TestApplyIgnoresWhatItHasSeen(t *testing.T) {
	x := New()
	x.Apply(1, event("front", "A", 1, published, 0))
	x.Apply(2, event("front", "A", 2, withdrawn, 1))
	x.Apply(1, event("front", "A", 1, published, 0)) // a reader's reconnection
	if _, ok := x.Get("front", "A"); ok {
		t.Error("an event applied again undid the withdrawal")
	}
	if x.Seq() != 2 {
		t.Errorf("seq %d", x.Seq())
	}
}

func TestList(t *testing.T) {
	x := New()
	for i := range 10 {
		ev := event("front", fmt.Sprintf("A%d", i), 1, published, i*10)
		ev.Section = []string{"Thời sự", "Sport"}[i%2]
		ev.Keywords = []string{fmt.Sprint("k", i%3)}
		ev.Subjects = []*pb.Concept{{Name: "Economy", Code: "medtop:04000000", Uri: "http://cv.iptc.org/newscodes/mediatopic/04000000"}}
		if i%4 == 0 {
			ev.Subjects = nil
		}
		x.Apply(uint64(i+1), ev)
	}
	for _, tc := range []struct {
		name  string
		q     Query
		want  []string
		total int
	}{
		{"a page", Query{Limit: 3}, []string{"A9 v1", "A8 v1", "A7 v1"}, 10},
		{"since, inclusive", Query{Limit: 10, Since: t0.Add(70 * time.Minute)}, []string{"A9 v1", "A8 v1", "A7 v1"}, 3},
		{"until, exclusive", Query{Limit: 10, Until: t0.Add(20 * time.Minute)}, []string{"A1 v1", "A0 v1"}, 2},
		{"since and until", Query{Limit: 10, Since: t0.Add(20 * time.Minute), Until: t0.Add(50 * time.Minute)}, []string{"A4 v1", "A3 v1", "A2 v1"}, 3},
		{"section, whatever its case", Query{Limit: 10, Section: "thời sự"}, []string{"A8 v1", "A6 v1", "A4 v1", "A2 v1", "A0 v1"}, 5},
		{"keyword", Query{Limit: 10, Keyword: "K2"}, []string{"A8 v1", "A5 v1", "A2 v1"}, 3},
		{"subject by code", Query{Limit: 2, Subject: "medtop:04000000"}, []string{"A9 v1", "A7 v1"}, 7},
		{"subject by name", Query{Limit: 10, Subject: "economy", Section: "sport"}, []string{"A9 v1", "A7 v1", "A5 v1", "A3 v1", "A1 v1"}, 5},
		{"nothing matches", Query{Limit: 10, Keyword: "none"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := x.List("front", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tc.want) || p.Total != tc.total {
				t.Errorf("got %v (total %d), want %v (total %d)", got, p.Total, tc.want, tc.total)
			}
		})
	}
	if p, _ := x.List("nowhere", Query{Limit: 10}); len(p.Entries) != 0 || p.Entries == nil {
		t.Errorf("an unknown site: %+v", p)
	}
}

// TestCursorHoldsItsPlace pages through a list while articles are
// published and withdrawn between pages: every article that stays online
// is seen once, in order.
func TestCursorHoldsItsPlace(t *testing.T) {
	x := New()
	seq := uint64(0)
	apply := func(ev *pb.ArticlePublished) { seq++; x.Apply(seq, ev) }
	for i := range 20 {
		apply(event("front", fmt.Sprintf("A%02d", i), 1, published, i))
	}
	var seen []string
	q := Query{Limit: 6}
	for page := 0; ; page++ {
		p, err := x.List("front", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			seen = append(seen, e.ID)
		}
		if p.Next == "" {
			break
		}
		// Between pages: a new article (above the cursor, so not in this
		// paging), and a withdrawal of one not yet seen.
		apply(event("front", fmt.Sprintf("N%d", page), 1, published, 100+page))
		apply(event("front", fmt.Sprintf("A%02d", 10-page*6), 2, withdrawn, 100+page))
		q.After = p.Next
	}
	want := []string{"A19", "A18", "A17", "A16", "A15", "A14", "A13", "A12", "A11", "A09", "A08", "A07", "A06", "A05", "A03", "A02", "A01", "A00"}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %v\nwant %v", seen, want)
	}
}

func TestBadCursor(t *testing.T) {
	x := New()
	for _, c := range []string{"%%%", "bm90LWEtY3Vyc29y", "MTIz"} {
		if _, err := x.List("front", Query{After: c, Limit: 1}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v", c, err)
		}
	}
}

// BenchmarkList100k lists pages of 50 of a site with 100,000 articles,
// and reports the heap the index holds.
func BenchmarkList100k(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := New()
	for i := range 100_000 {
		ev := event("front", fmt.Sprintf("01M8ZCNQP9EDW63RG6%06d", i), 1, published, i)
		ev.Section = []string{"Thời sự", "Kinh tế", "Thể thao"}[i%3]
		ev.Keywords = []string{fmt.Sprint("từ khóa ", i%50)}
		ev.Subjects = []*pb.Concept{{Name: "economy", Code: fmt.Sprintf("medtop:%08d", i%17)}}
		x.Apply(uint64(i+1), ev)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	for _, q := range []Query{{Limit: 50}, {Limit: 50, Section: "thể thao"}, {Limit: 50, Until: t0.Add(50_000 * time.Minute)}} {
		b.Run(fmt.Sprintf("section=%q,until=%v", q.Section, !q.Until.IsZero()), func(b *testing.B) {
			for b.Loop() {
				if _, err := x.List("front", q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(heap, "index-heap-MiB")
		})
	}
}
