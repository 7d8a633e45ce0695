package cleaner

import (
	"strings"
	"testing"
	"unicode"
)

// dedupeKeyByRunes is dedupeKey as first written, rune by rune through
// the Unicode tables; the fast path must give the same key.
func dedupeKeyByRunes(t string) string {
	var sb strings.Builder
	space := false
	for _, r := range t {
		r = unicode.ToLower(r)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteRune(r)
			space = false
		} else if unicode.IsSpace(r) || unicode.IsPunct(r) {
			space = true
		}
	}
	return sb.String()
}

func FuzzDedupeKey(f *testing.F) {
	for _, s := range []string{
		"",
		"Forecasters have issued an AMBER warning,  with gusts",
		"Xây dựng tổ chức Đảng trong sạch, vững mạnh",
		"ÀÉÎ  ÕÜ — 2024/11/19 (UTC+7) $5 + 3 = 8 ~ |x|",
		"ΣΊΣΥΦΟΣ İstanbul ǅ \u00a0\u2009tab\there\x00\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := dedupeKey(s), dedupeKeyByRunes(s); got != want {
			t.Fatalf("dedupeKey(%q) = %q, want %q", s, got, want)
		}
	})
}
