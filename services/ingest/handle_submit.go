package ingest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/text/encoding/htmlindex"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/cleaner"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/status"
	"github.com/pressline/pressline/pkg/tracing"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

//go:embed openapi.json
var openAPI []byte

//go:embed editor
var editorFiles embed.FS

// editor serves the editors' page and its files, with a policy that runs
// only the page's own script.
func editor() http.Handler {
	sub, _ := fs.Sub(editorFiles, "editor")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.StripPrefix("/editor", files).ServeHTTP(w, r)
	})
}

// route is one endpoint; the list is what the mux serves and what the
// OpenAPI test checks against openapi.json.
type route struct {
	pattern, name string
	handler       func(*Service) http.HandlerFunc
}

var routeTable = []route{
	{"POST /v1/articles", "submit", func(s *Service) http.HandlerFunc { return s.handleSubmit }},
	{"GET /v1/articles", "list", func(s *Service) http.HandlerFunc { return s.handleList }},
	{"GET /v1/articles/{id}", "status", func(s *Service) http.HandlerFunc { return s.handleStatus }},
	{"DELETE /v1/articles/{id}", "withdraw", func(s *Service) http.HandlerFunc { return s.handleWithdraw }},
	{"POST /v1/articles/{id}/withdraw", "withdraw", func(s *Service) http.HandlerFunc { return s.handleWithdraw }},
	{"GET /{$}", "editor", func(s *Service) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/editor/", http.StatusFound) }
	}},
	{"GET /editor/", "editor", func(s *Service) http.HandlerFunc { return editor().ServeHTTP }},
	{"GET /openapi.json", "openapi", func(s *Service) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		}
	}},
}

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range routeTable {
		mux.Handle(rt.pattern, s.instrument(rt.name, rt.handler(s)))
	}
	return mux
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Service) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, span := s.tracer.Start(tracing.ExtractHTTP(r.Context(), r.Header), "ingest "+route,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
		s.metrics.requests.WithLabelValues(route, fmt.Sprint(rec.code)).Inc()
		tracing.Observe(ctx, s.metrics.duration.WithLabelValues(route), time.Since(start).Seconds())
	})
}

// authenticate finds the newsroom whose token the request carries.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request) (*config.Newsroom, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "unauthenticated", Field: "Authorization",
			Detail: "send the newsroom's API token as 'Authorization: Bearer <token>'"})
		return nil, false
	}
	h := config.HashToken(token)
	for i := range s.cfg.Newsrooms {
		if subtle.ConstantTimeCompare(h[:], s.cfg.Newsrooms[i].TokenHash[:]) == 1 {
			return &s.cfg.Newsrooms[i], true
		}
	}
	writeProblem(w, problem{Status: http.StatusUnauthorized, Type: "invalid-token", Field: "Authorization",
		Detail: "the API token is not one of a configured newsroom; check it, or ask an operator for a new one"})
	return nil, false
}

// acceptedTypes are the media types the cleaner reads.
var acceptedTypes = map[string]bool{"text/plain": true, "text/html": true, "application/json": true}

// HeaderSites lets a submission go to some of the newsroom's sites only.
const HeaderSites = "Sites"

// sitesFor is where an article goes: the sites the request names
// (comma-separated), each one of the newsroom's, or all of them.
func sitesFor(r *http.Request, nr *config.Newsroom) ([]string, *problem) {
	v := r.Header.Get(HeaderSites)
	if v == "" {
		return nr.Sites, nil
	}
	var out []string
	for _, site := range strings.Split(v, ",") {
		site = strings.TrimSpace(site)
		if !slices.Contains(nr.Sites, site) {
			return nil, &problem{Status: http.StatusForbidden, Type: "site-not-allowed", Field: HeaderSites,
				Detail: fmt.Sprintf("newsroom %q does not publish to site %q; its sites are %s", nr.Name, site, strings.Join(nr.Sites, ", "))}
		}
		if !slices.Contains(out, site) {
			out = append(out, site)
		}
	}
	return out, nil
}

