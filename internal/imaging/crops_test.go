package imaging

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// stripes is a 3000 × 1000 photo: red in its left third, green in the
// middle, blue in the right.
func stripes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3000, 1000))
	for y := range 1000 {
		for x := range 3000 {
			img.Set(x, y, []color.RGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}}[x/1000])
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCrops: each aspect is the largest region the photo holds, scaled to
// 1200 wide, around the focal point: on the left, in the middle and on
// the right of the stripes the square crop shows red, green and blue.
func TestCrops(t *testing.T) {
	p := newProcessor(t, Config{})
	src := stripes(t)
	for _, tc := range []struct {
		fx         float64
		r, g, b    int
		squareLeft string
	}{
		{0.05, 255, 0, 0, "red"},
		{0.5, 0, 255, 0, "green"},
		{0.97, 0, 0, 255, "blue"},
	} {
		crops, err := p.Crops(src, 3000, 1000, tc.fx, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][2]int{"16:9": {1200, 675}, "4:3": {1200, 900}, "1:1": {1000, 1000}}
		if len(crops) != len(want) {
			t.Fatalf("focal %.2f: %d crops, want %d", tc.fx, len(crops), len(want))
		}
		for _, c := range crops {
			img, err := jpeg.Decode(bytes.NewReader(c.Data))
			if err != nil {
				t.Fatalf("crop %s: %v", c.Aspect, err)
			}
			size := want[c.Aspect]
			if b := img.Bounds(); b.Dx() != size[0] || b.Dy() != size[1] || c.Width != size[0] || c.Height != size[1] || c.Format != JPEG {
				t.Errorf("crop %s: %v (%d×%d %s), want %d×%d JPEG", c.Aspect, b, c.Width, c.Height, c.Format, size[0], size[1])
			}
			if c.Aspect == "1:1" && !near(img.At(500, 500), tc.r, tc.g, tc.b) {
				t.Errorf("focal %.2f: the square crop's centre is %v, want %s", tc.fx, img.At(500, 500), tc.squareLeft)
			}
		}
	}
}

// TestCropsOfASmallPhoto: an aspect the photo cannot give 50,000 pixels
// in is left out, and none is scaled up.
func TestCropsOfASmallPhoto(t *testing.T) {
	p := newProcessor(t, Config{})
	img := image.NewRGBA(image.Rect(0, 0, 400, 200))
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	crops, err := p.Crops(buf.Bytes(), 400, 200, 0.5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// 16:9 gives 355 × 199 (70,645 px); 4:3 266 × 199 (52,934 px);
	// 1:1 200 × 200 (40,000 px) is too small.
	var got []string
	for _, c := range crops {
		got = append(got, c.Aspect)
		if c.Width > 400 || c.Height > 200 || c.Width*c.Height < minCropPixels {
			t.Errorf("crop %s is %d×%d", c.Aspect, c.Width, c.Height)
		}
	}
	if len(got) != 2 || got[0] != "16:9" || got[1] != "4:3" {
		t.Errorf("crops %v, want 16:9 and 4:3", got)
	}
}

func TestCropName(t *testing.T) {
	if n := (Rendition{Aspect: "16:9", Width: 1200, Format: JPEG}).Name(); n != "16x9.1200.jpeg" {
		t.Errorf("name %q", n)
	}
}
