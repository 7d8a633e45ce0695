package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/pressline/pressline/internal/cleaner"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/pkg/client"
)

// acceptedTypes are the media types the cleaner reads.
var acceptedTypes = map[string]bool{"text/plain": true, "text/html": true, "text/markdown": true, "application/json": true}

// sitesFor is where an article goes: the sites the request names
// (comma-separated), each one of the newsroom's, or all of them.
func sitesFor(r *http.Request, nr *config.Newsroom) ([]string, *problem) {
	v := r.Header.Get(client.HeaderSites)
	if v == "" {
		return nr.Sites, nil
	}
	var out []string
	for _, site := range strings.Split(v, ",") {
		site = strings.TrimSpace(site)
		if !slices.Contains(nr.Sites, site) {
			return nil, &problem{Status: http.StatusForbidden, Type: "site-not-allowed", Field: client.HeaderSites,
				Detail: fmt.Sprintf("newsroom %q does not publish to site %q; its sites are %s", nr.Name, site, strings.Join(nr.Sites, ", "))}
		}
		if !slices.Contains(out, site) {
			out = append(out, site)
		}
	}
	return out, nil
}

// embargoOf reads the time an article must not be published before. A
// time in the past is no embargo.
func embargoOf(r *http.Request, a *submission) (time.Time, *problem) {
	v, field := r.Header.Get(client.HeaderEmbargo), client.HeaderEmbargo
	if v == "" && isJSON(a.contentType) {
		var doc struct {
			Embargoed string `json:"embargoed"`
		}
		if json.Unmarshal(a.body, &doc) == nil && doc.Embargoed != "" {
			v, field = doc.Embargoed, "embargoed"
		}
	}
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, &problem{Status: http.StatusBadRequest, Type: "invalid-embargo", Field: field,
			Detail: fmt.Sprintf("%s %q is not an RFC 3339 time; write it like 2026-11-27T06:00:00+07:00", field, v)}
	}
	return t, nil
}

// contentLocation reads where the article came from, for its relative
// links; it must be an absolute http(s) URL.
func contentLocation(r *http.Request) (string, *problem) {
	v := strings.TrimSpace(r.Header.Get(client.HeaderContentLocation))
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 1024 {
		return "", &problem{Status: http.StatusBadRequest, Type: "invalid-content-location", Field: client.HeaderContentLocation, Limit: 1024,
			Detail: fmt.Sprintf("Content-Location %q is not an absolute http(s) URL of at most 1024 characters, like https://news.example/2026/11/story.html", v)}
	}
	return u.String(), nil
}

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// checkArticle checks an article's type, charset and content. field
// names where it came from: "body", or the multipart part "article".
func checkArticle(ct string, body []byte, field string) *problem {
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || !acceptedTypes[mediaType] {
		return &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type", Field: "Content-Type",
			Detail: fmt.Sprintf("Content-Type %q is not accepted for the article; send text/plain, text/html, text/markdown or application/json (IPTC ninjs), alone or as the part named \"article\" of multipart/form-data with image files", ct)}
	}
	charset := strings.ToLower(params["charset"])
	if charset != "" {
		if _, err := htmlindex.Get(charset); err != nil {
			return &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-charset", Field: "Content-Type",
				Detail: fmt.Sprintf("charset %q is not one Pressline can read; use UTF-8, UTF-16, Windows-1258 or Windows-1252", params["charset"])}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &problem{Status: http.StatusUnprocessableEntity, Type: "empty-article", Field: field, Detail: "the article is empty; send its text"}
	}
	if sniffed := mismatch(mediaType, body); sniffed != "" {
		return &problem{Status: http.StatusUnsupportedMediaType, Type: "content-type-mismatch", Field: "Content-Type",
			Detail: fmt.Sprintf("the article is declared %s but its content looks like %s; send it with its real type", mediaType, sniffed)}
	}
	// Text and JSON said to be UTF-8 (or saying nothing) must be; an HTML
	// page may declare its charset inside, which the cleaner reads.
	if (charset == "" || charset == "utf-8") && mediaType != "text/html" && !utf8.Valid(body) {
		return &problem{Status: http.StatusUnprocessableEntity, Type: "invalid-utf8", Field: field,
			Detail: fmt.Sprintf("the article is not valid UTF-8 (first bad byte at offset %d); declare its charset or convert it", cleaner.FirstInvalidUTF8(body))}
	}
	if mediaType == "application/json" {
		return checkNinjs(body, field)
	}
	return nil
}

// mismatch returns what the content looks like when that is surely not
// the declared type: a picture, a PDF, an archive or a recording sent as
// an article, or an HTML page declared as plain text. A generic "binary"
// verdict is not used, as UTF-16 text without a BOM looks binary and the
// cleaner reads it.
func mismatch(declared string, body []byte) string {
	sniffed, _, _ := strings.Cut(http.DetectContentType(body), ";")
	switch {
	case strings.HasPrefix(sniffed, "image/"), strings.HasPrefix(sniffed, "audio/"), strings.HasPrefix(sniffed, "video/"),
		strings.HasPrefix(sniffed, "font/"), sniffed == "application/pdf", sniffed == "application/zip",
		sniffed == "application/x-gzip", sniffed == "application/x-rar-compressed", sniffed == "application/wasm",
		sniffed == "application/postscript", sniffed == "application/vnd.ms-fontobject":
		return sniffed
	case declared == "text/plain" && sniffed == "text/html":
		return sniffed
	}
	return ""
}

// checkNinjs refuses JSON that is not a ninjs article here, with the
// reason, rather than letting the clean stage fail on it later.
func checkNinjs(body []byte, field string) *problem {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		if json.Valid(body) {
			return &problem{Status: http.StatusUnprocessableEntity, Type: "invalid-ninjs", Field: field,
				Detail: "the JSON is not an object; send an IPTC ninjs document"}
		}
		return &problem{Status: http.StatusUnprocessableEntity, Type: "invalid-json", Field: field,
			Detail: "the article is not valid JSON (" + err.Error() + "); send an IPTC ninjs document"}
	}
	for _, k := range []string{"headline", "headlines", "body_html", "body_text", "bodies"} {
		if v, ok := doc[k]; ok && string(v) != "null" && string(v) != `""` && string(v) != "[]" {
			return nil
		}
	}
	return &problem{Status: http.StatusUnprocessableEntity, Type: "ninjs-missing-fields", Field: "headline",
		Detail: "the ninjs document has neither a headline (headline, headlines) nor a body (body_html, body_text, bodies)"}
}
