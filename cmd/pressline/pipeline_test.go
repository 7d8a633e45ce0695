package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/blob"
	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/testenv"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

const testToken = "test-token-0123456789"

// env is one NATS server and one MinIO server; pipelines start and stop
// on it, as processes would on real infrastructure.
type env struct {
	cfg *config.Config
	js  jetstream.JetStream
	s3  *blob.Store
}

func newEnv(t testing.TB, extra ...string) *env {
	return newEnvWith(t, "front,regional", "2", extra...)
}

func newEnvWith(t testing.TB, sites, workers string, extra ...string) *env {
	t.Helper()
	srv, nc := testenv.NATS(t)
	s3cfg := testenv.MinIO(t)
	var cfg config.Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if err := cfg.Register(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse(append([]string{
		"--nats-url=" + srv.ClientURL(), "--s3-endpoint=" + s3cfg.Endpoint,
		"--s3-access-key=" + s3cfg.AccessKey, "--s3-secret-key=" + s3cfg.SecretKey,
		"--http-addr=" + testenv.FreeAddr(t), "--newsrooms=quocoai:" + testToken + ":" + sites,
		"--site-url=http://news.test", "--workers=" + workers, "--inline-limit=4096",
		"--rate-per-second=0", // these tests load the pipeline on purpose
	}, extra...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(true); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := blob.New(context.Background(), s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: &cfg, js: js, s3: s3}
}

// pipeline is the four services running as `pressline run` runs them.
type pipeline struct {
	d      *deps
	cancel context.CancelFunc
	done   chan error
}

func (e *env) start(t testing.TB) *pipeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := connect(ctx, e.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	runners, err := d.build(ctx, allServices)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{d: d, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- runAll(ctx, log, runners) }()
	t.Cleanup(func() { p.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", e.cfg.HTTPAddr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not listening: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop shuts the pipeline down as SIGTERM does.
func (p *pipeline) stop(t testing.TB) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	if err := <-p.done; err != nil {
		t.Errorf("pipeline: %v", err)
	}
	p.d.close()
}

func (e *env) submit(t testing.TB, body []byte) string {
	return e.submitAs(t, body, "text/plain; charset=utf-8")
}

func (e *env) submitAs(t testing.TB, body []byte, contentType string, headers ...string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+e.cfg.HTTPAddr+"/v1/articles", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acc struct {
		ID        string `json:"id"`
		Version   int    `json:"version"`
		StatusURL string `json:"status_url"`
	}
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("submit: %s %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || acc.ID == "" || acc.Version < 1 || acc.StatusURL != "/v1/articles/"+acc.ID {
		t.Fatalf("202 body = %+v, %v", acc, err)
	}
	return acc.ID
}

// publication is one event on the sites stream and when it was stored.
type publication struct {
	ev *pb.ArticlePublished
	at time.Time
}

// publications reads every publication event so far, by article id.
func (e *env) publications(t testing.TB) map[string][]publication {
	t.Helper()
	ctx := context.Background()
	c, err := e.js.OrderedConsumer(ctx, bus.StreamSites, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]publication{}
	for {
		msgs, err := c.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			ev := &pb.ArticlePublished{}
			if err := proto.Unmarshal(m.Data(), ev); err != nil {
				t.Fatal(err)
			}
			kind := map[pb.PublicationKind]string{pb.PublicationKind_PUBLICATION_KIND_PUBLISHED: "published",
				pb.PublicationKind_PUBLICATION_KIND_UPDATED: "updated", pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN: "withdrawn"}[ev.Kind]
			if m.Subject() != bus.SiteSubject(ev.Site, kind) {
				t.Errorf("%v event for site %s on subject %s", ev.Kind, ev.Site, m.Subject())
			}
			meta, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			id := ev.GetArticle().GetId()
			out[id] = append(out[id], publication{ev: ev, at: meta.Timestamp})
		}
		if n == 0 {
			return out
		}
	}
}

// published is publications without the times.
func (e *env) published(t testing.TB) map[string][]*pb.ArticlePublished {
	out := map[string][]*pb.ArticlePublished{}
	for id, ps := range e.publications(t) {
		for _, p := range ps {
			out[id] = append(out[id], p.ev)
		}
	}
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestSamplePublishes is the README's walk-through as a test: the sample
// article goes in through the HTTP API and comes out as a ninjs document
// and an HTML page in S3, a published event per site, and a status record.
func TestSamplePublishes(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	id := e.submit(t, sample)
	waitFor(t, "published events on both sites", 10*time.Second, func() bool { return len(e.published(t)[id]) == 2 })

	ctx := context.Background()
	const title = "Xây dựng tổ chức Đảng trong sạch, vững mạnh"
	for _, ev := range e.published(t)[id] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_PUBLISHED || ev.Title != title || ev.Url != "http://news.test/"+ev.Site+"/articles/xay-dung-to-chuc-dang-trong-sach-vung-manh-"+strings.ToLower(id)+"/" {
			t.Errorf("event = %v", ev)
		}
		raw, err := e.s3.Get(ctx, ev.NinjsKey)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			URI       string `json:"uri"`
			Located   string `json:"located"`
			Headlines []struct{ Value string }
			First     string `json:"firstcreated"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Headlines[0].Value != title || doc.Located != "Quốc Oai" || doc.First != "2018-01-23T13:03:00+07:00" || doc.URI != ev.Url {
			t.Errorf("ninjs = %+v", doc)
		}
		page, err := e.s3.Get(ctx, ev.HtmlKey)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte("<h1>"+title+"</h1>")) {
			t.Errorf("page lacks the title:\n%.400s", page)
		}
	}
	// The clean service stores the document `pressline clean` prints.
	stored, err := e.s3.Get(ctx, "articles/"+id+"/v1/cleaned.json")
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	if err := cmdClean(ctx, []string{"../../../shared/samples/quoc-oai.txt"}, nil, &printed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored, printed.Bytes()) {
		t.Errorf("stored cleaned.json differs from pressline clean:\nstored:  %.300s\nprinted: %.300s", stored, printed.Bytes())
	}

	original, err := e.s3.Get(ctx, "originals/"+id+"/v1/article")
	if err != nil || !bytes.Equal(original, sample) {
		t.Errorf("original not stored untouched: %v", err)
	}

	var st struct {
		State   string   `json:"state"`
		URLs    []string `json:"urls"`
		History []struct{ Stage, State string }
		Article struct{ Newsroom string }
	}
	if code := getJSON(t, "http://"+e.cfg.HTTPAddr+"/v1/articles/"+id, &st); code != 200 {
		t.Fatalf("status: %d", code)
	}
	var steps []string
	for _, h := range st.History {
		steps = append(steps, h.Stage+":"+h.State)
	}
	if st.State != "published" || len(st.URLs) != 2 || st.Article.Newsroom != "quocoai" ||
		strings.Join(steps, " ") != "ingest:received clean:cleaned imageproc:media_ready publish:published" {
		t.Errorf("status = %+v", st)
	}
	if code := getJSON(t, "http://"+e.cfg.HTTPAddr+"/v1/articles/NOPE", nil); code != 404 {
		t.Errorf("unknown id: %d, want 404", code)
	}

	problems, err := testutil.GatherAndLint(p.d.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
	if n := testutil.CollectAndCount(p.d.reg, "pressline_pipeline_ingest_to_published_seconds"); n != 1 {
		t.Errorf("ingest-to-published histogram missing")
	}
}

// TestHTMLAndNinjsPublish sends a web page and a ninjs document through
// the pipeline: the clean service picks the format from the Content-Type.
func TestHTMLAndNinjsPublish(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	tests := []struct{ file, contentType, title string }{
		{"../../pkg/cleaner/testdata/corpus/vi-page-jsonld-figure.html", "text/html", "Mở rộng đường vành đai 3"},
		{"../../pkg/cleaner/testdata/corpus/vi-page-meta-windows-1258.html", "text/html", "Ba Vì phát triển du lịch cộng đồng"},
		{"../../pkg/cleaner/testdata/corpus/ninjs-3-bodies.json", "application/json", "Dock workers end three-day strike at Felixstowe"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		body, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		ids[e.submitAs(t, body, tt.contentType)] = tt.title
	}
	waitFor(t, "all published", 10*time.Second, func() bool {
		pub := e.published(t)
		for id := range ids {
			if len(pub[id]) < 2 {
				return false
			}
		}
		return true
	})
	for id, title := range ids {
		if got := e.published(t)[id][0].Title; got != title {
			t.Errorf("published title %q, want %q", got, title)
		}
	}
}

// TestImagesPublish posts an HTML article with two photos and one
// decompression bomb, served from an image server on loopback (allowed
// for the test with --fetch-allow): the photos publish with renditions
// in S3 and in the ninjs, the bomb is left out with a warning.
func TestImagesPublish(t *testing.T) {
	images := httptest.NewServer(http.FileServer(http.Dir("../../pkg/imaging/testdata")))
	defer images.Close()
	e := newEnv(t, "--fetch-allow=127.0.0.0/8")
	e.start(t)
	page := fmt.Sprintf(`<h1>Hội nghị tổng kết công tác xây dựng Đảng</h1>
<p>Sáng 15/8, Huyện ủy tổ chức hội nghị tổng kết công tác xây dựng Đảng năm 2023 với sự tham dự của hơn 200 đại biểu.</p>
<figure><img src="%[1]s/iptc.jpg" alt="Trao giấy khen"><figcaption></figcaption></figure>
<p>Báo cáo cho biết toàn huyện có 43 tổ chức cơ sở Đảng với trên 7.300 đảng viên, nhiều chỉ tiêu vượt kế hoạch đề ra.</p>
<figure><img src="%[1]s/photo.jpg" alt="Toàn cảnh"><figcaption>Toàn cảnh hội nghị. Ảnh: Lê Hà</figcaption></figure>
<p>Hội nghị đã biểu dương các tập thể, cá nhân có thành tích xuất sắc trong năm qua và đề ra nhiệm vụ cho năm tới.</p>
<figure><img src="%[1]s/bomb.png" alt="Bom"><figcaption>Ảnh lỗi</figcaption></figure>`, images.URL)
	id := e.submitAs(t, []byte(page), "text/html")
	waitFor(t, "published", 30*time.Second, func() bool { return len(e.published(t)[id]) == 2 })

	ctx := context.Background()
	ev := e.published(t)[id][0]
	doc := e.pictures(t, ev.NinjsKey)
	// The first photo had an empty caption: the embedded IPTC one fills
	// it, with the embedded credit; the second keeps the article's own.
	first, second := doc.Associations[0], doc.Associations[1]
	if first.Descriptions[0].Value != "Ông Nguyễn Văn Thọ trao Giấy khen cho các tổ chức cơ sở Đảng" || first.By != "Báo Hà Nội Mới" {
		t.Errorf("first picture: %+v", first)
	}
	if second.Descriptions[0].Value != "Toàn cảnh hội nghị." || second.By != "Lê Hà" {
		t.Errorf("second picture: %+v", second)
	}
	for _, pic := range doc.Associations {
		if len(pic.Renditions) != 6 { // 320, 640, 1024 × WebP, JPEG
			t.Errorf("%d renditions, want 6", len(pic.Renditions))
		}
		for _, r := range pic.Renditions {
			key := "public/" + strings.TrimPrefix(r.Href, "http://news.test/")
			if info, err := e.s3.Stat(ctx, key); err != nil || info.Size == 0 {
				t.Errorf("rendition %s not in S3: %v", key, err)
			}
		}
	}
	html, _ := e.s3.Get(ctx, ev.HtmlKey)
	if strings.Count(string(html), "<picture>") != 2 || strings.Contains(string(html), "bomb") {
		t.Errorf("page pictures:\n%s", html)
	}
	var st struct {
		Warnings []struct{ Code, Message string }
		History  []struct{ Stage, Detail string }
	}
	getJSON(t, "http://"+e.cfg.HTTPAddr+"/v1/articles/"+id, &st)
	refused := false
	for _, w := range st.Warnings {
		refused = refused || (w.Code == "image_refused" && strings.Contains(w.Message, "50000 × 50000"))
	}
	if !refused {
		t.Errorf("status warnings lack the refused bomb: %+v", st.Warnings)
	}
	for _, h := range st.History {
		if h.Stage == "imageproc" && h.Detail != "images: 2 rendered, 1 refused" {
			t.Errorf("imageproc detail %q", h.Detail)
		}
	}

	// pressline image makes the same renditions, byte for byte.
	dir := t.TempDir()
	if err := cmdImage(ctx, []string{"--out", dir, "../../pkg/imaging/testdata/photo.jpg"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, r := range second.Renditions {
		name := filepath.Base(r.Href)
		local, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := e.s3.Get(ctx, "public/"+strings.TrimPrefix(r.Href, "http://news.test/"))
		if err != nil || !bytes.Equal(local, stored) {
			t.Errorf("%s: pressline image and the service differ (%v)", name, err)
		}
	}

	// The same photo in another article is not processed again.
	again := e.submitAs(t, []byte(fmt.Sprintf(`<h1>Bài khác dùng lại ảnh</h1><p>Một bài viết khác với cùng bức ảnh hội nghị.</p><figure><img src="%s/photo.jpg"></figure>`, images.URL)), "text/html")
	waitFor(t, "second article published", 30*time.Second, func() bool { return len(e.published(t)[again]) == 2 })
	getJSON(t, "http://"+e.cfg.HTTPAddr+"/v1/articles/"+again, &st)
	for _, h := range st.History {
		if h.Stage == "imageproc" && h.Detail != "images: 1 reused" {
			t.Errorf("second article's imageproc detail %q, want reuse", h.Detail)
		}
	}
}

// ninjsPictures is the part of a published ninjs document the image
// tests read.
type ninjsPictures struct {
	Associations []struct {
		By           string
		Descriptions []struct{ Value string }
		Renditions   []struct {
			Href          string
			Width, Height int
		}
	}
}

// pictures reads the pictures of a published ninjs document; the tests
// using it send two images that must publish.
func (e *env) pictures(t *testing.T, key string) ninjsPictures {
	t.Helper()
	raw, err := e.s3.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var doc ninjsPictures
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Associations) != 2 {
		t.Fatalf("%d pictures in the ninjs, want 2:\n%s", len(doc.Associations), raw)
	}
	return doc
}

// TestUploadedImages sends the sample with two photos, as pressline
// submit --image does: the first fills the image placeholder the draft
// marker left (with the sample's own caption and the photo's embedded
// credit), the second, named nowhere, leads the body.
func TestUploadedImages(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	ct, body, err := multipartBody(sample, "text/plain; charset=utf-8",
		[]string{"../../pkg/imaging/testdata/iptc.jpg", "../../pkg/imaging/testdata/photo.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	id := e.submitAs(t, body, ct)
	waitFor(t, "published", 30*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	doc := e.pictures(t, e.published(t)[id][0].NinjsKey)
	lead, placeholder := doc.Associations[0], doc.Associations[1]
	if len(lead.Descriptions) != 0 || len(lead.Renditions) != 6 {
		t.Errorf("lead photo: %+v", lead)
	}
	if placeholder.Descriptions[0].Value != "Ông Nguyễn Văn Thọ - Bí thư Huyện ủy trao Giấy khen cho 22 tổ chức cơ sở Đảng đạt thành tích xuất sắc năm 2017" ||
		placeholder.By != "Báo Hà Nội Mới" || len(placeholder.Renditions) != 6 {
		t.Errorf("placeholder photo: %+v", placeholder)
	}
}

// TestCorrection sends an article and then, under the same External-Id,
// a corrected version: every site gets an updated event for version 2
// and the page shows the correction.
func TestCorrection(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	id := e.submitAs(t, []byte("Tiêu đề có lỗi chính tả\n\nNội dung bài viết lần đầu.\n"), "text/plain", "External-Id", "cms-1")
	waitFor(t, "first version", 10*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	if again := e.submitAs(t, []byte("Tiêu đề đã sửa\n\nNội dung bài viết đã sửa.\n"), "text/plain", "External-Id", "cms-1"); again != id {
		t.Fatalf("a correction got a new id %s, want %s", again, id)
	}
	waitFor(t, "updated events", 10*time.Second, func() bool { return len(e.published(t)[id]) == 4 })
	for _, ev := range e.published(t)[id][2:] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_UPDATED || ev.Article.GetVersion() != 2 || ev.Title != "Tiêu đề đã sửa" {
			t.Errorf("update event = %v", ev)
		}
		page, err := e.s3.Get(context.Background(), ev.HtmlKey)
		if err != nil || !bytes.Contains(page, []byte("<h1>Tiêu đề đã sửa</h1>")) {
			t.Errorf("page not corrected: %v", err)
		}
	}
}

// TestWithdraw takes a published article down: the pages go on every
// site, downstream sites are told, asking twice changes nothing, and a
// late delivery of the old version does not bring the page back.
func TestWithdraw(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	ctx := context.Background()
	id := e.submit(t, []byte("Bài sẽ bị gỡ\n\nNội dung bài viết sẽ bị gỡ xuống.\n"))
	waitFor(t, "published", 10*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	first := e.published(t)[id][0]

	del := func() int {
		req, _ := http.NewRequest("DELETE", "http://"+e.cfg.HTTPAddr+"/v1/articles/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := del(); code != 202 {
		t.Fatalf("withdraw: %d", code)
	}
	waitFor(t, "withdrawn events", 10*time.Second, func() bool { return len(e.published(t)[id]) == 4 })
	for _, ev := range e.published(t)[id][2:] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN || ev.Article.GetVersion() != 2 {
			t.Errorf("event %v", ev)
		}
		if _, err := e.s3.Stat(ctx, "public/"+ev.Site+"/articles/"+id+"/index.html"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("page on %s still there: %v", ev.Site, err)
		}
	}
	var st struct{ State string }
	getJSON(t, "http://"+e.cfg.HTTPAddr+"/v1/articles/"+id, &st)
	if st.State != "withdrawn" {
		t.Errorf("state %q", st.State)
	}
	if code := del(); code != 200 {
		t.Errorf("second withdraw: %d, want 200", code)
	}

	// The old version comes back late (a redelivery, a replay): skipped.
	old := &pb.MediaReady{Article: first.Article, Content: &pb.Payload{Location: &pb.Payload_Inline{Inline: mustMarshal(t, &pb.Article{Title: "Bài sẽ bị gỡ"})}}}
	if err := p.d.bus.Publish(ctx, bus.SubjectMediaReady, "late-replay", first.Article, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := e.s3.Stat(ctx, first.HtmlKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a late old version brought the page back: %v", err)
	}
	if n := len(e.published(t)[id]); n != 4 {
		t.Errorf("%d events after the late delivery, want 4", n)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestThousandConcurrent: 1,000 submissions at once, 50 in flight, get
// 1,000 distinct ids, and every one publishes exactly once.
func TestThousandConcurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 articles through MinIO take about 15 s")
	}
	e := newEnvWith(t, "front", "8")
	e.start(t)
	const n = 1000
	ids := make([]string, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for i := range work {
				ids[i] = e.submit(t, fmt.Appendf(nil, "Tin số %d\n\nĐoạn mở đầu của tin số %d.\n", i, i))
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	distinct := map[string]bool{}
	for _, id := range ids {
		distinct[id] = true
	}
	if len(distinct) != n {
		t.Fatalf("%d distinct ids for %d submissions", len(distinct), n)
	}
	waitFor(t, "all published", 2*time.Minute, func() bool {
		pub := e.published(t)
		for _, id := range ids {
			if len(pub[id]) == 0 {
				return false
			}
		}
		return true
	})
	for id, evs := range e.published(t) {
		if len(evs) != 1 {
			t.Errorf("%s published %d times", id, len(evs))
		}
	}
}

// TestRestartLosesNothing stops the whole pipeline, as SIGTERM would,
// while articles are in flight, starts it again, and checks that every
// accepted article is published exactly once per site.
func TestRestartLosesNothing(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = e.submit(t, fmt.Appendf(nil, "Tin số %d\n\nĐoạn mở đầu của tin %d.\n\nThân bài.\n", i, i))
		})
		if i == n/2 {
			wg.Wait()
			p.stop(t) // mid-stream: half accepted, some in flight
			p = e.start(t)
		}
	}
	wg.Wait()
	waitFor(t, "every article published", 20*time.Second, func() bool {
		pub := e.published(t)
		for _, id := range ids {
			if len(pub[id]) < 2 {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // let any duplicate arrive
	for _, id := range ids {
		if got := len(e.published(t)[id]); got != 2 {
			t.Errorf("article %s published %d times, want once per site (2)", id, got)
		}
	}
}

// TestPoisonArticle sends an event whose original is missing: clean gives
// up at once, the article shows as failed with the reason, the dead letter
// is listed, and once the cause is fixed a replay publishes it.
func TestPoisonArticle(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	ctx := context.Background()
	ref := &pb.ArticleRef{Id: "01POISON", Version: 1, Newsroom: "quocoai", Sites: []string{"front"}}
	ev := &pb.ArticleReceived{Article: ref, OriginalKey: "originals/01POISON/v1/article",
		Original: &pb.Payload{Location: &pb.Payload_BlobKey{BlobKey: "originals/01POISON/v1/article"}}}
	if err := p.d.bus.Publish(ctx, bus.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	var dls []bus.DeadLetterRecord
	waitFor(t, "dead letter", 10*time.Second, func() bool {
		dls = dls[:0]
		for rec, err := range p.d.bus.DeadLetters(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			dls = append(dls, rec)
		}
		return len(dls) == 1
	})
	if dl := dls[0]; dl.Stage != "clean" || !dl.Permanent || dl.Attempts != 1 || !strings.Contains(dl.Error, "not found") {
		t.Errorf("dead letter = %+v", dl.DeadLetter)
	}
	// The status is marked after the dead letter is stored.
	var st *pb.ArticleStatus
	waitFor(t, "status failed", 10*time.Second, func() bool {
		st, _ = p.d.status.Get(ctx, "01POISON")
		return st.GetState() == "failed"
	})
	if !strings.Contains(st.Error, "not found") {
		t.Fatalf("status = %v", st)
	}
	var out bytes.Buffer
	if err := listDeadLetters(ctx, p.d.bus, &out); err != nil || !strings.Contains(out.String(), "01POISON") {
		t.Errorf("dlq list: %v\n%s", err, out.String())
	}

	if err := e.s3.Put(ctx, "originals/01POISON/v1/article", []byte("Sửa xong\n\nBài đã có bản gốc.\n"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.d.bus.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replayed article published", 10*time.Second, func() bool { return len(e.published(t)["01POISON"]) == 1 })
}

// TestHostilePagePublishesNothingExecutable sends an HTML page full of
// scripts, event handlers, javascript: URLs and CSS tricks through the
// whole pipeline: the published page and ninjs keep the text and none
// of the rest.
func TestHostilePagePublishesNothingExecutable(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	body, err := os.ReadFile("testdata/hostile.html")
	if err != nil {
		t.Fatal(err)
	}
	id := e.submitAs(t, body, "text/html; charset=utf-8")
	waitFor(t, "published", 30*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	ev := e.published(t)[id][0]
	for _, key := range []string{ev.HtmlKey, ev.NinjsKey} {
		raw, err := e.s3.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		out := string(raw)
		if !strings.Contains(out, "Council approves the new river bridge") || !strings.Contains(out, "no cars") {
			t.Errorf("%s lost the text:\n%s", key, out)
		}
		lower := strings.ToLower(out)
		lower = strings.ReplaceAll(lower, `<script type="application/ld+json">`, "")
		for _, bad := range []string{"<script", "javascript:", "onload", "onerror", "onclick", "onmouseover", "<iframe", "<object", "<form", "<svg", "expression(", "evil.example", "position:fixed", "display:none"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s holds %q", key, bad)
			}
		}
	}
}

// TestEmbargoThroughTheAPI: an Embargo header holds the article, its
// status says until when, and it is published at that time.
func TestEmbargoThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	until := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	id := e.submitAs(t, []byte("Tin giờ G\n\nBài viết được giữ đến giờ công bố.\n"), "text/plain", "Embargo", until.Format(time.RFC3339))
	waitFor(t, "embargoed", 10*time.Second, func() bool {
		st, _ := p.d.status.Get(context.Background(), id)
		return st.GetState() == "embargoed"
	})
	if len(e.published(t)[id]) != 0 {
		t.Fatal("published before the embargo")
	}
	waitFor(t, "published", 20*time.Second, func() bool { return len(e.published(t)[id]) == 2 })
	if at := e.published(t)[id][0].PublishedAt.AsTime(); at.Before(until) {
		t.Errorf("published at %s, before %s", at, until)
	}
	req, _ := http.NewRequest("POST", "http://"+e.cfg.HTTPAddr+"/v1/articles", strings.NewReader("Tin\n\nBài.\n"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Embargo", "tomorrow morning")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	problem, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(problem), "invalid-embargo") || !strings.Contains(string(problem), "RFC 3339") {
		t.Errorf("a malformed Embargo: %s %s", resp.Status, problem)
	}
}
