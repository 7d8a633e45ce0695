package cleaner

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var (
	reCredit  = regexp.MustCompile(`(?i)\s*[\[(]?\s*(ảnh|photo|foto|image|hình|nguồn ảnh|credit|photo credit)\s*(?:by)?\s*[:：]\s*([^()\[\]]{2,80}?)\s*[\])]?\s*\.?\s*$`)
	rePhotoBy = regexp.MustCompile(`(?i)\s*[\[(]?\s*photo by\s+([^()\[\]]{2,80}?)\s*[\])]?\s*\.?\s*$`)
)

// cleanAlt drops alt text that is CMS debris (a draft marker, a file
// name) rather than a description.
func cleanAlt(alt string) string {
	alt = normalize(reDraftMark.ReplaceAllString(alt, ""))
	if reImageName.MatchString(alt) {
		return ""
	}
	return alt
}

// hasDraftMark: the cheap test (fourteen digits in a row) first, the
// case-folding pattern only then.
func hasDraftMark(t string) bool {
	run := 0
	for i := 0; i < len(t); i++ {
		if t[i] >= '0' && t[i] <= '9' {
			if run++; run == 14 {
				return reDraftMark.MatchString(t)
			}
		} else {
			run = 0
		}
	}
	return false
}

func imageBlock(img *pb.Image) *pb.Block { return &pb.Block{Kind: &pb.Block_Image{Image: img}} }

// splitCredit separates a photo credit ("Ảnh: Minh Anh", "Photo: Reuters")
// from the end of a caption.
func splitCredit(caption string) (string, string) {
	// A credit is a short tail: matching only the last bytes keeps the
	// unanchored patterns from backtracking through long paragraphs.
	start := max(0, len(caption)-creditTail)
	for start > 0 && !utf8.RuneStart(caption[start]) {
		start++
	}
	tail := caption[start:]
	if !hasCreditWord(tail) {
		return caption, ""
	}
	for _, re := range []*regexp.Regexp{reCredit, rePhotoBy} {
		if loc := re.FindStringSubmatchIndex(tail); loc != nil {
			credit := tail[loc[len(loc)-2]:loc[len(loc)-1]]
			return strings.TrimSpace(strings.TrimRight(caption[:start+loc[0]], " -–—,")), strings.TrimSpace(credit)
		}
	}
	return caption, ""
}

// hasCreditWord: the words every credit pattern starts with, looked for
// before the patterns run.
func hasCreditWord(t string) bool {
	low := strings.ToLower(t)
	for _, w := range []string{"ảnh", "photo", "foto", "image", "hình", "credit"} {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// creditTail bounds where a credit may start: "(Photo credit: " and an
// 80-character name, in bytes of UTF-8.
const creditTail = 200

// isCreditOnly: a line that is nothing but a photo credit ("Photo: Alamy").
func isCreditOnly(t string) bool {
	if len(t) > creditTail {
		return false
	}
	caption, credit := splitCredit(t)
	return caption == "" && credit != ""
}

// isCaption: a paragraph short enough to be an image's caption.
func isCaption(s segment) bool {
	// A line ending in a colon introduces what follows; it captions
	// nothing.
	return s.kind == segPara && len(strings.Fields(s.text)) <= 60 && !hasDraftMark(s.text) && !strings.HasSuffix(s.text, ":")
}

// isTitleCandidate: a headline, not the article's first sentence (a
// fragment with no title starts with its lead).
func isTitleCandidate(t string) bool {
	words := len(strings.Fields(t))
	return utf8.RuneCountInString(t) <= 250 && !(strings.HasSuffix(t, ".") && words > 12)
}

// isTitleLike: the text of a link to another article, not a paragraph.
func isTitleLike(t string) bool {
	n := len(strings.Fields(t))
	return n >= 1 && n <= 25 && utf8.RuneCountInString(t) <= 200 && !strings.HasSuffix(t, ".")
}

// isName: a line that can only be a person's name: one to six words, each
// capitalised or an initial, no digits, no sentence punctuation.
func isName(t string) bool {
	words := strings.Fields(t)
	if len(words) == 0 || len(words) > 6 || utf8.RuneCountInString(t) > 60 {
		return false
	}
	for _, w := range words {
		if w == "-" || w == "–" || w == "và" || w == "and" || w == "&" || w == "," {
			continue
		}
		w = strings.TrimRight(w, ",")
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(r) {
			return false
		}
		for _, c := range w {
			if unicode.IsDigit(c) || strings.ContainsRune(":;!?\"“”", c) {
				return false
			}
		}
		if strings.HasSuffix(w, ".") && utf8.RuneCountInString(w) > 3 {
			return false // a sentence's end, not an initial like "H."
		}
	}
	return true
}

var reNameSep = regexp.MustCompile(`\s*(?:,|\s-\s|\s–\s|\svà\s|\sand\s|&)\s*`)

func splitNames(t string) []string {
	var out []string
	for _, n := range reNameSep.Split(t, -1) {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func isUpperPlace(s string) bool {
	letters := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if !unicode.IsUpper(r) {
				return false
			}
		}
	}
	return letters >= 2
}

// dedupeKey reduces text to lower-case letters and digits separated by
// single spaces, so repeats that differ in case, spacing or punctuation
// compare equal.
func dedupeKey(t string) string {
	var sb strings.Builder
	sb.Grow(len(t))
	space := false
	for i := 0; i < len(t); {
		r, size := rune(t[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(t[i:])
		}
		i += size
		// ASCII is most of every key, English or Vietnamese, and skips
		// the Unicode tables.
		var word bool
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			word = true
		case 'A' <= r && r <= 'Z':
			r, word = r+'a'-'A', true
		case r >= utf8.RuneSelf:
			r = unicode.ToLower(r)
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		if word {
			if space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			if r < utf8.RuneSelf {
				sb.WriteByte(byte(r))
			} else {
				sb.WriteRune(r)
			}
			space = false
		} else if unicode.IsSpace(r) || unicode.IsPunct(r) {
			space = true
		}
	}
	return sb.String()
}

// atLeastRunes reports whether s has n runes or more, without counting
// a long string to its end.
func atLeastRunes(s string, n int) bool {
	if len(s) < n {
		return false
	}
	for range s {
		if n--; n <= 0 {
			return true
		}
	}
	return false
}

func sameText(a, b string) bool { return dedupeKey(a) == dedupeKey(b) }

func excerpt(t string) string {
	if utf8.RuneCountInString(t) <= 60 {
		return t
	}
	r := []rune(t)
	return string(r[:60]) + "…"
}
