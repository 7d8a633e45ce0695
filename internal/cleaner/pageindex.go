package cleaner

import (
	"cmp"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// pageIndex finds a page's own text blocks by their words. The extractor
// decides which blocks are the article, and it keeps their words but not
// always their markup: it drops links, and it can cut a paragraph where
// an <em> or a link starts. The index finds on the page the block each
// extracted piece came from, to read the block whole there, words, links
// and marks.
type pageIndex struct {
	doc    *html.Node
	blocks []pageBlock // text blocks, in page order
	// containers are the blocks that hold other blocks, by their words:
	// the extractor sometimes runs a whole menu into one paragraph. Read
	// only when a long piece is found in no block, which is seldom.
	containers map[string]*html.Node
	cursor     int
}

type pageBlock struct {
	n *html.Node
	// key is its words run together (tight): the extractor loses a
	// space where it cuts a paragraph ("craft" + "a port").
	key string
}

// tight is a text's words run together, to compare across lost spaces.
func tight(t string) string { return strings.ReplaceAll(dedupeKey(t), " ", "") }

func newPageIndex(doc *html.Node) *pageIndex {
	x := &pageIndex{doc: doc}
	visit(doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		if skipped[tagOf(n)] || tagOf(n) == atom.Head {
			return false
		}
		if isInline(n) || hasTextBlocks(n) {
			return true
		}
		if k := tight(textOf(n)); k != "" {
			x.blocks = append(x.blocks, pageBlock{n: n, key: k})
		}
		return true
	})
	return x
}

// menuContainer is the container of a long piece found in no block (a
// menu the extractor ran together), or nil.
func (x *pageIndex) menuContainer(text string) *html.Node {
	if len(text) < 300 || punctuation(text) > len(text)/100 {
		return nil // prose: not what a menu run together looks like
	}
	return x.container(text)
}

// container is the outermost block that holds other blocks and whose
// words are text's; nil for none.
func (x *pageIndex) container(text string) *html.Node {
	if x.containers == nil {
		x.containers = map[string]*html.Node{}
		visit(x.doc, func(n *html.Node) bool {
			if n.Type != html.ElementNode {
				return true
			}
			if skipped[tagOf(n)] || tagOf(n) == atom.Head {
				return false
			}
			if !isInline(n) && hasTextBlocks(n) {
				if k := dedupeKey(textOf(n)); len(k) > 200 {
					if _, seen := x.containers[k]; !seen {
						x.containers[k] = n // the outermost: the same words, found first
					}
				}
			}
			return true
		})
	}
	return x.containers[dedupeKey(text)]
}

// lookahead bounds how far past the last match the index looks for the
// next piece: the extractor keeps the page's order, and a page is not
// searched whole for every piece.
const lookahead = 400

// find is the index of the page block that holds key (a tight one), at
// or after the last one found; -1 for none.
func (x *pageIndex) find(key string) int {
	if key == "" {
		return -1
	}
	for i := x.cursor; i < len(x.blocks) && i < x.cursor+lookahead; i++ {
		if strings.Contains(x.blocks[i].key, key) {
			x.cursor = i
			return i
		}
	}
	return -1
}

