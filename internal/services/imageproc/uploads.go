package imageproc

import (
	"path"
	"strings"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// uploadScheme marks an image source that is a file sent with the
// article; what follows is its S3 key.
const uploadScheme = "upload:"

// placeUploads matches the files sent with an article to its image
// blocks: a block whose src names a file (as "IMG_1234.jpg" in a text
// export, or <img src="photo.jpg"> in HTML) gets that file; a placeholder
// with no file at all (a draft marker, "Ảnh minh họa") gets the next file
// nobody named, in the order they were sent; files left over are put at
// the top of the body, in order, as a newsroom's lead photo would be.
func placeUploads(blocks []*pb.Block, uploads []*pb.Upload) []*pb.Block {
	if len(uploads) == 0 {
		return blocks
	}
	byName := map[string]*pb.Upload{}
	for _, u := range uploads {
		byName[strings.ToLower(u.GetName())] = u
	}
	used := map[*pb.Upload]bool{}
	for _, b := range blocks {
		img := b.GetImage()
		if img == nil || img.GetSrc() == "" {
			continue
		}
		if u, ok := byName[strings.ToLower(path.Base(img.GetSrc()))]; ok && !used[u] {
			img.Src, used[u] = uploadScheme+u.GetKey(), true
		}
	}
	next := func() *pb.Upload {
		for _, u := range uploads {
			if !used[u] {
				used[u] = true
				return u
			}
		}
		return nil
	}
	for _, b := range blocks {
		if img := b.GetImage(); img != nil && img.GetSrc() == "" {
			if u := next(); u != nil {
				img.Src = uploadScheme + u.GetKey()
			}
		}
	}
	var lead []*pb.Block
	for u := next(); u != nil; u = next() {
		lead = append(lead, &pb.Block{Kind: &pb.Block_Image{Image: &pb.Image{Src: uploadScheme + u.GetKey()}}})
	}
	return append(lead, blocks...)
}
