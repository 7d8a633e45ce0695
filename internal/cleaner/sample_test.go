package cleaner

import (
	"os"
	"strings"
	"testing"
)

// TestSample checks the article the project started from against what its
// README says a reader must get, item by item.
func TestSample(t *testing.T) {
	raw, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newTestCleaner(t).Clean(Input{Data: raw})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, a)
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("published_at", a.PublishedAt, "2018-01-23T13:03:00+07:00")
	check("kicker", a.Kicker, "Quốc Oai")
	check("title", a.Title, "Xây dựng tổ chức Đảng trong sạch, vững mạnh")
	check("lead starts", strings.HasPrefix(a.Lead, "Vừa qua, Huyện ủy Quốc Oai"), true)
	check("source", a.Source, "")
	check("language", a.Language, "vi")

	check("related links", len(a.Related), 2)
	if len(a.Related) == 2 {
		check("related 1", a.Related[0].Title, "Đoàn kết, đổi mới và phát triển")
		check("related 2", a.Related[1].Title, "Công đoàn huyện Quốc Oai: Tiếp tục đổi mới, sáng tạo")
	}
	check("bylines", len(a.Byline), 1)
	if len(a.Byline) == 1 {
		check("byline name", a.Byline[0].Name, "H. Mai")
		check("byline role", a.Byline[0].Role, "CTV")
	}

	// Seven paragraphs and one image, in the original order: the image
	// second, after the paragraph that follows the related links.
	var kinds []string
	for _, b := range a.Blocks {
		switch {
		case b.GetParagraph() != nil:
			kinds = append(kinds, "p")
		case b.GetImage() != nil:
			kinds = append(kinds, "img")
		default:
			kinds = append(kinds, "other")
		}
	}
	check("blocks", strings.Join(kinds, " "), "p img p p p p p p")
	if len(a.Blocks) > 1 {
		check("image caption", a.Blocks[1].GetImage().GetCaption(), "Ông Nguyễn Văn Thọ - Bí thư Huyện ủy trao Giấy khen cho 22 tổ chức cơ sở Đảng đạt thành tích xuất sắc năm 2017")
	}
	// The duplicated passage appears once.
	var body strings.Builder
	for _, b := range a.Blocks {
		body.WriteString(b.GetParagraph().GetText() + "\n")
	}
	check("passage count", strings.Count(body.String(), "Toàn huyện có 43 tổ chức cơ sở Đảng"), 1)
	check("errors kept as written", strings.Contains(body.String(), "2016 – 2010") && strings.Contains(body.String(), "tuyền truyền"), true)

	codes := map[string]int{}
	for _, w := range a.Warnings {
		codes[w.Code]++
	}
	check("year range warning", codes["year_range_reversed"], 1)
	check("typo warning", codes["possible_typo"], 1)
	check("duplicate warnings", codes["duplicate_removed"] >= 1, true)
	check("no other warnings", len(a.Warnings), codes["year_range_reversed"]+codes["possible_typo"]+codes["duplicate_removed"])
}

