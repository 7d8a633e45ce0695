package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/app"
	"github.com/pressline/pressline/internal/app/apptest"
	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/imaging"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/services/clean"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestSamplePublishes is the README's walk-through as a test: the sample
// article goes in through the HTTP API and comes out as a ninjs document
// and an HTML page in S3, a published event per site, and a status record.
func TestSamplePublishes(t *testing.T) {
	e := newEnv(t)
	p := e.Start(t)
	sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	id := e.Submit(t, sample)
	testenv.WaitFor(t, "published events on both sites", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })

	ctx := context.Background()
	const title = "Xây dựng tổ chức Đảng trong sạch, vững mạnh"
	for _, ev := range e.Published(t)[id] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_PUBLISHED || ev.Title != title || ev.Url != "http://news.test/"+ev.Site+"/articles/xay-dung-to-chuc-dang-trong-sach-vung-manh-"+strings.ToLower(id)+"/" {
			t.Errorf("event = %v", ev)
		}
		raw, err := e.S3.Get(ctx, ev.NinjsKey)
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
		page, err := e.S3.Get(ctx, ev.HtmlKey)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(page, []byte("<h1>"+title+"</h1>")) {
			t.Errorf("page lacks the title:\n%.400s", page)
		}
	}
	// The clean service stores the document `pressline clean` prints.
	stored, err := e.S3.Get(ctx, "articles/"+id+"/v1/cleaned.json")
	if err != nil {
		t.Fatal(err)
	}
	printed := pressline(t, "clean", "../../../shared/samples/quoc-oai.txt")
	if !bytes.Equal(stored, printed) {
		t.Errorf("stored cleaned.json differs from pressline clean:\nstored:  %.300s\nprinted: %.300s", stored, printed)
	}

	original, err := e.S3.Get(ctx, "originals/"+id+"/v1/article")
	if err != nil || !bytes.Equal(original, sample) {
		t.Errorf("original not stored untouched: %v", err)
	}

	var st struct {
		State   string   `json:"state"`
		URLs    []string `json:"urls"`
		History []struct{ Stage, State string }
		Article struct{ Newsroom string }
	}
	if code := e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/"+id, &st); code != 200 {
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
	if code := e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/01KBZZZZZZZZZZZZZZZZZZZZZZ", nil); code != 404 {
		t.Errorf("unknown id: %d, want 404", code)
	}
	if code := e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/NOPE", nil); code != 400 {
		t.Errorf("not an id: %d, want 400", code)
	}

	problems, err := testutil.GatherAndLint(p.Registry)
	if err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
	if n := testutil.CollectAndCount(p.Registry, "pressline_pipeline_ingest_to_published_seconds"); n != 1 {
		t.Errorf("ingest-to-published histogram missing")
	}
}

