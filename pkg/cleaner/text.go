package cleaner

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// cleanText reads a plain-text export: one segment per line, remembering
// blank lines, because an image placeholder and its caption, or a name and
// its role, are told apart by standing in one block.
func (c *Cleaner) cleanText(raw []byte, charset string) (*pb.Article, error) {
	text, err := decode(raw, charset, "")
	if err != nil {
		return nil, err
	}
	return c.build(textSegments(text), meta{}), nil
}

func textSegments(text string) []segment {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = normalize(l)
	}
	width := wrapWidth(lines)
	var segs []segment
	newBlock := true
	for _, line := range lines {
		if line == "" {
			newBlock = true
			continue
		}
		if width > 0 && !newBlock && len(segs) > 0 && continues(segs[len(segs)-1].text, line, width) {
			segs[len(segs)-1].text += " " + line
			continue
		}
		segs = append(segs, segment{kind: segPara, text: line, newBlock: newBlock, normalized: true})
		newBlock = false
	}
	return segs
}

// wrapWidth returns the column a hard-wrapped document (wire copy, email)
// was wrapped at, or 0 when it was not: then every line is short and many
// lines end near the same width. A document with long lines is never
// joined, so a list of short lines (related links, a name and a role) in
// an ordinary export stays as it is.
func wrapWidth(lines []string) int {
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l))
	}
	if width < 40 || width > 100 {
		return 0
	}
	near := 0
	for _, l := range lines {
		if utf8.RuneCountInString(l) >= width*3/4 {
			near++
		}
	}
	if near < 3 {
		return 0
	}
	return width
}

// continues: in a hard-wrapped document, a line that reached the wrap
// width without ending a sentence goes on in the next line.
func continues(prev, next string, width int) bool {
	if utf8.RuneCountInString(prev) < width*3/5 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(prev)
	if strings.ContainsRune(".!?:;\"”»)…", r) {
		return false
	}
	return !reArrowLink.MatchString(next) && !hasDraftMark(next)
}

// normalize returns s in NFC with zero-width characters removed and every
// run of spaces (non-breaking ones included) made one space. Dashes and
// quotes are kept as written.
func normalize(s string) string {
	if s == "" {
		return ""
	}
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	if isTidy(s) {
		return s // most lines: nothing to rebuild
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case isInvisible(r):
		case unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || r == '\u2007':
			space = true
		case unicode.IsControl(r):
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isInvisible: zero-width space and non-joiner, word joiner, BOM, soft
// hyphen.
func isInvisible(r rune) bool {
	return r == '\u200b' || r == '\u200c' || r == '\u2060' || r == '\ufeff' || r == '\u00ad'
}

// isTidy: no space at either end, no two spaces together, no space but
// U+0020, nothing invisible or control.
func isTidy(s string) bool {
	prevSpace := true
	for _, r := range s {
		switch {
		case r == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
			continue
		case r < 0x20 || r == 0x7f:
			return false
		case r >= 0x80 && (isInvisible(r) || unicode.IsSpace(r) || unicode.IsControl(r)):
			return false
		}
		prevSpace = false
	}
	return !prevSpace
}
