package app_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pressline/pressline/internal/feeds"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/services/publish"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
)

// s3PerTextArticle is what one plain-text article, of ordinary size and
// with no image, costs in S3 requests from acceptance to its pages and
// feeds, on one site: the budget a change must not exceed (and should
// lower). The NATS messages are logged beside it; they include pull
// requests and heartbeats, so they are not held to an exact number.
//
// On the two sites of these tests: the original, and cleaned.json (the
// cleaned article, an artefact kept for editors and operators, see
// docs/cleaning.md); then on each site its page and ninjs, and the five
// files its home and feeds are (index.html, rss.xml, atom.xml, feed.json,
// sitemap-news.xml). Content travels inline between the stages, so
// nothing is read back.
var s3PerTextArticle = map[string]uint64{"put": 2 + 2*(2+5)}

// natsPerTextArticle is what the same article costs in NATS messages
// the services send, by kind, as a subscriber to every subject sees
// them: the budget a change must not exceed (and should lower). On the
// two sites:
//   - event: received, cleaned, media ready, and a site event on each site;
//   - status write: one for each stage; ingest's and publish's have no read
//     before them;
//   - status read: clean's before its write, and publish's when the
//     event comes (whose revision its write reuses); imageproc writes on
//     the record clean's event carries;
//   - feed write: the entry on each site;
//   - ack: one for each event a stage consumed (received, cleaned, media
//     ready); notify has no subscriber here.
//
// What depends on timing (pull requests, flow control, heartbeats) or is
// the test's own polling is only logged.
var natsPerTextArticle = map[string]uint64{
	"event": 3 + 2, "status write": 4, "status read": 2, "feed write": 2, "ack": 3,
}

// natsKind is the budget's name for a message, or "" for one outside it.
func natsKind(m *nats.Msg) string {
	if strings.HasPrefix(m.Reply, "$JS.ACK.") {
		return "" // a delivery to a consumer, not a message a service sent
	}
	switch s := m.Subject; {
	case strings.HasPrefix(s, "pressline.article."), strings.HasPrefix(s, "pressline.site."):
		return "event"
	case strings.HasPrefix(s, "$KV."+status.Bucket+"."):
		return "status write"
	case s == "$JS.API.STREAM.MSG.GET.KV_"+status.Bucket, strings.HasPrefix(s, "$JS.API.DIRECT.GET.KV_"+status.Bucket):
		return "status read"
	case strings.HasPrefix(s, "$KV."+publish.FeedBucket+"."):
		return "feed write"
	case strings.HasPrefix(s, "$JS.ACK."):
		return "ack"
	}
	return ""
}

// TestRoundTripsPerArticle sends articles one at a time through the
// whole pipeline on real NATS and MinIO, waits for each to settle (pages
// and feeds written), and counts the S3 requests and NATS messages each
// cost.
func TestRoundTripsPerArticle(t *testing.T) {
	e := newEnv(t)
	p := e.Start(t)
	// Every message the services send, by kind.
	spy, err := nats.Connect(e.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	var mu sync.Mutex
	kinds := map[string]uint64{}
	if _, err := spy.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		kinds[natsKind(m)]++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	counted := func() map[string]uint64 {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(kinds)
	}
	settle := func(id string) {
		t.Helper()
		testenv.WaitFor(t, "published", 30*time.Second, func() bool { return len(e.Published(t)[id]) > 0 })
		// The feeds are rewritten a moment after: wait until both sites'
		// feeds list it, then until S3 is quiet.
		testenv.WaitFor(t, "the feeds", 30*time.Second, func() bool {
			for _, site := range []string{"front", "regional"} {
				feed, err := e.S3.Get(context.Background(), layout.SiteFile(site, feeds.FileJSON))
				if err != nil || !strings.Contains(strings.ToLower(string(feed)), strings.ToLower(id)) {
					return false
				}
			}
			return true
		})
		last, quiet := p.RoundTrips(), time.Now()
		testenv.WaitFor(t, "S3 quiet", 30*time.Second, func() bool {
			now := p.RoundTrips()
			if !maps.Equal(now.S3, last.S3) {
				last, quiet = now, time.Now()
			}
			return time.Since(quiet) > 300*time.Millisecond
		})
	}
	settle(e.Submit(t, []byte("Tin khởi động\n\nBài đầu tiên, để mọi thứ đã được tạo.\n")))
	const n = 4
	before, beforeKinds := p.RoundTrips(), counted()
	for i := range n {
		settle(e.Submit(t, fmt.Appendf(nil, "Tin số %d về giao thông\n\nNội dung của bài số %d, đủ dài để là một bài báo về giao thông.\n", i, i)))
	}
	got := p.RoundTrips().Sub(before)
	per := map[string]uint64{}
	for op, c := range got.S3 {
		per[op] = c / n
		if c%n != 0 {
			t.Errorf("%s: %d requests for %d articles: not the same for each", op, c, n)
		}
	}
	t.Logf("per article: S3 %v, NATS messages %.1f", per, float64(got.NATS)/n)
	for kind, c := range counted() {
		c -= beforeKinds[kind]
		if kind == "" {
			continue
		}
		t.Logf("NATS %s: %.2f per article", kind, float64(c)/n)
		if c%n != 0 {
			t.Errorf("NATS %s: %d messages for %d articles: not the same for each", kind, c, n)
		}
		if want := natsPerTextArticle[kind]; c/n > want {
			t.Errorf("NATS %s: %d per article, over the budget of %d (docs/benchmarks.md): which one is new, and is it needed?", kind, c/n, want)
		}
	}
	for op, c := range per {
		if want := s3PerTextArticle[op]; c > want {
			t.Errorf("S3 %s: %d requests per article, over the budget of %d (docs/benchmarks.md): which one is new, and is it needed?", op, c, want)
		}
	}
}
