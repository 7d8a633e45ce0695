package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// TestHostileRequests is the table of attacks on the API a newsroom (or
// anyone) can send, each with the precise answer it must get: never a
// 5xx, which would both raise operators' alerts at will and tell the
// sender to try again for ever.
func TestHostileRequests(t *testing.T) {
	f := newFixture(t, nil)
	bearer := "Bearer " + token
	longName := multipartWith(t, strings.Repeat("ảnh", 100)+".jpg")
	tests := []struct {
		name, method, path string
		header             []string
		body               []byte
		code               int
		problem            string
	}{
		{"wildcard id", "GET", "/v1/articles/*", nil, nil, 400, "invalid-id"},
		{"NATS wildcard id", "GET", "/v1/articles/%3E", nil, nil, 400, "invalid-id"},
		{"NUL id", "GET", "/v1/articles/%00", nil, nil, 400, "invalid-id"},
		{"path tricks in the id", "GET", "/v1/articles/..%2F..%2Fx", nil, nil, 400, "invalid-id"},
		{"a long id", "DELETE", "/v1/articles/" + strings.Repeat("A", 5000), nil, nil, 400, "invalid-id"},
		{"a well-formed id of nothing", "GET", "/v1/articles/01KBZZZZZZZZZZZZZZZZZZZZZZ", nil, nil, 404, "article-not-found"},
		{"a method the path does not take", "PUT", "/v1/articles", nil, nil, 405, "method-not-allowed"},
		{"no such endpoint", "GET", "/v2/everything", nil, nil, 404, "no-such-endpoint"},
		{"the scheme in lower case", "GET", "/v1/articles", []string{"Authorization", "bearer " + token}, nil, 200, ""},
		{"gzip the API does not decode", "POST", "/v1/articles", []string{"Content-Encoding", "gzip", "Content-Type", "text/plain"}, []byte("\x1f\x8b\x08\x00"), 415, "unsupported-content-encoding"},
		{"an unknown encoding", "POST", "/v1/articles", []string{"Content-Encoding", "x-rot13", "Content-Type", "text/plain"}, []byte("Gva"), 415, "unsupported-content-encoding"},
		{"a 300-byte upload name", "POST", "/v1/articles", []string{"Content-Type", longName.ctype}, longName.body, 400, "file-name-too-long"},
		{"a declared length over the limit", "POST", "/v1/articles", []string{"Content-Type", "text/plain"}, bytes.Repeat([]byte("a"), 5000), 413, "body-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, f.srv.URL+tt.path, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", bearer)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct{ Type, Detail string }
			data, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(data, &p)
			if resp.StatusCode != tt.code {
				t.Fatalf("%d %s; want %d", resp.StatusCode, data, tt.code)
			}
			if tt.problem == "" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if p.Type != "urn:pressline:problem:"+tt.problem || p.Detail == "" {
				t.Errorf("problem %q (%q); want %s with a detail", p.Type, p.Detail, tt.problem)
			}
		})
	}
}

type multipartBody struct {
	ctype string
	body  []byte
}

