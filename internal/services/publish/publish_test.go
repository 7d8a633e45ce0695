package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/mediarefs"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// fixture is the publish stage on a real NATS server and a real MinIO.
type fixture struct {
	nc     *nats.Conn
	bus    *bus.Bus
	status *status.Store
	blobs  *blob.Store
	reg    *prometheus.Registry
	// feedSize is Config.FeedSize for the stages start makes.
	feedSize int
	// recorder, when set, is the stage's status store instead of status.
	recorder statusRecorder
	refs     *mediarefs.Refs
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, bus.DefaultConfig())
}

func newFixtureWith(t *testing.T, cfg bus.Config) *fixture {
	t.Helper()
	_, nc := testenv.NATS(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	b, err := bus.New(ctx, nc, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := status.Open(ctx, b.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.New(ctx, testenv.MinIO(t))
	if err != nil {
		t.Fatal(err)
	}
	refs, err := mediarefs.Open(ctx, b.JetStream(), 1, blobs, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{nc: nc, bus: b, status: st, blobs: blobs, refs: refs, reg: prometheus.NewPedanticRegistry()}
}

// start runs a publish stage until stop (or the test's end).
func (f *fixture) start(t *testing.T) (stop func()) {
	t.Helper()
	if f.feedSize == 0 {
		f.feedSize = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewPedanticRegistry()
	f.reg = reg
	var rec statusRecorder = f.status
	if f.recorder != nil {
		rec = f.recorder
	}
	s, err := New(ctx, Config{Bus: f.bus, Blobs: f.blobs, Status: rec, Refs: f.refs, JetStream: f.bus.JetStream(),
		Consumer: bus.ConsumerConfig{Workers: 2, MaxAttempts: 3, AckWait: 5 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		SiteURL:  "http://news.test", FeedDelay: 50 * time.Millisecond, FeedSize: f.feedSize, EmbargoTick: 100 * time.Millisecond,
		Log: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// send is what the stages before publish do for one version.
func (f *fixture) send(t *testing.T, id string, version uint32, a *pb.Article, embargo time.Time, msgID string) *pb.ArticleRef {
	t.Helper()
	ctx := context.Background()
	ref := &pb.ArticleRef{Id: id, Version: version, Newsroom: "n", Sites: []string{"front", "city"}, ReceivedAt: timestamppb.Now()}
	if !embargo.IsZero() {
		ref.EmbargoUntil = timestamppb.New(embargo)
	}
	if err := f.status.Record(ctx, ref, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	ev := &pb.MediaReady{Article: ref, Content: &pb.Payload{Location: &pb.Payload_Inline{Inline: data}}}
	if msgID == "" {
		msgID = bus.MsgID(ref, "media_ready")
	}
	if err := f.bus.Publish(ctx, layout.MediaReadySubject(ref.GetId()), msgID, ref, ev); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (f *fixture) withdraw(t *testing.T, id string, version uint32) {
	t.Helper()
	ref := &pb.ArticleRef{Id: id, Version: version, Newsroom: "n", Sites: []string{"front", "city"}, ReceivedAt: timestamppb.Now()}
	if err := f.status.Record(context.Background(), ref, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	if err := f.bus.Publish(context.Background(), layout.WithdrawSubject(ref.GetId()), bus.MsgID(ref, "withdraw"), ref, &pb.Withdraw{Article: ref, Reason: "legal"}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) state(t *testing.T, id string) *pb.ArticleStatus {
	st, err := f.status.Get(context.Background(), id)
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) waitState(t *testing.T, id string, version uint32, state string) *pb.ArticleStatus {
	t.Helper()
	var st *pb.ArticleStatus
	testenv.WaitFor(t, id+" "+state, 20*time.Second, func() bool {
		st = f.state(t, id)
		return st.GetArticle().GetVersion() == version && st.GetState() == state
	})
	return st
}

// siteEvents reads every event on the sites' stream, oldest first.
func (f *fixture) siteEvents(t *testing.T) []*pb.ArticlePublished {
	t.Helper()
	ctx := context.Background()
	s, err := f.bus.JetStream().Stream(ctx, layout.StreamSites)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.ArticlePublished
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := events.ParseSiteSubject(raw.Subject); !ok {
			continue
		}
		ev := &pb.ArticlePublished{}
		if err := proto.Unmarshal(raw.Data, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func (f *fixture) object(t *testing.T, key string) string {
	t.Helper()
	data, err := f.blobs.Get(context.Background(), key)
	if errors.Is(err, blob.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func article(title string) *pb.Article {
	return &pb.Article{Title: title, Lead: "Mở đầu.", Language: "vi", Kicker: "Quốc Oai",
		Blocks: []*pb.Block{{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: "Nội dung bài viết."}}}}}
}

const id1 = "01KB00000000000000000000AA"

// TestPublishCorrectWithdraw follows one article through its life on two
// sites: its page, its place in every feed, and the events downstream
// sites see.
func TestPublishCorrectWithdraw(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.send(t, id1, 1, article("Xây dựng tổ chức Đảng trong sạch, vững mạnh"), time.Time{}, "")
	st := f.waitState(t, id1, 1, status.Published)
	wantURL := "http://news.test/front/articles/xay-dung-to-chuc-dang-trong-sach-vung-manh-01kb00000000000000000000aa/"
	if len(st.Urls) != 2 || st.Urls[0] != wantURL {
		t.Fatalf("urls = %v", st.Urls)
	}
	page := "public/front/articles/xay-dung-to-chuc-dang-trong-sach-vung-manh-01kb00000000000000000000aa/index.html"
	if !strings.Contains(f.object(t, page), "<h1>Xây dựng tổ chức Đảng trong sạch, vững mạnh</h1>") {
		t.Fatalf("page:\n%s", f.object(t, page))
	}
	feedFiles := []string{"index.html", "rss.xml", "atom.xml", "feed.json", "sitemap-news.xml"}
	for _, site := range []string{"front", "city"} {
		for _, name := range feedFiles {
			testenv.WaitFor(t, site+"/"+name+" listing the article", 20*time.Second, func() bool {
				return strings.Contains(f.object(t, "public/"+site+"/"+name), "Xây dựng tổ chức Đảng")
			})
		}
	}

	// A correction with a new title keeps the URL and replaces the entry.
	f.send(t, id1, 2, article("Xây dựng Đảng: bản đã sửa"), time.Time{}, "")
	st = f.waitState(t, id1, 2, status.Published)
	if st.Urls[0] != wantURL {
		t.Errorf("the correction moved the page to %s", st.Urls[0])
	}
	if !strings.Contains(f.object(t, page), "bản đã sửa") {
		t.Error("the page was not corrected")
	}
	testenv.WaitFor(t, "the feed to show the correction", 20*time.Second, func() bool {
		rss := f.object(t, "public/front/rss.xml")
		return strings.Contains(rss, "bản đã sửa") && !strings.Contains(rss, "trong sạch")
	})

	// A withdrawal takes the page and every feed entry down.
	f.withdraw(t, id1, 3)
	f.waitState(t, id1, 3, status.Withdrawn)
	if f.object(t, page) != "" || f.object(t, strings.Replace(page, "index.html", "ninjs.json", 1)) != "" {
		t.Error("the withdrawn page or ninjs is still stored")
	}
	for _, site := range []string{"front", "city"} {
		for _, name := range feedFiles {
			testenv.WaitFor(t, site+"/"+name+" without the article", 20*time.Second, func() bool {
				return !strings.Contains(f.object(t, "public/"+site+"/"+name), "bản đã sửa")
			})
		}
	}

	var kinds []string
	for _, ev := range f.siteEvents(t) {
		if ev.Site == "front" {
			kinds = append(kinds, ev.Kind.String())
		}
		if ev.Url != strings.Replace(wantURL, "/front/", "/"+ev.Site+"/", 1) {
			t.Errorf("%s event URL %s", ev.Kind, ev.Url)
		}
	}
	want := []string{"PUBLICATION_KIND_PUBLISHED", "PUBLICATION_KIND_UPDATED", "PUBLICATION_KIND_WITHDRAWN"}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("front events %v, want %v", kinds, want)
	}
}

// TestRedeliveryPublishesOnce sends the same version again under another
// message id, after JetStream's duplicate window, as a replay or a late
// redelivery would: no second event may come of it (nor, so, a second
// webhook).
func TestRedeliveryPublishesOnce(t *testing.T) {
	cfg := bus.DefaultConfig()
	cfg.DuplicateWindow = 200 * time.Millisecond
	f := newFixtureWith(t, cfg)
	f.start(t)
	a := article("Một lần thôi")
	f.send(t, id1, 1, a, time.Time{}, "")
	f.waitState(t, id1, 1, status.Published)
	time.Sleep(2 * cfg.DuplicateWindow) // the event ids are forgotten
	f.send(t, id1, 1, a, time.Time{}, "again-1")
	f.send(t, id1, 1, a, time.Time{}, "again-2")
	// The third send is handled after the first two in the article's
	// lane; waiting for the stage to be idle proves they were all seen.
	testenv.WaitFor(t, "the stage to take every message", 20*time.Second, func() bool { return pending(t, f) == 0 })
	time.Sleep(300 * time.Millisecond) // room for a wrong third
	if n := len(f.siteEvents(t)); n != 2 {
		t.Errorf("%d site events, want one per site", n)
	}
}

// lossyStatus loses publish's own status writes while lose is set, as a
// process killed between putting a page up and recording it would.
type lossyStatus struct {
	*status.Store
	lose atomic.Bool
}

func (s *lossyStatus) Record(ctx context.Context, ref *pb.ArticleRef, step status.Step) error {
	if s.lose.Load() && step.Stage == Stage {
		return errors.New("status write lost")
	}
	return s.Store.Record(ctx, ref, step)
}

func (s *lossyStatus) RecordOn(ctx context.Context, st *pb.ArticleStatus, rev uint64, ref *pb.ArticleRef, step status.Step) error {
	if s.lose.Load() && step.Stage == Stage {
		return errors.New("status write lost")
	}
	return s.Store.RecordOn(ctx, st, rev, ref, step)
}

// A version whose pages went up but whose status write was lost, and
// which a correction then overtook, still comes down with the
// withdrawal: its redelivery, skipped as stale, records the pages it
// finds holding it. Found by the race battery under cluster faults.
func TestOvertakenVersionsPagesComeDown(t *testing.T) {
	f := newFixture(t)
	lossy := &lossyStatus{Store: f.status}
	f.recorder = lossy
	lossy.lose.Store(true)
	f.start(t)
	f.send(t, id1, 1, article("Bản đầu tiên"), time.Time{}, "")
	page := layout.Public("/front/articles/ban-dau-tien-" + strings.ToLower(id1) + "/" + layout.PageFile)
	testenv.WaitFor(t, "version 1's page up", 20*time.Second, func() bool { return f.object(t, page) != "" })
	// The correction is accepted (ingest records it) while version 1's
	// status write keeps failing; then the writes work again.
	ref2 := &pb.ArticleRef{Id: id1, Version: 2, Newsroom: "n", Sites: []string{"front", "city"}, ReceivedAt: timestamppb.Now()}
	if err := f.status.Record(context.Background(), ref2, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	lossy.lose.Store(false)
	testenv.WaitFor(t, "version 1's pages recorded", 20*time.Second, func() bool {
		return slices.Contains(status.PublishedURLs(f.state(t, id1)), "http://news.test/front/articles/ban-dau-tien-"+strings.ToLower(id1)+"/")
	})
	f.withdraw(t, id1, 3)
	f.waitState(t, id1, 3, status.Withdrawn)
	if got := f.object(t, page); got != "" {
		t.Errorf("version 1's page is still online after the withdrawal")
	}
	var kinds []events.Kind
	for _, ev := range f.siteEvents(t) {
		if ev.GetSite() == "front" {
			kinds = append(kinds, events.KindOf(ev.GetKind()))
		}
	}
	if !slices.Equal(kinds, []events.Kind{events.Published, events.Withdrawn}) {
		t.Errorf("front heard %v, want published then withdrawn", kinds)
	}
}

// Site events tell downstream sites what they need: not the names and
// storage keys of the files the newsroom sent.
func TestSiteEventsCarryNothingInternal(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	ctx := context.Background()
	ref := &pb.ArticleRef{Id: id1, Version: 1, Newsroom: "n", Sites: []string{"front"}, ReceivedAt: timestamppb.Now(),
		Uploads: []*pb.Upload{{Name: "IMG_0042 hồ sơ mật.jpg", Key: layout.Upload(id1, 1, "IMG_0042 hồ sơ mật.jpg"), ContentType: "image/jpeg", Size: 9}}}
	if err := f.status.Record(ctx, ref, status.Step{Stage: "ingest", State: status.Received}); err != nil {
		t.Fatal(err)
	}
	data, _ := proto.Marshal(article("Không lộ gì"))
	if err := f.bus.Publish(ctx, layout.MediaReadySubject(id1), bus.MsgID(ref, "media_ready"), ref,
		&pb.MediaReady{Article: ref, Content: &pb.Payload{Location: &pb.Payload_Inline{Inline: data}}}); err != nil {
		t.Fatal(err)
	}
	f.waitState(t, id1, 1, status.Published)
	f.withdraw(t, id1, 2)
	f.waitState(t, id1, 2, status.Withdrawn)
	evs := f.siteEvents(t)
	if len(evs) != 2 {
		t.Fatalf("%d site events, want published and withdrawn", len(evs))
	}
	for _, ev := range evs {
		raw, _ := proto.Marshal(ev)
		if len(ev.GetArticle().GetUploads()) != 0 || bytes.Contains(raw, []byte("IMG_0042")) || bytes.Contains(raw, []byte(layout.UploadsPrefix(id1, 1))) {
			t.Errorf("%v event carries the uploads: %v", ev.GetKind(), ev.GetArticle().GetUploads())
		}
	}
}

// pending counts the stage's messages not yet settled, over its
// partitions.
func pending(t *testing.T, f *fixture) int {
	t.Helper()
	n := 0
	for p := range layout.PublishPartitions {
		c, err := f.bus.JetStream().Consumer(context.Background(), layout.StreamArticles, bus.PartitionConsumer(Stage, p))
		if err != nil {
			return -1
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += int(info.NumPending) + info.NumAckPending
	}
	return n
}

// TestEmbargoSurvivesRestart holds an article, stops the stage while it
// waits, and starts a new one after the embargo time.
func TestEmbargoSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	stop := f.start(t)
	until := time.Now().Add(1500 * time.Millisecond)
	f.send(t, id1, 1, article("Tin giờ G"), until, "")
	st := f.waitState(t, id1, 1, status.Embargoed)
	if last := st.History[len(st.History)-1]; !strings.Contains(last.Detail, until.UTC().Format(time.RFC3339)) {
		t.Errorf("status detail %q", last.Detail)
	}
	stop()
	if len(f.siteEvents(t)) != 0 {
		t.Fatal("published before its embargo")
	}
	time.Sleep(time.Until(until))
	f.start(t)
	st = f.waitState(t, id1, 1, status.Published)
	if first := firstPublished(st); first.Before(until) {
		t.Errorf("published at %s, before the embargo %s", first, until)
	}
	if n := len(f.siteEvents(t)); n != 2 {
		t.Errorf("%d site events, want 2", n)
	}
}

// TestFeedKeepsTheNewest: a site lists its newest FeedSize articles, and
// older entries leave the bucket.
func TestFeedKeepsTheNewest(t *testing.T) {
	f := newFixture(t)
	f.feedSize = 2
	f.start(t)
	ids := []string{"01KB00000000000000000000A1", "01KB00000000000000000000A2", "01KB00000000000000000000A3", "01KB00000000000000000000A4"}
	for i, id := range ids {
		f.send(t, id, 1, article(fmt.Sprintf("Bài số %d", i+1)), time.Time{}, "")
		f.waitState(t, id, 1, status.Published)
	}
	testenv.WaitFor(t, "the feed to list the newest two", 20*time.Second, func() bool {
		rss := f.object(t, "public/front/rss.xml")
		return strings.Contains(rss, "Bài số 4") && strings.Contains(rss, "Bài số 3") && !strings.Contains(rss, "Bài số 2")
	})
	kv, err := f.bus.JetStream().KeyValue(context.Background(), FeedBucket)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "old entries pruned", 20*time.Second, func() bool {
		keys, err := kv.Keys(context.Background())
		return err == nil && !slices.Contains(keys, "front."+ids[0]) && slices.Contains(keys, "front."+ids[3])
	})
}
