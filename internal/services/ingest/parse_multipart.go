package ingest

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
)

// readMultipart reads an article part named "article" and image files.
// Limits are checked while reading, so an oversized upload is refused
// before it is held in memory.
func (s *Service) readMultipart(w http.ResponseWriter, r *http.Request, boundary string) (sub *submission, p *problem) {
	if boundary == "" {
		return nil, &problem{Status: http.StatusBadRequest, Type: "malformed-multipart", Field: "Content-Type",
			Detail: "multipart/form-data needs a boundary parameter"}
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), boundary)
	spooled := &submission{}
	sub = spooled
	defer func() {
		if p != nil { // a refused request leaves no spooled file behind
			spooled.close()
			sub = nil
		}
	}()
	seen := map[string]bool{}
	gotArticle := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if p := readProblem(err, s.cfg.MaxRequestBytes, ""); p != nil && p.Type == "body-too-large" {
				return nil, p
			}
			return nil, &problem{Status: http.StatusBadRequest, Type: "malformed-multipart",
				Detail: "the multipart body is malformed or truncated: " + err.Error()}
		}
		switch {
		case part.FormName() == "article":
			// The article, as a field or as a file: browsers send a Blob
			// with a file name ("blob"), forms an uploaded file with its own.
			if gotArticle {
				return nil, &problem{Status: http.StatusUnprocessableEntity, Type: "duplicate-article", Field: "article",
					Detail: "the request has two parts named \"article\"; send one article per request"}
			}
			gotArticle = true
			body, p := readPart(part, s.cfg.MaxBodyBytes, "article")
			if p != nil {
				return nil, p
			}
			ct := part.Header.Get("Content-Type")
			if ct == "" {
				ct = "text/plain; charset=utf-8" // a form field without a type is text
			}
			if p := checkArticle(ct, body, "article"); p != nil {
				return nil, p
			}
			sub.body, sub.contentType = body, ct
		case part.FileName() != "":
			name := cleanName(part.FileName())
			if len(name) > maxFileName {
				return nil, &problem{Status: http.StatusBadRequest, Type: "file-name-too-long", Field: clip(name, 64), Limit: maxFileName,
					Detail: fmt.Sprintf("the file name is %d bytes long; a name (it becomes part of a storage key, whose parts hold 255 bytes) may have at most %d: rename the file", len(name), maxFileName)}
			}
			if len(sub.files) >= s.cfg.MaxImages {
				return nil, &problem{Status: http.StatusRequestEntityTooLarge, Type: "too-many-images", Field: name, Limit: int64(s.cfg.MaxImages),
					Detail: fmt.Sprintf("an article may carry at most %d images; send fewer or ask an operator to raise --max-images", s.cfg.MaxImages)}
			}
			if seen[strings.ToLower(name)] {
				return nil, &problem{Status: http.StatusUnprocessableEntity, Type: "duplicate-file-name", Field: name,
					Detail: fmt.Sprintf("two files are named %q; image blocks refer to files by name, so names must differ", name)}
			}
			seen[strings.ToLower(name)] = true
			f, head, p := spoolPart(part, s.cfg.MaxImageBytes, name)
			if f.spool != nil {
				sub.files = append(sub.files, f) // removed by close, refused or not
			}
			if p != nil && p.Type == "body-too-large" {
				p.Type, p.Detail = "image-too-large", fmt.Sprintf("the file %q is larger than the limit of %d bytes per image", name, s.cfg.MaxImageBytes)
			}
			if p != nil {
				return nil, p
			}
			ct, ok := imageType(name, head)
			if !ok {
				return nil, &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-image-type", Field: name,
					Detail: fmt.Sprintf("the file %q is not a JPEG, PNG, GIF, WebP, TIFF, HEIF or AVIF image", name)}
			}
			sub.files[len(sub.files)-1].contentType = ct
		default:
			return nil, &problem{Status: http.StatusUnprocessableEntity, Type: "unknown-part", Field: part.FormName(),
				Detail: fmt.Sprintf("the part %q is not known; send one part named \"article\" and image files", part.FormName())}
		}
	}
	if !gotArticle {
		return nil, &problem{Status: http.StatusUnprocessableEntity, Type: "missing-article", Field: "article",
			Detail: "the multipart request has no part named \"article\" with the article's text, HTML or ninjs"}
	}
	return sub, nil
}

// spoolPart writes at most limit bytes of a part to a temporary file,
// and returns it with its first 512 bytes (what sniffing reads).
func spoolPart(part *multipart.Part, limit int64, field string) (file, []byte, *problem) {
	tmp, err := os.CreateTemp("", "pressline-upload-*")
	if err != nil {
		return file{}, nil, &problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Field: field,
			Detail: "the upload could not be spooled; send it again in a few seconds"}
	}
	f := file{name: field, spool: tmp}
	n, err := io.Copy(tmp, io.LimitReader(part, limit+1))
	f.size = n
	if err != nil {
		return f, nil, &problem{Status: http.StatusBadRequest, Type: "malformed-multipart", Field: field,
			Detail: "the part could not be read: " + err.Error()}
	}
	if n > limit {
		return f, nil, &problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Field: field, Limit: limit,
			Detail: fmt.Sprintf("the part %q is larger than the limit of %d bytes", field, limit)}
	}
	head := make([]byte, min(n, 512))
	if _, err := tmp.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return f, nil, &problem{Status: http.StatusServiceUnavailable, Type: "unavailable", Field: field,
			Detail: "the upload could not be read back; send it again in a few seconds"}
	}
	return f, head, nil
}

// readPart reads at most limit bytes of a part.
func readPart(part *multipart.Part, limit int64, field string) ([]byte, *problem) {
	data, err := io.ReadAll(io.LimitReader(part, limit+1))
	if err != nil {
		return nil, &problem{Status: http.StatusBadRequest, Type: "malformed-multipart", Field: field,
			Detail: "the part could not be read: " + err.Error()}
	}
	if int64(len(data)) > limit {
		return nil, &problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Field: field, Limit: limit,
			Detail: fmt.Sprintf("the part %q is larger than the limit of %d bytes", field, limit)}
	}
	return data, nil
}

// maxFileName leaves room in a 255-byte key segment for what the
// layout adds around an upload's name.
const maxFileName = 200

var reUnsafeName = regexp.MustCompile(`[^\p{L}\p{N}._() -]+`)

// cleanName keeps a file name usable as an S3 key and as a reference
// from image blocks: no directories, no control or path characters.
func cleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.TrimSpace(reUnsafeName.ReplaceAllString(name, "_"))
	if name == "" || name == "." || name == ".." {
		return "image"
	}
	return name
}

// imageType sniffs a file's type; formats the standard library does not
// sniff are known by their extension, and libvips checks them later.
func imageType(name string, data []byte) (string, bool) {
	if ct := http.DetectContentType(data); strings.HasPrefix(ct, "image/") && ct != "image/svg+xml" {
		return ct, true
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".heic", ".heif":
		return "image/heif", true
	case ".tif", ".tiff":
		return "image/tiff", true
	case ".avif":
		return "image/avif", true
	}
	return "", false
}
