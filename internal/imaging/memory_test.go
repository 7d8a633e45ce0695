package imaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

// jpegOf is a w × h JPEG of the 12 MP photo, progressive or not.
func jpegOf(t testing.TB, w, h int, progressive bool) []byte {
	t.Helper()
	newProcessor(t, Config{})
	img, err := vips.NewImageFromBuffer(photo12MP())
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := img.ResizeWithVScale(float64(w)/4000, float64(h)/3000, vips.KernelLinear); err != nil {
		t.Fatal(err)
	}
	ep := vips.NewJpegExportParams()
	ep.Interlace = progressive
	out, _, err := img.ExportJpeg(ep)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMemoryCost(t *testing.T) {
	baseline, progressive := jpegOf(t, 800, 600, false), jpegOf(t, 800, 600, true)
	for _, tc := range []struct {
		name string
		src  []byte
		want int64
	}{
		{"a baseline JPEG: the fixed part and a byte a pixel", baseline, 32<<20 + 800*600},
		{"a progressive JPEG: every coefficient too", progressive, 32<<20 + 800*600*6},
		{"a PNG", fixture(t, "alpha.png"), 32<<20 + pixels(t, fixture(t, "alpha.png"))},
		{"a JPEG cut before its frame header", baseline[:20], 32 << 20},
		{"not an image", []byte("<svg/>"), 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MemoryCost(tc.src); got != tc.want {
				t.Errorf("MemoryCost = %d, want %d", got, tc.want)
			}
		})
	}
	if progressiveJPEG(baseline) || !progressiveJPEG(progressive) {
		t.Error("progressiveJPEG mistook one JPEG for the other")
	}
}

func pixels(t *testing.T, src []byte) int64 {
	w, h := dimensions(src)
	if w == 0 {
		t.Fatal("no dimensions")
	}
	return int64(w) * int64(h)
}

// TestAdmit: a budget lets through what fits, holds the rest until a
// release, and runs alone what is over the whole of it.
func TestAdmit(t *testing.T) {
	src := jpegOf(t, 800, 600, true)
	cost := MemoryCost(src)
	p := newProcessor(t, Config{MemoryBudget: cost * 3 / 2})
	ctx := context.Background()
	first, err := p.Admit(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := p.Admit(short, src); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second image over the budget was let through: %v", err)
	}
	admitted := make(chan func())
	go func() {
		r, err := p.Admit(ctx, src)
		if err != nil {
			t.Error(err)
		}
		admitted <- r
	}()
	select {
	case <-admitted:
		t.Fatal("admitted before the first was released")
	case <-time.After(50 * time.Millisecond):
	}
	first()
	(<-admitted)()

	// Over the whole budget: admitted alone.
	small := newProcessor(t, Config{MemoryBudget: cost / 2})
	r, err := small.Admit(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	r()
	// No budget: no waiting.
	r, err = newProcessor(t, Config{}).Admit(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	r()
}
