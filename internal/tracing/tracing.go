// Package tracing sets up OpenTelemetry tracing for a Pressline process and
// carries the W3C trace context in NATS message headers, so that one
// article version is one trace from the HTTP request that brought it to
// the last webhook about it. Spans are always made (their ids go into
// logs and the article's status); they leave the process only when an
// OTLP endpoint is configured.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector, e.g. http://otel-collector:4318;
	// empty keeps spans in the process (ids only).
	Endpoint string
	// Service names the process in traces, e.g. pressline-clean.
	Service string
}

// Provider makes tracers; Shutdown flushes what is still buffered.
type Provider struct {
	*sdktrace.TracerProvider
}

// New builds the process's tracer provider.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", cfg.Service))),
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL like http://collector:4318", cfg.Endpoint)
		}
		eopts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.JoinPath("/v1/traces").String())}
		if u.Scheme == "http" {
			eopts = append(eopts, otlptracehttp.WithInsecure())
		}
		exp, err := otlptracehttp.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return &Provider{sdktrace.NewTracerProvider(opts...)}, nil
}

// Shutdown flushes and stops; safe on a nil provider.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.TracerProvider == nil {
		return nil
	}
	return errors.Join(p.ForceFlush(ctx), p.TracerProvider.Shutdown(ctx))
}

// propagator is W3C Trace Context: traceparent and tracestate.
var propagator = propagation.TraceContext{}

// Inject writes ctx's span context into NATS message headers.
func Inject(ctx context.Context, h nats.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(http.Header(h)))
}

// Extract returns ctx with the span context found in NATS message headers.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(http.Header(h)))
}

// ExtractHTTP returns ctx with the span context of an incoming request, so
// a newsroom's own trace continues into Pressline.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// TraceID is the trace id of ctx's span, or "".
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// Observe records v with ctx's trace id as an exemplar, so a dashboard can
// jump from a slow bucket to the trace of an example; without a trace (or
// an observer that takes exemplars) it records v alone.
func Observe(ctx context.Context, o prometheus.Observer, v float64) {
	if e, ok := o.(prometheus.ExemplarObserver); ok {
		if id := TraceID(ctx); id != "" {
			e.ObserveWithExemplar(v, prometheus.Labels{"trace_id": id})
			return
		}
	}
	o.Observe(v)
}
