package cleaner

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// ErrUnknownCharset is returned when input is not UTF-8, declares no
// charset, and its encoding cannot be told reliably. Guessing between
// Windows-1258 and Windows-1252 would risk mojibake, so the cleaner asks.
var ErrUnknownCharset = errors.New("input is not valid UTF-8 and declares no charset; send it as UTF-8 or declare its charset (e.g. charset=windows-1258)")

// decode returns raw as a UTF-8 string. declared is the charset the sender
// named (HTTP charset= or --charset), empty if none; htmlDeclared is one
// found in the document itself (<meta charset>), used when declared is
// empty. A byte-order mark wins over both, as browsers do.
func decode(raw []byte, declared, htmlDeclared string) (string, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}):
		return checkUTF8(raw[3:])
	case bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		return transform(raw, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), "UTF-16LE")
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}):
		return transform(raw, unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "UTF-16BE")
	}
	name := declared
	if name == "" {
		name = htmlDeclared
	}
	if name != "" {
		enc, err := htmlindex.Get(name)
		if err != nil {
			return "", fmt.Errorf("charset %q is not one the cleaner knows (UTF-8, UTF-16, Windows-1258, Windows-1252 and the WHATWG list)", name)
		}
		canonical, _ := htmlindex.Name(enc)
		if canonical != "utf-8" {
			return transform(raw, enc, canonical)
		}
		if declared != "" {
			return checkUTF8(raw) // the sender said UTF-8: hold it to that
		}
		// A <meta charset=utf-8> on a page that is not UTF-8 is a common
		// CMS lie: fall through to detection.
	}
	if utf8.Valid(raw) {
		return string(raw), nil
	}
	// UTF-16 without a BOM is reliably recognised by its NUL bytes: ASCII
	// text puts one in every other byte.
	if le, be := nulPattern(raw); le {
		return transform(raw, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "UTF-16LE")
	} else if be {
		return transform(raw, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "UTF-16BE")
	}
	return "", ErrUnknownCharset
}

func checkUTF8(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%w (declared UTF-8, first bad byte at offset %d)", ErrNotUTF8, FirstInvalidUTF8(b))
	}
	return string(b), nil
}

func transform(b []byte, enc encoding.Encoding, name string) (string, error) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", name, err)
	}
	s := string(out)
	// A decoder substitutes U+FFFD for bytes its charset does not define:
	// a wrong declaration would otherwise become silent mojibake.
	if strings.ContainsRune(s, utf8.RuneError) && !bytes.Contains(b, []byte("\xef\xbf\xbd")) {
		return "", fmt.Errorf("input has bytes that are not %s; check the declared charset", name)
	}
	return strings.TrimPrefix(s, "\ufeff"), nil
}

// nulPattern reports whether b looks like UTF-16 text of mostly ASCII
// characters, little- or big-endian.
func nulPattern(b []byte) (le, be bool) {
	if len(b) < 4 || len(b)%2 != 0 {
		return false, false
	}
	var even, odd int
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 {
			even++
		}
		if b[i+1] == 0 {
			odd++
		}
	}
	pairs := len(b) / 2
	return odd*10 >= pairs*7 && even == 0, even*10 >= pairs*7 && odd == 0
}

// FirstInvalidUTF8 is the offset of the first byte of b that is not valid
// UTF-8, or -1; errors name it so a sender can find the bad spot.
func FirstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}
