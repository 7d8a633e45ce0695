package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/safefetch"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/testenv"
	"github.com/pressline/pressline/pkg/webhook"
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
	return &fixture{nc: nc, bus: b, status: st, blobs: blobs, reg: prometheus.NewPedanticRegistry()}
}

// start runs a publish stage until stop (or the test's end). Its
// webhooks may reach the test's receivers on loopback.
func (f *fixture) start(t *testing.T, hooks ...config.Webhook) (stop func()) {
	t.Helper()
	return f.startWith(t, http.DefaultClient, nil, hooks)
}

// startGuarded sends webhooks through the address guard, as production
// does.
func (f *fixture) startGuarded(t *testing.T, hooks ...config.Webhook) (stop func()) {
	t.Helper()
	return f.startWith(t, safefetch.New(safefetch.Config{}), func(err error) bool { return errors.Is(err, safefetch.ErrRefused) }, hooks)
}

func (f *fixture) startWith(t *testing.T, client webhook.Doer, refused func(error) bool, hooks []config.Webhook) (stop func()) {
	t.Helper()
	if f.feedSize == 0 {
		f.feedSize = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewPedanticRegistry()
	f.reg = reg
	s, err := New(ctx, Config{Bus: f.bus, Blobs: f.blobs, Status: f.status, JetStream: f.bus.JetStream(),
		Consumer: bus.ConsumerConfig{Workers: 2, MaxAttempts: 3, AckWait: 5 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		SiteURL:  "http://news.test", FeedDelay: 50 * time.Millisecond, FeedSize: f.feedSize, EmbargoTick: 100 * time.Millisecond,
		Webhooks: hooks, WebhookClient: client, Refused: refused,
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
	if err := f.bus.Publish(ctx, bus.SubjectMediaReady, msgID, ref, ev); err != nil {
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
	if err := f.bus.Publish(context.Background(), bus.SubjectWithdraw, bus.MsgID(ref, "withdraw"), ref, &pb.Withdraw{Article: ref, Reason: "legal"}); err != nil {
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
	waitFor(t, id+" "+state, func() bool {
		st = f.state(t, id)
		return st.GetArticle().GetVersion() == version && st.GetState() == state
	})
	return st
}

// siteEvents reads every event on the sites' stream, oldest first.
func (f *fixture) siteEvents(t *testing.T) []*pb.ArticlePublished {
	t.Helper()
	ctx := context.Background()
	s, err := f.bus.JetStream().Stream(ctx, bus.StreamSites)
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
		if !strings.HasPrefix(raw.Subject, "pressline.site.") {
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
	rec := newReceiver(t)
	f.start(t, rec.hook("site"))
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
			waitFor(t, site+"/"+name+" listing the article", func() bool {
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
	waitFor(t, "the feed to show the correction", func() bool {
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
			waitFor(t, site+"/"+name+" without the article", func() bool {
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
	// The webhook subscriber hears the same, per site, in order.
	waitFor(t, "six webhooks", func() bool { return len(rec.got()) == 6 })
	var hooks []string
	for _, r := range rec.got() {
		if strings.HasSuffix(r.id, "_front_"+strings.TrimPrefix(r.body.Type, "article.")) {
			hooks = append(hooks, r.body.Type)
		}
	}
	if strings.Join(hooks, " ") != "article.published article.updated article.withdrawn" {
		t.Errorf("front webhooks %v", hooks)
	}
}

// TestRedeliveryPublishesOnce sends the same version again under another
// message id, after JetStream's duplicate window, as a replay or a late
// redelivery would: no second event or webhook may come of it.
func TestRedeliveryPublishesOnce(t *testing.T) {
	cfg := bus.DefaultConfig()
	cfg.DuplicateWindow = 200 * time.Millisecond
	f := newFixtureWith(t, cfg)
	rec := newReceiver(t)
	f.start(t, rec.hook("once"))
	a := article("Một lần thôi")
	f.send(t, id1, 1, a, time.Time{}, "")
	f.waitState(t, id1, 1, status.Published)
	time.Sleep(2 * cfg.DuplicateWindow) // the event ids are forgotten
	f.send(t, id1, 1, a, time.Time{}, "again-1")
	f.send(t, id1, 1, a, time.Time{}, "again-2")
	// The third send is handled after the first two in the article's
	// lane; waiting for the stage to be idle proves they were all seen.
	waitFor(t, "the stage to take every message", func() bool { return pending(t, f, Stage) == 0 })
	waitFor(t, "two webhooks", func() bool { return len(rec.got()) >= 2 })
	time.Sleep(300 * time.Millisecond) // room for a wrong third
	if n := len(f.siteEvents(t)); n != 2 {
		t.Errorf("%d site events, want one per site", n)
	}
	if n := len(rec.got()); n != 2 {
		t.Errorf("%d webhooks, want one per site", n)
	}
}

func pending(t *testing.T, f *fixture, consumer string) int {
	t.Helper()
	c, err := f.bus.JetStream().Consumer(context.Background(), bus.StreamArticles, consumer)
	if err != nil {
		return -1
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(info.NumPending) + info.NumAckPending
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

// receiver is a downstream site's webhook endpoint: it checks every
// signature, and answers with the codes it is told to.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	// script answers the n-th request (from 0); 200 when nil or past it.
	script func(n int, w http.ResponseWriter) bool
	reqs   []received
}

type received struct {
	at   time.Time
	id   string
	body Body
	ok   bool
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	s, _ := webhook.ParseSecret(secret)
	if err := s.Verify(req.Header, body, time.Now()); err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b Body
	if err := json.Unmarshal(body, &b); err != nil {
		r.t.Errorf("receiver: body %s: %v", body, err)
	}
	r.mu.Lock()
	n := len(r.reqs)
	rec := received{at: time.Now(), id: req.Header.Get("webhook-id"), body: b}
	r.mu.Unlock()
	rec.ok = r.script == nil || r.script(n, w)
	if rec.ok {
		w.WriteHeader(http.StatusNoContent)
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
}

// got is every request that was answered with success.
func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, x := range r.reqs {
		if x.ok {
			out = append(out, x)
		}
	}
	return out
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func (r *receiver) hook(name string) config.Webhook {
	return config.Webhook{Name: name, URL: r.srv.URL, Secret: secret, Sites: []string{"front", "city"},
		Deadline: time.Minute, MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond}
}

func (f *fixture) deadLetters(t *testing.T) []bus.DeadLetterRecord {
	var out []bus.DeadLetterRecord
	for rec, err := range f.bus.DeadLetters(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
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
	waitFor(t, "the feed to list the newest two", func() bool {
		rss := f.object(t, "public/front/rss.xml")
		return strings.Contains(rss, "Bài số 4") && strings.Contains(rss, "Bài số 3") && !strings.Contains(rss, "Bài số 2")
	})
	kv, err := f.bus.JetStream().KeyValue(context.Background(), FeedBucket)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "old entries pruned", func() bool {
		keys, err := kv.Keys(context.Background())
		return err == nil && !slices.Contains(keys, "front."+ids[0]) && slices.Contains(keys, "front."+ids[3])
	})
}
