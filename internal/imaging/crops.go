package imaging

import (
	"math"

	"github.com/davidbyttow/govips/v2/vips"
)

// cropAspects are what search engines ask of an article's image: the same
// photo in 16:9, 4:3 and 1:1, each at least 50,000 pixels (Google's
// Article structured-data guidelines), so a result page can show the
// shape it lays out without cropping it blindly.
var cropAspects = []struct {
	name string
	w, h int
}{{"16:9", 16, 9}, {"4:3", 4, 3}, {"1:1", 1, 1}}

const (
	// cropWidth is the width asked of each crop; a smaller photo gives
	// the widest crop it holds.
	cropWidth = 1200
	// minCropPixels is the guidelines' least area.
	minCropPixels = 50_000
)

// Crops makes the JPEG crops of a source whose displayed size is width ×
// height, each the largest region of its aspect that the photo holds,
// centred on the focal point (fractions from the top left) as far as the
// edges allow, scaled down to cropWidth. An aspect the photo cannot give
// 50,000 pixels in is left out.
func (p *Processor) Crops(src []byte, width, height int, focalX, focalY float64) ([]Rendition, error) {
	var out []Rendition
	for _, a := range cropAspects {
		// The largest region of the aspect inside the photo, and the
		// size it is scaled to.
		rw, rh := width, width*a.h/a.w
		if rh > height {
			rw, rh = height*a.w/a.h, height
		}
		tw := min(cropWidth, rw)
		th := tw * a.h / a.w
		if tw*th < minCropPixels {
			continue
		}
		r, err := p.crop(src, width, float64(tw)/float64(rw), tw, th, focalX, focalY)
		if err != nil {
			return nil, refuse("corrupt", "crop %s: %v", a.name, firstLine(err))
		}
		r.Aspect = a.name
		out = append(out, r)
	}
	return out, nil
}

// crop scales the whole photo by scale (shrinking on load, as renditions
// do) and cuts tw × th from it around the focal point.
func (p *Processor) crop(src []byte, width int, scale float64, tw, th int, fx, fy float64) (Rendition, error) {
	img, err := vips.LoadThumbnailFromBuffer(src, max(tw, int(math.Ceil(float64(width)*scale))), 100_000, vips.InterestingNone, vips.SizeDown, strict())
	if err != nil {
		return Rendition{}, err
	}
	defer img.Close()
	// Rounding in the scale can leave the scaled photo a pixel short.
	tw, th = min(tw, img.Width()), min(th, img.Height())
	left := clamp(int(math.Round(fx*float64(img.Width())))-tw/2, 0, img.Width()-tw)
	top := clamp(int(math.Round(fy*float64(img.Height())))-th/2, 0, img.Height()-th)
	if err := img.ExtractArea(left, top, tw, th); err != nil {
		return Rendition{}, err
	}
	if err := upright(img); err != nil {
		return Rendition{}, err
	}
	return p.export(img, JPEG)
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }
