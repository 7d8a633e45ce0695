package feeds

import (
	"bytes"
	"encoding/xml"
	"flag"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	now   = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	site  = Site{Name: "quocoai", Title: "Tin Quốc Oai", URL: "https://news.example/quocoai/", Language: "vi"}
	items = []Entry{
		{ID: "01KB0000000000000000000002", Version: 2, URL: "https://news.example/quocoai/articles/doi-thoai-voi-nhan-dan-01kb0000000000000000000002/",
			Title: "Đối thoại với nhân dân & doanh nghiệp", Summary: "Chiều 25/11, UBND phường tổ chức hội nghị <đối thoại>.", Kicker: "Quốc Oai",
			By: "Minh Anh", Language: "vi", Published: now.Add(-2 * time.Hour), Updated: now.Add(-time.Hour),
			Content: `<p>Hội nghị có <a href="https://news.example/quocoai/">nhiều</a> ý kiến ]]> đóng góp.</p><ul><li>một</li></ul>`,
			Image:   &Image{URL: "https://news.example/media/ab/640.jpeg", Type: "image/jpeg", Width: 640, Height: 427, Bytes: 51234, Alt: "Hội nghị"}},
		{ID: "01KA0000000000000000000001", Version: 1, URL: "https://news.example/quocoai/articles/port-reopens-01ka0000000000000000000001/",
			Title: "Rotterdam port reopens", Summary: "Ships moved again on Tuesday.", Language: "en",
			Published: now.Add(-72 * time.Hour), Updated: now.Add(-72 * time.Hour)},
	}
)

func TestAllGolden(t *testing.T) {
	files, err := All(site, items, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		golden := filepath.Join("testdata", f.Name+".golden")
		if *update {
			if err := os.WriteFile(golden, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, want) {
			t.Errorf("%s differs from %s; run go test ./internal/feeds -update and review the diff\n%s", f.Name, golden, f.Data)
		}
	}
}

// TestFeedsParse reads every feed back with a feed reader's parser: what
// subscribers' software sees.
func TestFeedsParse(t *testing.T) {
	files, err := All(site, items, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == FileIndex || f.Name == FileSitemap {
			continue
		}
		parsed, err := gofeed.NewParser().ParseString(string(f.Data))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if len(parsed.Items) != 2 || parsed.Items[0].Title != items[0].Title || parsed.Items[0].Link != items[0].URL {
			t.Fatalf("%s: items %+v", f.Name, parsed.Items)
		}
		if f.Name != FileRSS && parsed.Items[0].UpdatedParsed == nil {
			t.Errorf("%s: no updated time", f.Name)
		}
		if f.Name != FileAtom && (len(parsed.Items[0].Enclosures) == 0 && parsed.Items[0].Image == nil) {
			t.Errorf("%s: the lead picture is missing", f.Name)
		}
		// The whole body goes as content (content:encoded, Atom content
		// type="html", content_html), as written.
		if parsed.Items[0].Content != items[0].Content {
			t.Errorf("%s: content %q, want the body", f.Name, parsed.Items[0].Content)
		}
	}
}

// TestSummariesStayText: a summary is plain text, and feed readers read
// RSS descriptions and Atom summaries as HTML; what the feed says there
// must show as the text, markup and all, and run nothing.
func TestSummariesStayText(t *testing.T) {
	hostile := []Entry{{ID: "x", URL: "https://news.example/a/", Title: "t", Summary: `<img src=x onerror=alert(1)> & <b>bold</b>`, Published: now, Updated: now}}
	files, err := All(site, hostile, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name != FileRSS && f.Name != FileAtom && f.Name != FileJSON {
			continue
		}
		parsed, err := gofeed.NewParser().ParseString(string(f.Data))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		desc := parsed.Items[0].Description
		want := html.EscapeString(hostile[0].Summary) // HTML that shows the text
		if f.Name == FileJSON {
			want = hostile[0].Summary // JSON Feed's summary is plain text
		}
		if desc != want {
			t.Errorf("%s: summary %q, want %q", f.Name, desc, want)
		}
	}
}

func TestNewsSitemapKeepsTwoDays(t *testing.T) {
	data, err := NewsSitemap(site, items, now)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		URLs []struct {
			Loc  string `xml:"loc"`
			News struct {
				Title    string `xml:"title"`
				Language string `xml:"publication>language"`
			} `xml:"news"`
		} `xml:"url"`
	}
	if err := xml.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.URLs) != 1 || set.URLs[0].Loc != items[0].URL || set.URLs[0].News.Language != "vi" || set.URLs[0].News.Title != items[0].Title {
		t.Fatalf("sitemap = %+v", set)
	}
}

func TestIndexEscapes(t *testing.T) {
	hostile := []Entry{{ID: "x", URL: "javascript:alert(1)", Title: `<script>alert(1)</script>`, Summary: `<img src=x onerror=alert(1)>`, Published: now, Updated: now}}
	data, err := Index(site, hostile)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img src=x", "javascript:"} {
		if strings.Contains(string(data), bad) {
			t.Errorf("index holds %q:\n%s", bad, data)
		}
	}
}
