package render

import (
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// policy allows exactly the markup body.go writes. Anything else, however
// it got there, is removed: elements, attributes, event handlers, styles
// other than a background colour, and URLs other than http(s), mailto or
// relative.
var policy = newPolicy()

func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "h2", "h3", "h4", "blockquote", "footer", "figure", "figcaption", "picture", "section", "ul", "ol", "li", "span",
		"em", "strong", "code", "sub", "sup", "br", "pre", "hr", "table", "caption", "thead", "tbody", "tr", "th", "td")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^(credit|related|gallery|embed embed-(youtube|vimeo|x|instagram|facebook|tiktok|iframe)|embed-(card|provider|title|text|author|url))$`)).OnElements("span", "section", "figure", "a")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[a-z0-9+#.-]{1,30}$`)).OnElements("code")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,6}$`)).OnElements("ol")
	p.AllowAttrs("colspan", "rowspan").Matching(regexp.MustCompile(`^[0-9]{1,3}$`)).OnElements("th", "td")
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^image/(webp|jpeg|avif)$`)).OnElements("source")
	// bluemonday does not parse srcset: only lists of plain http(s) or
	// root-relative URLs with widths pass.
	srcset := regexp.MustCompile(`^(?:(?:https?://|/)[^\s,"'<>]+ \d+w)(?:, (?:https?://|/)[^\s,"'<>]+ \d+w)*$`)
	p.AllowAttrs("srcset").Matching(srcset).OnElements("source", "img")
	p.AllowAttrs("sizes").Matching(regexp.MustCompile(`^[\w\s(),:.-]+$`)).OnElements("source", "img")
	p.AllowAttrs("src", "alt").OnElements("img")
	p.AllowAttrs("width", "height").Matching(bluemonday.NumberOrPercent).OnElements("img")
	p.AllowAttrs("loading").Matching(regexp.MustCompile(`^lazy$`)).OnElements("img")
	p.AllowAttrs("decoding").Matching(regexp.MustCompile(`^async$`)).OnElements("img")
	p.AllowAttrs("style").OnElements("img")
	p.AllowStyles("background").Matching(regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)).OnElements("img")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("title").OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^noopener$`)).OnElements("a")
	p.AllowElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true)
	p.RequireParseableURLs(true)
	return p
}

func sanitize(fragment string) string { return policy.Sanitize(fragment) }
