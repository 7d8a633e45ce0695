package cleaner

import (
	"hash/maphash"
	"math/bits"
	"strings"
)

// passages answers whether a passage (a dedupe key: lower-case words,
// one space apart) repeats words seen before, in time that grows with
// the text. Searching a growing string for every paragraph is quadratic:
// a 10 MB article took a minute and a half of CPU that way.
//
// The text is kept as one hash per word. Every run of three words is
// indexed; a passage is looked up by its rarest run and checked word by
// word where that run occurs, at most maxTries places, so even text made
// of one phrase repeated costs a bounded amount per paragraph. A passage
// matches at word boundaries: the same words in the same order, possibly
// across the end of one paragraph and the start of the next.
type passages struct {
	// text is the text itself, " word word … ", searched directly while
	// it is short (most articles): cheaper than any index. Past
	// directUpTo bytes it is indexed, and text is no longer kept.
	text    strings.Builder
	indexed bool
	seed    maphash.Seed
	words   []uint64
	runs    map[uint64]run
	// prev[i] is the previous start of the run that starts at word i;
	// -1 at its first.
	prev []int32
	// short holds the passages of fewer than three words, matched whole.
	short map[string]bool
}

type run struct {
	last  int32 // the latest start
	count int32
}

// maxTries bounds the places a passage is compared at.
const maxTries = 64

// directUpTo is the longest text searched directly: 64 KiB, a long
// article, where one search costs microseconds.
const directUpTo = 64 << 10

func newPassages() *passages {
	p := &passages{}
	p.text.WriteByte(' ')
	return p
}

func (p *passages) reset() {
	p.text.Reset()
	p.text.WriteByte(' ')
	p.indexed, p.words, p.prev, p.runs, p.short = false, nil, nil, nil, nil
}

func (p *passages) hashes(key string) []uint64 {
	var out []uint64
	for w := range strings.SplitSeq(key, " ") {
		if w != "" {
			out = append(out, maphash.String(p.seed, w))
		}
	}
	return out
}

func runHash(a, b, c uint64) uint64 {
	return a ^ bits.RotateLeft64(b, 21) ^ bits.RotateLeft64(c, 42)
}

// add appends key's words to the text.
func (p *passages) add(key string) {
	if !p.indexed {
		p.text.WriteString(key)
		p.text.WriteByte(' ')
		if p.text.Len() <= directUpTo {
			return
		}
		// Index what there is, then go on indexing.
		all := strings.TrimSpace(p.text.String())
		p.indexed, p.text = true, strings.Builder{}
		p.seed, p.runs, p.short = maphash.MakeSeed(), map[uint64]run{}, map[string]bool{}
		key = all
	}
	if n := strings.Count(key, " ") + 1; n < 3 {
		p.short[key] = true
	}
	for _, h := range p.hashes(key) {
		p.words = append(p.words, h)
		p.prev = append(p.prev, -1)
		if n := len(p.words); n >= 3 {
			start := int32(n - 3)
			k := runHash(p.words[n-3], p.words[n-2], p.words[n-1])
			r, ok := p.runs[k]
			if ok {
				p.prev[start] = r.last
			}
			p.runs[k] = run{last: start, count: r.count + 1}
		}
	}
}

// contains reports whether key's words occur, in order, in the text.
func (p *passages) contains(key string) bool {
	if !p.indexed {
		t := p.text.String()
		// " key " in " w1 w2 … ": whole words, found without copying.
		for i := strings.Index(t, key); i >= 0; {
			if t[i-1] == ' ' && i+len(key) < len(t) && t[i+len(key)] == ' ' {
				return true
			}
			j := strings.Index(t[i+1:], key)
			if j < 0 {
				break
			}
			i += 1 + j
		}
		return false
	}
	kw := p.hashes(key)
	if len(kw) < 3 {
		return p.short[key]
	}
	best, bestAt := run{count: -1}, 0
	for j := 0; j+3 <= len(kw); j++ {
		r, ok := p.runs[runHash(kw[j], kw[j+1], kw[j+2])]
		if !ok {
			return false // a run of the passage never occurred
		}
		if best.count < 0 || r.count < best.count {
			best, bestAt = r, j
		}
	}
	for at, tries := best.last, 0; at >= 0 && tries < maxTries; at, tries = p.prev[at], tries+1 {
		start := int(at) - bestAt
		if start < 0 || start+len(kw) > len(p.words) {
			continue
		}
		if equalWords(p.words[start:start+len(kw)], kw) {
			return true
		}
	}
	return false
}

func equalWords(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