// enrich reads each extracted text segment from the page block it came
// from: pieces of one block (a paragraph the extractor cut at an inline
// element) become that block again, whole, with its links and marks, and
// list items and code get theirs. A piece found nowhere stays as it is.
func (x *pageIndex) enrich(segs []segment, base *url.URL) []segment {
	var out []segment
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		switch s.kind {
		case segPara, segHeading, segQuote:
		case segBlock:
			if l := s.block.GetList(); l != nil {
				x.enrichList(l, base)
			}
			if tb := s.block.GetTable(); tb != nil {
				if page := x.table(tb, base); page != nil {
					s.block = &pb.Block{Kind: &pb.Block_Table{Table: page}}
				}
			}
			if c := s.block.GetCode(); c != nil {
				// The extractor runs a code block's lines and spaces
				// together; the page has them as written.
				if j := x.find(tight(c.Text)); j >= 0 {
					if pre := ancestor(x.blocks[j].n, atom.Pre); pre != nil {
						if page := codeOf(pre); tight(page.Text) == tight(c.Text) {
							c.Text = page.Text
							c.Language = cmp.Or(c.Language, page.Language)
						}
					}
				}
			}
			out = append(out, s)
			continue
		default:
			out = append(out, s)
			continue
		}
		key := tight(s.text)
		j := x.find(key)
		if j < 0 {
			if c := x.menuContainer(s.text); c != nil {
				// Blocks run together: what they were made of (links,
				// for a menu) is all that is read of them.
				s.links, s.linked = linkDensity([]*html.Node{c})
			}
			out = append(out, s)
			continue
		}
		// The pieces after this one that came from the same block, each
		// further on in it than the one before: a paragraph the page
		// repeats right after itself is not a piece of the first, and
		// must reach the duplicate check (and its warning) on its own.
		b := x.blocks[j]
		covered, pos := len(key), strings.Index(b.key, key)+len(key)
		k := i + 1
		for ; k < len(segs) && segs[k].kind == s.kind && (s.kind == segPara || s.kind == segQuote); k++ {
			nk := tight(segs[k].text)
			at := strings.Index(b.key[pos:], nk)
			if nk == "" || at < 0 {
				break
			}
			covered, pos = covered+len(nk), pos+at+len(nk)
		}
		if covered*2 < len(b.key) {
			// Only a little of a long block: the extractor kept a part
			// on purpose; keep its words, with the block's marks where
			// they fit.
			if _, spans := inlineSpans(children(b.n), base); spans != nil {
				s.spans = alignSpans(spans, s.text)
			}
			out = append(out, s)
			continue
		}
		text, spans := inlineSpans(children(b.n), base)
		s.text, s.spans = text, spans
		s.links, s.linked = linkDensity([]*html.Node{b.n})
		if s.kind == segQuote && s.credit == "" {
			s.credit = quoteAttribution(ancestor(b.n, atom.Blockquote))
		}
		if href := onlyLink(b.n); s.href == "" && href != "" {
			if abs := absoluteLink(href, base); abs != "" {
				href = abs
			}
			s.href = href
		}
		out = append(out, s)
		i = k - 1
	}
	return out
}

// table is the page's own reading of an extracted table: the extractor
// keeps a table's cells but drops its caption and the cells' links and
// marks. nil unless the page has a table of exactly the same cells.
func (x *pageIndex) table(tb *pb.Table, base *url.URL) *pb.Table {
	want := tableKey(tb)
	rows := append(slices.Clip(tb.Header), tb.Rows...)
	if len(rows) == 0 || len(rows[0].Cells) == 0 {
		return nil
	}
	// The page's first row, or its first cell where cells hold blocks
	// of their own, is a block of the index.
	var row strings.Builder
	for _, c := range rows[0].Cells {
		row.WriteString(tight(c.Text))
	}
	firstRow, firstCell := row.String(), tight(rows[0].Cells[0].Text)
	for i := x.cursor; i < len(x.blocks) && i < x.cursor+lookahead; i++ {
		if k := x.blocks[i].key; k == "" || (k != firstRow && k != firstCell) {
			continue
		}
		n := ancestor(x.blocks[i].n, atom.Table)
		if n == nil {
			continue
		}
		if page := (&bodyReader{base: base}).table(n); page != nil && tableKey(page) == want {
			x.cursor = i
			return page
		}
	}
	return nil
}

// tableKey is a table's cells' words, row by row.
func tableKey(tb *pb.Table) string {
	var b strings.Builder
	for _, row := range append(slices.Clip(tb.Header), tb.Rows...) {
		for _, c := range row.Cells {
			b.WriteString(tight(c.Text) + "|")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (x *pageIndex) enrichList(l *pb.List, base *url.URL) {
	for _, it := range l.Items {
		if len(it.Lists) == 0 {
			if j := x.find(tight(it.Text)); j >= 0 && x.blocks[j].key == tight(it.Text) {
				if _, spans := inlineSpans(children(x.blocks[j].n), base); spans != nil {
					it.Spans = alignSpans(spans, it.Text)
				}
			}
		}
		for _, sub := range it.Lists {
			x.enrichList(sub, base)
		}
	}
}

// quoteAttribution is the <footer> or closing <cite> of a block quote
// (nil: none), without its dash.
func quoteAttribution(q *html.Node) string {
	if q == nil {
		return ""
	}
	for c := q.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (tagOf(c) == atom.Footer || (tagOf(c) == atom.Cite && c.NextSibling == nil)) {
			return normalize(strings.TrimLeft(strings.TrimSpace(textOf(c)), "—–- "))
		}
	}
	return ""
}
