package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	_ "image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"
)

func newProcessor(t testing.TB, cfg Config) *Processor {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixtures(t *testing.T) {
	p := newProcessor(t, Config{})
	tests := []struct {
		file      string
		refused   string // refusal code, or "" when accepted
		width     int
		height    int
		frames    int
		wantSizes string // rendition widths, each in webp and jpeg
	}{
		{file: "photo.jpg", width: 1200, height: 800, frames: 1, wantSizes: "320 640 1024"},
		{file: "cmyk.jpg", width: 1200, height: 800, frames: 1, wantSizes: "320 640 1024"},
		{file: "grey.jpg", width: 1200, height: 800, frames: 1, wantSizes: "320 640 1024"},
		{file: "input.webp", width: 1200, height: 800, frames: 1, wantSizes: "320 640 1024"},
		{file: "alpha.png", width: 400, height: 300, frames: 1, wantSizes: "320"},
		{file: "png16.png", width: 400, height: 300, frames: 1, wantSizes: "320"},
		{file: "anim.gif", width: 200, height: 150, frames: 3, wantSizes: "200"},
		{file: "truncated.jpg", refused: "corrupt"},
		{file: "bomb.png", refused: "too_many_pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res, err := p.Process(fixture(t, tt.file))
			if tt.refused != "" {
				r, ok := IsRefusal(err)
				if !ok || r.Code != tt.refused || r.Reason == "" {
					t.Fatalf("err = %v, want refusal %q", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Width != tt.width || res.Height != tt.height || res.Frames != tt.frames {
				t.Errorf("size %d×%d, %d frames; want %d×%d, %d", res.Width, res.Height, res.Frames, tt.width, tt.height, tt.frames)
			}
			var widths []string
			animated := 0
			for _, r := range res.Renditions {
				if r.Animated {
					animated++
					checkAnimated(t, r, tt.frames)
					continue
				}
				if r.Format == JPEG {
					widths = append(widths, strconv.Itoa(r.Width))
				}
				checkRendition(t, r, tt.width, tt.height)
			}
			if got := strings.Join(widths, " "); got != tt.wantSizes {
				t.Errorf("widths %q, want %q", got, tt.wantSizes)
			}
			if len(res.Renditions) != 2*len(widths)+animated || (tt.frames > 1) != (animated == 1) {
				t.Errorf("%d renditions (%d animated) for %d widths and %d frames", len(res.Renditions), animated, len(widths), tt.frames)
			}
			if len(res.BlurHash) < 20 || len(res.Color) != 7 || len(res.SHA256) != 64 {
				t.Errorf("placeholder %q colour %q sha %q", res.BlurHash, res.Color, res.SHA256)
			}
		})
	}
}

// checkRendition: the right format, proportional size, 8-bit sRGB, and
// nothing of the source's metadata.
func checkRendition(t *testing.T, r Rendition, srcW, srcH int) {
	t.Helper()
	if r.Bytes != len(r.Data) || r.Bytes == 0 {
		t.Fatalf("%s %d: %d bytes recorded, %d present", r.Format, r.Width, r.Bytes, len(r.Data))
	}
	want := r.Width * srcH / srcW
	if d := r.Height - want; d < -1 || d > 1 {
		t.Errorf("%s %d×%d: height should be about %d", r.Format, r.Width, r.Height, want)
	}
	img, err := vips.NewImageFromBuffer(r.Data)
	if err != nil {
		t.Fatalf("%s %d does not load: %v", r.Format, r.Width, err)
	}
	defer img.Close()
	if got := img.Format(); (r.Format == JPEG) != (got == vips.ImageTypeJPEG) {
		t.Errorf("%s rendition loads as %v", r.Format, got)
	}
	if img.Interpretation() != vips.InterpretationSRGB || img.BandFormat() != vips.BandFormatUchar {
		t.Errorf("%s %d: %v %v, want 8-bit sRGB", r.Format, r.Width, img.Interpretation(), img.BandFormat())
	}
	for _, f := range img.GetFields() {
		if strings.HasPrefix(f, "exif-") || f == "xmp-data" || f == "iptc-data" {
			t.Errorf("%s %d keeps metadata %s", r.Format, r.Width, f)
		}
	}
	for _, marker := range []string{"Exif\x00", "http://ns.adobe.com/xap", "Photoshop 3.0", "GPS"} {
		if bytes.Contains(r.Data, []byte(marker)) {
			t.Errorf("%s %d contains %q", r.Format, r.Width, marker)
		}
	}
}

// checkAnimated: an animated WebP with every frame and no metadata.
func checkAnimated(t *testing.T, r Rendition, frames int) {
	t.Helper()
	if r.Format != WebP || !bytes.Contains(r.Data, []byte("ANIM")) || bytes.Count(r.Data, []byte("ANMF")) != frames {
		t.Errorf("animated rendition: %s, %d ANMF chunks, want %d", r.Format, bytes.Count(r.Data, []byte("ANMF")), frames)
	}
	if bytes.Contains(r.Data, []byte("EXIF")) || bytes.Contains(r.Data, []byte("XMP ")) {
		t.Error("animated rendition carries metadata")
	}
}

// TestFocalPoint: on a calm grey field, a saturated disc with a dark
// rim is what draws attention, wherever it is.
func TestFocalPoint(t *testing.T) {
	p := newProcessor(t, Config{Widths: []int{320}})
	for _, at := range [][2]int{{300, 80}, {90, 220}} {
		img := image.NewRGBA(image.Rect(0, 0, 400, 300))
		for y := range 300 {
			for x := range 400 {
				c := color.RGBA{128, 128, 128, 255}
				switch d := (x-at[0])*(x-at[0]) + (y-at[1])*(y-at[1]); {
				case d < 30*30:
					c = color.RGBA{230, 60, 40, 255}
				case d < 36*36:
					c = color.RGBA{10, 10, 10, 255}
				}
				img.Set(x, y, c)
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		res, err := p.Process(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if res.Color != "#808080" {
			t.Errorf("dominant colour %s, want the grey field #808080", res.Color)
		}
		wantX, wantY := float64(at[0])/400, float64(at[1])/300
		if d := (res.FocalX-wantX)*(res.FocalX-wantX) + (res.FocalY-wantY)*(res.FocalY-wantY); d > 0.15*0.15 || len(res.Warnings) > 0 {
			t.Errorf("disc at (%.2f, %.2f): focal point (%.2f, %.2f), warnings %v", wantX, wantY, res.FocalX, res.FocalY, res.Warnings)
		}
	}
}

// TestOrientation: each of the eight EXIF orientations is applied, so the
// red block is at the top left of every rendition and the blue one at the
// bottom right.
func TestOrientation(t *testing.T) {
	p := newProcessor(t, Config{Formats: []Format{JPEG}})
	for n := 1; n <= 8; n++ {
		res, err := p.Process(fixture(t, filepath.Join("orientation", strconv.Itoa(n)+".jpg")))
		if err != nil {
			t.Fatalf("orientation %d: %v", n, err)
		}
		if res.Width != 120 || res.Height != 80 {
			t.Errorf("orientation %d: displayed as %d×%d, want 120×80", n, res.Width, res.Height)
		}
		img, _, err := image.Decode(bytes.NewReader(res.Renditions[0].Data))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		if b.Dx() != 120 || b.Dy() != 80 {
			t.Fatalf("orientation %d: rendition %v", n, b)
		}
		if !near(img.At(8, 8), 255, 0, 0) || !near(img.At(b.Dx()-8, b.Dy()-8), 0, 0, 255) {
			t.Errorf("orientation %d: top left %v, bottom right %v", n, img.At(8, 8), img.At(b.Dx()-8, b.Dy()-8))
		}
	}
}

func near(c color.Color, r, g, b int) bool {
	cr, cg, cb, _ := c.RGBA()
	d := func(a uint32, want int) bool { v := int(a >> 8); return v-want < 60 && want-v < 60 }
	return d(cr, r) && d(cg, g) && d(cb, b)
}

func TestGPSLeavesNoTrace(t *testing.T) {
	src := fixture(t, "gps.jpg")
	if !bytes.Contains(src, []byte("Exif\x00")) {
		t.Fatal("the fixture has no EXIF; regenerate it")
	}
	res, err := newProcessor(t, Config{Formats: []Format{WebP, JPEG, AVIF}}).Process(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Renditions) != 9 {
		t.Fatalf("%d renditions, want 3 widths × 3 formats", len(res.Renditions))
	}
	for _, r := range res.Renditions {
		checkRendition(t, r, 1200, 800)
	}
}

func TestMetadata(t *testing.T) {
	p := newProcessor(t, Config{Widths: []int{320}})
	tests := []struct {
		file string
		want Metadata
	}{
		{"iptc.jpg", Metadata{Caption: "Ông Nguyễn Văn Thọ trao Giấy khen cho các tổ chức cơ sở Đảng", Creator: "Minh Anh", Credit: "Báo Hà Nội Mới", Copyright: "© 2024 Báo Hà Nội Mới"}},
		{"xmp.jpg", Metadata{Caption: "Ships moored at the new terminal in Rotterdam", Creator: "Piroschka van de Wouw", Credit: "Reuters", Copyright: "© Reuters 2023"}},
		{"photo.jpg", Metadata{}},
	}
	for _, tt := range tests {
		res, err := p.Process(fixture(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if res.Metadata != tt.want {
			t.Errorf("%s: metadata %+v, want %+v", tt.file, res.Metadata, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	photo := fixture(t, "photo.jpg")
	tests := []struct {
		name string
		cfg  Config
		src  []byte
		code string
	}{
		{"bytes", Config{MaxBytes: 1000}, photo, "too_large"},
		{"pixels", Config{MaxPixels: 500_000}, photo, "too_many_pixels"},
		{"frames", Config{MaxFrames: 2}, fixture(t, "anim.gif"), "too_many_frames"},
		{"frames × pixels", Config{MaxTotalPixels: animPixels(t) - 1}, fixture(t, "anim.gif"), "too_many_pixels"},
		{"svg", Config{}, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "unsupported"},
		{"pdf", Config{}, []byte("%PDF-1.7\n"), "unsupported"},
		{"junk", Config{}, []byte("\xff\xd8\xff\xe0 not really a jpeg"), "corrupt"},
		{"empty", Config{}, nil, "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newProcessor(t, tt.cfg).Process(tt.src)
			if r, ok := IsRefusal(err); !ok || r.Code != tt.code {
				t.Fatalf("err = %v, want refusal %q", err, tt.code)
			}
		})
	}
}

// animPixels is frames × pixels of testdata/anim.gif, read with the
// standard library.
func animPixels(t *testing.T) int64 {
	t.Helper()
	g, err := gif.DecodeAll(bytes.NewReader(fixture(t, "anim.gif")))
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(g.Image)) * int64(g.Config.Width) * int64(g.Config.Height)
}

// TestBombRefusedWithoutAllocating: a 112-byte PNG declaring 50,000 ×
// 50,000 pixels (2.5 GB decoded) is refused from its header.
func TestBombRefusedWithoutAllocating(t *testing.T) {
	p := newProcessor(t, Config{})
	bomb := fixture(t, "bomb.png")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := p.Process(bomb)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if r, ok := IsRefusal(err); !ok || r.Code != "too_many_pixels" || !strings.Contains(r.Reason, "50000 × 50000") {
		t.Fatalf("err = %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", grew)
	}
	if took > time.Second {
		t.Errorf("refusing the bomb took %v", took)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Formats: []Format{"gif"}}, {Widths: []int{4}}, {Widths: []int{100_000}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestCascadeQuality: each width resized from the one above it (the
// source decoded once) is, before encoding, indistinguishable from the
// same width resized straight from the source: PSNR of 40 dB or more.
func TestCascadeQuality(t *testing.T) {
	p := newProcessor(t, Config{})
	for _, name := range []string{"photo.jpg", "iptc.jpg", "alpha.png", "12 MP"} {
		var src []byte
		if name == "12 MP" {
			src = photo12MP() // every default width, five steps down
		} else {
			src = fixture(t, name)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		widths := p.widths(cfg.Width)
		err = p.cascade(src, cfg.Width, cfg.Height, widths, func(i int, _ *vips.ImageRef, raw []byte) error {
			direct, err := vips.LoadThumbnailFromBuffer(src, widths[i], 100_000, vips.InterestingNone, vips.SizeDown, strict())
			if err != nil {
				return err
			}
			_, want, err := p.prepared(direct)
			if err != nil {
				return err
			}
			psnr, err := psnrPNG(raw, want)
			if err != nil {
				return err
			}
			t.Logf("%s at %d px: PSNR %.1f dB", name, widths[i], psnr)
			if psnr < 40 {
				t.Errorf("%s at %d px: PSNR %.1f dB against a direct resize, want 40 or more", name, widths[i], psnr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// psnrPNG is the peak signal-to-noise ratio of two PNGs of one size, over
// every channel; +Inf when they are equal.
func psnrPNG(a, b []byte) (float64, error) {
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		return 0, err
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	if ia.Bounds() != ib.Bounds() {
		return 0, fmt.Errorf("sizes %v and %v", ia.Bounds(), ib.Bounds())
	}
	var sum float64
	n := 0
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := ia.At(x, y).RGBA()
			r2, g2, b2, a2 := ib.At(x, y).RGBA()
			for _, d := range []float64{float64(r1) - float64(r2), float64(g1) - float64(g2), float64(b1) - float64(b2), float64(a1) - float64(a2)} {
				d /= 257 // to 8 bits
				sum += d * d
				n++
			}
		}
	}
	if sum == 0 {
		return math.Inf(1), nil
	}
	return 10 * math.Log10(255*255/(sum/float64(n))), nil
}
