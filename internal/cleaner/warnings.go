package cleaner

import (
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func (b *builder) editorialWarnings(text string) {
	a := b.a
	if a.Title == "" {
		b.warn("missing_title", "no title was found; add one before publishing")
	}
	words := countWords(a.Lead)
	for _, blk := range a.Blocks {
		if p := blk.GetParagraph(); p != nil {
			words += countWords(p.Text)
		}
	}
	if words < b.c.minWords {
		b.warn("short_body", "the body has %d words; check that nothing was lost", words)
	}
	for _, t := range append([]string{a.Title, a.Lead}, blockTexts(a)...) {
		for _, r := range reversedYearRanges(t) {
			b.warn("year_range_reversed", "the year range %q ends before it starts", r)
		}
	}
	// text is every text's dedupe key: lower case, one space between
	// words, which is how the typo list is kept too.
	for _, typo := range b.c.typos {
		if strings.Contains(text, typo.wrong) {
			b.warn("possible_typo", "%q may be a typo of %q", typo.wrong, typo.right)
		}
	}
}

// countWords counts space-separated words; text is normalised, so one
// space separates them.
func countWords(t string) int {
	if t == "" {
		return 0
	}
	return strings.Count(t, " ") + 1
}

func blockTexts(a *pb.Article) []string {
	var out []string
	for _, blk := range a.Blocks {
		if blk.GetHeading() != nil || blk.GetCode() != nil {
			continue
		}
		out = append(out, blockText(blk)...)
	}
	return out
}

// reversedYearRanges finds "2016 – 2010": two years joined by a dash,
// the second before the first. A scan rather than a pattern, as it runs
// over every paragraph.
func reversedYearRanges(t string) []string {
	var out []string
	// Dashes are rarer than digits: find each, then look for a year on
	// either side of it.
	for p := 0; p < len(t); p++ {
		dash := 0
		switch {
		case t[p] == '-':
			dash = 1
		case strings.HasPrefix(t[p:], "–"), strings.HasPrefix(t[p:], "—"):
			dash = len("–")
		default:
			continue
		}
		i := p
		for i > 0 && t[i-1] == ' ' {
			i--
		}
		k := p + dash
		for k < len(t) && t[k] == ' ' {
			k++
		}
		if i -= 4; i >= 0 && isYearAt(t, i) && isYearAt(t, k) && t[k:k+4] < t[i:i+4] {
			out = append(out, t[i:k+4])
		}
		p += dash - 1
	}
	return out
}

// isYearAt: four digits from 1800 to 2199 at i, not part of a longer number.
func isYearAt(t string, i int) bool {
	if i+4 > len(t) || (i > 0 && isDigit(t[i-1])) || (i+4 < len(t) && isDigit(t[i+4])) {
		return false
	}
	for k := i; k < i+4; k++ {
		if !isDigit(t[k]) {
			return false
		}
	}
	y := t[i : i+4]
	return y >= "1800" && y <= "2199"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
