package imaging

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzProcess feeds arbitrary bytes to the decode path: it may refuse
// them, but must not crash or hang, and what it accepts must come out as
// renditions without metadata.
func FuzzProcess(f *testing.F) {
	for _, name := range []string{"photo.jpg", "alpha.png", "anim.gif", "input.webp", "truncated.jpg", "bomb.png", "iptc.jpg"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	p, err := New(Config{Widths: []int{64}, Formats: []Format{WebP, JPEG}, MaxPixels: 4_000_000})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := p.Process(src)
		if err != nil {
			if _, ok := IsRefusal(err); !ok {
				t.Fatalf("an error that is not a refusal: %v", err)
			}
			return
		}
		for _, r := range res.Renditions {
			if r.Width < 1 || r.Height < 1 || len(r.Data) == 0 {
				t.Fatalf("empty rendition %+v", r)
			}
		}
	})
}
