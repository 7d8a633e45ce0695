package cleaner

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"golang.org/x/net/html"
)

// markdown renders CommonMark with GitHub's extensions (tables,
// strikethrough, autolinks). Raw HTML in the source is left out, not
// passed through: what a Markdown export means is in its Markdown.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify))

// parseMarkdown reads a Markdown export: goldmark renders it to HTML,
// which is read as a body fragment, so Markdown gets the same blocks,
// marks and rules as HTML. Its first heading is the title.
func (c *Cleaner) parseMarkdown(raw []byte, charset string, base *url.URL) ([]segment, meta, error) {
	text, err := decode(raw, charset, "")
	if err != nil {
		return nil, meta{}, err
	}
	var out bytes.Buffer
	if err := markdown.Convert([]byte(text), &out); err != nil {
		return nil, meta{}, fmt.Errorf("markdown: %w", err)
	}
	doc, err := html.Parse(strings.NewReader(out.String()))
	if err != nil {
		return nil, meta{}, fmt.Errorf("markdown: %w", err)
	}
	r := &bodyReader{base: base}
	r.walk(findBody(doc))
	return r.segs, meta{}, nil
}
