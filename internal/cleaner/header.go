package cleaner

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var (
	reTopByline  = regexp.MustCompile(`^(?i:by)\s+(\p{Lu}[\p{L}.'’\- ]+?)(?:\s*[,|–—-]\s*(.+))?$`)
	reDateline   = regexp.MustCompile(`^([\p{Lu}][\p{Lu}\p{M} .'’]{1,40}?)(?:,\s*[\p{L} .]{2,30}?)?\s*(?:\(([^()]{2,30})\))?\s*(?:—|–|-{1,2})\s+(\S.*)$`)
	reKicker     = regexp.MustCompile(`^([^:：]{2,40})\s*[:：]$`)
	reBreadcrumb = regexp.MustCompile(`\s(>|»|›|/|\|)\s`)
)

// header consumes what stands above the body: stray glyphs, the publish
// time, breadcrumbs and section labels, the kicker and the title.
func (b *builder) header(segs []segment) []segment {
	for i, s := range segs {
		// Images, links and draft markers (images or related links in
		// disguise) are body matters even above a title.
		if s.kind == segImage || s.kind == segLink || hasDraftMark(s.text) {
			return segs[i:]
		}
		t := s.text
		switch {
		case b.c.isDebris(t):
		case b.takeDate(t):
		case b.takeDateLine(t):
		case b.a.Section == "" && b.a.Title == "" && isUpperLabel(t) && i+1 < len(segs) && isTitleCandidate(segs[i+1].text) && !isUpperLabel(segs[i+1].text):
			// WORLD NEWS above the title is the section, not the title.
			b.a.Section = strings.TrimSpace(strings.TrimSuffix(t, ":"))
		case b.a.Section == "" && b.takeSection(t):
		case b.a.Kicker == "" && b.a.Title == "" && b.takeKicker(t):
		case b.takeTopByline(t):
		case b.a.Title == "" && s.kind != segQuote && isTitleCandidate(t):
			b.a.Title = strings.TrimSpace(strings.TrimSuffix(t, ":"))
		case b.a.Title != "" && sameText(t, b.a.Title):
			// The page repeats the title it declared in its metadata.
		default:
			return segs[i:]
		}
	}
	return nil
}

func (b *builder) takeDate(t string) bool {
	stamp, only := b.c.dates.find(t)
	if !only {
		return false
	}
	if b.a.PublishedAt == "" {
		b.a.PublishedAt = stamp
	}
	return true
}

// takeDateLine reads a line of a section label and the publish time,
// parted by bars or dots: "Thời sự | 07:15 | 05/09/2020".
func (b *builder) takeDateLine(t string) bool {
	parts := reDateParts.Split(t, -1)
	if len(parts) < 2 || utf8.RuneCountInString(t) > 100 {
		return false
	}
	var label []string
	var when []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, only := b.c.dates.find(p); only || reClockOnly.MatchString(p) {
			when = append(when, p)
		} else {
			label = append(label, p)
		}
	}
	if len(when) == 0 || len(label) > 1 {
		return false
	}
	stamp, only := b.c.dates.find(strings.Join(when, " "))
	if !only {
		return false
	}
	if b.a.PublishedAt == "" {
		b.a.PublishedAt = stamp
	}
	if len(label) == 1 && b.a.Section == "" && len(strings.Fields(label[0])) <= 4 {
		b.a.Section = label[0]
	}
	return true
}

var (
	reDateParts = regexp.MustCompile(`\s+[|•·]\s+`)
	reClockOnly = regexp.MustCompile(`^\d{1,2}[:h]\d{2}(\s*(am|pm|sa|ch|gmt\+\d+))?$`)
)

// isUpperLabel: a short line in capitals, as sections and desks are
// printed above a title.
func isUpperLabel(t string) bool {
	words := strings.Fields(t)
	if len(words) == 0 || len(words) > 4 || utf8.RuneCountInString(t) > 40 {
		return false
	}
	letters := 0
	for _, r := range t {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			letters++
		}
	}
	return letters >= 3
}

func (b *builder) takeSection(t string) bool {
	if reBreadcrumb.MatchString(t) && utf8.RuneCountInString(t) <= 80 {
		parts := reBreadcrumb.Split(t, -1)
		for _, p := range parts {
			if len(strings.Fields(p)) > 4 {
				return false // "Hà Nội | Mưa lớn gây ngập nhiều tuyến phố" is a title
			}
		}
		b.a.Section = strings.TrimSpace(parts[len(parts)-1])
		return true
	}
	if b.c.sections[strings.ToLower(strings.TrimSpace(strings.TrimSuffix(t, ":")))] {
		b.a.Section = strings.TrimSpace(strings.TrimSuffix(t, ":"))
		return true
	}
	return false
}

func (b *builder) takeKicker(t string) bool {
	m := reKicker.FindStringSubmatch(t)
	if m == nil || len(strings.Fields(m[1])) > 5 || reEmptyLabel.MatchString(t) {
		return false
	}
	b.a.Kicker = strings.TrimSpace(m[1])
	return true
}

func (b *builder) takeTopByline(t string) bool {
	m := reTopByline.FindStringSubmatch(t)
	if m == nil || len(strings.Fields(m[1])) > 5 {
		return false
	}
	for _, name := range splitNames(m[1]) {
		b.a.Byline = append(b.a.Byline, &pb.Byline{Name: name, Role: strings.TrimSpace(m[2])})
	}
	return true
}
