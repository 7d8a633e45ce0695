package cleaner

import (
	"net/url"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/unicode/norm"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Inline content: a text's runs with their marks (links, emphasis,
// strong, code, sub- and superscript) and line breaks. A text keeps its
// plain form too; spans are kept only when some run is marked.

// markOf is the mark an inline element gives its text, if any.
func markOf(n *html.Node, base *url.URL) *pb.Mark {
	switch tagOf(n) {
	case atom.A:
		if href := absoluteLink(attr(n, "href"), base); href != "" {
			return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_LINK, Href: href, Title: normalize(attr(n, "title"))}
		}
	case atom.Em, atom.I, atom.Cite, atom.Dfn, atom.Var:
		return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_EMPHASIS}
	case atom.Strong, atom.B:
		return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_STRONG}
	case atom.Code, atom.Kbd, atom.Samp, atom.Tt:
		return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_CODE}
	case atom.Sub:
		return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_SUBSCRIPT}
	case atom.Sup:
		return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_SUPERSCRIPT}
	}
	// trafilatura writes its own <hi rend="#b"> where it keeps emphasis.
	if n.Data == "hi" {
		switch attr(n, "rend") {
		case "#b":
			return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_STRONG}
		case "#i", "#u":
			return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_EMPHASIS}
		case "#sub":
			return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_SUBSCRIPT}
		case "#sup":
			return &pb.Mark{Kind: pb.MarkKind_MARK_KIND_SUPERSCRIPT}
		}
	}
	return nil
}

// absoluteLink resolves href against base and keeps it only if it is an
// http, https or mailto URL: a link that could not be followed from the
// published page (a relative one with no base, a fragment, javascript:)
// is no link.
func absoluteLink(href string, base *url.URL) string {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return ""
	}
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	if !u.IsAbs() {
		if base == nil || u.Scheme != "" {
			return ""
		}
		u = base.ResolveReference(u)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
	case "mailto":
		if u.Opaque == "" {
			return ""
		}
	default:
		return ""
	}
	return u.String()
}

// inlineSpans reads the inline content of nodes (an element's children,
// or a run of siblings) into normalized spans and their plain text.
// Images are not text; nested blocks are read as if inline (a caller
// splits blocks off first).
func inlineSpans(nodes []*html.Node, base *url.URL) (string, []*pb.Span) {
	var raw []*pb.Span
	var marks []*pb.Mark
	var rec func(n *html.Node)
	rec = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			raw = append(raw, &pb.Span{Text: n.Data, Marks: slices.Clone(marks)})
			return
		case html.ElementNode:
		default:
			return
		}
		switch tagOf(n) {
		case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Img, atom.Picture, atom.Svg, atom.Button, atom.Select, atom.Iframe:
			return
		case atom.Br:
			raw = append(raw, &pb.Span{LineBreak: true})
			return
		}
		if n.Data == "lb" { // trafilatura's line break
			raw = append(raw, &pb.Span{LineBreak: true})
			return
		}
		m := markOf(n, nil)
		if tagOf(n) == atom.A {
			m = markOf(n, base)
		}
		if m != nil {
			marks = append(marks, m)
		}
		if blockAtoms[tagOf(n)] && len(raw) > 0 {
			raw = append(raw, &pb.Span{Text: " "}) // a block read inline is a word apart
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
		if m != nil {
			marks = marks[:len(marks)-1]
		}
	}
	for _, n := range nodes {
		rec(n)
	}
	return finishSpans(raw)
}

// finishSpans normalizes raw runs as normalize does a text (NFC, no
// invisible characters, every run of spaces one space, none at the ends
// or around a line break), merges neighbours with the same marks, and
// returns the plain text with the spans, or no spans when nothing is
// marked.
func finishSpans(raw []*pb.Span) (string, []*pb.Span) {
	var out []*pb.Span
	pendingSpace := false
	atStart := true // of the text, or of a line
	for _, s := range raw {
		if s.LineBreak {
			if !atStart {
				out = append(out, &pb.Span{LineBreak: true})
				atStart = true
			}
			pendingSpace = false
			continue
		}
		text := s.Text
		if !norm.NFC.IsNormalString(text) {
			text = norm.NFC.String(text)
		}
		var b strings.Builder
		for _, r := range text {
			switch {
			case isInvisible(r):
			case unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || r == '\u2007':
				pendingSpace = true
			case unicode.IsControl(r):
			default:
				if pendingSpace && !atStart {
					// The space goes where the text goes on: at the
					// end of the last span when its marks end here.
					// A space between runs belongs to the less
					// marked one: "see " + link, link + " now".
					if prev := lastSpan(out); b.Len() == 0 && prev != nil && !sameMarks(prev.Marks, s.Marks) && len(prev.Marks) <= len(s.Marks) {
						prev.Text += " "
					} else {
						b.WriteByte(' ')
					}
				}
				pendingSpace, atStart = false, false
				b.WriteRune(r)
			}
		}
		if b.Len() == 0 {
			continue
		}
		if n := len(out); n > 0 && !out[n-1].LineBreak && sameMarks(out[n-1].Marks, s.Marks) {
			out[n-1].Text += b.String()
		} else {
			out = append(out, &pb.Span{Text: b.String(), Marks: s.Marks})
		}
	}
	for len(out) > 0 && out[len(out)-1].LineBreak {
		out = out[:len(out)-1]
	}
	text := spansText(out)
	for _, s := range out {
		if len(s.Marks) > 0 || s.LineBreak {
			return text, out
		}
	}
	return text, nil
}

func lastSpan(out []*pb.Span) *pb.Span {
	if len(out) == 0 || out[len(out)-1].LineBreak {
		return nil
	}
	return out[len(out)-1]
}

func sameMarks(a, b []*pb.Mark) bool {
	return slices.EqualFunc(a, b, func(x, y *pb.Mark) bool {
		return x.GetKind() == y.GetKind() && x.GetHref() == y.GetHref() && x.GetTitle() == y.GetTitle()
	})
}

// spansText is the plain text of spans, a line break being "\n".
func spansText(spans []*pb.Span) string {
	var b strings.Builder
	for _, s := range spans {
		if s.LineBreak {
			b.WriteByte('\n')
		} else {
			b.WriteString(s.Text)
		}
	}
	return b.String()
}

// alignSpans fits spans to a text the rules changed: the same spans when
// they still spell it, the part of them that spells it when the rules
// only cut something off either end, none when the text was rewritten
// (the marks are lost, the words are not).
func alignSpans(spans []*pb.Span, text string) []*pb.Span {
	if len(spans) == 0 {
		return nil
	}
	joined := spansText(spans)
	if joined == text {
		return spans
	}
	start := strings.Index(joined, text)
	if start < 0 || text == "" {
		return nil
	}
	end := start + len(text)
	var out []*pb.Span
	pos := 0
	for _, s := range spans {
		n := len(s.Text)
		if s.LineBreak {
			n = 1
		}
		lo, hi := max(start, pos), min(end, pos+n)
		if lo < hi {
			if s.LineBreak {
				out = append(out, &pb.Span{LineBreak: true})
			} else {
				out = append(out, &pb.Span{Text: s.Text[lo-pos : hi-pos], Marks: s.Marks})
			}
		}
		pos += n
	}
	for _, s := range out {
		if len(s.Marks) > 0 || s.LineBreak {
			return out
		}
	}
	return nil
}
