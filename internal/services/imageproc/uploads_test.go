package imageproc

import (
	"strings"
	"testing"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func TestPlaceUploads(t *testing.T) {
	img := func(src string) *pb.Block { return &pb.Block{Kind: &pb.Block_Image{Image: &pb.Image{Src: src}}} }
	para := &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: "x"}}}
	up := func(names ...string) []*pb.Upload {
		var out []*pb.Upload
		for _, n := range names {
			out = append(out, &pb.Upload{Name: n, Key: "k/" + n})
		}
		return out
	}
	tests := []struct {
		name    string
		blocks  []*pb.Block
		uploads []*pb.Upload
		want    string // srcs of image blocks in order, "p" for a paragraph
	}{
		{"no uploads", []*pb.Block{para, img("")}, nil, "p |"},
		{"named by file name", []*pb.Block{para, img("IMG_1.JPG")}, up("img_1.jpg"), "p upload:k/img_1.jpg"},
		{"named by path in HTML", []*pb.Block{img("/uploads/2023/a.png")}, up("a.png"), "upload:k/a.png"},
		{"placeholder takes next unnamed", []*pb.Block{img(""), para, img("b.jpg"), img("")}, up("a.jpg", "b.jpg", "c.jpg"),
			"upload:k/a.jpg p upload:k/b.jpg upload:k/c.jpg"},
		{"leftovers lead", []*pb.Block{para}, up("a.jpg", "b.jpg"), "upload:k/a.jpg upload:k/b.jpg p"},
		{"unmatched URL stays", []*pb.Block{img("https://x/y.jpg")}, up("a.jpg"), "upload:k/a.jpg https://x/y.jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, b := range placeUploads(tt.blocks, tt.uploads) {
				if b.GetImage() != nil {
					got = append(got, b.GetImage().GetSrc())
					if b.GetImage().GetSrc() == "" {
						got[len(got)-1] = "|"
					}
				} else {
					got = append(got, "p")
				}
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}
