package cleaner

import (
	"strings"
)

// pageExtra is a content image or an embed of the page, and the text of
// the block before it, by which it is put back where trafilatura dropped
// it.
type pageExtra struct {
	seg   segment
	after string
}

// key is what tells one extra from another: an image's source, an
// embed's URL.
func (e pageExtra) key() string { return extraKey(e.seg) }

func extraKey(s segment) string {
	if emb := s.block.GetEmbed(); emb != nil {
		return "embed " + emb.GetUrl()
	}
	if s.kind == segImage {
		return "image " + s.src
	}
	return ""
}

// restoreExtras puts back the page's content images and embeds that the
// extractor left out (it drops most <figure>s, images in tables, and every
// frame), each after the block it followed on the page. One whose
// neighbour is not in the content was in a part of the page the extractor
// rightly dropped. An embed whose words the extractor kept (a post's text
// as a quote) takes their place.
func restoreExtras(segs []segment, extras []pageExtra) []segment {
	have := map[string]bool{}
	for _, s := range segs {
		if k := extraKey(s); k != "" {
			have[k] = true
		}
	}
	for _, ex := range extras {
		if have[ex.key()] {
			continue
		}
		if words := ex.seg.block.GetEmbed().GetText(); words != "" {
			if i := indexOfText(segs, words); i >= 0 {
				// The post's words, and its author's line after them,
				// are the embed's.
				j := i + 1
				for j < len(segs) && segs[j].kind != segImage && segs[j].kind != segBlock && within(segs[j].text, words) {
					j++
				}
				segs = append(segs[:i], append([]segment{ex.seg}, segs[j:]...)...)
				have[ex.key()] = true
				continue
			}
		}
		if ex.after == "" {
			continue
		}
		for i, s := range segs {
			if s.kind != segImage && sameText(s.text, ex.after) {
				segs = append(segs[:i+1], append([]segment{ex.seg}, segs[i+1:]...)...)
				have[ex.key()] = true
				break
			}
		}
	}
	return segs
}

// indexOfText finds the text segment that is words, or begins them.
func indexOfText(segs []segment, words string) int {
	key := dedupeKey(words)
	for i, s := range segs {
		if s.kind == segImage || s.kind == segBlock {
			continue
		}
		if k := dedupeKey(s.text); k != "" && (k == key || (len(k) >= 40 && strings.HasPrefix(key, k))) {
			return i
		}
	}
	return -1
}