// HeaderEmbargo holds an article until a time (RFC 3339); a ninjs
// document may say the same in its embargoed field. The header wins.
const HeaderEmbargo = "Embargo"

// embargoOf reads the time an article must not be published before. A
// time in the past is no embargo.
func embargoOf(r *http.Request, a *submission) (time.Time, *problem) {
	v, field := r.Header.Get(HeaderEmbargo), HeaderEmbargo
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

func isJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// allow takes one write from the newsroom's budget, or answers 429 with
// how long to wait.
func (s *Service) allow(w http.ResponseWriter, newsroom string) bool {
	l := s.limits[newsroom]
	if l == nil {
		return true
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeProblem(w, problem{Status: http.StatusTooManyRequests, Type: "rate-limited", Limit: int64(s.cfg.RatePerSecond),
			Detail: fmt.Sprintf("newsroom %q sends faster than %g articles per second; wait %d s and send again", newsroom, s.cfg.RatePerSecond, secs)})
		return false
	}
	return true
}

// accepted is the body of a 202.
type accepted struct {
	ID        string `json:"id"`
	Version   uint32 `json:"version"`
	StatusURL string `json:"status_url"`
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	nr, ok := s.authenticate(w, r)
	if !ok || !s.allow(w, nr.Name) {
		return
	}
	ct := r.Header.Get("Content-Type")
	var a *submission
	var p *problem
	if mediaType, params, err := mime.ParseMediaType(ct); err == nil && mediaType == "multipart/form-data" {
		a, p = s.readMultipart(w, r, params["boundary"])
	} else {
		a, p = s.readSingle(w, r, ct)
	}
	if p != nil {
		writeProblem(w, *p)
		return
	}

	// Every check comes before resolve, which may record the request's
	// key: a refused request leaves nothing behind.
	sites, p := sitesFor(r, nr)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	embargo, p := embargoOf(r, a)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	kind, key := keyOf(r)
	tgt, p, err := s.resolve(r.Context(), kind, key, nr.Name, a)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if err != nil {
		s.log.Error("key lookup", "newsroom", nr.Name, "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "the article could not be checked against earlier submissions; send it again in a few seconds"})
		return
	}
	if tgt.repeat {
		// The same content was accepted before: the same answer, and
		// nothing sent again.
		writeAccepted(w, http.StatusOK, tgt.id, tgt.version)
		return
	}
	ref := &pb.ArticleRef{
		Id:         tgt.id,
		Version:    tgt.version,
		Newsroom:   nr.Name,
		Sites:      sites,
		ReceivedAt: timestamppb.New(s.now()),
	}
	if !embargo.IsZero() {
		ref.EmbargoUntil = timestamppb.New(embargo)
	}
	log := s.log.With("article_id", ref.Id, "version", ref.Version, "newsroom", nr.Name, "trace_id", tracing.TraceID(r.Context()))
	trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("pressline.article.id", ref.Id), attribute.Int("pressline.article.version", int(ref.Version)))
	if err := s.accept(r.Context(), ref, a); err != nil {
		log.Error("not accepted", "err", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "unavailable",
			Detail: "the article could not be stored durably and was not accepted; send it again in a few seconds"})
		return
	}
	log.Info("accepted", "bytes", len(a.body), "files", len(a.files))
	writeAccepted(w, http.StatusAccepted, ref.Id, ref.Version)
}

// writeAccepted answers with an article's id, version and status URL.
func writeAccepted(w http.ResponseWriter, code int, id string, version uint32) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", "/v1/articles/"+id)
	w.WriteHeader(code)
	writeJSON(w, accepted{ID: id, Version: version, StatusURL: "/v1/articles/" + id})
}

// submission is a checked request: the article and the files with it.
type submission struct {
	body        []byte
	contentType string
	files       []file
}

type file struct {
	name, contentType string
	data              []byte
}