func multipartWith(t *testing.T, fileName string) multipartBody {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.WriteField("article", "Tin\n\nĐoạn."); err != nil {
		t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="photo"; filename=%q`, fileName))
	h.Set("Content-Type", "image/jpeg")
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write([]byte("\xff\xd8\xff\xe0"))
	w.Close()
	return multipartBody{ctype: w.FormDataContentType(), body: b.Bytes()}
}

// A sender that sends a whole body far over the limit before it reads
// anything (as most clients do) reads the 413, not a reset connection.
func TestOversizedBodyAnswerIsReadable(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"declared length", "Content-Length: %d\r\n"},
		{"chunked", "Transfer-Encoding: chunked\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			body := bytes.Repeat([]byte("Tin dài quá. "), 400_000) // 5.6 MB, the limit is 1000 bytes
			header := "Content-Length: " + fmt.Sprint(len(body)) + "\r\n"
			if tc.header == "Transfer-Encoding: chunked\r\n" {
				header = tc.header
				body = append(fmt.Appendf(nil, "%x\r\n", len(body)), append(body, "\r\n0\r\n\r\n"...)...)
			}
			req := "POST /v1/articles HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Type: text/plain\r\n" + header + "\r\n"
			if _, err := conn.Write(append([]byte(req), body...)); err != nil {
				t.Fatalf("sending the body: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			defer resp.Body.Close()
			var p struct {
				Type  string
				Limit int64
			}
			_ = json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || p.Type != "urn:pressline:problem:body-too-large" || p.Limit != 1000 {
				t.Errorf("%s, %+v; want 413 body-too-large with the limit", resp.Status, p)
			}
		})
	}
}

// A multipart request of the largest size the default limits let in,
// in large photos, is spooled to disk as it arrives and streamed to S3
// from there: the heap does not grow with the request (it held every
// image, and copied it again), so one such request cannot take ingest
// near its 512 MiB container limit.
func TestMultipartIsNotHeldInMemory(t *testing.T) {
	f := newFixture(t, nil)
	d := config.Default()
	// As many photos as fit in the request, each under the image limit.
	images := int(d.MaxRequestBytes / d.MaxImageBytes)
	size := int(d.MaxRequestBytes-(1<<20)) / images
	if size >= int(d.MaxImageBytes) || images > d.MaxImages {
		t.Fatalf("%d photos of %d bytes do not fit the default limits", images, size)
	}
	f.svc.cfg.MaxRequestBytes, f.svc.cfg.MaxImages, f.svc.cfg.MaxImageBytes, f.svc.cfg.MaxBodyBytes = d.MaxRequestBytes, d.MaxImages, d.MaxImageBytes, d.MaxBodyBytes
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("article", "Tin nhiều ảnh\n\nMột bài viết với tám ảnh lớn.")
	photo := bytes.Repeat([]byte("\xff\xd8\xff\xe0 not really pixels "), size/24)
	for i := range images {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="photo"; filename="anh-%d.jpg"`, i))
		h.Set("Content-Type", "image/jpeg")
		part, _ := w.CreatePart(h)
		_, _ = part.Write(photo)
	}
	w.Close()
	body := b.Bytes()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/articles", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s", resp.Status)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("a %d MiB request grew the heap by %d MiB at most", len(body)>>20, grew>>20)
	// The request body itself lives in this test's memory; the server's
	// share must be far below the request's size.
	if grew > int64(len(body))/2 {
		t.Errorf("the heap grew by %d MiB for a %d MiB request", grew>>20, len(body)>>20)
	}
}

// A withdrawal of an article that was accepted (its original is in S3)
// but whose status is not written yet (its event waits for the
// reconciler) is answered 503 not-yet-recorded with Retry-After, not
// 404: the article exists, and "not found" would tell the newsroom there
// is nothing to take down. Another newsroom's such article is not found.
func TestWithdrawBeforeTheStatusIsRecorded(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		newsroom string
		code     int
		problem  string
	}{
		{"quocoai", 503, "not-yet-recorded"},
		{"another", 404, "article-not-found"},
	} {
		id := ulid.Make().String()
		meta, err := refMetadata(&pb.ArticleRef{Id: id, Version: 1, Newsroom: tc.newsroom, Sites: []string{"front"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.blobs.PutWithMetadata(ctx, layout.Original(id, 1), []byte("Tin\n\nĐoạn."), "text/plain", meta); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("DELETE", f.srv.URL+"/v1/articles/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Type string }
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != tc.code || p.Type != "urn:pressline:problem:"+tc.problem {
			t.Errorf("%s's article: %d %s; want %d %s", tc.newsroom, resp.StatusCode, p.Type, tc.code, tc.problem)
		}
		if tc.code == 503 && resp.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q, want 2", resp.Header.Get("Retry-After"))
		}
	}
}
