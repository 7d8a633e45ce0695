package cleaner

import (
	"slices"
	"strings"
	"testing"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestUnclosedTitle: a page that never closes its <title> (a CMS
// template's typo) still gives its title and its body, not the body as
// the title's raw text.
func TestUnclosedTitle(t *testing.T) {
	tests := []struct {
		name, page, title string
		body              []string
	}{
		{"English", `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Port opens hydrogen terminal
</head><body><article><h1>Port opens hydrogen terminal</h1>
<p>The Port of Rotterdam opened its first terminal for hydrogen on Thursday, after four years of building.</p>
<p>The terminal can take in <em>four million tonnes</em> a year, the port authority said.</p></article></body></html>`,
			"Port opens hydrogen terminal", []string{"opened its first terminal", "four million tonnes"}},
		{"Vietnamese", `<html lang="vi"><head><title>Quốc Oai khánh thành cầu mới<meta name="description" content="x">
<body><h1>Quốc Oai khánh thành cầu mới</h1><p>Sáng nay, huyện Quốc Oai khánh thành cây cầu mới bắc qua sông Đáy, rút ngắn đường đi cho hàng nghìn người dân.</p>
<p>Công trình được xây dựng trong hai năm với tổng vốn đầu tư 120 tỷ đồng.</p></body></html>`,
			"Quốc Oai khánh thành cầu mới", []string{"bắc qua sông Đáy", "120 tỷ đồng"}},
	}
	c := newTestCleaner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := cleanPage(t, c, tt.page, tt.title)
			var text strings.Builder
			text.WriteString(a.Lead)
			for _, b := range a.Blocks {
				text.WriteString("\n" + b.GetParagraph().GetText())
			}
			for _, want := range tt.body {
				if !strings.Contains(text.String(), want) {
					t.Errorf("body lost %q: %q", want, text.String())
				}
			}
			if strings.Contains(text.String(), "<") {
				t.Errorf("markup in the text: %q", text.String())
			}
		})
	}
}

// TestShortPage: a full page whose article is short (under trafilatura's
// minimum, where it falls back to the page's flat text) keeps its blocks:
// the headline is not run into the body, links, lists and images stay,
// and the site's navigation around the article stays out.
func TestShortPage(t *testing.T) {
	tests := []struct {
		name, page, title string
		paragraphs        []string // in the lead or a paragraph, each whole
		links, items      int
		images            int
		absent            []string
	}{
		{"Vietnamese, a photo", `<html lang="vi"><head><title>Ảnh của người khác</title></head><body><nav><a href="/">Trang chủ</a> <a href="/xa-hoi">Xã hội</a></nav><article><h1>Ảnh của người khác</h1><p>Một bài viết ngắn, với <a href="https://example.vn/nguon">một nguồn</a>.</p><figure><img src="https://example.vn/a.jpg" alt="x"><figcaption>Chú thích ảnh</figcaption></figure></article></body></html>`,
			"Ảnh của người khác", []string{"Một bài viết ngắn, với một nguồn."}, 1, 0, 1, []string{"Trang chủ"}},
		{"English, a list", `<!DOCTYPE html><html lang="en"><head><title>Road closed | City News</title></head><body><header><a href="/">City News</a></header><main><h1>Road closed</h1><p>Main Street is closed until Friday.</p><ul><li>Use Elm Street</li><li>Buses divert</li></ul></main><footer>© City News</footer></body></html>`,
			"Road closed", []string{"Main Street is closed until Friday."}, 0, 2, 0, []string{"City News", "Road closed"}},
	}
	c := newTestCleaner(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := cleanPage(t, c, tt.page, tt.title)
			texts := []string{a.Lead}
			links, items, images := countLinks(a.GetLeadSpans()), 0, 0
			for _, b := range a.Blocks {
				if p := b.GetParagraph(); p != nil {
					texts = append(texts, p.GetText())
					links += countLinks(p.GetSpans())
				}
				items += len(b.GetList().GetItems())
				if b.GetImage() != nil {
					images++
				}
			}
			for _, want := range tt.paragraphs {
				if !slices.Contains(texts, want) {
					t.Errorf("no block %q in %q", want, texts)
				}
			}
			all := strings.Join(texts, "\n")
			for _, bad := range tt.absent {
				if strings.Contains(all, bad) {
					t.Errorf("%q in the text: %q", bad, all)
				}
			}
			if links != tt.links || items != tt.items || images != tt.images {
				t.Errorf("%d links, %d list items, %d images; want %d, %d, %d", links, items, images, tt.links, tt.items, tt.images)
			}
		})
	}
}

func countLinks(spans []*pb.Span) int {
	n := 0
	for _, s := range spans {
		for _, m := range s.GetMarks() {
			if m.GetKind() == pb.MarkKind_MARK_KIND_LINK {
				n++
			}
		}
	}
	return n
}

