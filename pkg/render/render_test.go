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
		"uri": meta.URL, "type": "text", "version": "2", "pubstatus": "usable", "language": "vi",
		"located": "Quốc Oai", "by": "H. Mai (CTV)", "firstcreated": "2018-01-23T13:03:00+07:00",
		"versioncreated": "2026-11-26T10:00:00Z",
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
