package ingest

import (
	"bytes"
	"html"
	"mime"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"
)

// FuzzRequestParsers feeds arbitrary bodies and Content-Types to the
// parsers of a submission: each answer is either a checked submission
// within the limits or a precise problem, never a panic.
func FuzzRequestParsers(f *testing.F) {
	if sample, err := os.ReadFile("../../../shared/samples/quoc-oai.txt"); err == nil {
		f.Add("text/plain; charset=utf-8", sample)
	}
	f.Add("text/html", []byte("<h1>Tin</h1><p>Đoạn.</p>"))
	f.Add("application/json", []byte(`{"headline": "Tin", "body_html": "<p>x</p>"}`))
	f.Add("text/plain; charset=windows-1258", []byte("Ti\xean t\xf4i"))
	ct, body := multipartRequest(f, []byte("Tin\n\nIMG_1.jpg\nChú thích\n"), "text/plain", map[string][]byte{"IMG_1.jpg": jpegBytes}, nil)
	f.Add(ct, body)
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"article\"\r\n\r\nTin\r\n--x--\r\n"))
	s := &Service{cfg: Config{MaxBodyBytes: 4096, MaxRequestBytes: 16384, MaxImages: 2, MaxImageBytes: 2048}}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/v1/articles", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		var sub *submission
		var p *problem
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/form-data") {
			_, params, _ := mime.ParseMediaType(contentType)
			sub, p = s.readMultipart(w, r, params["boundary"])
		} else {
			sub, p = s.readSingle(w, r, contentType)
		}
		switch {
		case p != nil:
			if p.Status < 400 || p.Status > 499 || p.Type == "" || p.Detail == "" {
				t.Fatalf("imprecise problem %+v", p)
			}
		case sub == nil:
			t.Fatal("neither a submission nor a problem")
		default:
			if len(bytes.TrimSpace(sub.body)) == 0 || int64(len(sub.body)) > s.cfg.MaxBodyBytes || len(sub.files) > s.cfg.MaxImages {
				t.Fatalf("a submission past the checks: %d bytes, %d files", len(sub.body), len(sub.files))
			}
			for _, file := range sub.files {
				if file.size > s.cfg.MaxImageBytes || strings.ContainsAny(file.name, "/\\\x00") {
					t.Fatalf("file %q of %d bytes past the checks", file.name, file.size)
				}
			}
			sub.close()
		}
	})
}

// FuzzFeedItems feeds arbitrary documents to the feed parser and each
// item to the page the cleaner reads: no panic, and the page keeps the
// item's title as text, never as markup.
func FuzzFeedItems(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Tin &lt;b&gt;</title><guid>1</guid><description>&lt;p&gt;Đoạn.&lt;/p&gt;</description><pubDate>Mon, 02 Jan 2006 15:04:05 +0700</pubDate></item></channel></rss>`))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>A</title><id>x</id><author><name>B</name></author><content type="html">&lt;p&gt;c&lt;/p&gt;</content></entry></feed>`))
	f.Add([]byte(`{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", "title": "<script>", "content_html": "<p>x</p>"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		feed, err := gofeed.NewParser().Parse(bytes.NewReader(doc))
		if err != nil {
			return
		}
		for _, item := range feed.Items {
			if item == nil {
				continue
			}
			page := itemHTML(item)
			if item.Title != "" && !strings.Contains(page, "<h1>"+html.EscapeString(item.Title)+"</h1>") {
				t.Fatalf("title %q not escaped in %q", item.Title, page)
			}
		}
	})
}
