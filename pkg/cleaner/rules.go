package cleaner

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// segKind says what an input segment is.
type segKind int

const (
	segPara segKind = iota
	segHeading
	segQuote
	segImage
	segLink // an <a> in a related-links box
)

// segment is one unit of input in reading order: a line of a text export,
// or a block element of an HTML body. Both paths feed the same rules.
type segment struct {
	kind     segKind
	text     string
	src, alt string // images
	caption  string // images: a figcaption from HTML
	credit   string // images: a credit given apart from the caption
	// figure: an image from a <figure>, whose caption (even an empty
	// one) is its figcaption and never the next paragraph.
	figure   bool
	href     string // links
	newBlock bool   // text: a blank line came before it
	// normalized: text is NFC with spaces collapsed already.
	normalized bool
}

// meta is what a format knows outside the body (HTML head, ninjs fields).
type meta struct {
	title, kicker, dateline, section, lead, source, publishedAt, language string
	authors                                                               []string
	related                                                               []*pb.RelatedLink
}

var (
	reSourceLine  = regexp.MustCompile(`(?i)^(nguồn|source|nguồn tin)\s*[:：]\s*(.*?)\s*\.?$`)
	reTheoSource  = regexp.MustCompile(`^[Tt]heo\s+([\p{Lu}][^,.;:]{1,60})$`)
	reRelatedLine = regexp.MustCompile(`(?i)^(xem thêm|đọc thêm|tin liên quan|bài liên quan|tin cùng chuyên mục|read more|see also|related|more on this|also read)\s*[:>»\-–—]+\s*(.+)$`)
	reRelatedHead = regexp.MustCompile(`(?i)^(xem thêm|đọc thêm|tin liên quan|bài liên quan|tin cùng chuyên mục|tin khác|read more|see also|related( articles| stories| news)?|more stories|more on this( story)?)\s*:?$`)
	reArrowLink   = regexp.MustCompile(`^(>>|»|►|▶|→)\s*(.+)$`)
	reTopByline   = regexp.MustCompile(`^(?i:by)\s+(\p{Lu}[\p{L}.'’\- ]+?)(?:\s*[,|–—-]\s*(.+))?$`)
	reRoleLine    = regexp.MustCompile(`^\(([^()]{1,40})\)$`)
	reNameRole    = regexp.MustCompile(`^(.+?)\s*\(([^()]{1,40})\)$`)
	reCredit      = regexp.MustCompile(`(?i)\s*[\[(]?\s*(ảnh|photo|foto|image|hình|nguồn ảnh|credit|photo credit)\s*(?:by)?\s*[:：]\s*([^()\[\]]{2,80}?)\s*[\])]?\s*\.?\s*$`)
	rePhotoBy     = regexp.MustCompile(`(?i)\s*[\[(]?\s*photo by\s+([^()\[\]]{2,80}?)\s*[\])]?\s*\.?\s*$`)
	reDateline    = regexp.MustCompile(`^([\p{Lu}][\p{Lu}\p{M} .'’]{1,40}?)(?:,\s*[\p{L} .]{2,30}?)?\s*(?:\(([^()]{2,30})\))?\s*(?:—|–|-{1,2})\s+(\S.*)$`)
	reKicker      = regexp.MustCompile(`^([^:：]{2,40})\s*[:：]$`)
	reBreadcrumb  = regexp.MustCompile(`\s(>|»|›|/|\|)\s`)
)

// build applies the rules to segments, in reading order.
func (c *Cleaner) build(segs []segment, m meta) *pb.Article {
	b := &builder{c: c, a: &pb.Article{
		Title: normalize(reDraftMark.ReplaceAllString(m.title, "")), Kicker: m.kicker, Dateline: m.dateline, Section: m.section,
		Source: m.source, PublishedAt: m.publishedAt, Language: m.language, Related: m.related,
	}}
	for _, name := range m.authors {
		b.a.Byline = append(b.a.Byline, &pb.Byline{Name: name})
	}
	var kept []segment
	for _, s := range segs {
		if !s.normalized {
			s.text = normalize(s.text)
			s.caption = normalize(s.caption)
		}
		if s.text == "" && s.kind != segImage {
			continue
		}
		kept = append(kept, s)
	}
	rest := b.header(kept)
	b.body(rest)
	b.trailer()
	if m.lead != "" {
		b.lead = m.lead
	}
	b.finish()
	return b.a
}

type builder struct {
	c    *Cleaner
	a    *pb.Article
	lead string
	// content holds body blocks before the lead is taken and duplicates
	// are removed.
	content []*pb.Block
}

