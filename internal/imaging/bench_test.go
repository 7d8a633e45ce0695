package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
)

// photo12MP is a 4000 × 3000 JPEG with photo-like content, made once.
var photo12MP = sync.OnceValue(func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	for y := range 3000 {
		for x := range 4000 {
			img.Set(x, y, color.RGBA{uint8(x ^ y), uint8(x * 7 / 16), uint8(y * 11 / 12), 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	v, err := vips.NewImageFromBuffer(buf.Bytes())
	if err != nil {
		panic(err)
	}
	defer v.Close()
	p := vips.NewJpegExportParams()
	p.Quality = 90
	out, _, err := v.ExportJpeg(p)
	if err != nil {
		panic(err)
	}
	return out
})

// BenchmarkProcess12MP: one 12 MP JPEG through the default rendition set
// (5 widths × WebP and JPEG, plus the placeholder), with 1 and 2 images
// processed at once; ns/op is per image.
func BenchmarkProcess12MP(b *testing.B) {
	p := newProcessor(b, Config{})
	src := photo12MP()
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			b.ResetTimer()
			var mu sync.Mutex
			done := 0
			work := make(chan struct{})
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range work {
						if _, err := p.Process(src); err != nil {
							b.Error(err)
						}
						mu.Lock()
						done++
						mu.Unlock()
					}
				})
			}
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(peakRSSMB(), "peak_RSS_MB")
		})
	}
}

// BenchmarkSharedDecode12MP answers whether one decode for all widths
// beats shrink-on-load per width: it decodes the full image once, with
// random access, and resizes that in-memory image for every width.
func BenchmarkSharedDecode12MP(b *testing.B) {
	src := photo12MP()
	newProcessor(b, Config{})
	for b.Loop() {
		base, err := vips.LoadImageFromBuffer(src, strict())
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range []int{2048, 1600, 1024, 640, 320} {
			img, err := base.Copy()
			if err != nil {
				b.Fatal(err)
			}
			if err := img.Thumbnail(w, 100_000, vips.InterestingNone); err != nil {
				b.Fatal(err)
			}
			if _, _, err := img.ExportWebp(vips.NewWebpExportParams()); err != nil {
				b.Fatal(err)
			}
			if _, _, err := img.ExportJpeg(vips.NewJpegExportParams()); err != nil {
				b.Fatal(err)
			}
			img.Close()
		}
		base.Close()
	}
	b.ReportMetric(peakRSSMB(), "peak_RSS_MB")
}

// peakRSSMB is the process's peak resident memory so far (VmHWM).
func peakRSSMB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkVipsthumbnailFloor is the floor to compare with: the
// vipsthumbnail command (Debian's libvips-tools) making the same ten
// renditions, one decode each, as a script around libvips would.
func BenchmarkVipsthumbnailFloor(b *testing.B) {
	bin, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		b.Skip("vipsthumbnail not installed (Debian package libvips-tools)")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(src, photo12MP(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, w := range []int{320, 640, 1024, 1600, 2048} {
			for _, ext := range []string{"webp[Q=80,strip]", "jpg[Q=80,strip,interlace]"} {
				out := filepath.Join(dir, fmt.Sprintf("%d.%s", w, ext))
				if msg, err := exec.Command(bin, src, "--size", strconv.Itoa(w), "-o", out).CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, msg)
				}
			}
		}
	}
}

// BenchmarkCrops12MP: the three crops of a lead photo, for comparison
// with BenchmarkProcess12MP/workers=1 (what every photo costs): crops
// are made for one photo per article.
func BenchmarkCrops12MP(b *testing.B) {
	p := newProcessor(b, Config{})
	src := photo12MP()
	for b.Loop() {
		crops, err := p.Crops(src, 4000, 3000, 0.4, 0.6)
		if err != nil || len(crops) != 3 {
			b.Fatal(len(crops), err)
		}
	}
}
