package cleaner

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

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

// parseHTML reads a full web page or a CMS body fragment. The main
// content of a page comes from trafilatura; the page's metadata, figure
// captions and related-link boxes, which trafilatura drops or flattens,
// are read from the document here.
//
// Links and image sources are made absolute against the page's <base>,
// then its canonical URL, then baseURL (the Content-Location it was sent
// with), in that order.
func (c *Cleaner) parseHTML(raw []byte, declared string, baseURL *url.URL) ([]segment, meta, error) {
	text, err := decode(raw, declared, metaCharset(raw))
	if err != nil {
		return nil, meta{}, err
	}
	doc, err := html.Parse(strings.NewReader(text))
	if err != nil {
		return nil, meta{}, err
	}
	repairTitle(doc)
	m, captions, extras, base := pageMeta(doc, c, baseURL)

	var content *html.Node
	extracted := false
	if isFullPage(doc) && !tooLongToExtract(doc) {
		res, err := trafilatura.ExtractDocument(doc, trafilatura.Options{IncludeImages: true, ExcludeComments: true, Deduplicate: false})
		// Under its minimum extracted size trafilatura gives its
		// baseline: the text of the whole page (title and headline run
		// into the body) as flat paragraphs, every link, list and image
		// lost. A page that short is read as a fragment is.
		if err == nil && res.ContentNode != nil && utf8.RuneCountInString(strings.TrimSpace(res.ContentText)) >= minExtracted {
			content, extracted = res.ContentNode, true
		}
	}
	if content == nil {
		// A CMS body fragment, or a page trafilatura found little in:
		// every block of the article (of the body if the page marks
		// none) is content, and the rules sort it.
		content = findBody(doc)
		if a := onlyArticle(content); a != nil {
			content = a
		}
	}
	r := &bodyReader{base: base, captions: captions}
	r.walk(content)
	segs := r.segs
	if extracted {
		segs = newPageIndex(doc).enrich(segs, base)
	}
	return restoreExtras(segs, extras), m, nil
}

// ancestor is n or the nearest element above it with tag a; nil if none.
func ancestor(n *html.Node, a atom.Atom) *html.Node {
	for p := n; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && tagOf(p) == a {
			return p
		}
	}
	return nil
}

