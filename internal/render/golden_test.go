package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func loadArticle(t *testing.T, path string) *pb.Article {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &pb.Article{}
	if err := protojson.Unmarshal(data, a); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func goldenMeta(name string) Meta {
	return Meta{ID: "01KB" + strings.ToUpper(name[:2]), Version: 2, Site: "front", SiteTitle: "Tin Quốc Oai",
		URL:            "https://news.example/front/articles/" + name + "-01kb/",
		PublicBase:     "https://news.example/",
		FirstPublished: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Published:      time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; run go test ./internal/render -update and review the diff\n%s", path, got)
	}
}

func TestGolden(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob("testdata/*.json")
	var n int
	for _, in := range inputs {
		if strings.HasSuffix(in, ".ninjs.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			a, m := loadArticle(t, in), goldenMeta(name)
			page, err := r.Page(a, m)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata/"+name+".html", page)
			checkNoActiveContent(t, page)
			checkJSONLD(t, page, a)
			doc, err := NinjsDoc(a, m)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata/"+name+".ninjs.json", doc)
		})
	}
	if n < 3 {
		t.Fatalf("only %d golden articles", n)
	}
}

// checkNoActiveContent parses the page as a browser would and fails on
// anything that could run: a script other than our JSON-LD, an event
// handler, a URL with a scheme other than http(s), a style beyond a
// background colour.
func checkNoActiveContent(t *testing.T, page []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				if attr(n, "type") != "application/ld+json" {
					t.Errorf("a script element: %s", render(n))
				}
			case "iframe", "object", "embed", "svg", "math", "form", "base":
				t.Errorf("a %s element", n.Data)
			case "style":
				if n.Parent == nil || n.Parent.Data != "head" || strings.Contains(textOf(n), "display:none") {
					t.Errorf("a style element from the article: %s", textOf(n))
				}
			}
			for _, a := range n.Attr {
				switch {
				case strings.HasPrefix(strings.ToLower(a.Key), "on"):
					t.Errorf("event handler %s=%q on <%s>", a.Key, a.Val, n.Data)
				case a.Key == "href" || a.Key == "src" || a.Key == "srcset":
					if !safeURL(a.Val) {
						t.Errorf("%s=%q on <%s>", a.Key, a.Val, n.Data)
					}
				case a.Key == "style" && !regexp.MustCompile(`^background: #[0-9a-f]{6}$`).MatchString(a.Val):
					t.Errorf("style=%q on <%s>", a.Val, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

func checkJSONLD(t *testing.T, page []byte, a *pb.Article) {
	t.Helper()
	doc, _ := html.Parse(bytes.NewReader(page))
	var found bool
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" && attr(n, "type") == "application/ld+json" {
			found = true
			var ld map[string]any
			if err := json.Unmarshal([]byte(textOf(n)), &ld); err != nil {
				t.Fatalf("JSON-LD does not parse: %v\n%s", err, textOf(n))
			}
			if ld["@type"] != "NewsArticle" || ld["headline"] != a.GetTitle() || ld["datePublished"] == "" {
				t.Errorf("JSON-LD = %v", ld)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !found {
		t.Error("no JSON-LD")
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

func render(n *html.Node) string {
	var b bytes.Buffer
	_ = html.Render(&b, n)
	return b.String()
}

// FuzzPage renders articles made of arbitrary strings: no page may hold
// anything a browser would run.
func FuzzPage(f *testing.F) {
	f.Add("</title><script>alert(1)</script>", "\" onmouseover=\"x", "<img src=x onerror=alert(1)>", "javascript:alert(1)", "red;x:url(javascript:1)", "en\"><b>")
	f.Add("Xây dựng", "Mở đầu", "Đoạn", "https://example.com/a", "#aabbcc", "vi")
	r, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, lead, text, url, color, lang string) {
		a := &pb.Article{Title: title, Lead: lead, Kicker: text, Language: lang, Section: text, Source: lead,
			PublishedAt: text,
			Byline:      []*pb.Byline{{Name: title, Role: lead}},
			Related:     []*pb.RelatedLink{{Title: text, Url: url}},
			Blocks: []*pb.Block{
				{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: text}}},
				{Kind: &pb.Block_Quote{Quote: &pb.Quote{Text: lead}}},
				{Kind: &pb.Block_Image{Image: &pb.Image{Alt: title, Caption: text, Credit: lead, Media: &pb.Media{Color: color,
					Renditions: []*pb.Rendition{{Key: url, Width: 10, Height: 10, Format: "jpeg"}, {Key: "public/media/a/" + text, Width: 20, Format: "webp"}}}}}},
				// The rich blocks, every mark on the fuzzer's strings.
				{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: text + lead, Spans: []*pb.Span{
					{Text: text, Marks: []*pb.Mark{{Kind: pb.MarkKind_MARK_KIND_LINK, Href: url, Title: title}, {Kind: pb.MarkKind_MARK_KIND_STRONG}}},
					{LineBreak: true}, {Text: lead, Marks: []*pb.Mark{{Kind: pb.MarkKind_MARK_KIND_CODE}, {Kind: pb.MarkKind(len(lang))}}}}}}},
				{Kind: &pb.Block_List{List: &pb.List{Ordered: len(text)%2 == 0, Start: int32(len(title)), Items: []*pb.ListItem{{Text: text,
					Lists: []*pb.List{{Items: []*pb.ListItem{{Text: lead, Spans: []*pb.Span{{Text: lead, Marks: []*pb.Mark{{Kind: pb.MarkKind_MARK_KIND_LINK, Href: url}}}}}}}}}}}}},
				{Kind: &pb.Block_Table{Table: &pb.Table{Caption: title, Header: []*pb.TableRow{{Cells: []*pb.TableCell{{Text: text, Colspan: int32(len(lead))}}}},
					Rows: []*pb.TableRow{{Cells: []*pb.TableCell{{Text: lead, Header: true}}}}}}},
				{Kind: &pb.Block_Code{Code: &pb.Code{Text: text, Language: lang}}},
				{Kind: &pb.Block_Embed{Embed: &pb.Embed{Provider: lang, Url: url, Title: title, Author: lead, Text: text}}},
				{Kind: &pb.Block_Heading{Heading: &pb.Heading{Text: title, Level: int32(len(text))}}},
			}}
		page, err := r.Page(a, goldenMeta("fuzz"))
		if err != nil {
			return // a refusal is safe; executable output is not
		}
		checkNoActiveContent(t, page)
	})
}

// safeURL reports whether a browser would treat u as http(s), mailto, relative, or
// our own empty icon: it strips what browsers strip (tabs and newlines
// anywhere, controls and spaces around) before it looks for a scheme.
func safeURL(u string) bool {
	u = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, u)
	u = strings.TrimFunc(u, func(r rune) bool { return r <= ' ' })
	if u == "data:," {
		return true
	}
	scheme := regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*):`).FindStringSubmatch(u)
	if scheme == nil {
		return true // relative
	}
	s := strings.ToLower(scheme[1])
	return s == "http" || s == "https" || s == "mailto"
}
