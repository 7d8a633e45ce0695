package cleaner

import (
	"context"
	"fmt"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// build applies the rules to segments, in reading order. The rules run in
// phases, a file each: header.go (what stands above the body), body.go
// (paragraphs, images, related links), trailer.go (bylines and source at
// the end), finish.go (the lead, duplicates) and warnings.go (what an
// editor must check); predicates.go holds the tests on text they share,
// and segment.go the input every format is read into.
func (c *Cleaner) build(ctx context.Context, segs []segment, m meta) (*pb.Article, error) {
	b := &builder{c: c, ctx: ctx, a: &pb.Article{
		Title: normalize(reDraftMark.ReplaceAllString(m.title, "")), Kicker: normalize(m.kicker), Dateline: normalize(m.dateline), Section: normalize(m.section),
		Source: normalize(m.source), PublishedAt: m.publishedAt, Language: m.language, Related: m.related,
		Subjects: m.subjects, Genres: m.genres, Keywords: m.keywords, Urgency: m.urgency, Places: m.places,
		People: m.people, Organisations: m.organisations, Rights: m.rights, CanonicalUrl: m.canonical,
	}}
	for _, name := range m.authors {
		b.a.Byline = append(b.a.Byline, &pb.Byline{Name: normalize(name)})
	}
	var kept []segment
	for _, s := range segs {
		if !s.normalized {
			s.text = normalize(s.text)
			s.caption = normalize(s.caption)
		}
		if s.text == "" && s.kind != segImage && s.kind != segBlock {
			continue
		}
		kept = append(kept, s)
	}
	rest := b.header(kept)
	if err := b.body(rest); err != nil {
		return nil, err
	}
	b.trailer()
	if m.lead != "" {
		b.lead, b.leadSpans = m.lead, m.leadSpans
	}
	b.finish()
	return b.a, stopped(ctx)
}

type builder struct {
	c         *Cleaner
	ctx       context.Context
	a         *pb.Article
	lead      string
	leadSpans []*pb.Span
	// content holds body blocks before the lead is taken and duplicates
	// are removed.
	content []*pb.Block
}

func (b *builder) warn(code, format string, args ...any) {
	b.a.Warnings = append(b.a.Warnings, &pb.Warning{Code: code, Message: fmt.Sprintf(format, args...)})
}
