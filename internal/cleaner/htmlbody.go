package cleaner

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// bodyReader turns a body's elements into segments in reading order: a
// block element is a segment (or, for lists, tables, code and embeds, a
// block built whole), and a run of text and inline elements between
// blocks is one paragraph, so a sentence is never cut at a link or an
// <em>.
type bodyReader struct {
	base     *url.URL          // resolves relative links and image sources
	captions map[string]string // figure captions by image source, from the whole page
	segs     []segment
}

// skipped elements hold no article text.
var skipped = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Form: true,
	atom.Button: true, atom.Select: true, atom.Nav: true, atom.Input: true, atom.Textarea: true, atom.Svg: true, atom.Object: true}

// walk reads n's children.
func (r *bodyReader) walk(n *html.Node) {
	var run []*html.Node
	flush := func() {
		if len(run) > 0 {
			r.paragraph(run, segPara)
			run = nil
		}
	}
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		switch {
		case ch.Type == html.TextNode:
			run = append(run, ch)
		case ch.Type != html.ElementNode || skipped[tagOf(ch)]:
		case isInline(ch):
			run = append(run, ch)
		default:
			flush()
			r.block(ch)
		}
	}
	flush()
}

// isInline: an element that is part of the text around it. An image is:
// a paragraph that holds one is read as the image, then the text (which,
// short, is its caption).
func isInline(n *html.Node) bool {
	t := tagOf(n)
	if t == atom.Img {
		return true
	}
	if t == atom.Code && strings.Contains(textOf(n), "\n") {
		return false // the extractor's own form of <pre>
	}
	if blockAtoms[t] || t == atom.Iframe || t == atom.Hr || t == atom.Picture || t == atom.Video || t == atom.Figure || embedClass(n) {
		return false
	}
	return !hasTextBlocks(n)
}

// hasTextBlocks: n holds block elements other than images.
func hasTextBlocks(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && tagOf(c) != atom.Img && (blockAtoms[tagOf(c)] || hasTextBlocks(c)) {
			return true
		}
	}
	return false
}

// paragraph adds the text of inline nodes as one segment, after the
// images among them (as a newsroom places a photo at its paragraph).
func (r *bodyReader) paragraph(nodes []*html.Node, kind segKind) {
	before := len(r.segs)
	for _, n := range nodes {
		r.inlineImages(n)
	}
	withImage := len(r.segs) > before
	text, spans := inlineSpans(nodes, r.base)
	if strings.TrimSpace(text) == "" {
		return
	}
	var href string
	if len(nodes) == 1 && nodes[0].Type == html.ElementNode {
		href = onlyLink(nodes[0])
	} else if len(nodes) > 1 {
		href = onlyLinkOf(nodes)
	}
	// Short text beside a photo in the same paragraph is its caption.
	seg := segment{kind: kind, text: text, spans: spans, href: r.link(href), normalized: true,
		captionish: captionish(nodes, spans, text) || (withImage && len(strings.Fields(text)) <= 40) || hasPhotoCredit(text)}
	seg.links, seg.linked = linkDensity(nodes)
	r.segs = append(r.segs, seg)
}

// linkDensity counts the links among nodes and the share of their text
// the links hold.
func linkDensity(nodes []*html.Node) (int, float64) {
	links, inLinks, all := 0, 0, 0
	var rec func(n *html.Node, inLink bool)
	rec = func(n *html.Node, inLink bool) {
		switch n.Type {
		case html.TextNode:
			k := len(strings.TrimSpace(n.Data))
			all += k
			if inLink {
				inLinks += k
			}
			return
		case html.ElementNode:
			if skipped[tagOf(n)] {
				return
			}
			if tagOf(n) == atom.A && !inLink {
				links++
				inLink = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c, inLink)
		}
	}
	for _, n := range nodes {
		rec(n, false)
	}
	if all == 0 {
		return links, 0
	}
	return links, float64(inLinks) / float64(all)
}

// hasPhotoCredit: text that ends with a photo credit, "(AP Photo/Jane
// Doe)" or "Photo: Minh Anh", as only captions do.
func hasPhotoCredit(text string) bool {
	if !hasCreditWord(text) || len(strings.Fields(text)) > 80 {
		return false
	}
	_, credit := splitCredit(text)
	return credit != "" || reAgencyPhoto.MatchString(text)
}

var reAgencyPhoto = regexp.MustCompile(`\((AP|AFP|Reuters|EPA|Getty|Xinhua|TTXVN)( Photo| Images)?/[^()]{2,60}\)\s*$`)

var reCaptionClass = regexp.MustCompile(`(?i)(caption|credit|legend|chu-?thich|photo-?desc|image-?desc)`)