// readSingle reads a request whose whole body is the article.
func (s *Service) readSingle(w http.ResponseWriter, r *http.Request, ct string) (*submission, *problem) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if p := readProblem(err, s.cfg.MaxBodyBytes, ""); p != nil {
		return nil, p
	}
	if p := checkArticle(ct, body, "body"); p != nil {
		return nil, p
	}
	return &submission{body: body, contentType: ct}, nil
}

func readProblem(err error, limit int64, field string) *problem {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return &problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Limit: limit, Field: field,
			Detail: fmt.Sprintf("the request is larger than the limit of %d bytes; split it or ask an operator to raise the limit", limit)}
	default:
		return &problem{Status: http.StatusBadRequest, Type: "body-unreadable", Field: field, Detail: "the request body could not be read: " + err.Error()}
	}
}

// checkArticle checks an article's type, charset and content. field
// names where it came from: "body", or the multipart part "article".
func checkArticle(ct string, body []byte, field string) *problem {
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || !acceptedTypes[mediaType] {
		return &problem{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type", Field: "Content-Type",
			Detail: fmt.Sprintf("Content-Type %q is not accepted for the article; send text/plain, text/html or application/json (IPTC ninjs), alone or as the part named \"article\" of multipart/form-data with image files", ct)}
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

// accept makes the article durable: the files and the original in S3
// first, then the event. An original without its event is invisible to
// the pipeline until the reconciler finds it (see reconcile.go); the
// original carries its ArticleRef in its metadata for that.
func (s *Service) accept(ctx context.Context, ref *pb.ArticleRef, a *submission) error {
	// No key is a prefix of another: storage that maps keys to files
	// and folders (the embedded server) cannot hold both "v1" and
	// "v1/files/x.jpg".
	prefix := fmt.Sprintf("originals/%s/v%d/", ref.Id, ref.Version)
	key := prefix + "article"
	for _, f := range a.files {
		fkey := prefix + "files/" + f.name
		if err := s.cfg.Blobs.Put(ctx, fkey, f.data, f.contentType); err != nil {
			return err
		}
		ref.Uploads = append(ref.Uploads, &pb.Upload{Name: f.name, Key: fkey, ContentType: f.contentType, Size: int64(len(f.data))})
	}
	meta, err := refMetadata(ref)
	if err != nil {
		return err
	}
	if err := s.cfg.Blobs.PutWithMetadata(ctx, key, a.body, a.contentType, meta); err != nil {
		return err
	}
	detail := fmt.Sprintf("%d bytes, %s", len(a.body), a.contentType)
	if len(a.files) > 0 {
		detail += fmt.Sprintf(", %d files", len(a.files))
	}
	return s.emit(ctx, ref, key, a.body, a.contentType, detail)
}

// emit sends the received event for a stored original and records it.
func (s *Service) emit(ctx context.Context, ref *pb.ArticleRef, key string, body []byte, contentType, detail string) error {
	// The original is in S3 already, so a large one needs no second copy:
	// its key is the claim check.
	payload := &pb.Payload{Size: int64(len(body)), ContentType: contentType}
	if len(body) <= s.cfg.InlineLimit {
		payload.Location = &pb.Payload_Inline{Inline: body}
	} else {
		payload.Location = &pb.Payload_BlobKey{BlobKey: key}
	}
	ev := &pb.ArticleReceived{Article: ref, OriginalKey: key, Original: payload}
	if err := s.cfg.Bus.Publish(ctx, bus.SubjectReceived, bus.MsgID(ref, "received"), ref, ev); err != nil {
		return err
	}
	// The article is accepted now; a status write that fails only delays
	// what GET shows until the next stage writes.
	if err := s.cfg.Status.Record(ctx, ref, status.Step{Stage: "ingest", State: status.Received, Detail: detail}); err != nil {
		s.log.Warn("status not recorded", "article_id", ref.Id, "err", err)
	}
	return nil
}
