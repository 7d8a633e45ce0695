package cleaner

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzClean runs one format on arbitrary bytes: it may refuse the input,
// but must not panic, and what it returns must hold the invariants every
// article holds (valid NFC UTF-8, no markup, no draft markers).
func fuzzClean(f *testing.F, format Format, ext string) {
	files, _ := filepath.Glob("testdata/corpus/*" + ext)
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, "")
		}
	}
	f.Add([]byte("tin nhap 20180123104207\nẢnh: \n(CTV)\nNguồn :"), "")
	f.Add([]byte("\xff\xfe\x00"), "windows-1258")
	c, err := New(HouseRules{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, charset string) {
		a, err := c.Clean(Input{Data: data, Format: format, Charset: charset})
		if err != nil {
			return
		}
		checkInvariants(t, a)
	})
}

func FuzzCleanText(f *testing.F)  { fuzzClean(f, FormatText, ".txt") }
func FuzzCleanHTML(f *testing.F)  { fuzzClean(f, FormatHTML, ".html") }
func FuzzCleanNinjs(f *testing.F) { fuzzClean(f, FormatNinjs, ".json") }
