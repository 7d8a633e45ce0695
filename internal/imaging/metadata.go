package imaging

import (
	"bytes"
	"encoding/xml"
	"strings"
	"unicode/utf8"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// readMetadata reads the photographer's caption, creator, credit and
// copyright: IPTC IIM first (what newsroom tools write), XMP for what IPTC
// does not say.
func readMetadata(img *vips.ImageRef) Metadata {
	var m Metadata
	if blob := img.GetBlob("iptc-data"); len(blob) > 0 {
		m = parseIPTC(blob)
	}
	if blob := img.GetBlob("xmp-data"); len(blob) > 0 {
		x := parseXMP(blob)
		m.Caption = first(m.Caption, x.Caption)
		m.Creator = first(m.Creator, x.Creator)
		m.Credit = first(m.Credit, x.Credit)
		m.Copyright = first(m.Copyright, x.Copyright)
	}
	return m
}

// IPTC IIM datasets of record 2 (application record).
const (
	iimByline    = 80
	iimCredit    = 110
	iimCopyright = 116
	iimCaption   = 120
)

// parseIPTC reads IIM datasets wherever they sit in the blob (libvips
// gives the Photoshop resource block around them): each is 0x1C, record,
// dataset, a 16-bit length, then the value.
func parseIPTC(b []byte) Metadata {
	var m Metadata
	for i := 0; i+5 <= len(b); i++ {
		if b[i] != 0x1C || b[i+1] != 2 {
			continue
		}
		ds := b[i+2]
		n := int(b[i+3])<<8 | int(b[i+4])
		if n&0x8000 != 0 || i+5+n > len(b) {
			continue // extended lengths are not used for text
		}
		v := iptcText(b[i+5 : i+5+n])
		switch ds {
		case iimCaption:
			m.Caption = first(m.Caption, v)
		case iimByline:
			m.Creator = first(m.Creator, v)
		case iimCredit:
			m.Credit = first(m.Credit, v)
		case iimCopyright:
			m.Copyright = first(m.Copyright, v)
		}
		i += 4 + n
	}
	return m
}

// iptcText decodes an IIM value: UTF-8 when it is valid, else Latin-1,
// the IIM default.
func iptcText(b []byte) string {
	s := string(b)
	if !utf8.Valid(b) {
		s, _ = charmap.ISO8859_1.NewDecoder().String(s)
	}
	return tidy(s)
}

// parseXMP reads dc:description, dc:creator, photoshop:Credit and
// dc:rights from an XMP packet, as elements or as attributes.
func parseXMP(b []byte) Metadata {
	var m Metadata
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			text.Reset()
			for _, a := range t.Attr {
				if a.Name.Local == "Credit" {
					m.Credit = first(m.Credit, tidy(a.Value))
				}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if t.Name.Local == "li" && len(stack) >= 3 {
				v := tidy(text.String())
				switch stack[len(stack)-3] {
				case "description":
					m.Caption = first(m.Caption, v)
				case "creator":
					m.Creator = first(m.Creator, v)
				case "rights":
					m.Copyright = first(m.Copyright, v)
				}
			}
			if t.Name.Local == "Credit" {
				m.Credit = first(m.Credit, tidy(text.String()))
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	return m
}

func tidy(s string) string {
	return strings.Join(strings.Fields(norm.NFC.String(strings.ToValidUTF8(s, ""))), " ")
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// WithComment returns a JPEG with a comment segment (COM) after its start
// marker: the same picture with bytes, and so a hash, of its own. Bench
// and fault tests use it so each article's photo is really rendered.
func WithComment(jpeg []byte, comment string) []byte {
	if len(jpeg) < 2 || len(comment) > 0xFFFF-2 {
		return jpeg
	}
	n := len(comment) + 2
	out := make([]byte, 0, len(jpeg)+n+2)
	out = append(out, jpeg[:2]...)
	out = append(out, 0xFF, 0xFE, byte(n>>8), byte(n))
	out = append(out, comment...)
	return append(out, jpeg[2:]...)
}
