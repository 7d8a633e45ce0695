// Package slug makes the readable part of an article's URL from its title:
// lower-case ASCII words joined by hyphens, with Vietnamese and other Latin
// diacritics folded (Đảng → dang).
package slug

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxLen bounds a slug; longer titles are cut at a word boundary.
const MaxLen = 80

// folds are letters that Unicode does not decompose into a base letter
// and a mark, but that readers expect folded in a URL.
var folds = map[rune]string{
	'đ': "d", 'Đ': "d", 'ð': "d", 'Ð': "d", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l",
	'ß': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe", 'þ': "th", 'Þ': "th", 'ı': "i",
}

// Make returns the slug of title, or "" when nothing in it folds to ASCII
// letters or digits (a title in another script): the article id alone
// then keeps the URL unique and readable enough.
func Make(title string) string {
	var b strings.Builder
	b.Grow(len(title))
	pendingHyphen := false
	for _, r := range norm.NFD.String(title) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // the marks NFD split off the base letters
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if pendingHyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			pendingHyphen = false
			b.WriteRune(unicode.ToLower(r))
		case folds[r] != "":
			if pendingHyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			pendingHyphen = false
			b.WriteString(folds[r])
		case r == '\'' || r == '’':
			// Apostrophes join: "Vietnam's" → "vietnams".
		default:
			pendingHyphen = true
		}
	}
	s := b.String()
	if len(s) > MaxLen {
		s = s[:MaxLen]
		if i := strings.LastIndexByte(s, '-'); i > MaxLen/2 {
			s = s[:i]
		}
		s = strings.TrimSuffix(s, "-")
	}
	return s
}

// WithID joins a slug and an article id into the last path segment of
// an article's URL.
func WithID(slug, id string) string {
	if slug == "" {
		return strings.ToLower(id)
	}
	return slug + "-" + strings.ToLower(id)
}
