package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/siteindex"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// BenchmarkSiteArticles100k answers pages of 50 of a site that has
// 100,000 articles online, over HTTP, with the site index built from a
// real JetStream stream of 100,000 events (real MinIO behind the
// service). It reports the p50 and p99 of a page (the target: p99 under
// 100 ms) and the time the index took to read the stream.
func BenchmarkSiteArticles100k(b *testing.B) {
	const n, readToken = 100_000, "front-reader-bench-0123456789"
	ctx := context.Background()
	_, nc := testenv.NATS(b)
	log := slog.New(slog.DiscardHandler)
	bs, err := bus.New(ctx, nc, bus.DefaultConfig(), log, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := status.Open(ctx, bs.JetStream(), 1)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := refs.Open(ctx, bs.JetStream(), 1)
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := blob.New(ctx, testenv.MinIO(b))
	if err != nil {
		b.Fatal(err)
	}
	js := bs.JetStream()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("01BENCH%019d", i)
		ev := &pb.ArticlePublished{Article: &pb.ArticleRef{Id: id, Version: 1}, Kind: events.Published.Proto(), Site: "front",
			Url: "https://front.example/articles/" + id + "/", NinjsUrl: "https://front.example/articles/" + id + "/ninjs.json",
			Title: fmt.Sprintf("Bài số %d của trang", i), PublishedAt: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)),
			Section: []string{"Thời sự", "Kinh tế", "Thể thao", "Văn hóa"}[i%4], Keywords: []string{fmt.Sprint("từ khóa ", i%50)},
			Subjects: []*pb.Concept{{Name: "economy", Code: fmt.Sprintf("medtop:%08d", i%17)}}}
		data, err := proto.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync(layout.SiteSubject("front", events.Published), data); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()

	hooks, err := webhooks.Open(ctx, bs.JetStream(), 1)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := New(Config{Bus: bs, Blobs: blobs, Status: st, Articles: st.NewIndex(), Refs: rs, SiteEvents: bs, Webhooks: hooks, MaxBodyBytes: 1000, Log: log,
		SiteReaders: []config.SiteReader{{Site: "front", TokenHash: config.HashToken(readToken)}}})
	if err != nil {
		b.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	go svc.followSites(fctx)
	testenv.WaitFor(b, "the index caught up", 2*time.Minute, svc.index.Ready)
	built := time.Since(start)
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	get := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	// The newest page, a filtered page, a page deep in the list, and a
	// time window: each is a scan of the index from a cursor.
	deep, err := svc.index.List("front", siteindex.Query{Limit: n / 2})
	if err != nil || deep.Next == "" {
		b.Fatal(err)
	}
	paths := []string{
		"/v1/sites/front/articles",
		"/v1/sites/front/articles?section=th%E1%BB%83%20thao",
		"/v1/sites/front/articles?after=" + deep.Next,
		"/v1/sites/front/articles?subject=medtop:00000003&until=2026-03-01T00:00:00Z",
	}
	testenv.TimeEach(b, func(i int) { get(paths[i%len(paths)]) })
	b.ReportMetric(built.Seconds(), "index-build-s")
}
