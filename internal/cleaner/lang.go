package cleaner

import (
	"strings"
	"unicode"

	"github.com/RadhiFadlillah/whatlanggo"
	"golang.org/x/text/language"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// detectLanguage names the article's language from its text, or returns
// the newsroom's default when the text is too short or unclear.
func (c *Cleaner) detectLanguage(a *pb.Article) string {
	var sb strings.Builder
	sb.WriteString(a.Title + "\n" + a.Lead)
	for _, b := range a.Blocks {
		if sb.Len() > 1000 {
			break
		}
		if p := b.GetParagraph(); p != nil {
			sb.WriteString("\n" + p.Text)
		}
	}
	text := sb.String()
	// Vietnamese is told surely by its letters; a statistical detector
	// can mistake short Vietnamese for other Latin-script languages.
	if viShare(text) >= 0.04 {
		return "vi"
	}
	info := whatlanggo.Detect(text)
	if info.IsReliable() && info.Confidence >= 0.5 {
		if code := info.Lang.Iso6391(); code != "" {
			return code
		}
	}
	return c.language
}

// viShare is the share of letters that only Vietnamese uses among the
// Latin-script languages newsrooms here write.
func viShare(text string) float64 {
	letters, vi := 0, 0
	for _, r := range text {
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		if viLetters[unicode.ToLower(r)] {
			vi++
		}
	}
	if letters == 0 {
		return 0
	}
	return float64(vi) / float64(letters)
}

var viLetters = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ" {
		m[r] = true
	}
	return m
}()

// primaryLanguage is the primary language subtag of a BCP 47 tag as a
// page or an agency declares it ("vi" of "vi-VN", "en" of "EN_us"); ""
// for a value that is no language tag (a template's junk, an attack):
// the language is then detected from the text.
func primaryLanguage(tag string) string {
	t, err := language.Parse(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	if err != nil || t == language.Und {
		return ""
	}
	base, conf := t.Base()
	if conf == language.No {
		return ""
	}
	return base.String()
}
