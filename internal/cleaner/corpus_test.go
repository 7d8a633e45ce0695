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
				t.Fatalf("%v (run go test ./internal/cleaner -run TestCorpus -update, then review the file)", err)
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
	case ".md":
		return FormatMarkdown
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
	checkSpans(t, "lead", a.Lead, a.LeadSpans)
	for _, b := range a.Blocks {
		checkBlockSpans(t, b)
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

// checkSpans: spans, where a text has them, spell the text exactly, carry
// a mark or a break, and link only to absolute http, https or mailto URLs.
func checkSpans(t *testing.T, what, text string, spans []*pb.Span) {
	t.Helper()
	if len(spans) == 0 {
		return
	}
	if got := spansText(spans); got != text {
		t.Errorf("%s: spans spell %q, text is %q", what, got, text)
	}
	marked := false
	for _, s := range spans {
		marked = marked || s.LineBreak || len(s.Marks) > 0
		for _, m := range s.Marks {
			if m.GetKind() == pb.MarkKind_MARK_KIND_LINK && !(strings.HasPrefix(m.GetHref(), "http://") || strings.HasPrefix(m.GetHref(), "https://") || strings.HasPrefix(m.GetHref(), "mailto:")) {
				t.Errorf("%s: link to %q", what, m.GetHref())
			}
		}
	}
	if !marked {
		t.Errorf("%s: spans with no mark", what)
	}
}

func checkBlockSpans(t *testing.T, b *pb.Block) {
	t.Helper()
	switch k := b.GetKind().(type) {
	case *pb.Block_Paragraph:
		checkSpans(t, "paragraph", k.Paragraph.Text, k.Paragraph.Spans)
	case *pb.Block_Heading:
		checkSpans(t, "heading", k.Heading.Text, k.Heading.Spans)
		if k.Heading.Level < 2 || k.Heading.Level > 4 {
			t.Errorf("heading %q at level %d", k.Heading.Text, k.Heading.Level)
		}
	case *pb.Block_Quote:
		checkSpans(t, "quote", k.Quote.Text, k.Quote.Spans)
	case *pb.Block_Image:
		checkSpans(t, "caption", k.Image.Caption, k.Image.CaptionSpans)
	case *pb.Block_List:
		var items func(l *pb.List)
		items = func(l *pb.List) {
			for _, it := range l.Items {
				checkSpans(t, "list item", it.Text, it.Spans)
				if it.Text == "" && len(it.Lists) == 0 {
					t.Error("an empty list item")
				}
				for _, sub := range it.Lists {
					items(sub)
				}
			}
		}
		items(k.List)
	case *pb.Block_Table:
		for _, row := range append(append([]*pb.TableRow{}, k.Table.Header...), k.Table.Rows...) {
			for _, c := range row.Cells {
				checkSpans(t, "table cell", c.Text, c.Spans)
			}
		}
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
