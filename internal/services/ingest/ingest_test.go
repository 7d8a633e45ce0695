package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/blob"
	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/refs"
	"github.com/pressline/pressline/internal/safefetch"
	"github.com/pressline/pressline/internal/status"
	"github.com/pressline/pressline/internal/testenv"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/client"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

const (
	token         = "newsroom-token-0123456789"
	operatorToken = "operator-token-0123456789"
)

type fixture struct {
	svc      *Service
	srv      *httptest.Server
	blobs    *blob.Store
	status   *status.Store
	articles *status.Index
	js       jetstream.JetStream
	hooks    *webhooks.Store
	hookLog  *webhooks.Log
	bus      *bus.Bus
}

func newFixture(t *testing.T, blobs blobStore) *fixture {
	t.Helper()
	_, nc := testenv.NATS(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := bus.New(context.Background(), nc, bus.DefaultConfig(), log, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := status.Open(context.Background(), b.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := refs.Open(context.Background(), b.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.Open(context.Background(), b.JetStream(), 1)
	if err != nil {
		t.Fatal(err)
	}
	hookLog, err := webhooks.OpenLog(context.Background(), b.JetStream(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{status: st, articles: st.NewIndex(), js: b.JetStream(), hooks: hooks, hookLog: hookLog, bus: b}
	ictx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() { _ = f.articles.Run(ictx) }()
	if blobs == nil {
		f.blobs, err = blob.New(context.Background(), testenv.MinIO(t))
		if err != nil {
			t.Fatal(err)
		}
		blobs = f.blobs
	}
	svc, err := New(Config{Bus: b, Blobs: blobs, Status: st, Articles: f.articles, Refs: rs, InlineLimit: 64, MaxBodyBytes: 1000, Log: log,
		MaxRequestBytes: 100_000, MaxImages: 3, MaxImageBytes: 2000,
		Webhooks: hooks, WebhookLog: hookLog, SiteEvents: b, DeadLetters: b, Operators: []config.Operator{{TokenHash: config.HashToken(operatorToken)}},
		Newsrooms: []config.Newsroom{{Name: "quocoai", TokenHash: config.HashToken(token), Sites: []string{"front"}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// call sends a JSON request with a bearer token (none when auth is
// empty) and reads the whole answer.
func (f *fixture) call(t *testing.T, method, path, auth, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func (f *fixture) post(t *testing.T, auth, contentType string, body []byte, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/articles", bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, nil)
	bearer := "Bearer " + token
	tests := []struct {
		name        string
		auth, ctype string
		body        []byte
		code        int
		problem     string
		field       string
	}{
		{"no token", "", "text/plain", []byte("Tin"), 401, "unauthenticated", "Authorization"},
		{"not bearer", "Basic abc", "text/plain", []byte("Tin"), 401, "unauthenticated", "Authorization"},
		{"unknown token", "Bearer nope-nope-nope-nope", "text/plain", []byte("Tin"), 401, "invalid-token", "Authorization"},
		{"no content type", bearer, "", []byte("Tin"), 415, "unsupported-media-type", "Content-Type"},
		{"pdf", bearer, "application/pdf", []byte("%PDF-1.4"), 415, "unsupported-media-type", "Content-Type"},
		{"unknown charset", bearer, "text/plain; charset=x-klingon", []byte("Tin"), 415, "unsupported-charset", "Content-Type"},
		{"invalid json", bearer, "application/json", []byte(`{"headline": "Tin"`), 422, "invalid-json", "body"},
		{"too large", bearer, "text/plain", bytes.Repeat([]byte("a"), 1001), 413, "body-too-large", ""},
		{"empty", bearer, "text/plain", nil, 422, "empty-article", "body"},
		{"blank", bearer, "text/plain; charset=utf-8", []byte(" \n\t\r\n"), 422, "empty-article", "body"},
		{"not utf-8", bearer, "text/plain", []byte("Ti\xean t\xf4i"), 422, "invalid-utf8", "body"},
		{"binary junk", bearer, "text/plain", []byte("\x00\x01\x02\xff\xfe\x89PNG"), 422, "invalid-utf8", "body"},
		{"a PNG declared as text", bearer, "text/plain", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 415, "content-type-mismatch", "Content-Type"},
		{"a PDF declared as HTML", bearer, "text/html", []byte("%PDF-1.7\n1 0 obj"), 415, "content-type-mismatch", "Content-Type"},
		{"an HTML page declared as text", bearer, "text/plain", []byte("<!DOCTYPE html><html><body><p>Tin</p></body></html>"), 415, "content-type-mismatch", "Content-Type"},
		{"json array", bearer, "application/json", []byte(`[1, 2]`), 422, "invalid-ninjs", "body"},
		{"ninjs without headline or body", bearer, "application/json", []byte(`{"uri": "x", "headline": "", "bodies": []}`), 422, "ninjs-missing-fields", "headline"},
		{"html with a charset we cannot read", bearer, "text/html; charset=ebcdic", []byte("<p>x</p>"), 415, "unsupported-charset", "Content-Type"},
		{"malformed content type", bearer, "text/plain; charset=", []byte("Tin"), 415, "unsupported-media-type", "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, p := f.post(t, tt.auth, tt.ctype, tt.body)
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if p["type"] != "urn:pressline:problem:"+tt.problem || p["status"] != float64(tt.code) || p["detail"] == "" {
				t.Errorf("problem = %v", p)
			}
			if tt.field != "" && p["field"] != tt.field {
				t.Errorf("field = %v, want %s", p["field"], tt.field)
			}
		})
	}
	t.Run("limit is named", func(t *testing.T) {
		_, p := f.post(t, bearer, "text/plain", bytes.Repeat([]byte("a"), 1001))
		if p["limit"] != float64(1000) || !strings.Contains(p["detail"].(string), "1000 bytes") {
			t.Errorf("problem = %v", p)
		}
	})
	t.Run("nothing was emitted", func(t *testing.T) {
		s, err := f.js.Stream(context.Background(), layout.StreamArticles)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := s.Info(context.Background())
		if info.State.Msgs != 0 {
			t.Errorf("%d events emitted for refused requests", info.State.Msgs)
		}
	})
}

func TestAccepted(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for _, body := range [][]byte{[]byte("Tin ngắn\n\nMở đầu.\n"), bytes.Repeat([]byte("Dài. "), 100)} {
		resp, acc := f.post(t, "Bearer "+token, "text/plain; charset=utf-8", body)
		if resp.StatusCode != 202 {
			t.Fatalf("status %d: %v", resp.StatusCode, acc)
		}
		id := acc["id"].(string)
		if resp.Header.Get("Location") != "/v1/articles/"+id || acc["version"] != float64(1) {
			t.Errorf("202 = %v, Location %q", acc, resp.Header.Get("Location"))
		}
		original, err := f.blobs.Get(ctx, "originals/"+id+"/v1/article")
		if err != nil || !bytes.Equal(original, body) {
			t.Fatalf("original: %v", err)
		}
		s, _ := f.js.Stream(ctx, layout.StreamArticles)
		msg, err := s.GetLastMsgForSubject(ctx, layout.SubjectReceived)
		if err != nil {
			t.Fatal(err)
		}
		var ev pb.ArticleReceived
		if err := proto.Unmarshal(msg.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Article.GetId() != id || ev.Article.GetNewsroom() != "quocoai" || ev.Original.GetSize() != int64(len(body)) {
			t.Errorf("event = %v", &ev)
		}
		// Small originals ride inline; larger ones go by their S3 key.
		if len(body) <= 64 && !bytes.Equal(ev.Original.GetInline(), body) {
			t.Error("small original not inline")
		}
		if len(body) > 64 && ev.Original.GetBlobKey() != "originals/"+id+"/v1/article" {
			t.Errorf("large original claim = %q", ev.Original.GetBlobKey())
		}
		if msg.Header.Get("Nats-Msg-Id") != id+"/1/received" {
			t.Errorf("Nats-Msg-Id = %q", msg.Header.Get("Nats-Msg-Id"))
		}
		st, err := f.status.Get(ctx, id)
		if err != nil || st.State != status.Received {
			t.Errorf("status = %v, %v", st, err)
		}
	}
}

type failingStore struct{}

func (failingStore) Put(context.Context, string, []byte, string) error {
	return errors.New("connection refused")
}
func (failingStore) Get(context.Context, string) ([]byte, error) { return nil, errors.New("down") }
func (failingStore) PutReader(context.Context, string, io.Reader, int64, string) error {
	return errors.New("connection refused")
}

// When S3 cannot take the original, the newsroom is told to retry and the
// pipeline sees nothing.
func TestStorageDownIs503(t *testing.T) {
	f := newFixture(t, failingStore{})
	resp, p := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nBài.\n"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || p["type"] != "urn:pressline:problem:unavailable" {
		t.Fatalf("status %d Retry-After %q problem %v", resp.StatusCode, resp.Header.Get("Retry-After"), p)
	}
	s, _ := f.js.Stream(context.Background(), layout.StreamArticles)
	if info, _ := s.Info(context.Background()); info.State.Msgs != 0 {
		t.Error("an event was emitted for an article that was not stored")
	}
}

// multipartRequest builds a multipart body: an article part (unless
// article is nil) and files.
func multipartRequest(t testing.TB, article []byte, articleType string, files map[string][]byte, extra map[string]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if article != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="article"`)
		h.Set("Content-Type", articleType)
		pw, _ := mw.CreatePart(h)
		pw.Write(article)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fw, _ := mw.CreateFormFile("image", n)
		fw.Write(files[n])
	}
	for k, v := range extra {
		mw.WriteField(k, v)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

var jpegBytes = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00 rest of a jpeg")

func TestMultipart(t *testing.T) {
	f := newFixture(t, nil)
	bearer := "Bearer " + token
	article := []byte("Tin có ảnh\n\nIMG_1.jpg\nChú thích ảnh\n\nĐoạn văn.\n")

	ct, body := multipartRequest(t, article, "text/plain; charset=utf-8", map[string][]byte{"IMG_1.jpg": jpegBytes, "b.png": []byte("\x89PNG\r\n\x1a\n....")}, nil)
	resp, acc := f.post(t, bearer, ct, body)
	if resp.StatusCode != 202 {
		t.Fatalf("status %d: %v", resp.StatusCode, acc)
	}
	id := acc["id"].(string)
	s, _ := f.js.Stream(context.Background(), layout.StreamArticles)
	msg, err := s.GetLastMsgForSubject(context.Background(), layout.SubjectReceived)
	if err != nil {
		t.Fatal(err)
	}
	var ev pb.ArticleReceived
	proto.Unmarshal(msg.Data, &ev)
	if len(ev.Article.GetUploads()) != 2 || ev.Article.Uploads[0].Name != "IMG_1.jpg" || ev.Article.Uploads[0].ContentType != "image/jpeg" {
		t.Fatalf("uploads = %v", ev.Article.GetUploads())
	}
	stored, err := f.blobs.Get(context.Background(), "originals/"+id+"/v1/files/IMG_1.jpg")
	if err != nil || !bytes.Equal(stored, jpegBytes) {
		t.Errorf("file not stored untouched: %v", err)
	}
	if original, _ := f.blobs.Get(context.Background(), "originals/"+id+"/v1/article"); !bytes.Equal(original, article) {
		t.Error("article part not stored untouched")
	}

	// Browsers send a Blob as a file part named "blob": it is still the
	// article.
	var blobBody bytes.Buffer
	mw := multipart.NewWriter(&blobBody)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="article"; filename="blob"`)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	pw, _ := mw.CreatePart(h)
	pw.Write(article)
	mw.Close()
	if resp, acc := f.post(t, bearer, mw.FormDataContentType(), blobBody.Bytes()); resp.StatusCode != 202 {
		t.Errorf("article as a Blob part: %d %v", resp.StatusCode, acc)
	}

	many := map[string][]byte{}
	for i := range 4 {
		many[fmt.Sprintf("p%d.jpg", i)] = jpegBytes
	}
	type badRequest struct {
		name, ct       string
		body           []byte
		code           int
		problem, field string
	}
	var tests []badRequest
	add := func(name string, code int, problem, field string, ct string, body []byte) {
		tests = append(tests, badRequest{name, ct, body, code, problem, field})
	}
	ct, body = multipartRequest(t, nil, "", map[string][]byte{"a.jpg": jpegBytes}, nil)
	add("no article", 422, "missing-article", "article", ct, body)
	ct, body = multipartRequest(t, article, "text/plain", many, nil)
	add("too many images", 413, "too-many-images", "", ct, body)
	ct, body = multipartRequest(t, article, "text/plain", map[string][]byte{"big.jpg": append(jpegBytes, bytes.Repeat([]byte("x"), 3000)...)}, nil)
	add("image too large", 413, "image-too-large", "big.jpg", ct, body)
	ct, body = multipartRequest(t, article, "text/plain", map[string][]byte{"notes.txt": []byte("just text")}, nil)
	add("not an image", 415, "unsupported-image-type", "notes.txt", ct, body)
	ct, body = multipartRequest(t, article, "text/plain", nil, map[string]string{"caption": "x"})
	add("unknown part", 422, "unknown-part", "caption", ct, body)
	ct, body = multipartRequest(t, article, "application/pdf", nil, nil)
	add("article of a wrong type", 415, "unsupported-media-type", "Content-Type", ct, body)
	ct, body = multipartRequest(t, []byte(" "), "text/plain", nil, nil)
	add("empty article part", 422, "empty-article", "article", ct, body)
	ct, body = multipartRequest(t, article, "text/plain", map[string][]byte{"a.jpg": jpegBytes}, nil)
	add("truncated", 400, "malformed-multipart", "", ct, body[:len(body)-40])
	add("no boundary", 400, "malformed-multipart", "Content-Type", "multipart/form-data", body)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, p := f.post(t, bearer, tt.ct, tt.body)
			if resp.StatusCode != tt.code || p["type"] != "urn:pressline:problem:"+tt.problem {
				t.Errorf("%d %v; want %d %s", resp.StatusCode, p, tt.code, tt.problem)
			}
			if tt.field != "" && p["field"] != tt.field {
				t.Errorf("field %v, want %s", p["field"], tt.field)
			}
		})
	}
}

func (failingStore) PutWithMetadata(context.Context, string, []byte, string, map[string]string) error {
	return errors.New("connection refused")
}
func (failingStore) Stat(context.Context, string) (blob.Info, error) {
	return blob.Info{}, errors.New("down")
}
func (failingStore) ListAfter(context.Context, string, string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) { yield(blob.Info{}, errors.New("down")) }
}
func (failingStore) Delete(context.Context, string) error { return errors.New("down") }

// silentBus takes events and sends none, as a NATS that went away
// between the key lookup and the event would.
type silentBus struct{}

func (silentBus) Publish(context.Context, string, string, *pb.ArticleRef, proto.Message) error {
	return errors.New("nats: connection closed")
}

// lostAnswerStore stores the original but reports the write failed, as
// S3 does when its answer is lost on the way back.
type lostAnswerStore struct{ *blob.Store }

func (s lostAnswerStore) PutWithMetadata(ctx context.Context, key string, data []byte, ct string, meta map[string]string) error {
	if err := s.Store.PutWithMetadata(ctx, key, data, ct, meta); err != nil {
		return err
	}
	return errors.New("read tcp: connection reset by peer")
}

// undeletableStore is lostAnswerStore whose deletes fail too: the write
// landed, and taking it back does not.
type undeletableStore struct{ lostAnswerStore }

func (s undeletableStore) Delete(ctx context.Context, key string) error {
	return errors.New("dial tcp: connection refused")
}

// TestAnAnswerMeansWhatItSays: a 503 means the article will not be
// published, and a 202 that it will be. An article whose original is
// durable but whose event failed is accepted, and the reconciler sends
// the event; an original whose write was reported failed (though it
// landed) is taken back, and nothing publishes it.
func TestAnAnswerMeansWhatItSays(t *testing.T) {
	ctx := context.Background()
	t.Run("event failed after the original was stored", func(t *testing.T) {
		f := newFixture(t, nil)
		bus := f.svc.cfg.Bus
		f.svc.cfg.Bus = silentBus{}
		resp, acc := f.post(t, "Bearer "+token, "text/plain; charset=utf-8", []byte("Tin giữa sự cố\n\nĐoạn.\n"))
		if resp.StatusCode != 202 {
			t.Fatalf("status %d %v, want 202: the original is durable", resp.StatusCode, acc)
		}
		if f.events(t) != 0 {
			t.Fatal("an event went out through a bus that sends none")
		}
		f.svc.cfg.Bus = bus
		f.svc.cfg.ReconcileGrace = time.Nanosecond
		if n, err := f.svc.Reconcile(ctx); err != nil || n != 1 {
			t.Fatalf("reconciler recovered %d, %v; want the accepted article", n, err)
		}
		if st, err := f.status.Get(ctx, acc["id"].(string)); err != nil || st.State != status.Received {
			t.Errorf("status %v, %v", st, err)
		}
	})
	t.Run("original write reported failed", func(t *testing.T) {
		store, err := blob.New(ctx, testenv.MinIO(t))
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, lostAnswerStore{store})
		resp, p := f.post(t, "Bearer "+token, "text/plain; charset=utf-8", []byte("Tin bị từ chối\n\nĐoạn.\n"))
		if resp.StatusCode != 503 || !strings.Contains(fmt.Sprint(p["detail"]), "Idempotency-Key") {
			t.Fatalf("status %d %v, want 503 saying to resend with the same key", resp.StatusCode, p)
		}
		for info, err := range store.ListAfter(ctx, layout.OriginalsPrefix, "") {
			if err != nil {
				t.Fatal(err)
			}
			t.Errorf("%s is left behind after a 503", info.Key)
		}
		f.svc.cfg.ReconcileGrace = time.Nanosecond
		if n, err := f.svc.Reconcile(ctx); err != nil || n != 0 || f.events(t) != 0 {
			t.Errorf("reconciler recovered %d (%v), %d events: a refused article would be published", n, err, f.events(t))
		}
	})
	t.Run("original write reported failed, and taking it back too", func(t *testing.T) {
		store, err := blob.New(ctx, testenv.MinIO(t))
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, undeletableStore{lostAnswerStore{store}})
		if resp, p := f.post(t, "Bearer "+token, "text/plain; charset=utf-8", []byte("Tin bị từ chối hai lần\n\nĐoạn.\n")); resp.StatusCode != 503 {
			t.Fatalf("status %d %v, want 503", resp.StatusCode, p)
		}
		var left []string
		for info, err := range store.ListAfter(ctx, layout.OriginalsPrefix, "") {
			if err != nil {
				t.Fatal(err)
			}
			left = append(left, info.Key)
		}
		if len(left) != 1 {
			t.Fatalf("originals left: %v, want the one that could not be taken back", left)
		}
		id, _, _ := layout.ParseOriginal(left[0])
		if st, err := f.status.Get(ctx, id); err != nil || st.State != status.Failed || !strings.Contains(st.Error, "503") {
			t.Errorf("status of the refused version: %v, %v; want failed, saying it was refused", st, err)
		}
		f.svc.cfg.ReconcileGrace = time.Nanosecond
		if n, err := f.svc.Reconcile(ctx); err != nil || n != 0 || f.events(t) != 0 {
			t.Errorf("reconciler recovered %d (%v), %d events: a refused article would be published", n, err, f.events(t))
		}
	})
}

// TestReconcilerRecoversOrphans stores an original as ingest does and
// "dies" before the event: the reconciler sends the event, once, with
// the uploads listed beside the original; accepted articles are left
// alone.
func TestReconcilerRecoversOrphans(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	svc := f.svc
	svc.cfg.ReconcileGrace = time.Nanosecond

	// One article accepted the normal way: nothing to recover.
	if resp, _ := f.post(t, "Bearer "+token, "text/plain", []byte("Tin thường\n\nĐoạn.\n")); resp.StatusCode != 202 {
		t.Fatal(resp.Status)
	}
	// One orphan: original and a file stored, no event, no status.
	ref := &pb.ArticleRef{Id: ulid.Make().String(), Version: 1, Newsroom: "quocoai", Sites: []string{"front"}}
	meta, err := refMetadata(ref, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix := "originals/" + ref.Id + "/v1/"
	if err := f.blobs.Put(ctx, prefix+"files/a.jpg", jpegBytes, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := f.blobs.PutWithMetadata(ctx, prefix+"article", []byte("Tin mồ côi\n\nĐoạn.\n"), "text/plain", meta); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)

	n, err := svc.Reconcile(ctx)
	if err != nil || n != 1 {
		t.Fatalf("recovered %d, %v; want 1", n, err)
	}
	st, err := f.status.Get(ctx, ref.Id)
	if err != nil || st.State != status.Received {
		t.Fatalf("status = %v, %v", st, err)
	}
	s, _ := f.js.Stream(ctx, layout.StreamArticles)
	msg, err := s.GetLastMsgForSubject(ctx, layout.SubjectReceived)
	if err != nil {
		t.Fatal(err)
	}
	var ev pb.ArticleReceived
	proto.Unmarshal(msg.Data, &ev)
	if ev.Article.GetId() != ref.Id || len(ev.Article.GetUploads()) != 1 || ev.Article.Uploads[0].Name != "a.jpg" ||
		string(ev.Original.GetInline()) != "Tin mồ côi\n\nĐoạn.\n" || msg.Header.Get("Nats-Msg-Id") != ref.Id+"/1/received" {
		t.Errorf("recovered event = %v", &ev)
	}
	if n, err := svc.Reconcile(ctx); err != nil || n != 0 {
		t.Errorf("second pass recovered %d, %v; want 0", n, err)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 2 {
		t.Errorf("%d events in the stream, want 2 (one each)", info.State.Msgs)
	}
}

func (f *fixture) events(t *testing.T) int {
	t.Helper()
	s, err := f.js.Stream(context.Background(), layout.StreamArticles)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Msgs)
}

func TestIdempotencyAndCorrections(t *testing.T) {
	f := newFixture(t, nil)
	bearer := "Bearer " + token
	v1 := []byte("Tin\n\nBản đầu tiên.\n")
	v2 := []byte("Tin\n\nBản đã sửa.\n")

	resp, first := f.post(t, bearer, "text/plain", v1, client.HeaderIdempotencyKey, "req-1")
	if resp.StatusCode != 202 {
		t.Fatalf("first: %d %v", resp.StatusCode, first)
	}
	resp, again := f.post(t, bearer, "text/plain", v1, client.HeaderIdempotencyKey, "req-1")
	if resp.StatusCode != 200 || again["id"] != first["id"] || f.events(t) != 1 {
		t.Errorf("repeat: %d %v, %d events; want 200, the same id, 1 event", resp.StatusCode, again, f.events(t))
	}
	resp, p := f.post(t, bearer, "text/plain", v2, client.HeaderIdempotencyKey, "req-1")
	if resp.StatusCode != 422 || p["type"] != "urn:pressline:problem:idempotency-key-reused" || p["field"] != client.HeaderIdempotencyKey {
		t.Errorf("reused key: %d %v", resp.StatusCode, p)
	}

	resp, a1 := f.post(t, bearer, "text/plain", v1, client.HeaderExternalID, "cms-4711")
	resp2, same := f.post(t, bearer, "text/plain", v1, client.HeaderExternalID, "cms-4711")
	resp3, a2 := f.post(t, bearer, "text/plain", v2, client.HeaderExternalID, "cms-4711")
	if resp.StatusCode != 202 || resp2.StatusCode != 200 || same["id"] != a1["id"] {
		t.Errorf("external id repeat: %d %d %v %v", resp.StatusCode, resp2.StatusCode, a1, same)
	}
	if resp3.StatusCode != 202 || a2["id"] != a1["id"] || a2["version"] != float64(2) {
		t.Errorf("correction: %d %v, want 202 with %v version 2", resp3.StatusCode, a2, a1["id"])
	}
	if n := f.events(t); n != 3 {
		t.Errorf("%d events, want 3 (req-1, cms-4711 v1, cms-4711 v2)", n)
	}
	st, err := f.status.Get(context.Background(), a1["id"].(string))
	if err != nil || st.GetArticle().GetVersion() != 2 {
		t.Errorf("status = %v, %v; want version 2", st, err)
	}
	// The correction is stored as version 2 beside the first.
	if got, err := f.blobs.Get(context.Background(), "originals/"+a1["id"].(string)+"/v2/article"); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("correction not stored as v2: %v", err)
	}
}

// TestConcurrentRepeats: ten copies of one request at once agree on one
// article and send one event.
func TestConcurrentRepeats(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	ids := map[any]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			resp, acc := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nMột lần thôi.\n"), client.HeaderIdempotencyKey, "burst")
			if resp.StatusCode != 202 && resp.StatusCode != 200 {
				t.Errorf("status %d %v", resp.StatusCode, acc)
			}
			mu.Lock()
			ids[acc["id"]]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 || f.events(t) != 1 {
		t.Errorf("ids %v, %d events; want one of each", ids, f.events(t))
	}
}

func TestWithdrawRequests(t *testing.T) {
	f := newFixture(t, nil)
	resp, acc := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nĐoạn.\n"))
	if resp.StatusCode != 202 {
		t.Fatal(resp.Status)
	}
	id := acc["id"].(string)
	tests := []struct {
		name, method, path, auth, body string
		code                           int
		problem                        string
	}{
		{"no token", "DELETE", "/v1/articles/" + id, "", "", 401, "unauthenticated"},
		{"unknown id", "DELETE", "/v1/articles/01KBZZZZZZZZZZZZZZZZZZZZZZ", "Bearer " + token, "", 404, "article-not-found"},
		{"not an id", "DELETE", "/v1/articles/01NOPE", "Bearer " + token, "", 400, "invalid-id"},
		{"bad reason body", "POST", "/v1/articles/" + id + "/withdraw", "Bearer " + token, "{reason", 400, "invalid-json"},
		{"with a reason", "POST", "/v1/articles/" + id + "/withdraw", "Bearer " + token, `{"reason": "legal request"}`, 202, ""},
		{"again while pending", "DELETE", "/v1/articles/" + id, "Bearer " + token, "", 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p map[string]any
			json.NewDecoder(resp.Body).Decode(&p)
			if resp.StatusCode != tt.code || (tt.problem != "" && p["type"] != "urn:pressline:problem:"+tt.problem) {
				t.Errorf("%d %v; want %d %s", resp.StatusCode, p, tt.code, tt.problem)
			}
		})
	}
	// The pending withdrawal was sent again as the same version: one
	// withdraw event in the stream.
	s, _ := f.js.Stream(context.Background(), layout.StreamArticles)
	msg, err := s.GetLastMsgForSubject(context.Background(), layout.WithdrawSubject(id))
	if err != nil || msg.Sequence != 2 || msg.Header.Get("Nats-Msg-Id") != id+"/2/withdraw" {
		t.Errorf("withdraw event: seq %d, id %q, %v", msg.Sequence, msg.Header.Get("Nats-Msg-Id"), err)
	}
}

func TestList(t *testing.T) {
	f := newFixture(t, nil)
	var ids []string
	for i := range 5 {
		resp, acc := f.post(t, "Bearer "+token, "text/plain", []byte(fmt.Sprintf("Tin %d\n\nĐoạn.\n", i)))
		if resp.StatusCode != 202 {
			t.Fatal(resp.Status)
		}
		ids = append(ids, acc["id"].(string))
	}
	get := func(path string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// The list is an index that follows the status bucket: the last
	// write may take a moment to show.
	testenv.WaitFor(t, "the five articles listed", 10*time.Second, func() bool {
		code, out := get("/v1/articles?limit=10")
		list, _ := out["articles"].([]any)
		return code == 200 && len(list) == 5
	})
	var seen []string
	path := "/v1/articles?limit=2"
	for pages := 0; path != ""; pages++ {
		code, out := get(path)
		if code != 200 || pages > 3 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		for _, a := range out["articles"].([]any) {
			seen = append(seen, a.(map[string]any)["article"].(map[string]any)["id"].(string))
		}
		path, _ = out["next"].(string)
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages gave %v, want newest first %v", seen, want)
	}
	for q, n := range map[string]int{"status=received": 5, "status=published": 0, "since=2999-01-01T00:00:00Z": 0} {
		if _, out := get("/v1/articles?" + q); len(out["articles"].([]any)) != n {
			t.Errorf("%s: %d articles, want %d", q, len(out["articles"].([]any)), n)
		}
	}
	for q, want := range map[string]string{"status=lost": "invalid-parameter", "since=yesterday": "invalid-parameter",
		"limit=0": "invalid-parameter", "limit=1000": "invalid-parameter", "newsroom=vnx": "other-newsroom"} {
		if code, out := get("/v1/articles?" + q); code < 400 || out["type"] != "urn:pressline:problem:"+want {
			t.Errorf("%s: %d %v, want %s", q, code, out, want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, nil)
	f.svc.limits["quocoai"] = rate.NewLimiter(rate.Limit(0.5), 2)
	f.svc.cfg.RatePerSecond = 0.5
	codes := []int{}
	for range 3 {
		resp, _ := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nĐoạn.\n"))
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && (resp.Header.Get("Retry-After") != "2" && resp.Header.Get("Retry-After") != "1") {
			t.Errorf("Retry-After %q, want about 2 s", resp.Header.Get("Retry-After"))
		}
	}
	if fmt.Sprint(codes) != "[202 202 429]" {
		t.Errorf("codes %v, want two accepted then 429", codes)
	}
	if f.events(t) != 2 {
		t.Errorf("%d events, want 2", f.events(t))
	}
}

func TestCorrectionOfWithdrawnRefused(t *testing.T) {
	f := newFixture(t, nil)
	bearer := "Bearer " + token
	resp, acc := f.post(t, bearer, "text/plain", []byte("Tin\n\nBản đầu.\n"), client.HeaderExternalID, "cms-9")
	if resp.StatusCode != 202 {
		t.Fatal(resp.Status)
	}
	id := acc["id"].(string)
	// Mark it withdrawn as publish would.
	st, _ := f.status.Get(context.Background(), id)
	ref := proto.Clone(st.Article).(*pb.ArticleRef)
	ref.Version = 2
	if err := f.status.Record(context.Background(), ref, status.Step{Stage: "publish", State: status.Withdrawn}); err != nil {
		t.Fatal(err)
	}
	resp, p := f.post(t, bearer, "text/plain", []byte("Tin\n\nBản sửa.\n"), client.HeaderExternalID, "cms-9")
	if resp.StatusCode != 409 || p["type"] != "urn:pressline:problem:article-withdrawn" {
		t.Errorf("correction of a withdrawn article: %d %v", resp.StatusCode, p)
	}
}

const feedTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Tin Quốc Oai</title>
<item><guid>qo-1</guid><title>Khai mạc hội chợ nông sản</title><pubDate>Mon, 02 Oct 2023 08:00:00 +0700</pubDate>
<content:encoded><![CDATA[<p>%s</p>]]></content:encoded></item>
<item><guid>qo-2</guid><title>Tiêm vắc xin cho đàn gia súc</title><description>&lt;p&gt;Huyện triển khai tiêm phòng cho hơn 40.000 con gia súc.&lt;/p&gt;</description></item>
</channel></rss>`

func TestFeedPoller(t *testing.T) {
	var mu sync.Mutex
	body, etag := fmt.Sprintf(feedTemplate, "Hội chợ quy tụ 120 gian hàng nông sản."), `"v1"`
	fetches, notModified := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		if r.Header.Get("If-None-Match") == etag {
			notModified++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(body))
	}))
	defer srv.Close()

	f := newFixture(t, nil)
	f.svc.cfg.Feeds = safefetch.New(safefetch.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	nr := f.svc.cfg.Newsrooms[0]
	p := f.svc.Poller(nr, config.Feed{URL: srv.URL + "/rss", Every: time.Minute})
	ctx := context.Background()

	if n, err := p.Poll(ctx); err != nil || n != 2 {
		t.Fatalf("first poll sent %d, %v; want 2", n, err)
	}
	if n, err := p.Poll(ctx); err != nil || n != 0 || notModified != 1 {
		t.Fatalf("second poll sent %d, %v, %d not-modified; want 0 after a 304", n, err, notModified)
	}
	mu.Lock()
	body, etag = fmt.Sprintf(feedTemplate, "Hội chợ quy tụ 150 gian hàng nông sản (đã sửa)."), `"v2"`
	mu.Unlock()
	if n, err := p.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("poll after one item changed sent %d, %v; want 1 correction", n, err)
	}
	if f.events(t) != 3 {
		t.Errorf("%d events, want 3 (two items, one correction)", f.events(t))
	}
	var list []*pb.ArticleStatus
	testenv.WaitFor(t, "both articles listed, the corrected one at v2", 10*time.Second, func() bool {
		var err error
		list, _, err = f.articles.List(ctx, status.Filter{Newsroom: nr.Name, Limit: 10})
		return err == nil && len(list) == 2 && list[0].GetArticle().GetVersion()+list[1].GetArticle().GetVersion() == 3
	})
	versions := map[uint32]int{}
	for _, st := range list {
		versions[st.GetArticle().GetVersion()]++
	}
	if versions[1] != 1 || versions[2] != 1 {
		t.Errorf("versions %v, want one article at v1 and the corrected one at v2", versions)
	}
	// A fresh poller (a restart) fetches in full but sends nothing new.
	if n, err := f.svc.Poller(nr, config.Feed{URL: srv.URL + "/rss"}).Poll(ctx); err != nil || n != 0 {
		t.Errorf("after a restart: sent %d, %v; want 0", n, err)
	}
}

func TestSites(t *testing.T) {
	f := newFixture(t, nil)
	f.svc.cfg.Newsrooms[0].Sites = []string{"front", "regional"}
	resp, p := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nĐoạn.\n"), client.HeaderSites, "front, sport")
	if resp.StatusCode != 403 || p["type"] != "urn:pressline:problem:site-not-allowed" || p["field"] != client.HeaderSites {
		t.Errorf("outside its sites: %d %v", resp.StatusCode, p)
	}
	resp, acc := f.post(t, "Bearer "+token, "text/plain", []byte("Tin\n\nĐoạn.\n"), client.HeaderSites, "regional")
	if resp.StatusCode != 202 {
		t.Fatalf("%d %v", resp.StatusCode, acc)
	}
	st, err := f.status.Get(context.Background(), acc["id"].(string))
	if err != nil || len(st.Article.Sites) != 1 || st.Article.Sites[0] != "regional" {
		t.Errorf("sites = %v, %v", st.GetArticle().GetSites(), err)
	}
}