func (b *builder) warn(code, format string, args ...any) {
	b.a.Warnings = append(b.a.Warnings, &pb.Warning{Code: code, Message: fmt.Sprintf(format, args...)})
}

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

// body classifies what follows the title.
func (b *builder) body(segs []segment) {
	inRelated := false // after a "Tin liên quan" heading
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		t := s.text
		if s.newBlock {
			inRelated = false
		}
		switch {
		case s.kind == segImage:
			img := &pb.Image{Src: s.src, Alt: cleanAlt(s.alt)}
			img.Caption, img.Credit = splitCredit(s.caption)
			if s.credit != "" {
				img.Credit = normalize(s.credit)
			}
			if img.Caption != "" && i+1 < len(segs) && sameText(segs[i+1].text, s.caption) {
				i++ // the extractor kept the figcaption as a paragraph too
			}
			if img.Caption == "" && !s.figure && i+1 < len(segs) && isCaption(segs[i+1]) {
				i++
				img.Caption, img.Credit = splitCredit(segs[i].text)
			}
			i = b.creditAfter(img, segs, i)
			b.content = append(b.content, imageBlock(img))
		case s.kind == segLink:
			if t != "" {
				b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: t, Url: s.href})
			}
		case b.c.isDebris(t), reWireFooter.MatchString(t):
		case len(b.content) < 2 && b.takeDate(t):
		case len(b.content) < 2 && b.takeTopByline(t):
		case b.takeSource(t):
		case hasDraftMark(t):
			i = b.draftMarker(segs, i)
		case reImageName.MatchString(t):
			i = b.placeholderImage(&pb.Image{Src: t}, segs, i)
		case reImageLabel.MatchString(t):
			i = b.placeholderImage(&pb.Image{Alt: t}, segs, i)
		case isCreditOnly(t):
			b.warn("orphan_photo_credit", "a photo credit with no photo was removed: %q", t)
		case reRelatedHead.MatchString(t):
			inRelated = true
		case reRelatedLine.MatchString(t):
			b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: reRelatedLine.FindStringSubmatch(t)[2], Url: s.href})
		case reArrowLink.MatchString(t) && isTitleLike(reArrowLink.FindStringSubmatch(t)[2]):
			b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: reArrowLink.FindStringSubmatch(t)[2], Url: s.href})
		case inRelated && isTitleLike(t):
			b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: t, Url: s.href})
		default:
			inRelated = false
			b.content = append(b.content, b.textBlock(s))
		}
	}
}

// draftMarker handles a CMS draft marker ("tin nhap 20180123104207"): alone
// it stands for an image, whose caption follows; before a short title it
// is a related link; inside a paragraph it is removed.
func (b *builder) draftMarker(segs []segment, i int) int {
	rest := normalize(reDraftMark.ReplaceAllString(segs[i].text, " "))
	switch {
	case rest == "":
		i = b.placeholderImage(&pb.Image{}, segs, i)
	case isTitleLike(rest):
		b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: rest, Url: segs[i].href})
	default:
		s := segs[i]
		s.text = rest
		b.content = append(b.content, b.textBlock(s))
		b.warn("draft_marker_removed", "a CMS draft marker was removed from a paragraph: %q", excerpt(rest))
	}
	return i
}

// placeholderImage adds the image a text placeholder stands for at
// segs[i], with the caption and credit lines that follow it, and returns
// the index of the last segment it used.
func (b *builder) placeholderImage(img *pb.Image, segs []segment, i int) int {
	if i+1 < len(segs) && isCaption(segs[i+1]) {
		i++
		img.Caption, img.Credit = splitCredit(segs[i].text)
	}
	i = b.creditAfter(img, segs, i)
	b.content = append(b.content, imageBlock(img))
	return i
}

// creditAfter takes a credit line ("Ảnh: Minh Anh") standing right after
// an image or its caption.
func (b *builder) creditAfter(img *pb.Image, segs []segment, i int) int {
	if img.Credit != "" || i+1 >= len(segs) || segs[i+1].kind != segPara {
		return i
	}
	if isCreditOnly(segs[i+1].text) {
		_, img.Credit = splitCredit(segs[i+1].text)
		return i + 1
	}
	return i
}

func (b *builder) takeSource(t string) bool {
	if m := reSourceLine.FindStringSubmatch(t); m != nil {
		if m[2] != "" && b.a.Source == "" {
			b.a.Source = m[2]
		}
		return true // an empty "Nguồn :" is dropped
	}
	return false
}

