package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanCommand(t *testing.T) {
	dir := t.TempDir()
	article := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(article, []byte("13:03 | 23/01/2018\n\nTiêu đề bài viết\n\nNội dung bài viết.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	london := filepath.Join(dir, "london.json")
	os.WriteFile(london, []byte(`{"timezone": "Europe/London"}`), 0o644)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"timezone": "Europe/London", "colour": "red"}`), 0o644)

	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    string // in the output, or in the error
		wantErr bool
	}{
		{"default zone", []string{article}, "", `"published_at": "2018-01-23T13:03:00+07:00"`, false},
		{"house rules zone", []string{"--house-rules", london, article}, "", `"published_at": "2018-01-23T13:03:00Z"`, false},
		{"explicit tz wins", []string{"--house-rules", london, "--tz", "Asia/Tokyo", article}, "", `+09:00"`, false},
		{"stdin", []string{"--format", "text", "-"}, "Tin từ stdin\n\nMột đoạn.\n", `"title": "Tin từ stdin"`, false},
		{"bad format", []string{"--format", "pdf", article}, "", `format "pdf" is not one of`, true},
		{"unknown house rule", []string{"--house-rules", unknown, article}, "", `unknown field "colour"`, true},
		{"bad zone", []string{"--tz", "Mars/Base", article}, "", "timezone", true},
		{"no file", []string{}, "", "usage: pressline clean", true},
		{"not utf-8", []string{"--format", "text", "-"}, "Ti\xean t\xf4i", "declare its charset", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := cmdClean(context.Background(), tt.args, strings.NewReader(tt.stdin), &out)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one saying %q", err, tt.want)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("err %v, output lacks %q:\n%s", err, tt.want, out.String())
			}
		})
	}
}
