package imaging

import (
	"fmt"

	"github.com/buckket/go-blurhash"
	"github.com/davidbyttow/govips/v2/vips"
)

// placeholder makes a BlurHash (4 × 3 components, about 30 characters)
// and the average colour from a 32-pixel thumbnail, so a page can show
// the image's shape and tone while it loads.
func placeholder(src []byte) (hash, color string, err error) {
	img, err := vips.LoadThumbnailFromBuffer(src, 32, 32, vips.InterestingNone, vips.SizeDown, strict())
	if err != nil {
		return "", "", err
	}
	defer img.Close()
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		return "", "", err
	}
	if img.HasAlpha() {
		if err := img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
			return "", "", err
		}
	}
	small, err := img.ToImage(vips.NewDefaultPNGExportParams())
	if err != nil {
		return "", "", err
	}
	hash, err = blurhash.Encode(4, 3, small)
	if err != nil {
		return "", "", err
	}
	var r, g, b, n uint64
	bounds := small.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := small.At(x, y).RGBA()
			r, g, b, n = r+uint64(cr>>8), g+uint64(cg>>8), b+uint64(cb>>8), n+1
		}
	}
	if n == 0 {
		return hash, "", nil
	}
	return hash, fmt.Sprintf("#%02x%02x%02x", r/n, g/n, b/n), nil
}
