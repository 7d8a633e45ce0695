// Command gen writes the image fixtures of pkg/imaging from code, so each
// says what it is: go run ./pkg/imaging/testdata/gen
package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/davidbyttow/govips/v2/vips"
)

var dir = filepath.Join("pkg", "imaging", "testdata")

func main() {
	vips.LoggingSettings(nil, vips.LogLevelError)
	vips.Startup(nil)
	defer vips.Shutdown()

	photo := scene(1200, 800)
	write("photo.jpg", jpegOf(photo, nil))
	write("truncated.jpg", jpegOf(photo, nil)[:20_000])
	write("grey.jpg", exportVips(photo, func(img *vips.ImageRef) []byte {
		must(img.ToColorSpace(vips.InterpretationBW))
		return jpeg(img)
	}))
	write("cmyk.jpg", exportVips(photo, func(img *vips.ImageRef) []byte {
		must(img.ToColorSpace(vips.InterpretationCMYK))
		return jpeg(img)
	}))
	write("input.webp", exportVips(photo, func(img *vips.ImageRef) []byte {
		b, _, err := img.ExportWebp(vips.NewWebpExportParams())
		must(err)
		return b
	}))
	write("alpha.png", encodePNG(withAlpha(400, 300)))
	write("png16.png", encodePNG(deep(400, 300)))
	write("anim.gif", animated(200, 150, 3))
	write("bomb.png", bombPNG(50_000, 50_000))

	// Orientation n stores the pixels so that applying n shows the
	// display image: red block at top left, blue at bottom right.
	display := marker(120, 80)
	for n := 1; n <= 8; n++ {
		stored := inverse(display, n)
		write(filepath.Join("orientation", string(rune('0'+n))+".jpg"), exportVips(stored, func(img *vips.ImageRef) []byte {
			must(img.SetOrientation(n))
			return jpegKeep(img)
		}))
	}
	// Metadata segments go in right after the JPEG's start marker, as a
	// camera or newsroom tool writes them (govips' SetBlob cannot be
	// used: it passes Go pointers to C).
	plain := jpegOf(photo, nil)
	write("gps.jpg", withSegment(plain, 0xE1, gpsExif()))
	write("iptc.jpg", withSegment(plain, 0xED, iptcBlock()))
	write("xmp.jpg", withSegment(plain, 0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpPacket...)))
}

// scene is a photo-like image: gradients and shapes, so that encoders
// have something to do.
func scene(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255}
			if (x-w/3)*(x-w/3)+(y-h/2)*(y-h/2) < (h/4)*(h/4) {
				c = color.RGBA{220, 40, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func marker(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{255, 255, 255, 255}
			switch {
			case x < w/3 && y < h/3:
				c = color.RGBA{255, 0, 0, 255}
			case x >= 2*w/3 && y >= 2*h/3:
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

// inverse returns the pixels to store with EXIF orientation n so that a
// viewer applying n shows display.
func inverse(display *image.RGBA, n int) *image.RGBA {
	b := display.Bounds()
	w, h := b.Dx(), b.Dy()
	// at(x, y) of the stored image, in terms of the display image.
	type mapping func(x, y int) (int, int)
	var sw, sh int
	var m mapping
	switch n {
	case 1:
		sw, sh, m = w, h, func(x, y int) (int, int) { return x, y }
	case 2: // display = flip horizontally
		sw, sh, m = w, h, func(x, y int) (int, int) { return w - 1 - x, y }
	case 3: // rotate 180
		sw, sh, m = w, h, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }
	case 4: // flip vertically
		sw, sh, m = w, h, func(x, y int) (int, int) { return x, h - 1 - y }
	case 5: // transpose
		sw, sh, m = h, w, func(x, y int) (int, int) { return y, x }
	case 6: // display = stored rotated 90° clockwise
		sw, sh, m = h, w, func(x, y int) (int, int) { return w - 1 - y, x }
	case 7: // transverse
		sw, sh, m = h, w, func(x, y int) (int, int) { return w - 1 - y, h - 1 - x }
	case 8: // display = stored rotated 90° counter-clockwise
		sw, sh, m = h, w, func(x, y int) (int, int) { return y, h - 1 - x }
	}
	out := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := range sh {
		for x := range sw {
			dx, dy := m(x, y)
			out.Set(x, y, display.At(dx, dy))
		}
	}
	return out
}

func withAlpha(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{0, 128, 255, uint8(x * 255 / w)})
		}
	}
	return img
}

func deep(w, h int) *image.RGBA64 {
	img := image.NewRGBA64(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA64{uint16(x * 65535 / w), uint16(y * 65535 / h), 30000, 65535})
		}
	}
	return img
}