// TestHTMLAndNinjsPublish sends a web page and a ninjs document through
// the pipeline: the clean service picks the format from the Content-Type.
func TestHTMLAndNinjsPublish(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	tests := []struct{ file, contentType, title string }{
		{"../cleaner/testdata/corpus/vi-page-jsonld-figure.html", "text/html", "Mở rộng đường vành đai 3"},
		{"../cleaner/testdata/corpus/vi-page-meta-windows-1258.html", "text/html", "Ba Vì phát triển du lịch cộng đồng"},
		{"../cleaner/testdata/corpus/ninjs-3-bodies.json", "application/json", "Dock workers end three-day strike at Felixstowe"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		body, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		ids[submitAs(t, e, body, tt.contentType)] = tt.title
	}
	testenv.WaitFor(t, "all published", 10*time.Second, func() bool {
		pub := e.Published(t)
		for id := range ids {
			if len(pub[id]) < 2 {
				return false
			}
		}
		return true
	})
	for id, title := range ids {
		if got := e.Published(t)[id][0].Title; got != title {
			t.Errorf("published title %q, want %q", got, title)
		}
	}
}

// TestImagesPublish posts an HTML article with two photos and one
// decompression bomb, served from an image server on loopback (allowed
// for the test with --fetch-allow): the photos publish with renditions
// in S3 and in the ninjs, the bomb is left out with a warning.
func TestImagesPublish(t *testing.T) {
	images := httptest.NewServer(http.FileServer(http.Dir("../imaging/testdata")))
	defer images.Close()
	e := newEnv(t)
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.Start(t)
	page := fmt.Sprintf(`<h1>Hội nghị tổng kết công tác xây dựng Đảng</h1>
<p>Sáng 15/8, Huyện ủy tổ chức hội nghị tổng kết công tác xây dựng Đảng năm 2023 với sự tham dự của hơn 200 đại biểu.</p>
<figure><img src="%[1]s/iptc.jpg" alt="Trao giấy khen"><figcaption></figcaption></figure>
<p>Báo cáo cho biết toàn huyện có 43 tổ chức cơ sở Đảng với trên 7.300 đảng viên, nhiều chỉ tiêu vượt kế hoạch đề ra.</p>
<figure><img src="%[1]s/photo.jpg" alt="Toàn cảnh"><figcaption>Toàn cảnh hội nghị. Ảnh: Lê Hà</figcaption></figure>
<p>Hội nghị đã biểu dương các tập thể, cá nhân có thành tích xuất sắc trong năm qua và đề ra nhiệm vụ cho năm tới.</p>
<figure><img src="%[1]s/bomb.png" alt="Bom"><figcaption>Ảnh lỗi</figcaption></figure>`, images.URL)
	id := submitAs(t, e, []byte(page), "text/html")
	testenv.WaitFor(t, "published", 30*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })

	ctx := context.Background()
	ev := e.Published(t)[id][0]
	doc := pictures(t, e, ev.NinjsKey)
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
			if info, err := e.S3.Stat(ctx, key); err != nil || info.Size == 0 {
				t.Errorf("rendition %s not in S3: %v", key, err)
			}
		}
	}
	html, _ := e.S3.Get(ctx, ev.HtmlKey)
	if strings.Count(string(html), "<picture>") != 2 || strings.Contains(string(html), "bomb") {
		t.Errorf("page pictures:\n%s", html)
	}
	var st struct {
		Warnings []struct{ Code, Message string }
		History  []struct{ Stage, Detail string }
	}
	e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/"+id, &st)
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
	pressline(t, "image", "--out", dir, "../imaging/testdata/photo.jpg")
	for _, r := range second.Renditions {
		name := filepath.Base(r.Href)
		local, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := e.S3.Get(ctx, "public/"+strings.TrimPrefix(r.Href, "http://news.test/"))
		if err != nil || !bytes.Equal(local, stored) {
			t.Errorf("%s: pressline image and the service differ (%v)", name, err)
		}
	}

	// The same photo in another article is not processed again.
	again := submitAs(t, e, []byte(fmt.Sprintf(`<h1>Bài khác dùng lại ảnh</h1><p>Một bài viết khác với cùng bức ảnh hội nghị.</p><figure><img src="%s/photo.jpg"></figure>`, images.URL)), "text/html")
	testenv.WaitFor(t, "second article published", 30*time.Second, func() bool { return len(e.Published(t)[again]) == 2 })
	e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/"+again, &st)
	for _, h := range st.History {
		if h.Stage == "imageproc" && h.Detail != "images: 1 reused" {
			t.Errorf("second article's imageproc detail %q, want reuse", h.Detail)
		}
	}
	// It leads this one, so it has its crops now, beside the renditions.
	sha := path.Base(path.Dir(second.Renditions[0].Href))
	raw, err := e.S3.Get(ctx, layout.MediaIndex(sha))
	if err != nil {
		t.Fatal(err)
	}
	var media pb.Media
	if err := protojson.Unmarshal(raw, &media); err != nil || len(media.GetCrops()) != 3 || len(media.GetRenditions()) != len(second.Renditions) {
		t.Errorf("media.json after the photo led an article: %d crops, %d renditions (%v)", len(media.GetCrops()), len(media.GetRenditions()), err)
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
func pictures(t *testing.T, e *apptest.Env, key string) ninjsPictures {
	t.Helper()
	raw, err := e.S3.Get(context.Background(), key)
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

// publishedWarnings waits until article id is published and returns the
// codes of its warnings.
func publishedWarnings(t *testing.T, e *apptest.Env, id string) []string {
	t.Helper()
	var st *pb.ArticleStatus
	testenv.WaitFor(t, "published", 30*time.Second, func() bool {
		var err error
		st, err = e.API().Status(context.Background(), id)
		return err == nil && st.GetState() == status.Published
	})
	var codes []string
	for _, w := range st.GetWarnings() {
		codes = append(codes, w.GetCode())
	}
	return codes
}

// TestImagesPerArticleBounded: an HTML article naming more images than
// --max-article-images gets renditions for the first ones only; the rest
// are left out with one warning, and the article publishes.
func TestImagesPerArticleBounded(t *testing.T) {
	var fetched atomic.Int32
	files := http.FileServer(http.Dir("../imaging/testdata"))
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		r.URL.Path = "/photo.jpg"
		files.ServeHTTP(w, r)
	}))
	defer images.Close()
	e := newEnv(t)
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e.Config.MaxArticleImages = 2
	e.Start(t)
	var page strings.Builder
	page.WriteString("<h1>Một bài nhiều ảnh</h1><p>Một bài viết với rất nhiều ảnh, nhiều hơn giới hạn cho một bài.</p>")
	for i := range 6 {
		fmt.Fprintf(&page, `<figure><img src="%s/p%d.jpg" alt="Ảnh %d"></figure>`, images.URL, i, i)
	}
	id := submitAs(t, e, []byte(page.String()), "text/html")
	if codes := publishedWarnings(t, e, id); !slices.Contains(codes, "images_over_limit") {
		t.Errorf("warnings %v, want images_over_limit", codes)
	}
	if n := fetched.Load(); n != 2 {
		t.Errorf("%d images fetched, want the first 2", n)
	}
}

// TestUploadedImages sends the sample with two photos, as pressline
// submit --image does: the first fills the image placeholder the draft
// marker left (with the sample's own caption and the photo's embedded
// credit), the second, named nowhere, leads the body.
func TestUploadedImages(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	id := submitSampleWithPhotos(t, e)
	testenv.WaitFor(t, "published", 30*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	doc := pictures(t, e, e.Published(t)[id][0].NinjsKey)
	lead, placeholder := doc.Associations[0], doc.Associations[1]
	if len(lead.Descriptions) != 0 || len(lead.Renditions) != 6 {
		t.Errorf("lead photo: %+v", lead)
	}
	if placeholder.Descriptions[0].Value != "Ông Nguyễn Văn Thọ - Bí thư Huyện ủy trao Giấy khen cho 22 tổ chức cơ sở Đảng đạt thành tích xuất sắc năm 2017" ||
		placeholder.By != "Báo Hà Nội Mới" || len(placeholder.Renditions) != 6 {
		t.Errorf("placeholder photo: %+v", placeholder)
	}
}

// TestContentCannotNameAnotherUpload: an article's content that names
// a stored file ("upload:<key>", here the photo of another article held
// under embargo) does not get it; the image is left out with a warning
// and the held photo stays unpublished.
func TestContentCannotNameAnotherUpload(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	photo, err := os.ReadFile("../imaging/testdata/photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	held := e.SubmitAs(t, client.Submission{Body: []byte("Tin giữ lại\n\nCòn trong thời hạn cấm đăng.\n"), ContentType: "text/plain; charset=utf-8",
		Embargo: time.Now().Add(24 * time.Hour), Files: []client.File{{Name: "secret.jpg", Data: photo}}})
	key := layout.Upload(held, 1, "secret.jpg")
	if _, err := e.S3.Get(context.Background(), key); err != nil {
		t.Fatalf("the held article's photo is not at %s: %v", key, err)
	}
	thief := e.SubmitAs(t, client.Submission{ContentType: "text/html; charset=utf-8",
		Body: fmt.Appendf(nil, `<html><head><title>Ảnh của người khác</title></head><body><article><h1>Ảnh của người khác</h1><p>Một bài viết đủ dài để được đăng, với một ảnh không phải của nó.</p><figure><img src="upload:%s" alt="x"></figure></article></body></html>`, key)})
	if codes := publishedWarnings(t, e, thief); !slices.Contains(codes, "image_not_uploaded") {
		t.Errorf("warnings %v, want image_not_uploaded", codes)
	}
	raw, err := e.S3.Get(context.Background(), e.Published(t)[thief][0].NinjsKey)
	if err != nil {
		t.Fatal(err)
	}
	var doc ninjsPictures
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Associations) != 0 {
		t.Errorf("the article got pictures (%v): %s", err, raw)
	}
}