// captionish: a paragraph marked as a caption by its class, or set wholly
// in italics and short, as CMSs write the caption under a photo.
func captionish(nodes []*html.Node, spans []*pb.Span, text string) bool {
	if len(nodes) == 1 && nodes[0].Type == html.ElementNode {
		for p := nodes[0]; p != nil && p.Type == html.ElementNode; p = p.Parent {
			if reCaptionClass.MatchString(attr(p, "class")) {
				return true
			}
			if tagOf(p) == atom.P || tagOf(p) == atom.Div {
				break
			}
		}
	}
	if len(spans) == 0 || len(strings.Fields(text)) > 40 {
		return false
	}
	for _, s := range spans {
		if s.LineBreak {
			continue
		}
		italic := false
		for _, m := range s.Marks {
			italic = italic || m.GetKind() == pb.MarkKind_MARK_KIND_EMPHASIS
		}
		if !italic {
			return false
		}
	}
	return true
}

// link is href made absolute where it can be.
func (r *bodyReader) link(href string) string {
	if abs := absoluteLink(href, r.base); abs != "" {
		return abs
	}
	return href
}

// src is an image's source, absolute where the page's base allows: a
// bare file name with no base may name a file sent with the article.
func (r *bodyReader) src(img *html.Node) string {
	src := imgSrc(img)
	if isChromeImageURL(src) {
		return "" // a logo, an icon, a tracking pixel
	}
	if abs := absoluteLink(src, r.base); abs != "" && !strings.HasPrefix(abs, "mailto:") {
		return abs
	}
	return src
}

func (r *bodyReader) block(n *html.Node) {
	switch t := tagOf(n); t {
	case atom.P, atom.Dd, atom.Dt, atom.Figcaption, atom.Caption, atom.Summary, atom.Address:
		if hasTextBlocks(n) {
			r.walk(n)
			return
		}
		r.paragraph([]*html.Node{n}, segPara)
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		r.inlineImages(n)
		text, spans := inlineSpans(children(n), r.base)
		if strings.TrimSpace(text) != "" {
			r.segs = append(r.segs, segment{kind: segHeading, text: text, spans: spans, level: headingLevel(t), normalized: true})
		}
	case atom.Blockquote, atom.Q:
		if e := embedOf(n, r.base); e != nil {
			r.embed(e)
			return
		}
		r.quote(n)
	case atom.Ul, atom.Ol:
		if l := r.list(n); len(l.GetItems()) > 0 {
			r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_List{List: l}}))
		}
	case atom.Table:
		if r.imageTable(n) {
			return
		}
		if tb := r.table(n); tb != nil {
			r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_Table{Table: tb}}))
		} else {
			r.walk(n) // a table that lays a page out
		}
	case atom.Pre, atom.Code:
		if c := codeOf(n); c.Text != "" {
			r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_Code{Code: c}}))
		}
	case atom.Img:
		if src := r.src(n); src != "" {
			r.segs = append(r.segs, segment{kind: segImage, src: src, alt: attr(n, "alt"), caption: r.captions[imgSrc(n)], markup: true})
		}
	case atom.Picture, atom.Video:
		r.inlineImages(n)
	case atom.Figure:
		r.figure(n)
	case atom.Iframe, atom.Embed:
		if e := embedOf(n, r.base); e != nil {
			r.embed(e)
		}
	case atom.Hr:
		r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_Divider{Divider: &pb.Divider{}}}))
	case atom.Br:
	default:
		if e := embedOf(n, r.base); e != nil {
			r.embed(e)
			return
		}
		if hasTextBlocks(n) {
			r.walk(n)
		} else {
			r.paragraph([]*html.Node{n}, segPara)
		}
	}
}

func children(n *html.Node) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, c)
	}
	return out
}

func headingLevel(t atom.Atom) int {
	switch t {
	case atom.H1, atom.H2:
		return 2
	case atom.H3:
		return 3
	}
	return 4
}

// blockSegment carries a block built whole; its text is what the rules
// compare (neighbours of images, duplicates, debris).
func blockSegment(b *pb.Block) segment {
	return segment{kind: segBlock, block: b, text: strings.Join(blockText(b), " "), normalized: true}
}

func (r *bodyReader) embed(e *pb.Embed) {
	r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_Embed{Embed: e}}))
}

// quote reads a block quote: each paragraph in it a quote block, and a
// <footer> or <cite> standing apart as its attribution.
func (r *bodyReader) quote(n *html.Node) {
	inner := &bodyReader{base: r.base, captions: r.captions}
	attribution := quoteAttribution(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (tagOf(c) == atom.Footer || (tagOf(c) == atom.Cite && c.NextSibling == nil)) {
			c.Parent.RemoveChild(c) // read as the attribution, not as a quote
			break
		}
	}
	inner.walk(n)
	last := -1
	for i, s := range inner.segs {
		if s.kind == segPara {
			inner.segs[i].kind = segQuote
			last = i
		}
	}
	if last >= 0 {
		q := &inner.segs[last]
		if attribution == "" {
			// "… ran. — Maria Lopez, planner": Markdown and plain HTML
			// write who said it on the quote's last line.
			if m := reTrailingAttribution.FindStringSubmatch(q.text); m != nil {
				q.text, attribution = m[1], m[2]
				q.spans = alignSpans(q.spans, q.text)
			}
		}
		q.credit = attribution
	}
	r.segs = append(r.segs, inner.segs...)
}

