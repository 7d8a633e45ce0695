// Package imaging makes web renditions of newsroom photos with libvips
// (through govips): every configured width that does not upscale, in WebP
// and JPEG, correctly oriented, in sRGB, with no EXIF, GPS or XMP left in
// them. Before stripping, it reads the caption, creator, credit and
// copyright the photographer embedded (IPTC and XMP), and it makes a
// BlurHash placeholder and the dominant colour for pages to show while
// the image loads, and a focal point for pages that crop.
//
// Limits are checked from the file's header before any pixel is decoded,
// so a small file that declares 50,000 × 50,000 pixels is refused without
// allocating them. A refused image is an *Refusal error with a reason.
package imaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // header decoders for the limit check
	_ "image/jpeg"
	_ "image/png"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"
	_ "golang.org/x/image/webp"
	"golang.org/x/sync/semaphore"
)

// Format is an output format.
type Format string

// Output formats.
const (
	WebP Format = "webp"
	JPEG Format = "jpeg"
	AVIF Format = "avif"
)

// Config sets the renditions and the limits.
type Config struct {
	Widths    []int    // default 320, 640, 1024, 1600, 2048
	Formats   []Format // default WebP and JPEG; AVIF is slow, opt in
	MaxBytes  int64    // largest source file; default 50 MiB
	MaxPixels int64    // largest source in pixels; default 50 MP
	MaxFrames int      // most animation frames; default 200
	// MaxTotalPixels bounds frames × pixels a frame: what an animation
	// costs to render, which the per-frame limits alone let grow to
	// minutes of CPU; default 100 MP.
	MaxTotalPixels int64
	Quality        int // default 80
	// MemoryBudget bounds, by estimate (MemoryCost), the memory of the
	// images Admit lets be worked on at once; 0 for no bound.
	MemoryBudget int64
}

func (c *Config) defaults() {
	if len(c.Widths) == 0 {
		c.Widths = []int{320, 640, 1024, 1600, 2048}
	}
	if len(c.Formats) == 0 {
		c.Formats = []Format{WebP, JPEG}
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 50 << 20
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 50_000_000
	}
	if c.MaxFrames <= 0 {
		c.MaxFrames = 200
	}
	if c.MaxTotalPixels <= 0 {
		c.MaxTotalPixels = 100_000_000
	}
	if c.Quality <= 0 {
		c.Quality = 80
	}
	slices.Sort(c.Widths)
	c.Widths = slices.Compact(c.Widths)
}

// Rendition is one output image.
type Rendition struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Format Format `json:"format"`
	Bytes  int    `json:"bytes"`
	// Animated: every frame of an animated source (WebP only); the other
	// renditions of such a source show its first frame.
	Animated bool `json:"animated,omitempty"`
	// Aspect is a crop's, "16:9"; empty for the whole image.
	Aspect string `json:"aspect,omitempty"`
	Data   []byte `json:"-"`
}

// Name is the rendition's file name, as stored: 640.webp,
// 200.animated.webp for an animation, 16x9.1200.jpeg for a crop.
func (r Rendition) Name() string {
	if r.Aspect != "" {
		return fmt.Sprintf("%s.%d.%s", strings.ReplaceAll(r.Aspect, ":", "x"), r.Width, r.Format)
	}
	if r.Animated {
		return fmt.Sprintf("%d.animated.%s", r.Width, r.Format)
	}
	return fmt.Sprintf("%d.%s", r.Width, r.Format)
}

// animatedWidth caps the animated rendition: every frame is held in
// memory while it is made.
const animatedWidth = 640

// Metadata is what the photographer embedded, read before stripping.
type Metadata struct {
	Caption   string `json:"caption,omitempty"`
	Creator   string `json:"creator,omitempty"`
	Credit    string `json:"credit,omitempty"`
	Copyright string `json:"copyright,omitempty"`
}

// Result is what Process makes of one source image.
type Result struct {
	// SHA256 of the source, which names where its renditions are stored:
	// the same photo in two articles is processed once.
	SHA256       string      `json:"sha256"`
	SourceFormat string      `json:"source_format"`
	Width        int         `json:"width"` // as displayed, after orientation
	Height       int         `json:"height"`
	Frames       int         `json:"frames"`
	Renditions   []Rendition `json:"renditions"`
	Metadata     Metadata    `json:"metadata"`
	BlurHash     string      `json:"blurhash"`
	Color        string      `json:"color"` // dominant colour, #rrggbb
	// Focal point: where attention falls, as fractions of width and
	// height from the top left, from libvips' attention-based smart crop.
	FocalX   float64  `json:"focal_x"`
	FocalY   float64  `json:"focal_y"`
	Warnings []string `json:"warnings,omitempty"`
}