// TestCorrection sends an article and then, under the same External-Id,
// a corrected version: every site gets an updated event for version 2
// and the page shows the correction.
func TestCorrection(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	id := submitAs(t, e, []byte("Tiêu đề có lỗi chính tả\n\nNội dung bài viết lần đầu.\n"), "text/plain", "External-Id", "cms-1")
	testenv.WaitFor(t, "first version", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	if again := submitAs(t, e, []byte("Tiêu đề đã sửa\n\nNội dung bài viết đã sửa.\n"), "text/plain", "External-Id", "cms-1"); again != id {
		t.Fatalf("a correction got a new id %s, want %s", again, id)
	}
	testenv.WaitFor(t, "updated events", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 4 })
	for _, ev := range e.Published(t)[id][2:] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_UPDATED || ev.Article.GetVersion() != 2 || ev.Title != "Tiêu đề đã sửa" {
			t.Errorf("update event = %v", ev)
		}
		page, err := e.S3.Get(context.Background(), ev.HtmlKey)
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
	p := e.Start(t)
	ctx := context.Background()
	id := e.Submit(t, []byte("Bài sẽ bị gỡ\n\nNội dung bài viết sẽ bị gỡ xuống.\n"))
	testenv.WaitFor(t, "published", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	first := e.Published(t)[id][0]

	del := func() int {
		req, _ := http.NewRequest("DELETE", "http://"+e.Config.HTTPAddr+"/v1/articles/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+apptest.Token)
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
	testenv.WaitFor(t, "withdrawn events", 10*time.Second, func() bool { return len(e.Published(t)[id]) == 4 })
	for _, ev := range e.Published(t)[id][2:] {
		if ev.Kind != pb.PublicationKind_PUBLICATION_KIND_WITHDRAWN || ev.Article.GetVersion() != 2 {
			t.Errorf("event %v", ev)
		}
		if _, err := e.S3.Stat(ctx, "public/"+ev.Site+"/articles/"+id+"/index.html"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("page on %s still there: %v", ev.Site, err)
		}
	}
	var st struct{ State string }
	e.GetJSON(t, "http://"+e.Config.HTTPAddr+"/v1/articles/"+id, &st)
	if st.State != "withdrawn" {
		t.Errorf("state %q", st.State)
	}
	if code := del(); code != 200 {
		t.Errorf("second withdraw: %d, want 200", code)
	}

	// The old version comes back late (a redelivery, a replay): skipped.
	old := &pb.MediaReady{Article: first.Article, Content: &pb.Payload{Location: &pb.Payload_Inline{Inline: mustMarshal(t, &pb.Article{Title: "Bài sẽ bị gỡ"})}}}
	if err := p.Bus.Publish(ctx, layout.MediaReadySubject(first.Article.GetId()), "late-replay", first.Article, old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := e.S3.Stat(ctx, first.HtmlKey); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a late old version brought the page back: %v", err)
	}
	if n := len(e.Published(t)[id]); n != 4 {
		t.Errorf("%d events after the late delivery, want 4", n)
	}
}

// TestWithdrawnPhotosAreRemoved: withdrawing an article removes its
// photos' renditions when no other article uses them, and keeps the ones
// another published article still shows.
func TestWithdrawnPhotosAreRemoved(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	ctx := context.Background()
	read := func(name string) client.File {
		data, err := os.ReadFile("../imaging/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return client.File{Name: name, Data: data}
	}
	body := func(title string) []byte {
		return []byte(title + "\n\nSáng 15/8, Huyện ủy tổ chức hội nghị tổng kết công tác xây dựng Đảng năm 2023 với hơn 200 đại biểu.\n")
	}
	both := e.SubmitAs(t, client.Submission{Body: body("Bài có hai ảnh"), ContentType: "text/plain; charset=utf-8", Files: []client.File{read("iptc.jpg"), read("photo.jpg")}})
	shared := e.SubmitAs(t, client.Submission{Body: body("Bài dùng lại một ảnh"), ContentType: "text/plain; charset=utf-8", Files: []client.File{read("photo.jpg")}})
	testenv.WaitFor(t, "both published", 30*time.Second, func() bool {
		p := e.Published(t)
		return len(p[both]) == 2 && len(p[shared]) == 2
	})
	// The photos' hashes, from the renditions' addresses.
	var sums []string
	for _, pic := range pictures(t, e, e.Published(t)[both][0].NinjsKey).Associations {
		sums = append(sums, path.Base(path.Dir(pic.Renditions[0].Href)))
	}
	own, common := sums[0], sums[1]
	files := func(sum string) int {
		n := 0
		for _, err := range e.S3.List(ctx, layout.Media(sum, "")) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	if files(own) == 0 || files(common) == 0 {
		t.Fatalf("renditions not stored: %d and %d files", files(own), files(common))
	}
	withdraw := func(id string) {
		if _, err := e.API().Withdraw(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, "withdrawn", 30*time.Second, func() bool {
			st, err := e.API().Status(ctx, id)
			return err == nil && st.GetState() == status.Withdrawn
		})
	}
	withdraw(both)
	if n := files(own); n != 0 {
		t.Errorf("the withdrawn article's own photo kept %d files", n)
	}
	if n := files(common); n == 0 {
		t.Error("the photo another published article shows was removed")
	}
	withdraw(shared)
	if n := files(common); n != 0 {
		t.Errorf("the photo no article uses any more kept %d files", n)
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
	e := apptest.New(t, []string{"front"}, 8)
	e.Start(t)
	const n = 1000
	ids := make([]string, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for i := range work {
				ids[i] = e.Submit(t, fmt.Appendf(nil, "Tin số %d\n\nĐoạn mở đầu của tin số %d.\n", i, i))
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
	testenv.WaitFor(t, "all published", 2*time.Minute, func() bool {
		pub := e.Published(t)
		for _, id := range ids {
			if len(pub[id]) == 0 {
				return false
			}
		}
		return true
	})
	for id, evs := range e.Published(t) {
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
	p := e.Start(t)
	const n = 40
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = e.Submit(t, fmt.Appendf(nil, "Tin số %d\n\nĐoạn mở đầu của tin %d.\n\nThân bài.\n", i, i))
		})
		if i == n/2 {
			wg.Wait()
			_ = p.Stop() // mid-stream: half accepted, some in flight
			p = e.Start(t)
		}
	}
	wg.Wait()
	testenv.WaitFor(t, "every article published", 20*time.Second, func() bool {
		pub := e.Published(t)
		for _, id := range ids {
			if len(pub[id]) < 2 {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // let any duplicate arrive
	for _, id := range ids {
		if got := len(e.Published(t)[id]); got != 2 {
			t.Errorf("article %s published %d times, want once per site (2)", id, got)
		}
	}
}

// TestPoisonArticle sends an event whose original is missing: clean gives
// up at once, the article shows as failed with the reason, the dead letter
// is listed, and once the cause is fixed a replay publishes it.
func TestPoisonArticle(t *testing.T) {
	e := newEnv(t)
	p := e.Start(t)
	ctx := context.Background()
	ref := &pb.ArticleRef{Id: "01POISON", Version: 1, Newsroom: "quocoai", Sites: []string{"front"}}
	ev := &pb.ArticleReceived{Article: ref, OriginalKey: "originals/01POISON/v1/article",
		Original: &pb.Payload{Location: &pb.Payload_BlobKey{BlobKey: "originals/01POISON/v1/article"}}}
	if err := p.Bus.Publish(ctx, layout.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		t.Fatal(err)
	}
	var dls []bus.DeadLetterRecord
	testenv.WaitFor(t, "dead letter", 10*time.Second, func() bool {
		dls = dls[:0]
		for rec, err := range p.Bus.DeadLetters(ctx) {
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
	testenv.WaitFor(t, "status failed", 10*time.Second, func() bool {
		st, _ = p.Status.Get(ctx, "01POISON")
		return st.GetState() == "failed"
	})
	if !strings.Contains(st.Error, "not found") {
		t.Fatalf("status = %v", st)
	}
	if out := pressline(t, "dlq", "list", "--nats-url", e.NATSURL); !bytes.Contains(out, []byte("01POISON")) {
		t.Errorf("dlq list:\n%s", out)
	}

	if err := e.S3.Put(ctx, "originals/01POISON/v1/article", []byte("Sửa xong\n\nBài đã có bản gốc.\n"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Bus.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "replayed article published", 10*time.Second, func() bool { return len(e.Published(t)["01POISON"]) == 1 })
}

// panicky is the real bus, with the clean stage's handler made to panic
// on every article whose original holds marker while armed: a bug that
// only one article's content reaches.
type panicky struct {
	*bus.Bus
	marker []byte
	armed  *atomic.Bool
}

func (b panicky) Consume(ctx context.Context, cfg bus.ConsumerConfig, h bus.Handler) error {
	return b.Bus.Consume(ctx, cfg, func(ctx context.Context, m *bus.Msg) error {
		if b.armed.Load() && bytes.Contains(m.Data, b.marker) {
			var rules []string
			_ = rules[len(m.Data)] // index out of range, as a real bug would
		}
		return h(ctx, m)
	})
}

// TestPanickingStageLosesNothing: in a whole pipeline, a clean stage that
// panics on one article's content ends that article as a dead letter
// with the panic's reason and a failed status, within its attempts; the
// process stays up and publishes the articles around it; once the bug is
// gone the dead letter replays to a published article.
func TestPanickingStageLosesNothing(t *testing.T) {
	e := newEnv(t)
	var armed atomic.Bool
	armed.Store(true)
	marker := []byte("CMS-EXPORT-7731")
	others := slices.DeleteFunc(slices.Clone(app.Services), func(s string) bool { return s == clean.Stage })
	p := e.StartWith(t, others, func(p *app.Process) app.Runner {
		cl, err := cleaner.New(p.Config.Cleaning())
		if err != nil {
			t.Fatal(err)
		}
		svc, err := clean.New(clean.Config{Bus: panicky{p.Bus, marker, &armed}, Blobs: p.Blobs, Status: p.Status,
			Consumer:    bus.ConsumerConfig{Workers: p.Config.Workers, MaxAttempts: p.Config.MaxAttempts, AckWait: p.Config.AckWait},
			InlineLimit: p.Config.InlineLimit, Cleaner: cl, Log: p.Log})
		if err != nil {
			t.Fatal(err)
		}
		return app.Runner{Name: clean.Stage, Run: svc.Run}
	})
	ctx := context.Background()
	before := e.Submit(t, []byte("Tin trước\n\nBài gửi trước bài gây lỗi.\n"))
	bad := e.Submit(t, fmt.Appendf(nil, "Tin gây lỗi\n\nBài có mã %s làm công đoạn làm sạch hoảng loạn.\n", marker))
	after := e.Submit(t, []byte("Tin sau\n\nBài gửi sau bài gây lỗi.\n"))
	testenv.WaitFor(t, "the articles around the panic published", 20*time.Second, func() bool {
		pub := e.Published(t)
		return len(pub[before]) == 2 && len(pub[after]) == 2
	})

	var st *pb.ArticleStatus
	testenv.WaitFor(t, "the panicking article failed", 20*time.Second, func() bool {
		st, _ = p.Status.Get(ctx, bad)
		return st.GetState() == "failed"
	})
	if !strings.Contains(st.Error, "panic: ") || !strings.Contains(st.Error, "index out of range") {
		t.Errorf("failed status says %q, want the panic", st.Error)
	}
	var dl bus.DeadLetterRecord
	for rec, err := range p.Bus.DeadLetters(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.ArticleId == bad {
			dl = rec
		} else {
			t.Errorf("dead letter for another article: %+v", rec.DeadLetter)
		}
	}
	if dl.ID == 0 || dl.Stage != clean.Stage || !dl.Permanent || dl.Attempts != 1 || !strings.Contains(dl.Error, "panicky).Consume") || !strings.Contains(dl.Error, "(pipeline_test.go:") {
		t.Fatalf("dead letter = %+v, want clean's, permanent after one attempt, naming where it panicked", dl.DeadLetter)
	}
	mfs, err := p.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var panics float64
	for _, mf := range mfs {
		if mf.GetName() == "pressline_stage_panics_total" {
			for _, m := range mf.GetMetric() {
				panics += m.GetCounter().GetValue()
			}
		}
	}
	if panics != 1 {
		t.Errorf("panics counted: %v, want 1", panics)
	}
	// The process is still up: a new article goes through.
	late := e.Submit(t, []byte("Tin muộn\n\nBài gửi khi bài lỗi đã vào hàng chết.\n"))
	testenv.WaitFor(t, "an article sent after the panic published", 20*time.Second, func() bool { return len(e.Published(t)[late]) == 2 })

	armed.Store(false) // the fix is deployed
	if _, err := p.Bus.ReplayDeadLetter(ctx, dl.ID); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the replayed article published", 20*time.Second, func() bool { return len(e.Published(t)[bad]) == 2 })
}

// TestHostilePagePublishesNothingExecutable sends an HTML page full of
// scripts, event handlers, javascript: URLs and CSS tricks through the
// whole pipeline: the published page and ninjs keep the text and none
// of the rest. Its frame, like any frame of a platform Pressline does
// not know, is kept as what it is in the article, a link to the framed
// address, shown as a card and never loaded.
func TestHostilePagePublishesNothingExecutable(t *testing.T) {
	e := newEnv(t)
	e.Start(t)
	body, err := os.ReadFile("testdata/hostile.html")
	if err != nil {
		t.Fatal(err)
	}
	id := submitAs(t, e, body, "text/html; charset=utf-8")
	testenv.WaitFor(t, "published", 30*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	ev := e.Published(t)[id][0]
	for _, key := range []string{ev.HtmlKey, ev.NinjsKey} {
		raw, err := e.S3.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		out := string(raw)
		if !strings.Contains(out, "Council approves the new river bridge") || !strings.Contains(out, "no cars") {
			t.Errorf("%s lost the text:\n%s", key, out)
		}
		const frame = "https://evil.example/frame"
		if key == ev.HtmlKey && !strings.Contains(out, `<a class="embed-card" href="`+frame+`" rel="noopener">`) {
			t.Errorf("%s does not show the frame as a link card:\n%s", key, out)
		}
		lower := strings.ToLower(out)
		lower = strings.ReplaceAll(lower, `<script type="application/ld+json">`, "")
		lower = strings.ReplaceAll(lower, frame, "")
		// The card names the host, in the page and in ninjs' body_html.
		lower = strings.ReplaceAll(strings.ReplaceAll(lower, `\"`, `"`), `<span class="embed-url">evil.example</span>`, "")
		for _, bad := range []string{"<script", "javascript:", "onload", "onerror", "onclick", "onmouseover", "<iframe", "<object", "<form", "<svg", "expression(", "evil.example", "position:fixed", "display:none"} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s holds %q", key, bad)
			}
		}
	}
}

// TestEmbargoThroughTheAPI: an Embargo header holds the article, its
// TestEmbargoedPhotosStayPrivate: the renditions of an embargoed
// article's photo are kept under held/ until publish releases the
// article; before that no public key of the photo exists, after it every
// rendition of the published ninjs is public.
func TestEmbargoedPhotosStayPrivate(t *testing.T) {
	e := newEnv(t)
	p := e.Start(t)
	raw, err := os.ReadFile("../imaging/testdata/photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	photo := imaging.WithComment(raw, "held photo "+strconv.FormatInt(time.Now().UnixNano(), 36)) // a source no other test made public
	until := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	id := e.SubmitAs(t, client.Submission{Body: []byte("Ảnh giờ G\n\nBài viết có ảnh được giữ đến giờ công bố.\n"), ContentType: "text/plain; charset=utf-8",
		Embargo: until, Files: []client.File{{Name: "anh.jpg", Data: photo}}})
	testenv.WaitFor(t, "embargoed", 15*time.Second, func() bool {
		st, _ := p.Status.Get(context.Background(), id)
		return st.GetState() == "embargoed"
	})
	ctx := context.Background()
	index := layout.MediaIndex(imaging.SHA256(photo))
	if _, err := e.S3.Stat(ctx, index); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("the held photo's media index is public before the embargo: %v", err)
	}
	if _, err := e.S3.Stat(ctx, layout.Held(index)); err != nil {
		t.Errorf("the held photo's media index is not under held/: %v", err)
	}
	testenv.WaitFor(t, "published", 30*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	rawDoc, err := e.S3.Get(ctx, e.Published(t)[id][0].NinjsKey)
	if err != nil {
		t.Fatal(err)
	}
	var doc ninjsPictures
	if err := json.Unmarshal(rawDoc, &doc); err != nil || len(doc.Associations) != 1 {
		t.Fatalf("%v: %s", err, rawDoc)
	}
	for _, pic := range doc.Associations {
		for _, r := range pic.Renditions {
			key := "public/" + strings.TrimPrefix(r.Href, "http://news.test/")
			if _, err := e.S3.Stat(ctx, key); err != nil {
				t.Errorf("rendition %s not public after the embargo: %v", key, err)
			}
		}
	}
}

// status says until when, and it is published at that time.
func TestEmbargoThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	p := e.Start(t)
	until := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	id := submitAs(t, e, []byte("Tin giờ G\n\nBài viết được giữ đến giờ công bố.\n"), "text/plain", "Embargo", until.Format(time.RFC3339))
	testenv.WaitFor(t, "embargoed", 10*time.Second, func() bool {
		st, _ := p.Status.Get(context.Background(), id)
		return st.GetState() == "embargoed"
	})
	if len(e.Published(t)[id]) != 0 {
		t.Fatal("published before the embargo")
	}
	testenv.WaitFor(t, "published", 20*time.Second, func() bool { return len(e.Published(t)[id]) == 2 })
	if at := e.Published(t)[id][0].PublishedAt.AsTime(); at.Before(until) {
		t.Errorf("published at %s, before %s", at, until)
	}
	req, _ := http.NewRequest("POST", "http://"+e.Config.HTTPAddr+"/v1/articles", strings.NewReader("Tin\n\nBài.\n"))
	req.Header.Set("Authorization", "Bearer "+apptest.Token)
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
