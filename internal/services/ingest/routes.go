package ingest

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/render"
	"github.com/pressline/pressline/internal/tracing"
)

//go:embed openapi.json
var openAPI []byte

//go:embed editor
var editorFiles embed.FS

// editorPath is where the console is; its files are under it.
const editorPath = "/editor"

// editor serves the console (file "") or one of its files, with a
// policy that runs only the console's own script. Its previews of
// articles' pages (inside it, sandboxed) need the page's style and the
// site's images as well.
func (s *Service) editor(w http.ResponseWriter, r *http.Request) {
	sub, _ := fs.Sub(editorFiles, "editor")
	name := r.PathValue("file")
	if name == "" {
		name = "index.html"
	}
	if _, err := fs.Stat(sub, name); err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src "+render.ImageSources(s.cfg.SiteURL)+"; style-src 'self' "+s.renderer.StyleSource()+
		"; style-src-attr 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFileFS(w, r, sub, name)
}

// route is one endpoint; routeTable is the API, which the OpenAPI test
// checks against openapi.json, and pageTable what is for browsers and
// tools, which the document leaves out.
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
	{"GET /v1/articles/{id}/versions/{version}", "version", func(s *Service) http.HandlerFunc { return s.handleVersion }},
	{"GET /v1/articles/{id}/versions/{version}/ninjs", "version_ninjs", func(s *Service) http.HandlerFunc { return s.handleVersionNinjs }},
	{"GET /v1/articles/{id}/versions/{version}/preview", "preview", func(s *Service) http.HandlerFunc { return s.handlePreview }},
	{"GET /v1/sites/{site}/changes", "changes", func(s *Service) http.HandlerFunc { return s.handleChanges }},
	{"GET /v1/sites/{site}/articles", "site-articles", func(s *Service) http.HandlerFunc { return s.handleSiteArticles }},
	{"GET /v1/sites/{site}/articles/{id}", "site-article", func(s *Service) http.HandlerFunc { return s.handleSiteArticle }},
	{"GET /v1/deadletters", "deadletters", func(s *Service) http.HandlerFunc { return s.handleDeadLetters }},
	{"POST /v1/deadletters/replay", "deadletters_replay", func(s *Service) http.HandlerFunc { return s.handleReplayDeadLetters }},
	{"POST /v1/deadletters/{id}/replay", "deadletter_replay", func(s *Service) http.HandlerFunc { return s.handleReplayDeadLetter }},
	{"POST /v1/webhooks", "webhooks", func(s *Service) http.HandlerFunc { return s.handleCreateWebhook }},
	{"GET /v1/webhooks", "webhooks", func(s *Service) http.HandlerFunc { return s.handleListWebhooks }},
	{"GET /v1/webhooks/{name}", "webhook", func(s *Service) http.HandlerFunc { return s.handleGetWebhook }},
	{"PATCH /v1/webhooks/{name}", "webhook", func(s *Service) http.HandlerFunc { return s.handlePatchWebhook }},
	{"DELETE /v1/webhooks/{name}", "webhook", func(s *Service) http.HandlerFunc { return s.handleDeleteWebhook }},
	{"POST /v1/webhooks/{name}/rotate", "webhook_rotate", func(s *Service) http.HandlerFunc { return s.handleRotateWebhook }},
	{"GET /v1/webhooks/{name}/attempts", "webhook_attempts", func(s *Service) http.HandlerFunc { return s.handleWebhookAttempts }},
	{"POST /v1/webhooks/{name}/redeliver", "webhook_redeliver", func(s *Service) http.HandlerFunc { return s.handleRedeliver }},
	{"POST /v1/webhooks/{name}/test", "webhook_test", func(s *Service) http.HandlerFunc { return s.handleTestWebhook }},
}

var pageTable = []route{
	{"GET /{$}", "editor", func(s *Service) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, editorPath, http.StatusFound) }
	}},
	{"GET " + editorPath, "editor", func(s *Service) http.HandlerFunc { return s.editor }},
	{"GET " + editorPath + "/{file}", "editor", func(s *Service) http.HandlerFunc { return s.editor }},
	{"GET /openapi.json", "openapi", func(s *Service) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		}
	}},
}

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range slices.Concat(routeTable, pageTable) {
		mux.Handle(rt.pattern, s.instrument(rt.name, rt.handler(s)))
	}
	return problemMux(mux)
}

type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	r.code, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// serve runs h, answering a panic with a 500 problem rather than the
// cut connection net/http leaves; the client is told how to find out
// whether its article got in.
func (s *Service) serve(route string, h http.HandlerFunc, rec *recorder, r *http.Request) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v) // net/http's own way of cutting a response short
		}
		err := fault.Caught(v, debug.Stack())
		s.log.Error("request panicked", "route", route, "err", err)
		if !rec.wrote {
			writeProblem(rec, problem{Status: http.StatusInternalServerError, Type: "internal",
				Detail: "Pressline failed while handling this request. If it was a submission, send it again with the same Idempotency-Key: an article that did get in is answered 200 with its id, not accepted twice."})
		}
	}()
	h(rec, r)
}

func (s *Service) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, span := s.tracer.Start(tracing.ExtractHTTP(r.Context(), r.Header), "ingest "+route,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		s.serve(route, h, rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
		s.metrics.requests.WithLabelValues(route, fmt.Sprint(rec.code)).Inc()
		tracing.Observe(ctx, s.metrics.duration.WithLabelValues(route), time.Since(start).Seconds())
	})
}
