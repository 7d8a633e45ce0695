package cli

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Phrase banks of generated bench articles: district news in Vietnamese
// and city news in English, as newsrooms send them.
var (
	benchVI = []string{
		"UBND huyện Quốc Oai tổ chức hội nghị tổng kết công tác năm", "hơn 200 đại biểu đã tham dự",
		"các xã hoàn thành chỉ tiêu xây dựng nông thôn mới", "tổng vốn đầu tư đạt hàng trăm tỷ đồng",
		"người dân đồng tình và ủng hộ chủ trương của huyện", "công trình dự kiến hoàn thành trong quý tới",
		"lãnh đạo huyện biểu dương các tập thể có thành tích xuất sắc", "đoàn kiểm tra đã làm việc với các phòng ban",
	}
	benchEN = []string{
		"the city council approved the new budget on Tuesday", "more than two hundred residents attended the meeting",
		"the bridge will reopen to traffic next month", "officials said the project was on schedule",
		"the mayor thanked volunteers for their work", "local businesses welcomed the decision",
		"the plan includes new bus lanes and cycle paths", "work is expected to finish before the winter",
	}
)

// benchText is generated article i: a title, six to twelve paragraphs of
// its language's phrases and, now and then, the debris a CMS export
// leaves (a photo credit line, a related-links box). No two are alike.
func benchText(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	bank, related, credit := benchVI, "Tin liên quan:", "Ảnh: Minh Anh"
	if i%2 == 1 {
		bank, related, credit = benchEN, "Related:", "Photo: City News"
	}
	sentence := func() string {
		s := bank[r.IntN(len(bank))] + ", " + bank[r.IntN(len(bank))]
		first, size := utf8.DecodeRuneInString(s)
		return string(unicode.ToUpper(first)) + s[size:] + "."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d)\n\n", strings.TrimSuffix(sentence(), "."), i)
	for p := range 6 + r.IntN(7) {
		for range 2 + r.IntN(3) {
			b.WriteString(sentence() + " ")
		}
		b.WriteString("\n\n")
		if p == 2 && i%3 == 0 {
			b.WriteString(credit + "\n\n")
		}
	}
	if i%4 == 0 {
		fmt.Fprintf(&b, "%s\n\n%s\n", related, sentence())
	}
	return []byte(b.String())
}

// benchPage is generated article i as a full web page: navigation, the
// article with a figure, a sidebar of links, a footer.
func benchPage(i int) []byte {
	text := strings.Split(strings.TrimSpace(string(benchText(i))), "\n\n")
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="` + map[bool]string{true: "vi", false: "en"}[i%2 == 0] + `"><head><meta charset="utf-8"><title>` + text[0] + `</title></head><body>`)
	b.WriteString(`<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav><article><h1>` + text[0] + `</h1>`)
	for j, p := range text[1:] {
		fmt.Fprintf(&b, "<p>%s</p>", p)
		if j == 1 {
			fmt.Fprintf(&b, `<figure><img src="https://images.example/%d.jpg" alt=""><figcaption>%s</figcaption></figure>`, i, text[0])
		}
	}
	b.WriteString(`</article><aside>`)
	for j := range 10 {
		fmt.Fprintf(&b, `<a href="/story-%d">Most read story %d</a> `, j, j)
	}
	b.WriteString(`</aside><footer>© News</footer></body></html>`)
	return []byte(b.String())
}
