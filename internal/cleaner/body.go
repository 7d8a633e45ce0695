package cleaner

import (
	"regexp"
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var (
	reSourceLine  = regexp.MustCompile(`(?i)^(nguồn|source|nguồn tin)\s*[:：]\s*(.*?)\s*\.?$`)
	reRelatedLine = regexp.MustCompile(`(?i)^(xem thêm|đọc thêm|tin liên quan|bài liên quan|tin cùng chuyên mục|read more|see more|see also|related|more on this|also read)\s*[:>»\-–—]+\s*(.+)$`)
	reRelatedHead = regexp.MustCompile(`(?i)^(xem thêm|đọc thêm|tin liên quan|bài liên quan|tin cùng chuyên mục|tin khác|read more|see also|related( articles| stories| news)?|more stories|more on this( story)?)\s*:?$`)
	reArrowLink   = regexp.MustCompile(`^(>>|»|►|▶|→)\s*(.+)$`)
)

// body classifies what follows the title, until ctx ends.
func (b *builder) body(segs []segment) error {
	inRelated := false // after a "Tin liên quan" heading
	for i := 0; i < len(segs); i++ {
		if i%256 == 255 {
			if err := stopped(b.ctx); err != nil {
				return err
			}
		}
		s := segs[i]
		t := s.text
		if s.newBlock {
			inRelated = false
		}
		switch {
		case s.kind == segBlock && isCaptionList(s.block.GetList()):
			i = b.captionList(s.block.GetList(), segs, i)
		case s.kind == segBlock:
			if blk := b.richBlock(s.block, inRelated); blk != nil {
				b.content = append(b.content, blk)
			}
		case s.kind == segImage:
			img := &pb.Image{Src: s.src, Alt: cleanAlt(s.alt)}
			img.Caption, img.Credit = splitCredit(s.caption)
			img.CaptionSpans = alignSpans(s.captionSpans, img.Caption)
			if s.credit != "" {
				img.Credit = normalize(s.credit)
			}
			if img.Caption != "" && i+1 < len(segs) && segs[i+1].kind == segPara && within(segs[i+1].text, s.caption) {
				i++ // the extractor kept the figcaption (or part of it) as a paragraph too
			}
			if img.Caption == "" && !s.figure && i+1 < len(segs) && isCaption(segs[i+1]) && (!s.markup || segs[i+1].captionish) {
				i++
				img.Caption, img.Credit = splitCredit(segs[i].text)
			}
			i = b.creditAfter(img, segs, i)
			b.content = append(b.content, imageBlock(img))
		case s.kind == segLink:
			if t != "" {
				b.a.Related = append(b.a.Related, &pb.RelatedLink{Title: t, Url: s.href})
			}
		case isCopyright(t):
			// A rights line is not body, but it is the newsroom's word
			// on its rights: kept there.
			if b.a.Rights.GetCopyrightNotice() == "" {
				if b.a.Rights == nil {
					b.a.Rights = &pb.Rights{}
				}
				b.a.Rights.CopyrightNotice = t
			}
		case b.c.isDebris(t), reWireFooter.MatchString(t), isMenu(s):
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
	return nil
}

// within: part's words are all in whole's, in order.
func within(part, whole string) bool {
	p := dedupeKey(part)
	return p != "" && strings.Contains(dedupeKey(whole), p)
}

// isMenu: a paragraph that is a row of links, as menus, tag clouds and
// lists of other articles are; an article's sentence holds a link, it is
// not made of them.
func isMenu(s segment) bool {
	switch {
	case s.kind != segPara:
		return false
	case s.links >= 2 && s.linked >= 0.8:
		return len(strings.Fields(s.text)) >= 6
	case len(s.text) >= 300 && punctuation(s.text) == 0:
		return len(strings.Fields(s.text)) >= 60
	}
	return false
}

// punctuation counts the marks that end or part a sentence: a run of 40
// words with none is a menu run together, not prose in any language.
func punctuation(t string) int {
	n := 0
	for _, r := range t {
		switch r {
		case '.', ',', ';', ':', '!', '?', '。', '、', '，', '！', '？', '؟', '،':
			n++
		}
	}
	return n
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
		s.spans = alignSpans(s.spans, rest)
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
	spans := alignSpans(s.spans, s.text)
	switch s.kind {
	case segHeading:
		return &pb.Block{Kind: &pb.Block_Heading{Heading: &pb.Heading{Text: s.text, Spans: spans, Level: int32(max(s.level, 2))}}}
	case segQuote:
		return &pb.Block{Kind: &pb.Block_Quote{Quote: &pb.Quote{Text: s.text, Spans: spans, Attribution: s.credit}}}
	}
	return &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: s.text, Spans: spans}}}
}

// richBlock applies the rules to a block a reader built whole: a list's
// items that are debris go, and a list of links under a "related" heading
// is related links, not body.
func (b *builder) richBlock(blk *pb.Block, inRelated bool) *pb.Block {
	l := blk.GetList()
	if l == nil {
		return blk
	}
	var kept []*pb.ListItem
	for _, it := range l.Items {
		if len(it.Lists) == 0 && (it.Text == "" || b.c.isDebris(it.Text)) {
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == 0 {
		return nil
	}
	if inRelated {
		if links := linkItems(kept); links != nil {
			b.a.Related = append(b.a.Related, links...)
			return nil
		}
	}
	l.Items = kept
	return blk
}

// isCaptionList: a list whose every item is a photo's caption with its
// credit, as a slideshow's captions are written out for pages without
// its script.
func isCaptionList(l *pb.List) bool {
	if l == nil || len(l.Items) == 0 {
		return false
	}
	for _, it := range l.Items {
		if len(it.Lists) > 0 || !hasPhotoCredit(it.Text) {
			return false
		}
	}
	return true
}

// captionList makes each caption of a slideshow an image: the photo that
// follows, when its description is the caption's, or one whose file the
// export lost (imageproc asks an editor for it). It returns the index of
// the last segment used.
func (b *builder) captionList(l *pb.List, segs []segment, i int) int {
	for _, it := range l.Items {
		img := &pb.Image{}
		img.Caption, img.Credit = splitCredit(it.Text)
		if img.Caption == "" {
			img.Caption = it.Text
		}
		if i+1 < len(segs) && segs[i+1].kind == segImage && segs[i+1].caption == "" &&
			strings.HasPrefix(dedupeKey(it.Text), dedupeKey(segs[i+1].alt)) && segs[i+1].alt != "" {
			i++
			img.Src, img.Alt = segs[i].src, cleanAlt(segs[i].alt)
		}
		b.content = append(b.content, imageBlock(img))
	}
	return i
}

// linkItems reads list items that are each one link, whole, as related
// links; nil when any is not.
func linkItems(items []*pb.ListItem) []*pb.RelatedLink {
	var out []*pb.RelatedLink
	for _, it := range items {
		if len(it.Spans) != 1 || len(it.Spans[0].Marks) != 1 || it.Spans[0].Marks[0].GetKind() != pb.MarkKind_MARK_KIND_LINK || len(it.Lists) > 0 {
			return nil
		}
		out = append(out, &pb.RelatedLink{Title: it.Text, Url: it.Spans[0].Marks[0].GetHref()})
	}
	return out
}
