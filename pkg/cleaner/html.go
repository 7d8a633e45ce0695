package cleaner

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/markusmobius/go-trafilatura"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// reRelatedBox matches the class or id of boxes that list other articles.
var reRelatedBox = regexp.MustCompile(`(?i)(related|lien-?quan|xem-?them|read-?more|more-?(news|stories)|tin-?khac|tin-?cung)`)

// reMetaCharset finds <meta charset=X> or the http-equiv form's
// "charset=X" near the top of a page, where browsers look for it.
var reMetaCharset = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)`)

func metaCharset(raw []byte) string {
	head := raw[:min(len(raw), 4096)]
	if m := reMetaCharset.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

var (
	reBreadcrumbBox = regexp.MustCompile(`(?i)bread-?crumb`)
	reAuthorBox     = regexp.MustCompile(`(?i)(^|[\s_-])(author|byline|tac-?gia)($|[\s_-])`)
)

// reTitleSuffix is a site name after a page title: "Title - Báo Hà Nội".
var reTitleSuffix = regexp.MustCompile(`\s+[|–—-]\s+[^|–—-]{2,40}$`)

// cleanHTML reads a full web page or a CMS body fragment. The main
// content of a page comes from trafilatura; the page's metadata, figure
// captions and related-link boxes, which trafilatura drops or flattens,
// are read from the document here.
func (c *Cleaner) cleanHTML(raw []byte, declared string) (*pb.Article, error) {
	text, err := decode(raw, declared, metaCharset(raw))
	if err != nil {
		return nil, err
	}
	doc, err := html.Parse(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	m, captions, images := pageMeta(doc, c)

	var content *html.Node
	if isFullPage(doc) {
		res, err := trafilatura.ExtractDocument(doc, trafilatura.Options{IncludeImages: true, IncludeLinks: true, ExcludeComments: true, Deduplicate: false})
		if err == nil && res.ContentNode != nil && strings.TrimSpace(res.ContentText) != "" {
			content = res.ContentNode
		}
	}
	if content == nil {
		// A CMS body fragment, or a page trafilatura found nothing in:
		// every block of the body is content, and the rules sort it.
		content = findBody(doc)
	}
	var segs []segment
	walk(content, captions, &segs)
	return c.build(restoreImages(segs, images), m), nil
}

// pageImage is a content image of the page and the text of the block
// before it, by which it is put back where trafilatura dropped it.
type pageImage struct {
	seg   segment
	after string
}

// restoreImages puts back the page's content images that the extractor
// left out (it drops most <figure>s and images in tables), each after the
// block it followed on the page. An image whose neighbour is not in the
// content was in a part of the page the extractor rightly dropped.
func restoreImages(segs []segment, images []pageImage) []segment {
	have := map[string]bool{}
	for _, s := range segs {
		if s.kind == segImage {
			have[s.src] = true
		}
	}
	for _, im := range images {
		if have[im.seg.src] || im.after == "" {
			continue
		}
		for i, s := range segs {
			if s.kind != segImage && sameText(s.text, im.after) {
				segs = append(segs[:i+1], append([]segment{im.seg}, segs[i+1:]...)...)
				have[im.seg.src] = true
				break
			}
		}
	}
	return segs
}

// isFullPage: a document with a head that says something, or page chrome.
func isFullPage(doc *html.Node) bool {
	full := false
	visit(doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Title, atom.Nav, atom.Header, atom.Footer, atom.Article, atom.Main, atom.Aside:
				full = true
			case atom.Meta:
				full = full || attr(n, "property") != "" || attr(n, "name") != ""
			}
		}
		return !full
	})
	return full
}

func findBody(doc *html.Node) *html.Node {
	var body *html.Node
	visit(doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode && n.DataAtom == atom.Body {
			body = n
			return false
		}
		return true
	})
	if body == nil {
		return doc
	}
	return body
}

// pageMeta reads title, time, author, section, language and related links
// from the head, JSON-LD and the body, and maps image sources to their
// figure captions.
func pageMeta(doc *html.Node, c *Cleaner) (meta, map[string]string, []pageImage) {
	var m meta
	var ogTitle, docTitle, h1, timeAttr, published, section, author, crumb, authorEl string
	var ld ldArticle
	captions := map[string]string{}
	var images []pageImage
	lastText := ""
	visit(doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		switch n.DataAtom {
		case atom.P, atom.H2, atom.H3, atom.H4, atom.Li, atom.Blockquote, atom.Td:
			if t := textOf(n); strings.TrimSpace(t) != "" {
				lastText = t
			}
		case atom.Img:
			if src := imgSrc(n); src != "" && isContentImage(n, src) {
				images = append(images, pageImage{after: lastText,
					seg: segment{kind: segImage, src: src, alt: attr(n, "alt"), caption: captions[src], figure: inFigure(n)}})
			}
		case atom.Html:
			m.language = strings.ToLower(strings.Split(attr(n, "lang"), "-")[0])
		case atom.Title:
			docTitle = textOf(n)
		case atom.Meta:
			content := attr(n, "content")
			switch strings.ToLower(attr(n, "property") + attr(n, "name")) {
			case "og:title":
				ogTitle = content
			case "article:published_time", "og:article:published_time", "pubdate", "publishdate", "dc.date.issued":
				if published == "" {
					published = content
				}
			case "article:section":
				section = content
			case "author", "article:author", "dc.creator":
				if author == "" && !strings.HasPrefix(content, "http") {
					author = content
				}
			}
		case atom.Script:
			if strings.Contains(attr(n, "type"), "ld+json") && ld.Headline == "" && n.FirstChild != nil {
				ld = parseLD(n.FirstChild.Data) // textOf skips scripts
			}
			return false
		case atom.Style, atom.Noscript:
			return false
		case atom.H1:
			if h1 == "" {
				h1 = textOf(n)
			}
			lastText = textOf(n)
		case atom.Time:
			if timeAttr == "" {
				timeAttr = attr(n, "datetime")
			}
		case atom.Figure:
			var src, caption string
			visit(n, func(f *html.Node) bool {
				if f.Type == html.ElementNode && f.DataAtom == atom.Img && src == "" {
					src = imgSrc(f)
				}
				if f.Type == html.ElementNode && f.DataAtom == atom.Figcaption {
					caption = textOf(f)
				}
				return true
			})
			if src != "" && caption != "" {
				captions[src] = caption
			}
		}
		classID := attr(n, "class") + " " + attr(n, "id")
		if reBreadcrumbBox.MatchString(classID) {
			var items []string
			visit(n, func(a *html.Node) bool {
				if a.Type == html.ElementNode && (a.DataAtom == atom.A || a.DataAtom == atom.Li) && !hasChildElement(a, atom.A) {
					if t := normalize(textOf(a)); t != "" {
						items = append(items, t)
					}
				}
				return true
			})
			if len(items) > 1 {
				crumb = items[len(items)-1]
			}
			return false
		}
		if reAuthorBox.MatchString(classID) && !hasBlocks(n) {
			if t := normalize(strings.TrimPrefix(textOf(n), "By ")); isName(t) && authorEl == "" {
				authorEl = t
			}
		}
		if reRelatedBox.MatchString(classID) {
			visit(n, func(a *html.Node) bool {
				if a.Type == html.ElementNode && a.DataAtom == atom.A {
					if t := normalize(textOf(a)); t != "" && attr(a, "href") != "" {
						m.related = append(m.related, &pb.RelatedLink{Title: t, Url: attr(a, "href")})
					}
				}
				return true
			})
			return false
		}
		return true
	})
	m.title = normalize(first(ld.Headline, ogTitle, h1, reTitleSuffix.ReplaceAllString(docTitle, "")))
	for _, t := range []string{ld.DatePublished, published, timeAttr} {
		if stamp, _ := c.dates.find(t); t != "" && stamp != "" {
			m.publishedAt = stamp
			break
		}
	}
	m.section = normalize(first(ld.section(), section, crumb))
	if names := ld.authors(); len(names) > 0 {
		m.authors = names
	} else if author = first(author, authorEl); author != "" {
		m.authors = splitNames(normalize(author))
	}
	if m.language == "" {
		m.language = strings.ToLower(ld.InLanguage)
	}
	return m, captions, images
}

func inFigure(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.DataAtom == atom.Figure {
			return true
		}
	}
	return false
}

var reNotContentImage = regexp.MustCompile(`(?i)(logo|icon|avatar|sprite|banner|pixel|tracking|spacer|\.svg($|\?))`)

// isContentImage: not page chrome (navigation, header, footer, asides,
// share and ad boxes), not a logo, icon or tracking pixel.
func isContentImage(img *html.Node, src string) bool {
	if reNotContentImage.MatchString(src) {
		return false
	}
	if w := attr(img, "width"); w != "" && len(w) < 3 && !strings.HasSuffix(w, "%") {
		return false // under 100 px wide
	}
	for p := img.Parent; p != nil; p = p.Parent {
		if p.Type != html.ElementNode {
			continue
		}
		switch p.DataAtom {
		case atom.Nav, atom.Footer, atom.Aside, atom.Header:
			return false
		}
		if reChromeBox.MatchString(attr(p, "class") + " " + attr(p, "id")) {
			return false
		}
	}
	return true
}

var reChromeBox = regexp.MustCompile(`(?i)(share|social|advert|\bads?\b|banner|sidebar|related|lien-?quan|comment|footer|menu|nav)`)

// ldArticle is the part of a schema.org NewsArticle in JSON-LD we read.
type ldArticle struct {
	Type           any               `json:"@type"`
	Headline       string            `json:"headline"`
	DatePublished  string            `json:"datePublished"`
	Author         any               `json:"author"`
	ArticleSection any               `json:"articleSection"`
	InLanguage     string            `json:"inLanguage"`
	Graph          []json.RawMessage `json:"@graph"`
}

func parseLD(s string) ldArticle {
	var raw json.RawMessage = []byte(strings.TrimSpace(s))
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		list = []json.RawMessage{raw}
	}
	for _, item := range list {
		var a ldArticle
		if json.Unmarshal(item, &a) != nil {
			continue
		}
		if strings.Contains(strings.ToLower(anyString(a.Type)), "article") && a.Headline != "" {
			return a
		}
		for _, g := range a.Graph {
			if inner := parseLD(string(g)); inner.Headline != "" {
				return inner
			}
		}
	}
	return ldArticle{}
}

func (a ldArticle) authors() []string {
	var out []string
	var add func(v any)
	add = func(v any) {
		switch t := v.(type) {
		case string:
			out = append(out, splitNames(normalize(t))...)
		case map[string]any:
			if n, ok := t["name"].(string); ok {
				out = append(out, normalize(n))
			}
		case []any:
			for _, x := range t {
				add(x)
			}
		}
	}
	add(a.Author)
	return out
}

func (a ldArticle) section() string { return anyString(a.ArticleSection) }

func anyString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			return anyString(t[len(t)-1])
		}
	}
	return ""
}

// walk turns block elements into segments in reading order.
func walk(n *html.Node, captions map[string]string, segs *[]segment) {
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		if ch.Type != html.ElementNode {
			if ch.Type == html.TextNode && strings.TrimSpace(ch.Data) != "" && n.Type == html.ElementNode && n.DataAtom == atom.Body {
				*segs = append(*segs, segment{kind: segPara, text: ch.Data})
			}
			continue
		}
		switch tagOf(ch) {
		case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Form, atom.Button, atom.Select, atom.Nav:
		case atom.P, atom.Li, atom.Dd, atom.Dt, atom.Pre, atom.Figcaption, atom.Caption, atom.Td, atom.Th:
			walkInlineImages(ch, captions, segs)
			*segs = append(*segs, segment{kind: segPara, text: textOf(ch), href: onlyLink(ch)})
		case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
			*segs = append(*segs, segment{kind: segHeading, text: textOf(ch)})
		case atom.Blockquote, atom.Q:
			// A quote may wrap paragraphs; each is a quote block.
			var inner []segment
			walk(ch, captions, &inner)
			if len(inner) == 0 {
				inner = []segment{{kind: segPara, text: textOf(ch)}}
			}
			for _, s := range inner {
				if s.kind == segPara {
					s.kind = segQuote
				}
				*segs = append(*segs, s)
			}
		case atom.Img:
			if src := imgSrc(ch); src != "" {
				*segs = append(*segs, segment{kind: segImage, src: src, alt: attr(ch, "alt"), caption: captions[src]})
			}
		case atom.Figure:
			walkFigure(ch, captions, segs)
		case atom.Br, atom.Hr:
		default:
			if hasBlocks(ch) {
				walk(ch, captions, segs)
			} else if t := textOf(ch); strings.TrimSpace(t) != "" {
				*segs = append(*segs, segment{kind: segPara, text: t, href: onlyLink(ch)})
			} else {
				walkInlineImages(ch, captions, segs)
			}
		}
	}
}

func walkFigure(fig *html.Node, captions map[string]string, segs *[]segment) {
	var img *html.Node
	var caption string
	visit(fig, func(n *html.Node) bool {
		if n.Type == html.ElementNode && tagOf(n) == atom.Img && img == nil {
			img = n
		}
		if n.Type == html.ElementNode && tagOf(n) == atom.Figcaption {
			caption = textOf(n)
		}
		return true
	})
	if img == nil {
		if caption != "" {
			*segs = append(*segs, segment{kind: segPara, text: caption})
		}
		return
	}
	src := imgSrc(img)
	if caption == "" {
		caption = captions[src]
	}
	*segs = append(*segs, segment{kind: segImage, src: src, alt: attr(img, "alt"), caption: caption, figure: true})
}

func walkInlineImages(n *html.Node, captions map[string]string, segs *[]segment) {
	visit(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode && tagOf(c) == atom.Img {
			if src := imgSrc(c); src != "" {
				*segs = append(*segs, segment{kind: segImage, src: src, alt: attr(c, "alt"), caption: captions[src]})
			}
		}
		return true
	})
}

var blockAtoms = map[atom.Atom]bool{atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Ul: true, atom.Ol: true,
	atom.Li: true, atom.Table: true, atom.Figure: true, atom.Blockquote: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Main: true, atom.Header: true, atom.Footer: true, atom.Aside: true, atom.Tbody: true,
	atom.Tr: true, atom.Dl: true, atom.Pre: true, atom.Img: true, atom.Body: true}

func hasBlocks(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (blockAtoms[tagOf(c)] || hasBlocks(c)) {
			return true
		}
	}
	return false
}

// onlyLink returns the href of an element's single link, as in a list
// item of related articles or "Read more: <a>…</a>"; the rules use it only
// for segments they read as related links.
func onlyLink(n *html.Node) string {
	var link *html.Node
	count := 0
	visit(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode && c.DataAtom == atom.A {
			link = c
			count++
		}
		return true
	})
	if count == 1 && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(attr(link, "href"))), "javascript:") {
		return attr(link, "href")
	}
	return ""
}

func hasChildElement(n *html.Node, a atom.Atom) bool {
	found := false
	visit(n, func(c *html.Node) bool {
		if c != n && c.Type == html.ElementNode && c.DataAtom == a {
			found = true
		}
		return !found
	})
	return found
}

// tagOf is an element's tag from its name: trafilatura renames the nodes
// it converts (its quotes become "blockquote") without updating DataAtom.
func tagOf(n *html.Node) atom.Atom {
	return atom.Lookup([]byte(n.Data))
}

func imgSrc(n *html.Node) string {
	for _, k := range []string{"src", "data-src", "data-original", "data-lazy-src"} {
		if v := attr(n, k); v != "" && !strings.HasPrefix(v, "data:") {
			return v
		}
	}
	return ""
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// textOf is the text of n with <br> as a space, skipping scripts.
func textOf(n *html.Node) string {
	var b bytes.Buffer
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style):
			return
		case n.Type == html.ElementNode && n.DataAtom == atom.Br:
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

// visit calls f on n and its descendants, depth first; f returning false
// skips a node's children.
func visit(n *html.Node, f func(*html.Node) bool) {
	if !f(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		visit(c, f)
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
