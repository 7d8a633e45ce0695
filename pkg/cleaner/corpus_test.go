package cleaner

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files from the cleaner's output")

// reCharsetName reads a declared charset from a corpus file name:
// "vi-legacy.cs-windows-1258.txt" was sent as charset=windows-1258.
var reCharsetName = regexp.MustCompile(`\.cs-([a-z0-9-]+)\.`)

func newTestCleaner(t testing.TB) *Cleaner {
	t.Helper()
	c, err := New(HouseRules{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCorpus cleans every article under testdata/corpus and compares the
// document with its golden file under testdata/golden.
func TestCorpus(t *testing.T) {
	c := newTestCleaner(t)
	files, err := filepath.Glob("testdata/corpus/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("the corpus has %d articles, want at least 25", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Data: data, Format: formatOf(name)}
			if m := reCharsetName.FindStringSubmatch(name); m != nil {
				in.Charset = m[1]
			}
			a, err := c.Clean(in)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, a)
			got, err := JSON(a)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, filepath.Ext(name))+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/cleaner -run TestCorpus -update, then review the file)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n%s", golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

func formatOf(name string) Format {
	switch filepath.Ext(name) {
	case ".html":
		return FormatHTML
	case ".json":
		return FormatNinjs
	}
	return FormatText
}

// checkInvariants holds for every article whatever its input: text is
// NFC UTF-8 without debris markers or markup, and the document
// round-trips through protojson.
func checkInvariants(t *testing.T, a *pb.Article) {
	t.Helper()
	var texts []string
	texts = append(texts, a.Title, a.Kicker, a.Dateline, a.Section, a.Lead, a.Source, a.Language)
	for _, b := range a.Blocks {
		texts = append(texts, b.GetParagraph().GetText(), b.GetHeading().GetText(), b.GetQuote().GetText(),
			b.GetImage().GetCaption(), b.GetImage().GetCredit(), b.GetImage().GetAlt())
	}
	for _, r := range a.Related {
		texts = append(texts, r.Title)
	}
	for _, by := range a.Byline {
		texts = append(texts, by.Name, by.Role)
	}
	for _, s := range texts {
		switch {
		case !utf8.ValidString(s):
			t.Errorf("invalid UTF-8: %q", s)
		case !norm.NFC.IsNormalString(s):
			t.Errorf("not NFC: %q", s)
		case reDraftMark.MatchString(s):
			t.Errorf("draft marker left in %q", s)
		case strings.Contains(s, "<script") || strings.Contains(s, "javascript:") || strings.Contains(s, "\u200b") || strings.Contains(s, "\u00a0"):
			t.Errorf("markup or invisible characters left in %q", s)
		case s != strings.TrimSpace(s) || strings.Contains(s, "  "):
			t.Errorf("spaces not collapsed in %q", s)
		}
	}
	for _, b := range a.Blocks {
		if p := b.GetParagraph(); p != nil && p.Text == a.Lead {
			t.Errorf("the lead is repeated in the blocks")
		}
	}
	data, err := JSON(a)
	if err != nil {
		t.Fatal(err)
	}
	var back pb.Article
	if err := protojson.Unmarshal(data, &back); err != nil {
		t.Fatalf("document does not parse back: %v", err)
	}
}

// lineDiff shows the first differing lines of two documents.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 8; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}
