package clean

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/claimcheck"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// fixture is the clean stage on a real NATS server and a real MinIO.
type fixture struct {
	bus    *bus.Bus
	status *status.Store
	blobs  *blob.Store
}

func start(t *testing.T, inlineLimit int) *fixture {
	t.Helper()
	_, nc := testenv.NATS(t)
	ctx := context.Background()
	b, err := bus.New(ctx, nc, bus.DefaultConfig(), slog.New(slog.DiscardHandler), nil)
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
	cl, err := cleaner.New(cleaner.HouseRules{TimeZone: "Asia/Ho_Chi_Minh"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Bus: b, Blobs: blobs, Status: st, Cleaner: cl, InlineLimit: inlineLimit, Log: slog.New(slog.DiscardHandler),
		Consumer: bus.ConsumerConfig{Workers: 2, MaxAttempts: 3, AckWait: 5 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return &fixture{bus: b, status: st, blobs: blobs}
}

// receive stores an original and sends its received event, as ingest does.
func (f *fixture) receive(t *testing.T, id, contentType string, body []byte) *pb.ArticleRef {
	t.Helper()
	ctx := context.Background()
	ref := &pb.ArticleRef{Id: id, Version: 1, Newsroom: "n", Sites: []string{"front"}}
	key := layout.Original(id, 1)
	if err := f.blobs.Put(ctx, key, body, contentType); err != nil {
		t.Fatal(err)
	}
	ev := &pb.ArticleReceived{Article: ref, OriginalKey: key, Original: claimcheck.Stored(key, body, contentType, 64)}
	if err := f.bus.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	return ref
}

// cleaned waits for the stage's event for id.
func (f *fixture) cleaned(t *testing.T, id string) *pb.Article {
	t.Helper()
	ctx := context.Background()
	c, err := f.bus.JetStream().OrderedConsumer(ctx, layout.StreamArticles, jetstream.OrderedConsumerConfig{FilterSubjects: []string{layout.SubjectCleaned}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		m, err := c.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev pb.ArticleCleaned
		if err := proto.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetArticle().GetId() != id {
			continue
		}
		var a pb.Article
		if err := claimcheck.OpenMessage(ctx, f.blobs, ev.GetContent(), &a); err != nil {
			t.Fatal(err)
		}
		return &a
	}
	t.Fatalf("no cleaned event for %s", id)
	return nil
}

func TestCleansAndStoresWhatEditorsRead(t *testing.T) {
	f := start(t, 64) // small: the cleaned article goes by claim check
	body := []byte("Hội nghị tổng kết năm\n\nNgày 23/1/2018, huyện ủy tổ chức hội nghị tổng kết công tác năm 2017.\n\nNội dung bài viết đầy đủ.\n")
	f.receive(t, "01CLEAN", "text/plain; charset=utf-8", body)
	a := f.cleaned(t, "01CLEAN")
	if a.GetTitle() != "Hội nghị tổng kết năm" || !strings.HasPrefix(a.GetLead(), "Ngày 23/1/2018") || len(a.GetBlocks()) != 1 {
		t.Errorf("cleaned article: %v", a)
	}
	ctx := context.Background()
	if _, err := f.blobs.Get(ctx, layout.CleanedClaim("01CLEAN", 1)); err != nil {
		t.Errorf("no claim check for a large article: %v", err)
	}
	doc, err := f.blobs.Get(ctx, layout.CleanedJSON("01CLEAN", 1))
	if err != nil || !strings.Contains(string(doc), "Hội nghị tổng kết năm") {
		t.Errorf("cleaned.json: %v %s", err, doc)
	}
	var st *pb.ArticleStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _ = f.status.Get(ctx, "01CLEAN"); st.GetState() == status.Cleaned {
			break
		}
	}
	if st.GetState() != status.Cleaned || !strings.Contains(st.GetHistory()[len(st.GetHistory())-1].GetDetail(), "Hội nghị tổng kết năm") {
		t.Errorf("status %v", st)
	}
}

// An original the cleaner cannot read is not retried: it is a dead letter
// at once, and the article is marked failed with the reason.
func TestUnreadableOriginalFailsAtOnce(t *testing.T) {
	f := start(t, 1<<16)
	f.receive(t, "01BROKEN", "application/json", []byte(`{"headline": 42}`))
	ctx := context.Background()
	var st *pb.ArticleStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _ = f.status.Get(ctx, "01BROKEN"); st.GetState() == status.Failed {
			break
		}
	}
	if st.GetState() != status.Failed || st.GetError() == "" {
		t.Fatalf("status %v", st)
	}
	n := 0
	for rec, err := range f.bus.DeadLetters(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ArticleId == "01BROKEN" && rec.Stage == Stage && rec.Permanent && rec.Attempts == 1 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d permanent dead letters after one attempt, want 1", n)
	}
}

func TestInputOf(t *testing.T) {
	for _, tt := range []struct {
		ct      string
		format  cleaner.Format
		charset string
	}{
		{"text/plain; charset=windows-1258", cleaner.FormatText, "windows-1258"},
		{"text/html", cleaner.FormatHTML, ""},
		{"application/xhtml+xml", cleaner.FormatHTML, ""},
		{"application/json", cleaner.FormatNinjs, ""},
		{"application/ninjs+json", cleaner.FormatNinjs, ""},
		{"text/markdown; charset=utf-8", cleaner.FormatMarkdown, "utf-8"},
		{"garbage;;", cleaner.FormatAuto, ""},
	} {
		f, cs := inputOf(tt.ct)
		if f != tt.format || cs != tt.charset {
			t.Errorf("inputOf(%q) = %v %q", tt.ct, f, cs)
		}
	}
}
