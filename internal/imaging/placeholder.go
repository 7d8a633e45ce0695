package imaging

import (
	"fmt"
	"image"

	"github.com/buckket/go-blurhash"
	"github.com/davidbyttow/govips/v2/vips"
)

// placeholder makes a BlurHash (4 × 3 components, about 30 characters)
// and the dominant colour from a 32-pixel thumbnail, so a page can show
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
	return hash, dominant(small), nil
}

// dominant is the most common colour: pixels are binned by 16 levels a
// channel, and the fullest bin's mean is returned as #rrggbb. An average
// would mix a red subject and a grey sky into a colour that is in
// neither.
func dominant(img image.Image) string {
	type bin struct{ n, r, g, b uint32 }
	bins := map[uint32]*bin{}
	var best *bin
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, b := cr>>8, cg>>8, cb>>8
			k := r>>4<<8 | g>>4<<4 | b>>4
			bn := bins[k]
			if bn == nil {
				bn = &bin{}
				bins[k] = bn
			}
			bn.n, bn.r, bn.g, bn.b = bn.n+1, bn.r+r, bn.g+g, bn.b+b
			if best == nil || bn.n > best.n {
				best = bn
			}
		}
	}
	if best == nil {
		return ""
	}
	return fmt.Sprintf("#%02x%02x%02x", best.r/best.n, best.g/best.n, best.b/best.n)
}
