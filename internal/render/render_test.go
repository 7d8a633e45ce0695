package render

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var meta = Meta{ID: "01J", Version: 2, Site: "dev", URL: "http://127.0.0.1:8081/dev/articles/01J/",
	Published: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}

func article() *pb.Article {
	return &pb.Article{
		Title: `Tin <script>alert("x")</script> nóng`, Kicker: "Quốc Oai", Lead: "Mở đầu & tóm tắt.",
		PublishedAt: "2018-01-23T13:03:00+07:00", Language: "vi", Source: "TTXVN",
		Byline: []*pb.Byline{{Name: "H. Mai", Role: "CTV"}},
		Blocks: []*pb.Block{
			{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: `Đoạn <img src=x onerror="alert(1)"> một.`}}},
			{Kind: &pb.Block_Image{Image: &pb.Image{Caption: "Ông A trao giấy khen", Credit: "Minh Anh"}}},
		},
	}
}

func TestPageEscapesEverything(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.Page(article(), meta)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, bad := range []string{"<script>", "<img", `onerror="`} {
		if strings.Contains(html, bad) {
			t.Errorf("page contains %q from the article", bad)
		}
	}
	for _, want := range []string{`<html lang="vi">`, "Quốc Oai", "&lt;script&gt;", `<link rel="canonical" href="http://127.0.0.1:8081/dev/articles/01J/">`,
		"Mở đầu &amp; tóm tắt.", "H. Mai (CTV)", `<span class="credit">Minh Anh</span>`, "Nguồn: TTXVN"} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestNinjs(t *testing.T) {
	out, err := NinjsDoc(article(), meta)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"uri": meta.URL, "type": "text", "version": "2", "pubStatus": "usable", "language": "vi",
		"located": "Quốc Oai", "by": "H. Mai (CTV)", "firstCreated": "2018-01-23T13:03:00+07:00",
		"versionCreated": "2026-11-26T10:00:00Z",
	}
	for k, want := range checks {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}
	body := doc["bodies"].([]any)[0].(map[string]any)["value"].(string)
	if strings.Contains(body, "<img") || !strings.Contains(body, "<p>Đoạn &lt;img") {
		t.Errorf("body not escaped: %s", body)
	}
	if h := doc["headlines"].([]any)[0].(map[string]any)["value"]; h != article().Title {
		t.Errorf("headline = %v", h)
	}
}

func TestPictures(t *testing.T) {
	media := &pb.Media{Sha256: "abc", Width: 1200, Height: 800, Color: "#917374", Renditions: []*pb.Rendition{
		{Key: "public/media/abc/320.webp", Width: 320, Height: 213, Format: "webp", Bytes: 10},
		{Key: "public/media/abc/320.jpeg", Width: 320, Height: 213, Format: "jpeg", Bytes: 11},
		{Key: "public/media/abc/1024.webp", Width: 1024, Height: 683, Format: "webp", Bytes: 12},
		{Key: "public/media/abc/1024.jpeg", Width: 1024, Height: 683, Format: "jpeg", Bytes: 13},
	}}
	a := &pb.Article{Title: "Ảnh", Blocks: []*pb.Block{{Kind: &pb.Block_Image{Image: &pb.Image{
		Alt: `Cầu "mới"`, Caption: "Cầu Tứ Liên", Credit: "Minh Anh", Media: media}}}}}
	m := meta
	m.PublicBase = "http://127.0.0.1:8081/"
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.Page(a, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`srcset="http://127.0.0.1:8081/media/abc/320.webp 320w, http://127.0.0.1:8081/media/abc/1024.webp 1024w"`,
		`<img src="http://127.0.0.1:8081/media/abc/1024.jpeg"`, `width="1024" height="683"`, `loading="lazy"`,
		`alt="Cầu &#34;mới&#34;"`, `style="background: #917374"`, `<figcaption>Cầu Tứ Liên <span class="credit">Minh Anh</span>`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %s\n%s", want, page)
		}
	}
	doc, err := NinjsDoc(a, m)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Associations []NinjsPicture `json:"associations"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Associations) != 1 || len(parsed.Associations[0].Renditions) != 4 ||
		parsed.Associations[0].URI != "http://127.0.0.1:8081/media/abc/1024.jpeg" || parsed.Associations[0].By != "Minh Anh" {
		t.Errorf("associations: %s", doc)
	}
}

func TestAnimatedSource(t *testing.T) {
	media := &pb.Media{Renditions: []*pb.Rendition{
		{Key: "public/media/g/200.webp", Width: 200, Format: "webp"},
		{Key: "public/media/g/200.jpeg", Width: 200, Format: "jpeg"},
		{Key: "public/media/g/200.animated.webp", Width: 200, Format: "webp", Animated: true},
	}}
	m := Meta{PublicBase: "http://site/"}
	if got := srcset(m, media, "webp"); got != "http://site/media/g/200.animated.webp 200w" {
		t.Errorf("webp srcset %q, want the animation alone", got)
	}
	if got := srcset(m, media, "jpeg"); got != "http://site/media/g/200.jpeg 200w" {
		t.Errorf("jpeg srcset %q", got)
	}
}