// isFullPage: a document with a head that says something, or page chrome.
func isFullPage(doc *html.Node) bool {
	full := false
	visit(doc, func(n *html.Node) bool {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Blockquote, atom.Figure:
				// A quote's or a figure's <footer> is its attribution,
				// body markup, not a page's footer.
				return false
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

// maxExtractParagraphs is the most <p> elements a page may have for
// trafilatura to read it: it joins the text of every paragraph by string
// concatenation for each selector it tries, which is quadratic (a 10 MB
// page took 40 s of CPU). Real web articles have a few hundred; a page
// with more is a CMS export or an attack, and is read as a fragment.
const maxExtractParagraphs = 1500

func tooLongToExtract(doc *html.Node) bool {
	n := 0
	visit(doc, func(c *html.Node) bool {
		if c.Type == html.ElementNode && c.DataAtom == atom.P {
			n++
		}
		return n <= maxExtractParagraphs
	})
	return n > maxExtractParagraphs
}

// minExtracted is trafilatura's own threshold for falling back to its
// baseline.
var minExtracted = trafilatura.DefaultConfig().MinExtractedSize

// onlyArticle is the one <article> or <main> of n (article first); nil
// when there is none, or more than one (a list of teasers).
func onlyArticle(n *html.Node) *html.Node {
	for _, a := range []atom.Atom{atom.Article, atom.Main} {
		var found []*html.Node
		visit(n, func(c *html.Node) bool {
			if c.Type == html.ElementNode && c.DataAtom == a {
				found = append(found, c)
				return false
			}
			return true
		})
		if len(found) == 1 {
			return found[0]
		}
	}
	return nil
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
func pageMeta(doc *html.Node, c *Cleaner, fallback *url.URL) (meta, map[string]string, []pageExtra, *url.URL) {
	r := &pageReader{c: c, captions: map[string]string{}}
	visit(doc, r.element)
	// The base the extras were read against is known only at the end:
	// resolve them now.
	base := r.baseURL(fallback)
	for i := range r.extras {
		if r.extras[i].seg.kind == segImage {
			if abs := absoluteLink(r.extras[i].seg.src, base); abs != "" {
				r.extras[i].seg.src = abs
			}
		}
	}
	m := r.result()
	if base != nil {
		for _, l := range m.related {
			if abs := absoluteLink(l.Url, base); abs != "" {
				l.Url = abs
			}
		}
	}
	return m, r.captions, r.extras, base
}

// pageReader gathers, as visit walks a page, what it says outside its
// body; result then picks among the candidates.
type pageReader struct {
	c        *Cleaner
	m        meta
	ld       ldArticle
	captions map[string]string // figcaption by image src
	extras   []pageExtra
	// base, canonical: <base href>, and <link rel=canonical> or og:url.
	base, canonical string
	chrome          map[*html.Node]bool // see inChrome
	lastText        string              // the last block's text, which an image follows
	// candidates, strongest first in result
	ogTitle, docTitle, h1, timeAttr, published, section, author, crumb, authorEl string
}

// element reads one node; false skips its children.
func (r *pageReader) element(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return true
	}
	if !r.tag(n) {
		return false
	}
	return r.box(n)
}

// tag reads what an element says by its name; false for those whose
// content is not the page's text (scripts, styles).
func (r *pageReader) tag(n *html.Node) bool {
	switch n.DataAtom {
	case atom.P, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Li, atom.Blockquote, atom.Td, atom.Div, atom.Pre, atom.Dd, atom.Dt:
		if embedClass(n) {
			if e := embedOf(n, nil); e != nil {
				r.extras = append(r.extras, pageExtra{after: r.lastText, seg: blockSegment(&pb.Block{Kind: &pb.Block_Embed{Embed: e}})})
			}
			return false
		}
		if tagOf(n) == atom.Div && hasBlocks(n) {
			break
		}
		if t := textOf(n); strings.TrimSpace(t) != "" {
			r.lastText = t
		}
	case atom.Img:
		if src := imgSrc(n); src != "" && r.isContentImage(n, src) {
			r.extras = append(r.extras, pageExtra{after: r.lastText,
				seg: segment{kind: segImage, src: src, alt: attr(n, "alt"), caption: r.captions[src], figure: inFigure(n), markup: true}})
		}
	case atom.Iframe:
		if e := embedOf(n, nil); e != nil && !r.inChrome(n.Parent) {
			r.extras = append(r.extras, pageExtra{after: r.lastText, seg: blockSegment(&pb.Block{Kind: &pb.Block_Embed{Embed: e}})})
		}
		return false
	case atom.Base:
		if r.base == "" {
			r.base = attr(n, "href")
		}
	case atom.Link:
		if strings.EqualFold(attr(n, "rel"), "canonical") && r.canonical == "" {
			r.canonical = attr(n, "href")
		}
	case atom.Html:
		r.m.language = primaryLanguage(attr(n, "lang"))
	case atom.Title:
		r.docTitle = textOf(n)
	case atom.Meta:
		r.metaTag(n)
	case atom.Script:
		if strings.Contains(attr(n, "type"), "ld+json") && r.ld.Headline == "" && n.FirstChild != nil {
			r.ld = parseLD(n.FirstChild.Data) // textOf skips scripts
		}
		return false
	case atom.Style, atom.Noscript:
		return false
	case atom.H1:
		if r.h1 == "" {
			r.h1 = textOf(n)
		}
		r.lastText = textOf(n)
	case atom.Time:
		if r.timeAttr == "" {
			r.timeAttr = attr(n, "datetime")
		}
	case atom.Figure:
		r.figure(n)
	}
	return true
}

// metaTag reads the OpenGraph, article and Dublin Core <meta> tags.
func (r *pageReader) metaTag(n *html.Node) {
	content := attr(n, "content")
	switch strings.ToLower(attr(n, "property") + attr(n, "name")) {
	case "og:title":
		r.ogTitle = content
	case "og:url":
		if r.canonical == "" {
			r.canonical = content
		}
	case "keywords", "news_keywords", "article:tag":
		for _, k := range strings.Split(content, ",") {
			if k = normalize(k); k != "" && !slices.Contains(r.m.keywords, k) {
				r.m.keywords = append(r.m.keywords, k)
			}
		}
	case "article:published_time", "og:article:published_time", "pubdate", "publishdate", "dc.date.issued":
		if r.published == "" {
			r.published = content
		}
	case "article:section":
		r.section = content
	case "author", "article:author", "dc.creator":
		if r.author == "" && !strings.HasPrefix(content, "http") {
			r.author = content
		}
	}
}

// figure keeps a figure's caption for its image.
func (r *pageReader) figure(n *html.Node) {
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
		r.captions[src] = caption
	}
}

// box reads the boxes a page marks by class or id: breadcrumbs, the
// author, related links. false skips what a box holds.
func (r *pageReader) box(n *html.Node) bool {
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
			r.crumb = items[len(items)-1]
		}
		return false
	}
	if reAuthorBox.MatchString(classID) && !hasBlocks(n) {
		if t := normalize(strings.TrimPrefix(textOf(n), "By ")); isName(t) && r.authorEl == "" {
			r.authorEl = t
		}
	}
	if reRelatedBox.MatchString(classID) {
		visit(n, func(a *html.Node) bool {
			if a.Type == html.ElementNode && a.DataAtom == atom.A {
				if t := normalize(textOf(a)); t != "" && attr(a, "href") != "" {
					r.m.related = append(r.m.related, &pb.RelatedLink{Title: t, Url: attr(a, "href")})
				}
			}
			return true
		})
		return false
	}
	return true
}