func TestHouseRules(t *testing.T) {
	c, err := New(HouseRules{
		TimeZone:    "America/New_York",
		Language:    "en",
		MonthFirst:  true,
		Debris:      []string{`^Hotline:`, `(?i)^subscribe to`},
		DateFormats: []string{`(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日`},
		Sections:    []string{"Metro"},
		Typos:       map[string]string{"goverment": "government"},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := "Metro\n\n03/04/2024 10:00\n\nCity budget passes\n\nThe goverment passed the budget on Monday after a long debate in the council chamber.\n\nHotline: 555-0100\n\nSubscribe to our newsletter\n"
	a, err := c.Clean(Input{Data: []byte(in), Format: FormatText})
	if err != nil {
		t.Fatal(err)
	}
	if a.Section != "Metro" || a.PublishedAt != "2024-03-04T10:00:00-05:00" || a.Title != "City budget passes" {
		t.Errorf("section %q time %q title %q", a.Section, a.PublishedAt, a.Title)
	}
	if len(a.Blocks) != 0 {
		t.Errorf("house debris kept: %v", a.Blocks)
	}
	found := false
	for _, w := range a.Warnings {
		found = found || (w.Code == "possible_typo" && strings.Contains(w.Message, "government"))
	}
	if !found {
		t.Errorf("house typo not flagged: %v", a.Warnings)
	}
	b, err := c.Clean(Input{Data: []byte("2023年5月7日\n\nTitle here\n\nBody text of the article.\n"), Format: FormatText})
	if err != nil || b.PublishedAt != "2023-05-07T00:00:00-04:00" {
		t.Errorf("house date format: %v %v", b.GetPublishedAt(), err)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) bool
		yes  []string
		no   []string
	}{
		{"toolbar", isToolbar,
			[]string{"A- A A+", "In bài | Chia sẻ", "Share Tweet Email", "Facebook Zalo Twitter", "Chia sẻ 12", "Print · Email · Comments"},
			[]string{"In bài viết này, tác giả phân tích", "Share prices fell on Monday", "Email từ độc giả gửi về tòa soạn"}},
		{"ad", isAd, []string{"Advertisement", "Quảng cáo", "- Sponsored -", "Story continues below advertisement"}, []string{"Quảng cáo thuốc giả bị xử phạt"}},
		{"copyright", isCopyright,
			[]string{"© 2022 Báo Hà Nội", "Copyright 2023 Science Weekly", "Bản quyền thuộc UBND huyện Ba Vì", "All rights reserved.", "Ghi rõ nguồn khi phát hành lại thông tin từ website này."},
			[]string{"Luật bản quyền mới có hiệu lực từ tháng 1, giúp bảo vệ tác giả.", "The copyright row went to court."}},
		{"stray", isStray, []string{"M", "|", "***", "—", "••"}, []string{"Ok ok", "H. Mai"}},
		{"name", isName, []string{"H. Mai", "Minh Anh - Hoàng Hà", "Nguyễn Văn A", "P.V", "Jane Doe and John Roe"},
			[]string{"Chia sẻ bài viết.", "Theo báo cáo", "12 người", "Ông nói: được", "this is lower case"}},
		{"credit only", isCreditOnly, []string{"Ảnh: Minh Anh", "Photo: Reuters", "(Ảnh: TTXVN)", "Photo by Jane Doe"}, []string{"Ảnh chụp ngày 2/3", "Photography is an art."}},
		{"title candidate", isTitleCandidate, []string{"Hà Nội ra quân dọn vệ sinh", "U.S. stocks rise."},
			[]string{"GENEVA — The World Health Organization on Friday said a new vaccine against malaria had shown efficacy."}},
	}
	for _, tt := range tests {
		for _, s := range tt.yes {
			if !tt.fn(s) {
				t.Errorf("%s(%q) = false, want true", tt.name, s)
			}
		}
		for _, s := range tt.no {
			if tt.fn(s) {
				t.Errorf("%s(%q) = true, want false", tt.name, s)
			}
		}
	}
}

func TestSplitCredit(t *testing.T) {
	tests := []struct{ in, caption, credit string }{
		{"Lực lượng công an cắt cây đổ. Ảnh: Minh Anh", "Lực lượng công an cắt cây đổ.", "Minh Anh"},
		{"Xe hút nước tại nút giao (Ảnh: Hoàng Hà)", "Xe hút nước tại nút giao", "Hoàng Hà"},
		{"Ships moored on Thursday. Photo: Reuters", "Ships moored on Thursday.", "Reuters"},
		{"A sonar map. Photo by Lena Okafor", "A sonar map.", "Lena Okafor"},
		{"Hành khách lên tàu", "Hành khách lên tàu", ""},
	}
	for _, tt := range tests {
		c, cr := splitCredit(tt.in)
		if c != tt.caption || cr != tt.credit {
			t.Errorf("splitCredit(%q) = %q, %q; want %q, %q", tt.in, c, cr, tt.caption, tt.credit)
		}
	}
}

func TestDedupeKey(t *testing.T) {
	if dedupeKey("Forecasters have issued an AMBER warning,  with gusts") != dedupeKey("forecasters have issued an amber warning, with gusts") {
		t.Error("case and spacing must not matter")
	}
}
