package cleaner

import (
	"strings"
)

// finish takes the lead, the dateline, removes duplicated passages and
// adds the editorial warnings.
func (b *builder) finish() {
	a := b.a
	var seen strings.Builder
	leadGiven, sawParagraph := b.lead != "", false
	if leadGiven {
		seen.WriteString(dedupeKey(b.lead))
	}
	// A passage repeats within its section: the same lines under the
	// headings of a recipe's days or a list of matches are not copies.
	section := newPassages()
	if leadGiven {
		section.add(dedupeKey(b.lead))
	}
	for _, blk := range b.content {
		p := blk.GetParagraph()
		if p == nil {
			if h := blk.GetHeading(); h != nil {
				if a.Title != "" && sameText(h.GetText(), a.Title) {
					continue // the page shows its title again in the body
				}
				section.reset()
			}
			a.Blocks = append(a.Blocks, blk)
			continue
		}
		if b.lead == "" && a.Dateline == "" {
			if m := reDateline.FindStringSubmatch(p.Text); m != nil && isUpperPlace(m[1]) {
				a.Dateline = strings.TrimSpace(m[1])
				if m[2] != "" && a.Source == "" {
					a.Source = m[2]
				}
				p.Text = m[3]
				p.Spans = alignSpans(p.Spans, p.Text)
			}
		}
		key := dedupeKey(p.Text)
		if leadGiven && !sawParagraph && key == dedupeKey(b.lead) {
			sawParagraph = true
			continue // a summary (ninjs description) that is also the first paragraph
		}
		sawParagraph = true
		if atLeastRunes(key, minDuplicate) && section.contains(key) {
			b.warn("duplicate_removed", "a repeated passage was removed: %q", excerpt(p.Text))
			continue
		}
		seen.WriteString(" " + key)
		section.add(key)
		if b.lead == "" {
			b.lead, b.leadSpans = p.Text, p.Spans
			continue
		}
		a.Blocks = append(a.Blocks, blk)
	}
	a.Lead, a.LeadSpans = b.lead, b.leadSpans
	b.editorialWarnings(dedupeKey(a.Title) + " " + seen.String())
	if a.Language == "" {
		a.Language = b.c.detectLanguage(a)
	}
}

// minDuplicate is the shortest passage (in letters and spaces) treated as
// a duplicate: short lines like "Ông nói:" may well repeat.
const minDuplicate = 40
