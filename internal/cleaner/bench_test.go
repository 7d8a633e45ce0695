package cleaner

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
)

// BenchmarkCleanText cleans the sample article (6 KiB of Vietnamese text
// with every kind of debris). Target: 2,000 articles per second per core.
func BenchmarkCleanText(b *testing.B) {
	raw, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		b.Fatal(err)
	}
	c := newTestCleaner(b)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := c.Clean(Input{Data: raw, Format: FormatText}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPage is a full news page of realistic weight (about 100 KiB):
// navigation, share bars, a related box, a sidebar of links, ads,
// scripts, JSON-LD and a footer around a 12-paragraph article with two
// figures.
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Hà Nội khởi công cầu Tứ Liên - Báo Thủ đô</title>
<meta property="og:title" content="Hà Nội khởi công cầu Tứ Liên"><meta property="article:published_time" content="2023-10-19T09:30:00+07:00">
<script type="application/ld+json">{"@type":"NewsArticle","headline":"Hà Nội khởi công cầu Tứ Liên","datePublished":"2023-10-19T09:30:00+07:00","author":{"name":"Minh Anh"},"articleSection":"Thời sự"}</script>`)
	for i := range 8 {
		fmt.Fprintf(&b, "<script>var cfg%d = {ads: true, slots: [1,2,3], tracking: 'abcdefghijklmnopqrstuvwxyz'};function f%d(){return cfg%d}</script>\n", i, i, i)
	}
	b.WriteString(`<style>body{margin:0}.nav a{padding:4px}</style></head><body><header><nav class="menu">`)
	for i := range 60 {
		fmt.Fprintf(&b, `<a href="/chuyen-muc-%d">Chuyên mục %d</a> `, i, i)
	}
	b.WriteString(`</nav></header><div class="share"><a>Chia sẻ</a> <a>Facebook</a> <a>Zalo</a></div><main><article><h1>Hà Nội khởi công cầu Tứ Liên</h1>`)
	b.WriteString(`<p class="sapo">Sáng 19/10, thành phố Hà Nội khởi công xây dựng cầu Tứ Liên bắc qua sông Hồng, nối quận Tây Hồ với huyện Đông Anh, tổng mức đầu tư gần 20.000 tỷ đồng.</p>`)
	for i := range 12 {
		fmt.Fprintf(&b, `<p>Đoạn %d: cầu Tứ Liên dài hơn 3,4 km, rộng 43 m với sáu làn xe, được thiết kế theo kiến trúc dây văng với trụ tháp cao, dự kiến hoàn thành sau 36 tháng thi công, góp phần giảm tải cho cầu Nhật Tân và cầu Long Biên vào giờ cao điểm.</p>`, i+1)
		if i == 3 || i == 8 {
			fmt.Fprintf(&b, `<figure><img src="/img/tu-lien-%d.jpg" alt="Công trường"><figcaption>Phối cảnh cầu Tứ Liên nhìn từ bờ sông số %d. Ảnh: Minh Anh</figcaption></figure>`, i, i)
		}
		if i == 6 {
			b.WriteString(`<div class="ads"><p>Quảng cáo</p><iframe src="/ad"></iframe></div>`)
		}
	}
	b.WriteString(`<p class="author">Minh Anh</p><div class="box-tin-lien-quan"><h3>Tin liên quan</h3>`)
	for i := range 8 {
		fmt.Fprintf(&b, `<a href="/tin-%d">Tin liên quan số %d về giao thông Hà Nội</a>`, i, i)
	}
	b.WriteString(`</div></article></main><aside class="sidebar">`)
	for i := range 120 {
		fmt.Fprintf(&b, `<div class="item"><a href="/bai-%d"><img src="/thumb/%d.jpg" width="80"> Bài viết đọc nhiều số %d trong tuần qua</a><span>%d bình luận</span></div>`, i, i, i, i)
	}
	b.WriteString(`</aside><footer><p>© 2023 Báo Thủ đô. Ghi rõ nguồn khi phát hành lại thông tin từ website này.</p>`)
	for i := range 40 {
		fmt.Fprintf(&b, `<a href="/lien-he-%d">Liên hệ %d</a> `, i, i)
	}
	b.WriteString(`</footer></body></html>`)
	return []byte(b.String())
}

// BenchmarkCleanHTML cleans the full page; compare with
// BenchmarkExtractorOnly, trafilatura alone on the same page. Target:
// within 1.5 times the extractor's own time.
func BenchmarkCleanHTML(b *testing.B) {
	page := benchPage()
	c := newTestCleaner(b)
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		a, err := c.Clean(Input{Data: page, Format: FormatHTML})
		if err != nil || len(a.Blocks) < 10 {
			b.Fatalf("%v %d blocks", err, len(a.GetBlocks()))
		}
	}
}

// BenchmarkExtractorOnly is the floor of BenchmarkCleanHTML: parsing the
// page and running trafilatura with the same options, nothing else.
func BenchmarkExtractorOnly(b *testing.B) {
	page := benchPage()
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		doc, err := html.Parse(strings.NewReader(string(page)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := trafilatura.ExtractDocument(doc, trafilatura.Options{IncludeImages: true, IncludeLinks: true, ExcludeComments: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// bigArticle is a 10 MB article of distinct paragraphs, as text and as
// an HTML page: the default body limit, and what a hostile newsroom may
// send.
func bigArticle() (text, page []byte) {
	words := strings.Fields("người dân huyện Quốc Oai đã tham gia buổi lễ khánh thành cầu mới bắc qua sông Đáy với tổng vốn đầu tư hàng tỷ đồng theo kế hoạch năm")
	var t, h strings.Builder
	t.WriteString("Bài rất dài\n\n")
	h.WriteString("<!doctype html><html lang=\"vi\"><head><title>Bài rất dài</title></head><body><article><h1>Bài rất dài</h1>")
	for i := 0; t.Len() < 10<<20; i++ {
		var p strings.Builder
		for j := range 40 {
			if j > 0 {
				p.WriteByte(' ')
			}
			p.WriteString(words[(i*7+j*j+i*j)%len(words)])
		}
		fmt.Fprintf(&p, " %d.", i)
		t.WriteString(p.String() + "\n\n")
		h.WriteString("<p>" + p.String() + "</p>")
	}
	h.WriteString("</article></body></html>")
	return []byte(t.String()), []byte(h.String())
}

// BenchmarkClean10MB: the cleaner on a 10 MB article, text and HTML,
// against its floor in the same run (parsing the HTML and making every
// paragraph's dedupe key: the least any cleaning does). Target: under 2 s
// on one core (`-cpu 1`), within a small multiple of the floor, so time
// grows with the article and not with its square.
func BenchmarkClean10MB(b *testing.B) {
	text, page := bigArticle()
	c := newTestCleaner(b)
	b.Run("text", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if a, err := c.Clean(Input{Data: text, Format: FormatText}); err != nil || len(a.Blocks) < 1000 {
				b.Fatalf("%v %d blocks", err, len(a.GetBlocks()))
			}
		}
	})
	b.Run("html", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if a, err := c.Clean(Input{Data: page, Format: FormatHTML}); err != nil || len(a.Blocks) < 1000 {
				b.Fatalf("%v %d blocks", err, len(a.GetBlocks()))
			}
		}
	})
	b.Run("floor", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			doc, err := html.Parse(strings.NewReader(string(page)))
			if err != nil {
				b.Fatal(err)
			}
			visit(doc, func(n *html.Node) bool {
				if n.Type == html.TextNode {
					_ = dedupeKey(n.Data)
				}
				return true
			})
		}
	})
}
