package render

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// The body of an article as HTML, written in one place for the page, the
// ninjs document and the feeds: every block and every mark the model
// has. Every string is escaped here; the result still goes through the
// sanitizer's allow-list, which allows exactly what this file writes.

// bodyStyle says where a body goes.
type bodyStyle int

const (
	// forPage: pictures with every rendition, for a browser.
	forPage bodyStyle = iota
	// forDocument: one absolute image per picture, for ninjs and feeds,
	// which readers show outside the site.
	forDocument
)

type bodyWriter struct {
	b     strings.Builder
	m     Meta
	style bodyStyle
	host  string // the site's own host: links elsewhere get rel=noopener
}

func newBodyWriter(m Meta, style bodyStyle) *bodyWriter {
	w := &bodyWriter{m: m, style: style}
	if u, err := url.Parse(m.URL); err == nil {
		w.host = u.Host
	}
	return w
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// body writes every block of the article.
func (w *bodyWriter) body(a *pb.Article) string {
	for _, blk := range a.GetBlocks() {
		w.block(blk)
	}
	return w.b.String()
}

func (w *bodyWriter) block(blk *pb.Block) {
	b := &w.b
	switch k := blk.GetKind().(type) {
	case *pb.Block_Paragraph:
		b.WriteString("<p>")
		w.text(k.Paragraph.GetText(), k.Paragraph.GetSpans())
		b.WriteString("</p>\n")
	case *pb.Block_Heading:
		level := min(max(k.Heading.GetLevel(), 2), 4) // 0: stored before levels were kept
		fmt.Fprintf(b, "<h%d>", level)
		w.text(k.Heading.GetText(), k.Heading.GetSpans())
		fmt.Fprintf(b, "</h%d>\n", level)
	case *pb.Block_Quote:
		b.WriteString("<blockquote><p>")
		w.text(k.Quote.GetText(), k.Quote.GetSpans())
		b.WriteString("</p>")
		if at := k.Quote.GetAttribution(); at != "" {
			b.WriteString("<footer>" + esc(at) + "</footer>")
		}
		b.WriteString("</blockquote>\n")
	case *pb.Block_Image:
		b.WriteString("<figure>")
		w.picture(k.Image)
		w.caption(k.Image.GetCaption(), k.Image.GetCaptionSpans(), k.Image.GetCredit())
		b.WriteString("</figure>\n")
	case *pb.Block_Gallery:
		b.WriteString(`<figure class="gallery">`)
		for _, img := range k.Gallery.GetImages() {
			w.picture(img)
		}
		w.caption(k.Gallery.GetCaption(), nil, "")
		b.WriteString("</figure>\n")
	case *pb.Block_List:
		w.list(k.List)
	case *pb.Block_Table:
		w.table(k.Table)
	case *pb.Block_Code:
		b.WriteString("<pre><code")
		if l := k.Code.GetLanguage(); l != "" && isToken(l) {
			b.WriteString(` class="language-` + esc(l) + `"`)
		}
		b.WriteString(">" + esc(k.Code.GetText()) + "</code></pre>\n")
	case *pb.Block_Embed:
		w.embed(k.Embed)
	case *pb.Block_Divider:
		b.WriteString("<hr>\n")
	}
}

// text writes a text's spans with their marks, or the plain text when it
// has none.
func (w *bodyWriter) text(plain string, spans []*pb.Span) {
	if len(spans) == 0 {
		w.b.WriteString(esc(plain))
		return
	}
	for _, s := range spans {
		if s.GetLineBreak() {
			w.b.WriteString("<br>")
			continue
		}
		var closers []string
		for _, m := range s.GetMarks() {
			open, close := w.mark(m)
			if open == "" {
				continue
			}
			w.b.WriteString(open)
			closers = append(closers, close)
		}
		w.b.WriteString(esc(s.GetText()))
		for i := len(closers) - 1; i >= 0; i-- {
			w.b.WriteString(closers[i])
		}
	}
}

// mark is the opening and closing tags of a mark; none for a link that is
// not an absolute http(s) or mailto URL.
func (w *bodyWriter) mark(m *pb.Mark) (string, string) {
	switch m.GetKind() {
	case pb.MarkKind_MARK_KIND_LINK:
		u, err := url.Parse(m.GetHref())
		if err != nil || !(u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "mailto") {
			return "", ""
		}
		open := `<a href="` + esc(u.String()) + `"`
		if t := m.GetTitle(); t != "" {
			open += ` title="` + esc(t) + `"`
		}
		if u.Scheme != "mailto" && u.Host != w.host {
			// Another site: it gets no handle on this page's window.
			open += ` rel="noopener"`
		}
		return open + ">", "</a>"
	case pb.MarkKind_MARK_KIND_EMPHASIS:
		return "<em>", "</em>"
	case pb.MarkKind_MARK_KIND_STRONG:
		return "<strong>", "</strong>"
	case pb.MarkKind_MARK_KIND_CODE:
		return "<code>", "</code>"
	case pb.MarkKind_MARK_KIND_SUBSCRIPT:
		return "<sub>", "</sub>"
	case pb.MarkKind_MARK_KIND_SUPERSCRIPT:
		return "<sup>", "</sup>"
	}
	return "", ""
}

func (w *bodyWriter) caption(text string, spans []*pb.Span, credit string) {
	if text == "" && credit == "" {
		return
	}
	w.b.WriteString("<figcaption>")
	w.text(text, spans)
	if credit != "" {
		if text != "" {
			w.b.WriteString(" ")
		}
		w.b.WriteString(`<span class="credit">` + esc(credit) + "</span>")
	}
	w.b.WriteString("</figcaption>")
}

// picture writes an image that has renditions: every width and format
// for a page, the fallback JPEG for a document. An image without them (a
// photo whose file was lost) is its caption only.
func (w *bodyWriter) picture(img *pb.Image) {
	media := img.GetMedia()
	fb := fallback(media)
	if fb == nil {
		return
	}
	src := w.m.mediaURL(fb.GetKey())
	if w.style == forDocument {
		fmt.Fprintf(&w.b, `<img src="%s" width="%d" height="%d" alt="%s">`, esc(src), fb.GetWidth(), fb.GetHeight(), esc(img.GetAlt()))
		return
	}
	const sizes = "(max-width: 42rem) 100vw, 42rem"
	w.b.WriteString("<picture>\n")
	if webp := srcset(w.m, media, "webp"); webp != "" {
		fmt.Fprintf(&w.b, `<source type="image/webp" srcset="%s" sizes="%s">`+"\n", esc(webp), sizes)
	}
	fmt.Fprintf(&w.b, `<img src="%s" srcset="%s" sizes="%s" width="%d" height="%d" loading="lazy" decoding="async" alt="%s" style="background:%s">`+"\n</picture>",
		esc(src), esc(srcset(w.m, media, "jpeg")), sizes, fb.GetWidth(), fb.GetHeight(), esc(img.GetAlt()), esc(strings.ToLower(media.GetColor())))
}

func (w *bodyWriter) list(l *pb.List) {
	tag := "ul"
	if l.GetOrdered() {
		tag = "ol"
	}
	w.b.WriteString("<" + tag)
	if l.GetOrdered() && l.GetStart() > 1 {
		fmt.Fprintf(&w.b, ` start="%d"`, l.GetStart())
	}
	w.b.WriteString(">\n")
	for _, it := range l.GetItems() {
		w.b.WriteString("<li>")
		w.text(it.GetText(), it.GetSpans())
		for _, sub := range it.GetLists() {
			w.b.WriteString("\n")
			w.list(sub)
		}
		w.b.WriteString("</li>\n")
	}
	w.b.WriteString("</" + tag + ">\n")
}

func (w *bodyWriter) table(t *pb.Table) {
	w.b.WriteString("<table>")
	if c := t.GetCaption(); c != "" {
		w.b.WriteString("<caption>" + esc(c) + "</caption>")
	}
	if len(t.GetHeader()) > 0 {
		w.b.WriteString("<thead>")
		for _, r := range t.GetHeader() {
			w.row(r, true)
		}
		w.b.WriteString("</thead>")
	}
	w.b.WriteString("<tbody>")
	for _, r := range t.GetRows() {
		w.row(r, false)
	}
	w.b.WriteString("</tbody></table>\n")
}

func (w *bodyWriter) row(r *pb.TableRow, header bool) {
	w.b.WriteString("<tr>")
	for _, c := range r.GetCells() {
		tag := "td"
		if header || c.GetHeader() {
			tag = "th"
		}
		w.b.WriteString("<" + tag)
		if c.GetColspan() > 1 {
			fmt.Fprintf(&w.b, ` colspan="%d"`, c.GetColspan())
		}
		if c.GetRowspan() > 1 {
			fmt.Fprintf(&w.b, ` rowspan="%d"`, c.GetRowspan())
		}
		w.b.WriteString(">")
		w.text(c.GetText(), c.GetSpans())
		w.b.WriteString("</" + tag + ">")
	}
	w.b.WriteString("</tr>\n")
}

// providers are the names embeds are shown with.
var providers = map[string]string{"youtube": "YouTube", "vimeo": "Vimeo", "x": "X", "instagram": "Instagram",
	"facebook": "Facebook", "tiktok": "TikTok", "iframe": "Embedded content"}

// embed writes a link card: the platform, the title, the author and the
// post's words, with the thumbnail imageproc made, linking to the
// platform's page. Nothing of the platform loads with the article: no
// script, no frame, no request to it until the reader follows the link.
func (w *bodyWriter) embed(e *pb.Embed) {
	u, err := url.Parse(e.GetUrl())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return
	}
	provider := e.GetProvider()
	name, ok := providers[provider]
	if !ok {
		provider, name = "iframe", providers["iframe"]
	}
	fmt.Fprintf(&w.b, `<figure class="embed embed-%s"><a class="embed-card" href="%s" rel="noopener">`, provider, esc(u.String()))
	if th := e.GetThumbnailMedia(); th != nil {
		w.picture(&pb.Image{Media: th, Alt: e.GetTitle()})
	}
	w.b.WriteString(`<span class="embed-provider">` + esc(name) + "</span>")
	if t := e.GetTitle(); t != "" {
		w.b.WriteString(`<span class="embed-title">` + esc(t) + "</span>")
	}
	if t := e.GetText(); t != "" {
		w.b.WriteString(`<span class="embed-text">` + esc(t) + "</span>")
	}
	if a := e.GetAuthor(); a != "" {
		w.b.WriteString(`<span class="embed-author">` + esc(a) + "</span>")
	}
	w.b.WriteString(`<span class="embed-url">` + esc(u.Host) + "</span></a></figure>\n")
}

// related writes the article's related links, for the page.
func (w *bodyWriter) related(a *pb.Article) {
	if len(a.GetRelated()) == 0 {
		return
	}
	title := "Related"
	if a.GetLanguage() == "vi" {
		title = "Tin liên quan"
	}
	w.b.WriteString(`<section class="related"><h2>` + title + "</h2><ul>\n")
	for _, r := range a.GetRelated() {
		w.b.WriteString("<li>")
		w.text(r.GetTitle(), []*pb.Span{{Text: r.GetTitle(), Marks: []*pb.Mark{{Kind: pb.MarkKind_MARK_KIND_LINK, Href: r.GetUrl()}}}})
		w.b.WriteString("</li>\n")
	}
	w.b.WriteString("</ul></section>\n")
}

// isToken: a language name safe to put in a class.
func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '+' || r == '#' || r == '.') {
			return false
		}
	}
	return len(s) <= 30
}

// inlineHTML is a text with its marks, for the lead.
func inlineHTML(m Meta, plain string, spans []*pb.Span) string {
	w := newBodyWriter(m, forDocument)
	w.text(plain, spans)
	return w.b.String()
}
