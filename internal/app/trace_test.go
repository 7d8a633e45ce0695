package app_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/testenv"
)

// collector is an in-process OpenTelemetry collector: it takes OTLP/HTTP
// exports and keeps the spans.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestOneTracePerArticle follows one article from the HTTP request through
// the four stages to its webhooks, and finds one trace: every span in it,
// each span's parent in it, and its id in the article's status.
func TestOneTracePerArticle(t *testing.T) {
	col := &collector{}
	otlp := httptest.NewServer(col)
	defer otlp.Close()
	hooks := 0
	var hmu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		hooks++
		hmu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	hooksFile := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(hooksFile, []byte(`[{"name": "partner", "url": "`+receiver.URL+`", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	hooksCfg, err := config.ReadWebhooks(hooksFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.Config.OTLPEndpoint, e.Config.Webhooks = otlp.URL, hooksCfg
	e.Config.FetchAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	p := e.Start(t)
	id := e.Submit(t, []byte("Một bài, một dấu vết\n\nNội dung bài viết để theo dõi.\n"))
	testenv.WaitFor(t, "both webhooks", 20*time.Second, func() bool { hmu.Lock(); defer hmu.Unlock(); return hooks == 2 })
	st, err := p.Status.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Stop() // flushes the spans
	if len(st.TraceId) != 32 {
		t.Fatalf("status trace id %q", st.TraceId)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	var names []string
	for _, s := range col.spans {
		if hex.EncodeToString(s.TraceId) == st.TraceId {
			byID[hex.EncodeToString(s.SpanId)] = s
			names = append(names, s.Name)
		}
	}
	joined := strings.Join(names, ",")
	for _, want := range []string{"ingest submit", "clean", "imageproc", "publish", "webhook-partner", "webhook partner"} {
		if !strings.Contains(","+joined+",", ","+want+",") {
			t.Errorf("the article's trace lacks a %q span; it has %s", want, joined)
		}
	}
	roots := 0
	for _, s := range byID {
		if len(s.ParentSpanId) == 0 {
			roots++
			continue
		}
		if byID[hex.EncodeToString(s.ParentSpanId)] == nil {
			t.Errorf("span %q has a parent outside the trace", s.Name)
		}
	}
	if roots != 1 {
		t.Errorf("%d root spans, want 1 (the HTTP request)", roots)
	}
}
