package imaging

import (
	"bytes"
	"context"
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

// rssChildEnv names the image a child process of BenchmarkProcess50MP
// processes (TestRSSChild), to report its peak resident memory;
// rssChildAtOnce how many copies of it at once, and rssChildBudget the
// processor's memory budget (bytes, through Admit).
const (
	rssChildEnv    = "PRESSLINE_RSS_CHILD_IMAGE"
	rssChildAtOnce = "PRESSLINE_RSS_CHILD_AT_ONCE"
	rssChildBudget = "PRESSLINE_RSS_CHILD_BUDGET"
)

// TestRSSChild is the child of BenchmarkProcess50MP: it processes the
// image with the default renditions and prints its peak RSS. Run any
// other way, it has nothing to do.
func TestRSSChild(t *testing.T) {
	path := os.Getenv(rssChildEnv)
	if path == "" {
		t.Skip("the child process of BenchmarkProcess50MP")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	atOnce, _ := strconv.Atoi(os.Getenv(rssChildAtOnce))
	budget, _ := strconv.ParseInt(os.Getenv(rssChildBudget), 10, 64)
	p := newProcessor(t, Config{MemoryBudget: budget})
	var wg sync.WaitGroup
	for range max(1, atOnce) {
		wg.Go(func() {
			release, err := p.Admit(context.Background(), src)
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			if _, err := p.Process(src); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("VmHWM_MB %.1f\n", peakRSSMB())
}

// BenchmarkProcess50MP measures the memory one imageproc worker needs
// for a 50-megapixel JPEG (8660 × 5773, the largest the default limits
// take) with the default renditions: the peak RSS of a process that
// processes that one image, against the same process given a 64 × 48
// JPEG (the runtime, libvips and the binary). Each is its own process,
// so nothing else is in the figure; ns/op is the 50 MP child's whole
// run. A baseline JPEG (as cameras write them) and a progressive one (as
// many web tools do) differ: libjpeg keeps every DCT coefficient of a
// progressive image until its last scan, whatever the shrink.
func BenchmarkProcess50MP(b *testing.B) {
	newProcessor(b, Config{})
	dir := b.TempDir()
	photo, err := vips.NewImageFromBuffer(photo12MP())
	if err != nil {
		b.Fatal(err)
	}
	defer photo.Close()
	write := func(name string, width, height int, progressive bool) string {
		img, err := photo.Copy()
		if err != nil {
			b.Fatal(err)
		}
		defer img.Close()
		if err := img.ResizeWithVScale(float64(width)/4000, float64(height)/3000, vips.KernelLanczos3); err != nil {
			b.Fatal(err)
		}
		ep := vips.NewJpegExportParams()
		ep.Quality, ep.Interlace = 90, progressive
		out, _, err := img.ExportJpeg(ep)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			b.Fatal(err)
		}
		return path
	}
	child := func(path string, env ...string) float64 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
		cmd.Env = append(append(os.Environ(), rssChildEnv+"="+path), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child on %s: %v\n%s", path, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM_MB "); ok {
				mb, _ := strconv.ParseFloat(v, 64)
				return mb
			}
		}
		b.Fatalf("child on %s printed no VmHWM:\n%s", path, out)
		return 0
	}
	base := child(write("tiny.jpg", 64, 48, false))
	for _, progressive := range []bool{false, true} {
		path := write(fmt.Sprintf("50mp-progressive-%v.jpg", progressive), 8660, 5773, progressive)
		b.Run(fmt.Sprintf("progressive=%v", progressive), func(b *testing.B) {
			var peak float64
			for b.Loop() {
				peak = max(peak, child(path))
			}
			b.ReportMetric(peak, "peak_RSS_MB")
			b.ReportMetric(base, "baseline_RSS_MB")
			b.ReportMetric(peak-base, "image_RSS_MB")
		})
		if !progressive {
			continue
		}
		// Two workers on two such images at once: with no budget, and
		// with one that holds only one of them.
		for _, budget := range []int64{0, 400 << 20} {
			b.Run(fmt.Sprintf("progressive,two_at_once,budget=%dMiB", budget>>20), func(b *testing.B) {
				var peak float64
				for b.Loop() {
					peak = max(peak, child(path, rssChildAtOnce+"=2", fmt.Sprintf("%s=%d", rssChildBudget, budget)))
				}
				b.ReportMetric(peak, "peak_RSS_MB")
				b.ReportMetric(peak-base, "images_RSS_MB")
			})
		}
	}
}
