package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageCommand(t *testing.T) {
	out := t.TempDir()
	var buf bytes.Buffer
	err := cmdImage(context.Background(), []string{"--widths", "320,640", "--formats", "webp,jpeg", "--out", out, "../imaging/testdata/iptc.jpg"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Metadata   struct{ Credit string }
		Renditions []struct {
			Width  int
			Format string
			Bytes  int
			Path   string
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &report); err != nil {
		t.Fatal(err)
	}
	if len(report.Renditions) != 4 || report.Metadata.Credit != "Báo Hà Nội Mới" {
		t.Fatalf("report: %s", buf.String())
	}
	for _, r := range report.Renditions {
		info, err := os.Stat(r.Path)
		if err != nil || int(info.Size()) != r.Bytes || filepath.Dir(r.Path) != out {
			t.Errorf("rendition %+v on disk: %v", r, err)
		}
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", out, "../imaging/testdata/bomb.png"}, "50000 × 50000 pixels is over the limit"},
		{[]string{"--out", out, "../imaging/testdata/truncated.jpg"}, "image refused"},
		{[]string{"--widths", "320,big", "--out", out, "x.jpg"}, `"big" is not a number`},
		{[]string{"--formats", "gif", "--out", out, "x.jpg"}, `format "gif"`},
		{[]string{"x.jpg"}, "usage: pressline image"},
	} {
		err := cmdImage(context.Background(), tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
