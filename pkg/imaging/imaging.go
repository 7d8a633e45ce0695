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
	"slices"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"
	_ "golang.org/x/image/webp"
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
	Quality   int      // default 80
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
	Animated bool   `json:"animated,omitempty"`
	Data     []byte `json:"-"`
}

// Name is the rendition's file name, as stored: 640.webp, or
// 200.animated.webp for an animation.
func (r Rendition) Name() string {
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
	cfg Config
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
	return &Processor{cfg: cfg}, nil
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
	res.Metadata = readMetadata(img)
	res.Width, res.Height = img.Width(), img.PageHeight()
	if o := img.Orientation(); o >= 5 && o <= 8 {
		res.Width, res.Height = res.Height, res.Width // a quarter turn
	}

	for _, w := range p.widths(res.Width) {
		for _, f := range p.cfg.Formats {
			r, err := p.rendition(src, w, f)
			if err != nil {
				return nil, refuse("corrupt", "rendition %d px %s: %v", w, f, firstLine(err))
			}
			res.Renditions = append(res.Renditions, r)
		}
	}
	if res.Frames > 1 {
		r, err := p.animated(src, min(res.Width, animatedWidth))
		if err != nil {
			res.Warnings = append(res.Warnings, "no animated rendition: "+firstLine(err).Error())
		} else {
			res.Renditions = append(res.Renditions, r)
		}
	}
	res.BlurHash, res.Color, err = placeholder(src)
	if err != nil {
		res.Warnings = append(res.Warnings, "no placeholder: "+firstLine(err).Error())
	}
	if res.FocalX, res.FocalY, err = focalPoint(src); err != nil {
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

// rendition makes one width in one format. libvips' thumbnail shrinks on
// load (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when that is enough),
// applies the EXIF orientation and converts to sRGB.
func (p *Processor) rendition(src []byte, width int, f Format) (Rendition, error) {
	img, err := vips.LoadThumbnailFromBuffer(src, width, 100_000, vips.InterestingNone, vips.SizeDown, strict())
	if err != nil {
		return Rendition{}, err
	}
	defer img.Close()
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		return Rendition{}, err
	}
	// Export's StripMetadata alone leaves EXIF (GPS included) in WebP
	// output with this libvips: remove it from the image itself, and the
	// orientation too (the thumbnail is already turned upright), from
	// which libvips would otherwise write a fresh EXIF block.
	if err := img.RemoveMetadata(); err != nil {
		return Rendition{}, err
	}
	if err := img.RemoveOrientation(); err != nil {
		return Rendition{}, err
	}
	var data []byte
	switch f {
	case WebP:
		ep := vips.NewWebpExportParams()
		ep.Quality, ep.StripMetadata = p.cfg.Quality, true
		if data, _, err = img.ExportWebp(ep); err == nil {
			data, err = stripWebPMetadata(data)
		}
	case JPEG:
		if img.HasAlpha() {
			// JPEG has no transparency: flatten onto white, as a page
			// background would show it.
			if err := img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
				return Rendition{}, err
			}
		}
		ep := vips.NewJpegExportParams()
		ep.Quality, ep.StripMetadata, ep.Interlace = p.cfg.Quality, true, true
		data, _, err = img.ExportJpeg(ep)
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
