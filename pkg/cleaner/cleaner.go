// Package cleaner turns a newsroom's plain-text export into a structured
// Article. This first version does what the pipeline needs to flow: it
// normalises the text (UTF-8, NFC, line endings, spaces), drops stray
// template glyphs, and finds the publish time, kicker, title, lead and
// paragraphs. Debris classes (draft markers, toolbars, duplicates, bylines,
// images, related links) are the clean issue's work and not handled yet.
package cleaner

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Options are a newsroom's house settings.
type Options struct {
	// Location is the zone of times written without one.
	Location *time.Location
}

// ErrNotUTF8 and ErrEmpty are the inputs the cleaner refuses; both are
// permanent: trying again cannot help.
var (
	ErrNotUTF8 = errors.New("input is not valid UTF-8")
	ErrEmpty   = errors.New("input has no text")
)

// "13:03 | 23/01/2018": time, then day/month/year.
var timeBarDate = regexp.MustCompile(`^(\d{1,2}):(\d{2})\s*\|\s*(\d{1,2})/(\d{1,2})/(\d{4})$`)

// Clean parses raw plain text.
func Clean(raw []byte, opts Options) (*pb.Article, error) {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(raw) {
		return nil, ErrNotUTF8
	}
	text := norm.NFC.String(string(raw))
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.Join(strings.FieldsFunc(l, isSpace), " ")
		if l == "" || isStrayGlyph(l) {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, ErrEmpty
	}

	a := &pb.Article{}
	var body []string
	for _, l := range lines {
		switch {
		case a.PublishedAt == "" && a.Title == "" && parseTime(l, opts.Location, a):
		case a.Title == "" && a.Kicker == "" && isKicker(l):
			a.Kicker = strings.TrimSpace(strings.TrimSuffix(l, ":"))
		case a.Title == "":
			a.Title = l
		case a.Lead == "":
			a.Lead = l
		default:
			body = append(body, l)
		}
	}
	for _, p := range body {
		a.Blocks = append(a.Blocks, &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: p}}})
	}
	return a, nil
}

func parseTime(l string, loc *time.Location, a *pb.Article) bool {
	m := timeBarDate.FindStringSubmatch(l)
	if m == nil {
		return false
	}
	t, err := time.ParseInLocation("15:04 2/1/2006", m[1]+":"+m[2]+" "+m[3]+"/"+m[4]+"/"+m[5], loc)
	if err != nil {
		return false
	}
	a.PublishedAt = t.Format(time.RFC3339)
	return true
}

// isKicker: a short label ending in a colon, standing alone above the title.
func isKicker(l string) bool {
	return strings.HasSuffix(l, ":") && len(strings.Fields(l)) <= 5 && utf8.RuneCountInString(l) <= 40
}

// isStrayGlyph: one or two characters alone on a line are template
// leftovers (icons, initials of a drop cap), never an article's text.
func isStrayGlyph(l string) bool { return utf8.RuneCountInString(l) <= 2 }

func isSpace(r rune) bool {
	// Non-breaking and zero-width spaces count as space; joiners do not
	// split words.
	return unicode.IsSpace(r) || r == '\u00a0' || r == '\u200b' || r == '\ufeff'
}
