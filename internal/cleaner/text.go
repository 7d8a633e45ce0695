package cleaner

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// parseText reads a plain-text export: one segment per line, remembering
// blank lines, because an image placeholder and its caption, or a name and
// its role, are told apart by standing in one block.
func (c *Cleaner) parseText(raw []byte, charset string) ([]segment, meta, error) {
	text, err := decode(raw, charset, "")
	if err != nil {
		return nil, meta{}, err
	}
	return textStructure(textSegments(text)), meta{}, nil
}

var (
	// reBullet is a list item's line: a bullet, then a space.
	reBullet   = regexp.MustCompile(`^([•●▪◦‣∙]|[-*+–])\s+(\S.*)$`)
	reNumbered = regexp.MustCompile(`^(\d{1,3})[.)]\s+(\S.*)$`)
	// reURL is a web address written out; the punctuation after it is
	// the sentence's.
	reURL = regexp.MustCompile(`https?://[^\s<>"]+`)
)

// textStructure finds what plain text says of its structure where it is
// unambiguous: lists written as bullet or number lines, and web addresses
// written out, which become links.
func textStructure(segs []segment) []segment {
	var out []segment
	for i := 0; i < len(segs); {
		if items, n := listAt(segs, i); n > 0 {
			out = append(out, blockSegment(&pb.Block{Kind: &pb.Block_List{List: items}}))
			i += n
			continue
		}
		s := segs[i]
		s.spans = linkify(s.text)
		out = append(out, s)
		i++
	}
	return out
}

// listAt reads the list that starts at segs[i], if one does, and how many
// segments it took. Bullets (•) make a list wherever they stand; a dash or
// a number makes one only on two or more short lines with no blank line
// between them (and numbers that count up), since a Vietnamese interview
// starts its answers with a dash too, a paragraph each.
func listAt(segs []segment, i int) (*pb.List, int) {
	l := &pb.List{}
	n, want := 0, 0
	kind := ""
	for j := i; j < len(segs); j++ {
		s := segs[j]
		if s.kind != segPara || (j > i && s.newBlock && kind != "•") {
			break
		}
		var text string
		if m := reBullet.FindStringSubmatch(s.text); m != nil {
			k := "-"
			if strings.ContainsAny(m[1], "•●▪◦‣∙") {
				k = "•"
			}
			if (kind != "" && kind != k) || (k == "-" && utf8.RuneCountInString(s.text) > 160) {
				break
			}
			kind, text = k, m[2]
		} else if m := reNumbered.FindStringSubmatch(s.text); m != nil && (kind == "" || kind == "1") {
			num, _ := strconv.Atoi(m[1])
			if kind == "" {
				want = num
				if num != 1 {
					l.Start = int32(num)
				}
			}
			if num != want {
				break
			}
			want++
			kind, text = "1", m[2]
		} else {
			break
		}
		l.Items = append(l.Items, &pb.ListItem{Text: text, Spans: linkify(text)})
		n++
	}
	if n < 2 {
		return nil, 0
	}
	l.Ordered = kind == "1"
	return l, n
}

// linkify marks the web addresses a text writes out as links.
func linkify(text string) []*pb.Span {
	locs := reURL.FindAllStringIndex(text, -1)
	if locs == nil {
		return nil
	}
	var spans []*pb.Span
	pos := 0
	for _, loc := range locs {
		url := strings.TrimRight(text[loc[0]:loc[1]], ".,;:!?)”’\"'")
		end := loc[0] + len(url)
		if loc[0] > pos {
			spans = append(spans, &pb.Span{Text: text[pos:loc[0]]})
		}
		if href := absoluteLink(url, nil); href != "" {
			spans = append(spans, &pb.Span{Text: url, Marks: []*pb.Mark{{Kind: pb.MarkKind_MARK_KIND_LINK, Href: href}}})
		} else {
			spans = append(spans, &pb.Span{Text: url})
		}
		pos = end
	}
	if pos < len(text) {
		spans = append(spans, &pb.Span{Text: text[pos:]})
	}
	return spans
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
	rtl := -1 // whether s holds right-to-left script: asked once, if ever
	for _, r := range s {
		switch {
		case isInvisible(r):
		case isBidiControl(r):
			// Embeddings and overrides reorder what a reader sees
			// ("txt.exe" shown as "exe.txt"): only right-to-left text
			// has a use for them.
			if rtl < 0 {
				rtl = 0
				if hasRTL(s) {
					rtl = 1
				}
			}
			if rtl == 1 {
				b.WriteRune(r)
			}
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

// isBidiControl: the embedding, override and isolate controls
// (U+202A–202E, U+2066–2069); not the marks (LRM, RLM), which reorder
// nothing.
func isBidiControl(r rune) bool {
	return ('\u202a' <= r && r <= '\u202e') || ('\u2066' <= r && r <= '\u2069')
}

// hasRTL: s holds letters of a right-to-left script.
func hasRTL(s string) bool {
	for _, r := range s {
		if r >= 0x590 && unicode.In(r, unicode.Hebrew, unicode.Arabic, unicode.Syriac, unicode.Thaana, unicode.Nko, unicode.Samaritan, unicode.Mandaic, unicode.Adlam) {
			return true
		}
	}
	return false
}

// isTidy: no space at either end, no two spaces together, no space but
// U+0020, nothing invisible or control.
func isTidy(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
			i++
			continue
		case c < 0x20 || c == 0x7f:
			return false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if isInvisible(r) || unicode.IsSpace(r) || unicode.IsControl(r) || isBidiControl(r) {
				return false
			}
			i += size - 1
		}
		i++
		prevSpace = false
	}
	return !prevSpace
}