// baseURL is what relative URLs resolve against: <base href>, then the
// canonical URL, then the fallback (where the page came from), each
// resolved against the next when it is itself relative; nil when none is
// an absolute http(s) URL.
func (r *pageReader) baseURL(fallback *url.URL) *url.URL {
	b := fallback
	for _, s := range []string{r.canonical, r.base} {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		if b != nil {
			u = b.ResolveReference(u)
		}
		if u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			b = u
		}
	}
	return b
}

// result picks, for each field, the strongest candidate: structured data
// (JSON-LD), then the head's meta tags, then the page's own elements.
func (r *pageReader) result() meta {
	m := r.m
	m.title = normalize(first(r.ld.Headline, r.ogTitle, r.h1, reTitleSuffix.ReplaceAllString(r.docTitle, "")))
	for _, t := range []string{r.ld.DatePublished, r.published, r.timeAttr} {
		if stamp, _ := r.c.dates.find(t); t != "" && stamp != "" {
			m.publishedAt = stamp
			break
		}
	}
	m.section = normalize(first(r.ld.section(), r.section, r.crumb))
	if names := r.ld.authors(); len(names) > 0 {
		m.authors = names
	} else if author := first(r.author, r.authorEl); author != "" {
		m.authors = splitNames(normalize(author))
	}
	if m.language == "" {
		m.language = primaryLanguage(r.ld.InLanguage)
	}
	if u := r.baseURL(nil); u != nil && r.canonical != "" {
		if c, err := u.Parse(r.canonical); err == nil {
			m.canonical = c.String()
		}
	}
	for _, k := range r.ld.keywords() {
		if !slices.Contains(m.keywords, k) {
			m.keywords = append(m.keywords, k)
		}
	}
	return m
}

