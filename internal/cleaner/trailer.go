package cleaner

import (
	"regexp"
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var (
	reTheoSource = regexp.MustCompile(`^[Tt]heo\s+([\p{Lu}][^,.;:]{1,60})$`)
	reRoleLine   = regexp.MustCompile(`^\(([^()]{1,40})\)$`)
	reNameRole   = regexp.MustCompile(`^(.+?)\s*\(([^()]{1,40})\)$`)
)

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
