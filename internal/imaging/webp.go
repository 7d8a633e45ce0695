package imaging

import (
	"encoding/binary"
	"errors"
)

// stripWebPMetadata removes EXIF and XMP chunks from a WebP file and
// clears their flags in the VP8X header. libvips 8.14 writes a small EXIF
// chunk (orientation, resolution) into every WebP even when asked to
// strip; renditions must carry none.
func stripWebPMetadata(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errors.New("not a WebP file")
	}
	out := make([]byte, 12, len(b))
	copy(out, b[:12])
	for i := 12; i < len(b); {
		if i+8 > len(b) {
			return nil, errors.New("truncated WebP chunk header")
		}
		fourcc := string(b[i : i+4])
		n := int(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		end := i + 8 + n + n&1 // chunks are padded to even sizes
		if n < 0 || end > len(b) {
			return nil, errors.New("truncated WebP chunk")
		}
		switch fourcc {
		case "EXIF", "XMP ":
		case "VP8X":
			chunk := append([]byte(nil), b[i:end]...)
			if len(chunk) > 8 {
				chunk[8] &^= 0x08 | 0x04 // EXIF and XMP present flags
			}
			out = append(out, chunk...)
		default:
			out = append(out, b[i:end]...)
		}
		i = end
	}
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out, nil
}