var reTrailingAttribution = regexp.MustCompile(`^(.*[.!?…”"’])\s+[—–]\s*([^—–.!?]{2,80})$`)

// list reads a ul or ol, with the lists nested in its items.
func (r *bodyReader) list(n *html.Node) *pb.List {
	l := &pb.List{Ordered: tagOf(n) == atom.Ol}
	if s, err := strconv.Atoi(attr(n, "start")); err == nil && l.Ordered && s != 1 {
		l.Start = int32(s)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch tagOf(c) {
		case atom.Li:
			item := &pb.ListItem{}
			var inline []*html.Node
			for ic := c.FirstChild; ic != nil; ic = ic.NextSibling {
				if ic.Type == html.ElementNode && (tagOf(ic) == atom.Ul || tagOf(ic) == atom.Ol) {
					if sub := r.list(ic); len(sub.Items) > 0 {
						item.Lists = append(item.Lists, sub)
					}
					continue
				}
				inline = append(inline, ic)
			}
			item.Text, item.Spans = inlineSpans(inline, r.base)
			if item.Text != "" || len(item.Lists) > 0 {
				l.Items = append(l.Items, item)
			}
		case atom.Ul, atom.Ol:
			// A list right inside a list belongs to the item before it.
			if sub := r.list(c); len(sub.Items) > 0 {
				if len(l.Items) == 0 {
					l.Items = append(l.Items, &pb.ListItem{})
				}
				last := l.Items[len(l.Items)-1]
				last.Lists = append(last.Lists, sub)
			}
		}
	}
	return l
}

// table reads a table of data; nil for a table that lays a page out (a
// cell holds paragraphs, or there is one cell), whose content is read as
// the rest of the page.
func (r *bodyReader) table(n *html.Node) *pb.Table {
	tb := &pb.Table{}
	cells := 0
	layout := false
	var rows func(n *html.Node, header bool)
	rows = func(n *html.Node, header bool) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch tagOf(c) {
			case atom.Thead:
				rows(c, true)
			case atom.Tbody, atom.Tfoot:
				rows(c, false)
			case atom.Caption:
				tb.Caption = normalize(textOf(c))
			case atom.Tr:
				row := &pb.TableRow{}
				allTH := true
				for cell := c.FirstChild; cell != nil; cell = cell.NextSibling {
					if cell.Type != html.ElementNode || (tagOf(cell) != atom.Td && tagOf(cell) != atom.Th) {
						continue
					}
					if hasLayout(cell) {
						layout = true
					}
					tc := &pb.TableCell{Header: tagOf(cell) == atom.Th}
					allTH = allTH && tc.Header
					tc.Text, tc.Spans = inlineSpans(children(cell), r.base)
					if v, err := strconv.Atoi(attr(cell, "colspan")); err == nil && v > 1 {
						tc.Colspan = int32(v)
					}
					if v, err := strconv.Atoi(attr(cell, "rowspan")); err == nil && v > 1 {
						tc.Rowspan = int32(v)
					}
					row.Cells = append(row.Cells, tc)
					cells++
				}
				if len(row.Cells) == 0 {
					continue
				}
				if header || (allTH && len(tb.Rows) == 0) {
					tb.Header = append(tb.Header, row)
				} else {
					tb.Rows = append(tb.Rows, row)
				}
			}
		}
	}
	rows(n, false)
	if layout || cells < 2 {
		return nil
	}
	return tb
}

// imageTable reads the table many CMSs put a photo in, its caption in the
// cell below (or beside) it: one image, and short text in the other
// cells. It reports whether n was one.
func (r *bodyReader) imageTable(n *html.Node) bool {
	var img *html.Node
	var texts []string
	ok := true
	visit(n, func(c *html.Node) bool {
		if !ok || c.Type != html.ElementNode {
			return ok
		}
		switch tagOf(c) {
		case atom.Img:
			if img != nil {
				ok = false
			}
			img = c
		case atom.Table:
			if c != n {
				ok = false
			}
		case atom.Td, atom.Th:
			if t := normalize(textOf(c)); t != "" {
				texts = append(texts, t)
			}
		}
		return ok
	})
	caption := strings.Join(texts, " ")
	if !ok || img == nil || len(texts) > 2 || len(strings.Fields(caption)) > 60 {
		return false
	}
	if src := r.src(img); src != "" {
		r.segs = append(r.segs, segment{kind: segImage, src: src, alt: attr(img, "alt"), caption: caption, figure: true, markup: true})
	} else if caption != "" {
		// The extractor lost the image's source: the caption stands, as
		// a caption, for the image put back before it.
		r.segs = append(r.segs, segment{kind: segPara, text: caption, normalized: true, captionish: true})
	}
	return true
}