// TestDuplicatesBySection: a passage repeated within a section is removed
// with a warning; the same lines under another heading (a recipe's days,
// a list of matches) are not copies and stay.
func TestDuplicatesBySection(t *testing.T) {
	line := "Mỗi ngày uống đủ hai lít nước và đi bộ ít nhất ba mươi phút."
	page := `<html lang="vi"><head><title>Lịch tập</title></head><body><article><h1>Lịch tập</h1>
<p>Lịch tập trong tuần cho người mới bắt đầu, soạn theo lời khuyên của bác sĩ thể thao.</p>
<h2>Thứ hai</h2><p>` + line + `</p><p>Buổi tối nghỉ ngơi sớm, ngủ đủ bảy đến tám tiếng mỗi đêm.</p><p>` + line + `</p>
<h2>Thứ ba</h2><p>` + line + `</p></article></body></html>`
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Clean(Input{Data: []byte(page), Format: FormatHTML})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range a.Blocks {
		if b.GetParagraph().GetText() == line {
			n++
		}
	}
	removed := 0
	for _, w := range a.Warnings {
		if w.Code == "duplicate_removed" {
			removed++
		}
	}
	if n != 2 || removed != 1 {
		t.Errorf("the line is kept %d times with %d duplicate warnings; want 2 (one per section) and 1", n, removed)
	}
}

// TestBidiControls: embedding and override controls, which make text
// read in another order than it is stored ("gpj.exe" shown as
// "exe.jpg"), are taken out of left-to-right text; right-to-left text
// keeps them.
func TestBidiControls(t *testing.T) {
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	text := "Giá vàng \u202etăng\u202c mạnh trong phiên sáng\n\nBởi \u2066Minh Anh\u2069\n\nGiá vàng miếng SJC sáng nay tăng thêm \u202d200.000 đồng\u202c mỗi lượng so với hôm qua, theo các doanh nghiệp kinh doanh vàng.\n"
	a, err := c.Clean(Input{Data: []byte(text), Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	all := a.Title + a.Lead
	for _, b := range a.Byline {
		all += b.Name
	}
	for _, b := range a.Blocks {
		all += b.GetParagraph().GetText()
	}
	if strings.ContainsFunc(all, isBidiControl) {
		t.Errorf("bidi controls left in %q", all)
	}
	if a.Title != "Giá vàng tăng mạnh trong phiên sáng" {
		t.Errorf("title %q", a.Title)
	}
	page := `<html lang="en"><head><title>Port opens` + "\u202e" + ` terminal</title><meta name="author" content="Jane` + "\u202e" + ` Doe">
<script type="application/ld+json">{"@type":"NewsArticle","headline":"Port opens terminal","author":{"name":"Jane` + "\u202e" + ` Doe"},"articleSection":"Ports` + "\u2066" + `"}</script></head>
<body><article><h1>Port opens terminal</h1><p>The Port of Rotterdam opened its first terminal for hydrogen on Thursday, after four years of building and a decade of planning.</p></article></body></html>`
	h, err := c.Clean(Input{Data: []byte(page), Format: FormatHTML})
	if err != nil {
		t.Fatal(err)
	}
	meta := h.Title + h.Section + h.Kicker
	for _, b := range h.Byline {
		meta += b.Name
	}
	if strings.ContainsFunc(meta, isBidiControl) || len(h.Byline) == 0 {
		t.Errorf("bidi controls left in the page's title, section or byline %q (bylines %v)", meta, h.Byline)
	}
	hebrew := "\u202bשלום עולם\u202c"
	if got := normalize(hebrew); got != hebrew {
		t.Errorf("right-to-left text lost its controls: %q", got)
	}
}

func TestPrimaryLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"vi": "vi", "vi-VN": "vi", "EN_us": "en", " en-GB ": "en", "zh-Hant-TW": "zh", "pt-BR": "pt",
		"": "", "*": "", "x-klingon": "", "\nốđộ": "", "und": "", "en US": "", strings.Repeat("a", 300): "",
	} {
		if got := primaryLanguage(in); got != want {
			t.Errorf("primaryLanguage(%q) = %q, want %q", in, got, want)
		}
	}
}

// cleanPage cleans an HTML page and checks its title.
func cleanPage(t *testing.T, c *Cleaner, page, title string) *pb.Article {
	t.Helper()
	a, err := c.Clean(Input{Data: []byte(page), Format: FormatHTML})
	if err != nil {
		t.Fatal(err)
	}
	if a.Title != title {
		t.Errorf("title %q, want %q", a.Title, title)
	}
	return a
}

// TestAdjacentDuplicateIsWarned: a paragraph a web page repeats right
// after itself is removed with a warning, as anywhere else; it was taken
// for a piece of the first and dropped without one.
func TestAdjacentDuplicateIsWarned(t *testing.T) {
	line := "Mỗi ngày uống đủ hai lít nước và đi bộ ít nhất ba mươi phút."
	page := `<html lang="vi"><head><title>Lịch tập</title></head><body><article><h1>Lịch tập</h1>
<p>Lịch tập trong tuần cho người mới bắt đầu, soạn theo lời khuyên của bác sĩ thể thao.</p>
<p>` + line + `</p><p>` + line + `</p><p>Buổi tối nghỉ ngơi sớm, ngủ đủ bảy đến tám tiếng mỗi đêm.</p></article></body></html>`
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Clean(Input{Data: []byte(page), Format: FormatHTML})
	if err != nil {
		t.Fatal(err)
	}
	kept, removed := 0, 0
	for _, b := range a.Blocks {
		if b.GetParagraph().GetText() == line {
			kept++
		}
	}
	for _, w := range a.Warnings {
		if w.Code == "duplicate_removed" {
			removed++
		}
	}
	if kept != 1 || removed != 1 {
		t.Errorf("the line is kept %d times with %d duplicate warnings; want 1 and 1", kept, removed)
	}
}
