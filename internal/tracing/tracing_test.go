package tracing

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A span's context crosses a NATS message: the next stage's span is in
// the same trace, a child of the publisher's.
func TestContextCrossesNATSHeaders(t *testing.T) {
	p, err := New(context.Background(), Config{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, parent := p.Tracer("t").Start(context.Background(), "publish")
	defer parent.End()
	h := nats.Header{}
	Inject(ctx, h)
	if http.Header(h).Get("traceparent") == "" {
		t.Fatalf("no traceparent in %v", h)
	}
	got := Extract(context.Background(), h)
	if TraceID(got) != TraceID(ctx) || TraceID(ctx) == "" {
		t.Errorf("extracted trace %q, want %q", TraceID(got), TraceID(ctx))
	}
	_, child := p.Tracer("t").Start(got, "consume")
	defer child.End()
	if child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Error("the consumer's span is not in the publisher's trace")
	}
	// A caller's own traceparent continues into an HTTP request.
	hh := http.Header{}
	hh.Set("traceparent", http.Header(h).Get("traceparent"))
	if TraceID(ExtractHTTP(context.Background(), hh)) != TraceID(ctx) {
		t.Error("ExtractHTTP lost the trace")
	}
	if TraceID(context.Background()) != "" {
		t.Error("a context without a span has a trace id")
	}
}

func TestBadEndpoint(t *testing.T) {
	for _, e := range []string{"collector:4318", "ftp://collector", "http://"} {
		if _, err := New(context.Background(), Config{Endpoint: e}); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	var nilProvider *Provider
	if err := nilProvider.Shutdown(context.Background()); err != nil {
		t.Errorf("nil Shutdown: %v", err)
	}
}

// Observe attaches the trace id as an exemplar when there is one.
func TestObserveExemplar(t *testing.T) {
	p, _ := New(context.Background(), Config{})
	ctx, span := p.Tracer("t").Start(context.Background(), "x")
	defer span.End()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: []float64{1}})
	Observe(ctx, h, 0.5)
	Observe(context.Background(), h, 0.5)
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("%d observations", m.GetHistogram().GetSampleCount())
	}
	ex := m.GetHistogram().GetBucket()[0].GetExemplar()
	if ex == nil || len(ex.GetLabel()) != 1 || ex.GetLabel()[0].GetValue() != TraceID(ctx) {
		t.Errorf("exemplar %v, want trace %s", ex, TraceID(ctx))
	}
}