func (b *builder) textBlock(s segment) *pb.Block {
	switch s.kind {
	case segHeading:
		return &pb.Block{Kind: &pb.Block_Heading{Heading: &pb.Heading{Text: s.text}}}
	case segQuote:
		return &pb.Block{Kind: &pb.Block_Quote{Quote: &pb.Quote{Text: s.text}}}
	}
	return &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: s.text}}}
}

// trailer finds what closes an article: bylines (a name, optionally a
// role line like "(CTV)") and "Theo X" source lines at the end.
func (b *builder) trailer() {
	role := ""
	var names []*pb.Byline
	for len(b.content) > 0 {
		p := b.content[len(b.content)-1].GetParagraph()
		if p == nil || len(p.GetText()) > maxTrailerLine {
			break // a paragraph, not a name, role or source line
		}
		t := p.GetText()
		if m := reRoleLine.FindStringSubmatch(t); m != nil && role == "" && len(names) == 0 {
			role = m[1]
		} else if m := reTheoSource.FindStringSubmatch(t); m != nil && b.a.Source == "" && len(names) == 0 && role == "" {
			b.a.Source = strings.TrimSpace(m[1])
		} else if m := reNameRole.FindStringSubmatch(t); m != nil && isName(m[1]) && role == "" && len(names) == 0 {
			for _, n := range splitNames(m[1]) {
				names = append(names, &pb.Byline{Name: n, Role: m[2]})
			}
		} else if isName(t) && len(names) == 0 {
			for _, n := range splitNames(t) {
				names = append(names, &pb.Byline{Name: n, Role: role})
			}
		} else {
			break
		}
		b.content = b.content[:len(b.content)-1]
	}
	if role != "" && len(names) == 0 {
		// A role line with no name above it is not a byline: put it back.
		b.content = append(b.content, &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: "(" + role + ")"}}})
	}
	b.a.Byline = append(b.a.Byline, names...)
}

// maxTrailerLine is the longest line, in bytes, read as a byline, role
// or source at the end of an article.
const maxTrailerLine = 120

// finish takes the lead, the dateline, removes duplicated passages and
// adds the editorial warnings.
func (b *builder) finish() {
	a := b.a
	var seen strings.Builder
	leadGiven, sawParagraph := b.lead != "", false
	if leadGiven {
		seen.WriteString(dedupeKey(b.lead))
	}
	for _, blk := range b.content {
		p := blk.GetParagraph()
		if p == nil {
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
			}
		}
		key := dedupeKey(p.Text)
		if leadGiven && !sawParagraph && key == dedupeKey(b.lead) {
			sawParagraph = true
			continue // a summary (ninjs description) that is also the first paragraph
		}
		sawParagraph = true
		if atLeastRunes(key, minDuplicate) && strings.Contains(seen.String(), key) {
			b.warn("duplicate_removed", "a repeated passage was removed: %q", excerpt(p.Text))
			continue
		}
		seen.WriteString(" " + key)
		if b.lead == "" {
			b.lead = p.Text
			continue
		}
		a.Blocks = append(a.Blocks, blk)
	}
	a.Lead = b.lead
	b.editorialWarnings(dedupeKey(a.Title) + " " + seen.String())
	if a.Language == "" {
		a.Language = b.c.detectLanguage(a)
	}
}

// minDuplicate is the shortest passage (in letters and spaces) treated as
// a duplicate: short lines like "Ông nói:" may well repeat.
const minDuplicate = 40

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
		if p := blk.GetParagraph(); p != nil {
			out = append(out, p.Text)
		}
		if q := blk.GetQuote(); q != nil {
			out = append(out, q.Text)
		}
	}
	return out
}

// reversedYearRanges finds "2016 – 2010": two years joined by a dash,
// the second before the first. A scan rather than a pattern, as it runs
// over every paragraph.
func reversedYearRanges(t string) []string {
	var out []string
	for i := 0; i+4 <= len(t); i++ {
		if !isYearAt(t, i) {
			continue
		}
		j := i + 4
		for j < len(t) && t[j] == ' ' {
			j++
		}
		dash := 0
		for _, d := range []string{"-", "–", "—"} {
			if strings.HasPrefix(t[j:], d) {
				dash = len(d)
			}
		}
		if dash == 0 {
			continue
		}
		k := j + dash
		for k < len(t) && t[k] == ' ' {
			k++
		}
		if isYearAt(t, k) && t[k:k+4] < t[i:i+4] {
			out = append(out, t[i:k+4])
		}
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
	return s.kind == segPara && len(strings.Fields(s.text)) <= 60 && !hasDraftMark(s.text)
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