// hasLayout: a cell that holds what a data table does not (paragraphs,
// headings, lists, other tables, figures).
func hasLayout(cell *html.Node) bool {
	found := false
	visit(cell, func(c *html.Node) bool {
		if c != cell && c.Type == html.ElementNode {
			switch tagOf(c) {
			case atom.P, atom.Div, atom.Table, atom.Ul, atom.Ol, atom.H1, atom.H2, atom.H3, atom.H4, atom.Figure, atom.Blockquote, atom.Img:
				found = true
			}
		}
		return !found
	})
	return found
}

var reCodeLanguage = regexp.MustCompile(`(?:^|\s)(?:language|lang|highlight-source)-([\w+#.-]+)`)

// codeOf reads preformatted text as written: its lines and their indent.
func codeOf(pre *html.Node) *pb.Code {
	c := &pb.Code{}
	for _, n := range []*html.Node{pre, pre.FirstChild} {
		if n != nil && n.Type == html.ElementNode {
			if m := reCodeLanguage.FindStringSubmatch(attr(n, "class")); m != nil {
				c.Language = strings.ToLower(m[1])
			}
			if c.Language == "" {
				c.Language = strings.ToLower(attr(n, "data-lang"))
			}
		}
	}
	var b strings.Builder
	var rec func(n *html.Node)
	rec = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && tagOf(n) == atom.Br:
			b.WriteByte('\n')
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			rec(ch)
		}
	}
	rec(pre)
	lines := strings.Split(strings.ReplaceAll(b.String(), "\r\n", "\n"), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	c.Text = strings.Join(lines, "\n")
	return c
}

// figure reads a figure: one image and its caption, several images as a
// gallery, or an embedded frame.
func (r *bodyReader) figure(fig *html.Node) {
	var imgs []*html.Node
	var caption *html.Node
	var frame *pb.Embed
	visit(fig, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		switch tagOf(n) {
		case atom.Img:
			imgs = append(imgs, n)
		case atom.Figcaption:
			if caption == nil {
				caption = n
			}
			return false
		case atom.Iframe, atom.Blockquote:
			if e := embedOf(n, r.base); e != nil && frame == nil {
				frame = e
				return false
			}
		}
		return true
	})
	capText, capSpans := "", []*pb.Span(nil)
	if caption != nil {
		capText, capSpans = inlineSpans(children(caption), r.base)
	}
	switch {
	case frame != nil:
		if frame.Title == "" {
			frame.Title = capText
		}
		r.embed(frame)
	case len(imgs) == 0:
		if capText != "" {
			r.segs = append(r.segs, segment{kind: segPara, text: capText, spans: capSpans, normalized: true})
		}
	case len(imgs) == 1:
		src := r.src(imgs[0])
		if capText == "" {
			capText = r.captions[imgSrc(imgs[0])]
		}
		r.segs = append(r.segs, segment{kind: segImage, src: src, alt: attr(imgs[0], "alt"), caption: capText, captionSpans: capSpans, figure: true})
	default:
		g := &pb.Gallery{Caption: capText}
		for _, img := range imgs {
			if src := r.src(img); src != "" {
				g.Images = append(g.Images, &pb.Image{Src: src, Alt: cleanAlt(attr(img, "alt"))})
			}
		}
		r.segs = append(r.segs, blockSegment(&pb.Block{Kind: &pb.Block_Gallery{Gallery: g}}))
	}
}

// inlineImages adds the images inside an inline element or a block's
// text.
func (r *bodyReader) inlineImages(n *html.Node) {
	visit(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode && tagOf(c) == atom.Img {
			if src := r.src(c); src != "" {
				r.segs = append(r.segs, segment{kind: segImage, src: src, alt: attr(c, "alt"), caption: r.captions[imgSrc(c)], markup: true})
			}
		}
		return true
	})
}

// onlyLinkOf is the href of the one link among inline nodes, if there is
// exactly one.
func onlyLinkOf(nodes []*html.Node) string {
	href, count := "", 0
	for _, n := range nodes {
		visit(n, func(c *html.Node) bool {
			if c.Type == html.ElementNode && c.DataAtom == atom.A {
				href = attr(c, "href")
				count++
			}
			return true
		})
	}
	if count == 1 {
		return href
	}
	return ""
}