func animated(w, h, frames int) []byte {
	anim := &gif.GIF{}
	palette := color.Palette{color.White, color.Black, color.RGBA{255, 0, 0, 255}}
	for f := range frames {
		img := image.NewPaletted(image.Rect(0, 0, w, h), palette)
		for y := range h {
			for x := range w {
				if x/20%frames == f {
					img.SetColorIndex(x, y, 2)
				}
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	must(gif.EncodeAll(&buf, anim))
	return buf.Bytes()
}

// bombPNG is a valid PNG header that declares w × h pixels, with one
// tiny compressed row: a decoder that trusts the header allocates w×h.
func bombPNG(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.Write([]byte("\x89PNG\r\n\x1a\n"))
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	chunk(&buf, "IHDR", ihdr)
	chunk(&buf, "IDAT", []byte{0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01})
	chunk(&buf, "IEND", nil)
	return buf.Bytes()
}

func chunk(buf *bytes.Buffer, typ string, data []byte) {
	binary.Write(buf, binary.BigEndian, uint32(len(data)))
	buf.WriteString(typ)
	buf.Write(data)
	binary.Write(buf, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// gpsExif is a little-endian TIFF/EXIF block with IFD0 pointing at a GPS
// IFD that holds a latitude and longitude (Hanoi).
func gpsExif() []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00")
	tiff := make([]byte, 0, 256)
	tiff = append(tiff, 'I', 'I', 42, 0, 8, 0, 0, 0)
	// IFD0 at 8: one entry, GPSInfo (0x8825) -> offset 26.
	tiff = le.AppendUint16(tiff, 1)
	tiff = append(tiff, entry(le, 0x8825, 4, 1, 26)...)
	tiff = le.AppendUint32(tiff, 0)
	// GPS IFD at 26: LatitudeRef N, Latitude, LongitudeRef E, Longitude.
	tiff = le.AppendUint16(tiff, 4)
	dataAt := uint32(26 + 2 + 4*12 + 4)
	tiff = append(tiff, entry(le, 1, 2, 2, uint32('N'))...)
	tiff = append(tiff, entry(le, 2, 5, 3, dataAt)...)
	tiff = append(tiff, entry(le, 3, 2, 2, uint32('E'))...)
	tiff = append(tiff, entry(le, 4, 5, 3, dataAt+24)...)
	tiff = le.AppendUint32(tiff, 0)
	for _, v := range []uint32{21, 1, 1, 1, 3, 1, 105, 1, 51, 1, 7, 1} {
		tiff = le.AppendUint32(tiff, v)
	}
	b.Write(tiff)
	return b.Bytes()
}

func entry(le binary.AppendByteOrder, tag, typ uint16, count, value uint32) []byte {
	e := le.AppendUint16(nil, tag)
	e = le.AppendUint16(e, typ)
	e = le.AppendUint32(e, count)
	return le.AppendUint32(e, value)
}

// iptcBlock is a Photoshop resource block with IPTC IIM caption, by-line,
// credit and copyright, as newsroom tools write them.
func iptcBlock() []byte {
	var iim bytes.Buffer
	for _, ds := range []struct {
		n byte
		v string
	}{{90, "\x1b%G"}, {120, "Ông Nguyễn Văn Thọ trao Giấy khen cho các tổ chức cơ sở Đảng"}, {80, "Minh Anh"}, {110, "Báo Hà Nội Mới"}, {116, "© 2024 Báo Hà Nội Mới"}} {
		rec := byte(2)
		if ds.n == 90 {
			rec = 1
		}
		iim.Write([]byte{0x1C, rec, ds.n})
		binary.Write(&iim, binary.BigEndian, uint16(len(ds.v)))
		iim.WriteString(ds.v)
	}
	var b bytes.Buffer
	b.WriteString("Photoshop 3.0\x00")
	b.WriteString("8BIM")
	binary.Write(&b, binary.BigEndian, uint16(0x0404))
	b.Write([]byte{0, 0}) // empty name, padded
	binary.Write(&b, binary.BigEndian, uint32(iim.Len()))
	b.Write(iim.Bytes())
	if iim.Len()%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

const xmpPacket = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:Credit="Reuters">
<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Ships moored at the new terminal in Rotterdam</rdf:li></rdf:Alt></dc:description>
<dc:creator><rdf:Seq><rdf:li>Piroschka van de Wouw</rdf:li></rdf:Seq></dc:creator>
<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">© Reuters 2023</rdf:li></rdf:Alt></dc:rights>
</rdf:Description></rdf:RDF></x:xmpmeta>`

// withSegment inserts an APPn segment after the JPEG's SOI marker.
func withSegment(jpg []byte, marker byte, payload []byte) []byte {
	seg := []byte{0xFF, marker}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func jpegOf(img image.Image, edit func(*vips.ImageRef)) []byte {
	return exportVips(img, func(v *vips.ImageRef) []byte {
		if edit == nil {
			return jpeg(v)
		}
		edit(v)
		return jpegKeep(v)
	})
}

func exportVips(img image.Image, f func(*vips.ImageRef) []byte) []byte {
	v, err := vips.NewImageFromBuffer(encodePNG(img))
	must(err)
	defer v.Close()
	return f(v)
}

func jpeg(v *vips.ImageRef) []byte {
	p := vips.NewJpegExportParams()
	p.Quality, p.StripMetadata = 85, true
	b, _, err := v.ExportJpeg(p)
	must(err)
	return b
}

func jpegKeep(v *vips.ImageRef) []byte {
	p := vips.NewJpegExportParams()
	p.Quality = 85
	b, _, err := v.ExportJpeg(p)
	must(err)
	return b
}

func encodePNG(img image.Image) []byte {
	var buf bytes.Buffer
	must(png.Encode(&buf, img))
	return buf.Bytes()
}

func write(name string, b []byte) {
	path := filepath.Join(dir, name)
	must(os.MkdirAll(filepath.Dir(path), 0o755))
	must(os.WriteFile(path, b, 0o644))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
