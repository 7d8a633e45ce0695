package cleaner

import (
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// segKind says what an input segment is.
type segKind int

const (
	segPara segKind = iota
	segHeading
	segQuote
	segImage
	segLink  // an <a> in a related-links box
	segBlock // a block built whole by its reader: list, table, code, embed, gallery, divider
)

// segment is one unit of input in reading order: a line of a text export,
// or a block element of an HTML body. Both paths feed the same rules.
type segment struct {
	kind segKind
	text string
	// spans are text's runs with their marks, when it has any.
	spans        []*pb.Span
	level        int        // headings: 2 to 4
	block        *pb.Block  // segBlock; text is its plain text, for the rules that compare
	captionSpans []*pb.Span // images
	src, alt     string     // images
	caption      string     // images: a figcaption from HTML
	credit       string     // images: a credit given apart from the caption
	// figure: an image from a <figure>, whose caption (even an empty
	// one) is its figcaption and never the next paragraph.
	figure bool
	// markup: an image from HTML, whose caption the next paragraph is
	// only when the markup says so (captionish).
	markup bool
	// captionish: a paragraph whose markup makes it a caption (a caption
	// class, or all of it in italics).
	captionish bool
	// links is how many links a paragraph's markup has, and linked how
	// much of its text is in them (0 to 1): a menu or a list of other
	// articles is mostly links.
	links    int
	linked   float64
	href     string // links
	newBlock bool   // text: a blank line came before it
	// normalized: text is NFC with spaces collapsed already.
	normalized bool
}

// meta is what a format knows outside the body (HTML head, ninjs fields).
type meta struct {
	title, kicker, dateline, section, lead, source, publishedAt, language string
	authors                                                               []string
	related                                                               []*pb.RelatedLink
	leadSpans                                                             []*pb.Span
	// What the input says the article is about, and its rights (ninjs,
	// JSON-LD, meta keywords), and its canonical URL.
	subjects, genres, places, people, organisations []*pb.Concept
	keywords                                        []string
	urgency                                         int32
	rights                                          *pb.Rights
	canonical                                       string
}
