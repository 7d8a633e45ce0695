package cleaner

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPassages(t *testing.T) {
	tests := []struct {
		name  string
		added []string
		key   string
		want  bool
	}{
		{"the same paragraph", []string{"ông nói rằng cầu mới sẽ thông xe"}, "ông nói rằng cầu mới sẽ thông xe", true},
		{"a sentence of an earlier paragraph", []string{"sáng nay huyện khánh thành cầu mới bắc qua sông đáy rút ngắn đường"}, "cầu mới bắc qua sông đáy", true},
		{"across two paragraphs", []string{"the bridge opened on monday", "after four years of work"}, "opened on monday after four", true},
		{"inside a word is not a repeat", []string{"abridge opened on monday"}, "bridge opened on", false},
		{"other words", []string{"the bridge opened on monday"}, "the bridge closed on monday", false},
		{"a short passage whole", []string{"xin chào"}, "xin chào", true},
		{"a short passage inside a longer one", []string{"xin chào các bạn"}, "xin chào", true},
		{"nothing yet", nil, "the bridge opened on monday", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPassages()
			for _, a := range tt.added {
				p.add(a)
			}
			if got := p.contains(tt.key); got != tt.want {
				t.Errorf("contains(%q) = %v, want %v", tt.key, got, tt.want)
			}
			// A new section (after a heading) starts empty.
			p.reset()
			if p.contains(tt.key) {
				t.Errorf("after reset, contains(%q)", tt.key)
			}
			for _, a := range tt.added {
				p.add(a)
			}
			if got := p.contains(tt.key); got != tt.want {
				t.Errorf("after reset and the same text, contains(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}

// On text of varied words passages agrees with the naive search (for
// passages of three words and more); on text
// of a few words repeated (where it may give up after maxTries places)
// it never claims a repeat that is not there.
func TestPassagesAgreeWithNaiveSearch(t *testing.T) {
	for _, vocab := range []int{3, 8, 2000} {
		t.Run(fmt.Sprint(vocab, " words"), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(vocab)))
			word := func() string { return fmt.Sprintf("w%d", r.IntN(vocab)) }
			p := newPassages()
			// The naive search: key's words in order, at word
			// boundaries, in the text so far.
			naive := strings.Builder{}
			naive.WriteString(" ")
			var all []string
			for i := range 8000 {
				var key []string
				if len(all) > 0 && i%3 == 0 { // a piece of what came before
					from := r.IntN(len(all))
					key = all[from:min(len(all), from+1+r.IntN(12))]
				} else {
					for range 1 + r.IntN(12) {
						key = append(key, word())
					}
				}
				k := strings.Join(key, " ")
				got, want := p.contains(k), strings.Contains(naive.String(), " "+k+" ")
				if got && !want {
					t.Fatalf("paragraph %d: %q claimed a repeat that is not there", i, k)
				}
				// Once indexed, a passage under three words matches
				// whole only: the cleaner checks passages of 40 letters
				// and more.
				if vocab >= 1000 && (len(key) >= 3 || !p.indexed) && got != want {
					t.Fatalf("paragraph %d: contains(%q) = %v, want %v", i, k, got, want)
				}
				p.add(k)
				naive.WriteString(k + " ")
				all = append(all, key...)
			}
			if !p.indexed {
				t.Fatal("the text never grew past the direct search: the index is untested")
			}
		})
	}
}

// BenchmarkDedupe10MB: the duplicate check over a 10 MB article of
// distinct paragraphs, against one pass that only reads the keys (the
// floor of any method); the ratio is what the target is written in.
func BenchmarkDedupe10MB(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("người dân huyện quốc oai đã tham gia buổi lễ khánh thành cầu mới bắc qua sông đáy với tổng vốn đầu tư hàng tỷ đồng theo kế hoạch năm the bridge opened after four years of work")
	var keys []string
	size := 0
	for size < 10<<20 {
		var sb strings.Builder
		for i := range 40 {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[r.IntN(len(words))])
		}
		keys = append(keys, sb.String())
		size += sb.Len()
	}
	b.Run("passages", func(b *testing.B) {
		for b.Loop() {
			p := newPassages()
			for _, k := range keys {
				if !p.contains(k) {
					p.add(k)
				}
			}
		}
	})
	b.Run("floor: hash every word once", func(b *testing.B) {
		p := newPassages()
		for b.Loop() {
			for _, k := range keys {
				_ = p.hashes(k)
			}
		}
	})
}