func inFigure(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.DataAtom == atom.Figure {
			return true
		}
	}
	return false
}

// notContentImage: words in the address of a logo, an icon or a
// tracking pixel. A word list rather than a pattern: every image on a
// page is tested, and an unanchored case-insensitive pattern is the
// slowest part of reading one.
var notContentImage = []string{"logo", "icon", "avatar", "sprite", "banner", "pixel", "tracking", "spacer"}

func isChromeImageURL(src string) bool {
	s := strings.ToLower(src)
	for _, w := range notContentImage {
		if strings.Contains(s, w) {
			return true
		}
	}
	return strings.HasSuffix(s, ".svg") || strings.Contains(s, ".svg?")
}

// isContentImage: not page chrome (navigation, header, footer, asides,
// share and ad boxes), not a logo, icon or tracking pixel.
func (r *pageReader) isContentImage(img *html.Node, src string) bool {
	if isChromeImageURL(src) {
		return false
	}
	if w := attr(img, "width"); w != "" && len(w) < 3 && !strings.HasSuffix(w, "%") {
		return false // under 100 px wide
	}
	return !r.inChrome(img.Parent)
}

// inChrome: n is, or is inside, the page's chrome. Memoised, as every
// image and frame asks of its ancestors.
func (r *pageReader) inChrome(n *html.Node) bool {
	if n == nil || n.Type == html.DocumentNode {
		return false
	}
	if v, ok := r.chrome[n]; ok {
		return v
	}
	v := false
	if n.Type == html.ElementNode {
		switch n.DataAtom {
		case atom.Nav, atom.Footer, atom.Aside, atom.Header:
			v = true
		default:
			v = reChromeBox.MatchString(attr(n, "class") + " " + attr(n, "id"))
		}
	}
	v = v || r.inChrome(n.Parent)
	if r.chrome == nil {
		r.chrome = map[*html.Node]bool{}
	}
	r.chrome[n] = v
	return v
}

var reChromeBox = regexp.MustCompile(`(?i)(share|social|advert|\bads?\b|banner|sidebar|related|lien-?quan|comment|footer|menu|nav)`)

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

// repairTitle mends a page that never closes its <title>. A title is raw
// text, so the parser puts the rest of the document in it as text, tags
// and all: the page loses its body and the title reads as markup. What
// follows the first tag in the title is parsed again as the start of the
// body it was meant to be.
func repairTitle(doc *html.Node) {
	// What is parsed again may hold another unclosed <title>: mend until
	// none is left, a few times at most.
	for range 8 {
		if !repairOneTitle(doc) {
			return
		}
	}
}

// repairOneTitle mends the first <title> that holds markup, and reports
// whether it found one.
func repairOneTitle(doc *html.Node) bool {
	var title *html.Node
	visit(doc, func(n *html.Node) bool {
		if title == nil && n.Type == html.ElementNode && n.DataAtom == atom.Title &&
			n.FirstChild != nil && n.FirstChild.Type == html.TextNode && reMarkupText.MatchString(n.FirstChild.Data) {
			title = n
		}
		return title == nil
	})
	body := findBody(doc)
	if title == nil || body == doc {
		return false
	}
	text := title.FirstChild.Data
	loc := reMarkupText.FindStringIndex(text)
	nodes, err := html.ParseFragment(strings.NewReader(text[loc[0]:]), &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body})
	if err != nil {
		return false
	}
	title.FirstChild.Data = text[:loc[0]]
	// After the title when it stands in the body, else at the body's start.
	parent, next := body, body.FirstChild
	if ancestor(title, atom.Body) != nil {
		parent, next = title.Parent, title.NextSibling
	}
	for _, n := range nodes {
		parent.InsertBefore(n, next)
	}
	return true
}

// reMarkupText finds a tag in text: "<" then a letter, "/" or "!".
var reMarkupText = regexp.MustCompile(`<[a-zA-Z/!]`)

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