// Refusal says why an image was not processed. It is permanent: the same
// bytes are refused again.
type Refusal struct {
	Code   string // too_large, too_many_pixels, too_many_frames, unsupported, corrupt
	Reason string
}

func (r *Refusal) Error() string { return "image refused: " + r.Reason }

func refuse(code, format string, args ...any) error {
	return &Refusal{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// IsRefusal reports whether err refuses an image, and returns the refusal.
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// Processor makes renditions; it is safe for concurrent use.
type Processor struct {
	cfg    Config
	memory *semaphore.Weighted // nil without a budget
}

var startOnce sync.Once

// New starts libvips (once per process: it is process-wide) and returns a
// processor. libvips runs one thread per operation, with its operation
// cache off: the pipeline parallelises by worker, one per core, and a
// cache only holds memory for images that never come back.
func New(cfg Config) (*Processor, error) {
	cfg.defaults()
	for _, f := range cfg.Formats {
		if f != WebP && f != JPEG && f != AVIF {
			return nil, fmt.Errorf("imaging: format %q is not one of webp, jpeg, avif", f)
		}
	}
	for _, w := range cfg.Widths {
		if w < 16 || w > 8192 {
			return nil, fmt.Errorf("imaging: width %d is outside 16..8192", w)
		}
	}
	startOnce.Do(func() {
		vips.LoggingSettings(nil, vips.LogLevelError)
		vips.Startup(&vips.Config{ConcurrencyLevel: 1, MaxCacheFiles: 0, MaxCacheMem: 0, MaxCacheSize: 0})
		configureVips()
	})
	p := &Processor{cfg: cfg}
	if cfg.MemoryBudget > 0 {
		p.memory = semaphore.NewWeighted(cfg.MemoryBudget)
	}
	return p, nil
}

// supported are the source formats accepted; everything else (SVG, PDF,
// and what ImageMagick would load) is refused before libvips sees it.
var supported = map[vips.ImageType]string{
	vips.ImageTypeJPEG: "jpeg", vips.ImageTypePNG: "png", vips.ImageTypeWEBP: "webp",
	vips.ImageTypeGIF: "gif", vips.ImageTypeTIFF: "tiff", vips.ImageTypeHEIF: "heif", vips.ImageTypeAVIF: "avif",
}

// Process checks src against the limits and makes its renditions.
func (p *Processor) Process(src []byte) (*Result, error) {
	if int64(len(src)) > p.cfg.MaxBytes {
		return nil, refuse("too_large", "%d bytes is over the limit of %d", len(src), p.cfg.MaxBytes)
	}
	typ := vips.DetermineImageType(src)
	name, ok := supported[typ]
	if !ok {
		return nil, refuse("unsupported", "not a JPEG, PNG, WebP, GIF, TIFF, HEIF or AVIF image")
	}
	if err := p.checkHeader(src, name); err != nil {
		return nil, err
	}
	res := &Result{SHA256: SHA256(src), SourceFormat: name}

	// The source itself, lazily: only its header and metadata are read
	// here; libvips decodes pixels when an operation needs them.
	img, err := vips.LoadImageFromBuffer(src, strict())
	if err != nil {
		return nil, refuse("corrupt", "libvips cannot read it: %v", firstLine(err))
	}
	defer img.Close()
	res.Frames = max(1, img.Pages())
	if res.Frames > p.cfg.MaxFrames {
		return nil, refuse("too_many_frames", "%d frames is over the limit of %d", res.Frames, p.cfg.MaxFrames)
	}
	if int64(img.Width())*int64(img.PageHeight()) > p.cfg.MaxPixels {
		return nil, refuse("too_many_pixels", "%d × %d pixels is over the limit of %d", img.Width(), img.PageHeight(), p.cfg.MaxPixels)
	}
	if total := int64(res.Frames) * int64(img.Width()) * int64(img.PageHeight()); total > p.cfg.MaxTotalPixels {
		return nil, refuse("too_many_pixels", "%d frames of %d × %d is %d pixels in all, over the limit of %d for an animation", res.Frames, img.Width(), img.PageHeight(), total, p.cfg.MaxTotalPixels)
	}
	res.Metadata = readMetadata(img)
	res.Width, res.Height = img.Width(), img.PageHeight()
	if o := img.Orientation(); o >= 5 && o <= 8 {
		res.Width, res.Height = res.Height, res.Width // a quarter turn
	}

	var small []byte // the narrowest rendition, lossless
	if res.Renditions, small, err = p.renditions(src, res.Width, res.Height, p.widths(res.Width)); err != nil {
		return nil, refuse("corrupt", "%v", firstLine(err))
	}
	if res.Frames > 1 {
		r, err := p.animated(src, min(res.Width, animatedWidth))
		if err != nil {
			res.Warnings = append(res.Warnings, "no animated rendition: "+firstLine(err).Error())
		} else {
			res.Renditions = append(res.Renditions, r)
		}
	}
	// The placeholder (32 px) and the focal point (found at 256 px) come
	// from the narrowest rendition before it was encoded (upright, in
	// sRGB): another two decodes of the source saved.
	res.BlurHash, res.Color, err = placeholder(small)
	if err != nil {
		res.Warnings = append(res.Warnings, "no placeholder: "+firstLine(err).Error())
	}
	if res.FocalX, res.FocalY, err = focalPoint(small); err != nil {
		res.FocalX, res.FocalY = 0.5, 0.5
		res.Warnings = append(res.Warnings, "no focal point, the centre is used: "+err.Error())
	}
	return res, nil
}

// checkHeader reads the declared size from the header alone: Go's
// decoders for the common formats read a few bytes and allocate nothing
// for pixels.
func (p *Processor) checkHeader(src []byte, format string) error {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		if format == "jpeg" || format == "png" || format == "gif" || format == "webp" {
			return refuse("corrupt", "the %s header cannot be read: %v", format, err)
		}
		return nil // other formats: libvips reads their header lazily below
	}
	if int64(cfg.Width)*int64(cfg.Height) > p.cfg.MaxPixels {
		return refuse("too_many_pixels", "%d × %d pixels is over the limit of %d", cfg.Width, cfg.Height, p.cfg.MaxPixels)
	}
	return nil
}

// SHA256 names a source by its content, as renditions are stored.
func SHA256(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// widths are the configured widths no wider than the source; a source
// narrower than all of them gets one rendition at its own width.
func (p *Processor) widths(source int) []int {
	var out []int
	for _, w := range p.cfg.Widths {
		if w <= source {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		out = []int{source}
	}
	return out
}

// renditions makes every width (ascending) in every format, narrowest
// first. The source is decoded once: the widest rendition comes from it
// by libvips' thumbnail, which shrinks on load (a JPEG is decoded at 1/2,
// 1/4 or 1/8 scale when that is enough), applies the EXIF orientation
// and converts to sRGB; it is held in memory, and each narrower one is
// resized from the one above it. Decoding the source again for every
// width and format cost ten decodes of a 12 MP photo.
//
// It also returns the narrowest width as a lossless PNG.
func (p *Processor) renditions(src []byte, srcW, srcH int, widths []int) ([]Rendition, []byte, error) {
	levels := make([][]Rendition, len(widths))
	var narrowest []byte
	err := p.cascade(src, srcW, srcH, widths, func(i int, img *vips.ImageRef, raw []byte) error {
		narrowest = raw
		for _, f := range p.cfg.Formats {
			r, err := p.export(img, f)
			if err != nil {
				return fmt.Errorf("rendition %d px %s: %w", widths[i], f, err)
			}
			levels[i] = append(levels[i], r)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var out []Rendition
	for _, l := range levels {
		out = append(out, l...)
	}
	return out, narrowest, nil
}

// cascade calls each with every width, widest first: the image at that
// width (prepared, in memory) and the same as a lossless PNG. srcW and
// srcH are the source's upright size: each width's height is rounded
// from them, as a resize straight from the source would make it, not
// from the width above (which can be a pixel off).
func (p *Processor) cascade(src []byte, srcW, srcH int, widths []int, each func(i int, img *vips.ImageRef, raw []byte) error) error {
	var above *vips.ImageRef
	defer func() {
		if above != nil {
			above.Close()
		}
	}()
	for i := len(widths) - 1; i >= 0; i-- {
		var img *vips.ImageRef
		var raw []byte
		var err error
		if above == nil {
			img, err = vips.LoadThumbnailFromBuffer(src, widths[i], 100_000, vips.InterestingNone, vips.SizeDown, strict())
		} else if img, err = above.Copy(); err == nil {
			h := max(1, int(math.Round(float64(srcH)*float64(widths[i])/float64(srcW))))
			err = img.ThumbnailWithSize(widths[i], h, vips.InterestingNone, vips.SizeForce)
		}
		if err == nil {
			img, raw, err = p.prepared(img)
		}
		if err != nil {
			return fmt.Errorf("rendition %d px: %w", widths[i], err)
		}
		if above != nil {
			above.Close()
		}
		above = img
		if err := each(i, img, raw); err != nil {
			return err
		}
	}
	return nil
}

// prepared is img upright, in sRGB, with no metadata, computed into
// memory: what each format is encoded from, and what the next narrower
// width is resized from, without running the pipeline from the source
// again.
func (p *Processor) prepared(img *vips.ImageRef) (*vips.ImageRef, []byte, error) {
	defer img.Close()
	if err := upright(img); err != nil {
		return nil, nil, err
	}
	// Into memory through an uncompressed PNG (govips has no copy to
	// memory): a memcpy and a checksum, where decoding the source again
	// is the whole JPEG decode.
	ep := vips.NewPngExportParams()
	ep.Compression, ep.Filter, ep.StripMetadata = 0, vips.PngFilterNone, true
	raw, _, err := img.ExportPng(ep)
	if err != nil {
		return nil, nil, err
	}
	mem, err := vips.NewImageFromBuffer(raw)
	return mem, raw, err
}

// upright makes a thumbnail (already turned upright) sRGB with no
// metadata. Export's StripMetadata alone leaves EXIF (GPS included) in
// WebP output with this libvips: it is removed from the image itself,
// and the orientation too, from which libvips would otherwise write a
// fresh EXIF block.
func upright(img *vips.ImageRef) error {
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		return err
	}
	if err := img.RemoveMetadata(); err != nil {
		return err
	}
	return img.RemoveOrientation()
}

// export writes img, made upright already (upright), in format f.
func (p *Processor) export(img *vips.ImageRef, f Format) (Rendition, error) {
	var (
		data []byte
		err  error
	)
	switch f {
	case WebP:
		ep := vips.NewWebpExportParams()
		ep.Quality, ep.StripMetadata = p.cfg.Quality, true
		if data, _, err = img.ExportWebp(ep); err == nil {
			data, err = stripWebPMetadata(data)
		}
	case JPEG:
		src := img
		if img.HasAlpha() {
			// JPEG has no transparency: flatten onto white, as a page
			// background would show it (a copy: img goes on to other
			// formats and narrower widths).
			flat, err := img.Copy()
			if err != nil {
				return Rendition{}, err
			}
			defer flat.Close()
			if err := flat.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
				return Rendition{}, err
			}
			src = flat
		}
		ep := vips.NewJpegExportParams()
		ep.Quality, ep.StripMetadata, ep.Interlace = p.cfg.Quality, true, true
		data, _, err = src.ExportJpeg(ep)
	case AVIF:
		ep := vips.NewAvifExportParams()
		ep.Quality, ep.StripMetadata = p.cfg.Quality, true
		data, _, err = img.ExportAvif(ep)
	}
	if err != nil {
		return Rendition{}, err
	}
	return Rendition{Width: img.Width(), Height: img.Height(), Format: f, Bytes: len(data), Data: data}, nil
}

// animated makes an animated WebP of every frame, width pixels wide.
func (p *Processor) animated(src []byte, width int) (Rendition, error) {
	params := strict()
	params.NumPages.Set(-1)
	img, err := vips.LoadThumbnailFromBuffer(src, width, 100_000, vips.InterestingNone, vips.SizeDown, params)
	if err != nil {
		return Rendition{}, err
	}
	defer img.Close()
	// RemoveMetadata keeps what an animation needs (pages, delays, loop).
	if err := img.RemoveMetadata(); err != nil {
		return Rendition{}, err
	}
	ep := vips.NewWebpExportParams()
	ep.Quality, ep.StripMetadata = p.cfg.Quality, true
	data, _, err := img.ExportWebp(ep)
	if err == nil {
		data, err = stripWebPMetadata(data)
	}
	if err != nil {
		return Rendition{}, err
	}
	return Rendition{Width: img.Width(), Height: img.PageHeight(), Format: WebP, Bytes: len(data), Animated: true, Data: data}, nil
}

// strict makes libvips fail on a damaged file (a truncated JPEG) instead
// of filling the missing part with grey.
func strict() *vips.ImportParams {
	params := vips.NewImportParams()
	params.FailOnError.Set(true)
	return params
}

func firstLine(err error) error {
	s := err.Error()
	if i := bytes.IndexByte([]byte(s), '\n'); i > 0 {
		s = s[:i]
	}
	return errors.New(s)
}
