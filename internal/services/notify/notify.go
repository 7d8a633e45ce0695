// Package notify is the webhook service: it tells downstream sites of
// every publication by a Standard Webhooks-signed POST. Each subscriber
// has its own durable consumer of the site events, ordered per article,
// so a slow or dead receiver holds up no one else and a receiver gets an
// article's versions in the order they were published. Retries, their
// back-off and the delivery deadline are the bus's, as for every stage;
// a delivery that misses its deadline becomes a dead letter that
// `pressline dlq replay` sends to that subscriber alone.
package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/pkg/events"
)

type consumer interface {
	Consume(ctx context.Context, cfg bus.ConsumerConfig, h bus.Handler) error
}

// StagePrefix names a subscriber's consumer, metrics and dead letters:
// webhook-<subscriber>.
const StagePrefix = "webhook-"

// Config holds the service's dependencies.
type Config struct {
	Bus      consumer
	Webhooks []config.Webhook
	// Consumer holds the process's consumer settings; each subscriber's
	// own back-off and deadline replace the stage's.
	Consumer bus.ConsumerConfig
	// Client sends webhooks; a *safefetch.Client keeps them off loopback,
	// private and metadata addresses. Refused says whether an error was
	// such a refusal, which no retry can change.
	Client  Doer
	Refused func(error) bool
	// AttemptTimeout bounds one POST and its answer; 30 s when zero.
	AttemptTimeout time.Duration
	// Tracing makes a span for each attempt; nil makes none.
	Tracing    trace.TracerProvider
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

// Service delivers webhooks.
type Service struct {
	cfg     Config
	log     *slog.Logger
	tracer  trace.Tracer
	metrics metrics
	now     func() time.Time
}

type metrics struct {
	deliveries *prometheus.CounterVec
	attempts   *prometheus.HistogramVec
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil {
		return nil, errors.New("notify: Bus is required")
	}
	if len(cfg.Webhooks) > 0 && cfg.Client == nil {
		return nil, errors.New("notify: webhooks need a Client")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Tracing == nil {
		cfg.Tracing = noop.NewTracerProvider()
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 30 * time.Second
	}
	s := &Service{cfg: cfg, log: cfg.Log, now: time.Now, tracer: cfg.Tracing.Tracer("github.com/pressline/pressline/internal/services/notify"),
		metrics: metrics{
			deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ops.Namespace, Subsystem: "webhook", Name: "deliveries_total",
				Help: "Webhook delivery attempts by subscriber and outcome: delivered, retry (will be tried again), failed (a dead letter).",
			}, []string{"subscriber", "outcome"}),
			attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: ops.Namespace, Subsystem: "webhook", Name: "attempt_duration_seconds",
				Help:    "Time of one webhook POST, answered or not.",
				Buckets: prometheus.DefBuckets,
			}, []string{"subscriber"}),
		}}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.metrics.deliveries, s.metrics.attempts)
	}
	return s, nil
}

// Run delivers to every subscriber until ctx is cancelled, then finishes
// the attempts in flight; waiting retries are handed back to the server.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(s.cfg.Webhooks))
	for _, w := range s.cfg.Webhooks {
		go func() {
			err := s.cfg.Bus.Consume(ctx, s.consumer(w), s.deliver(w))
			cancel() // one subscriber stopping stops the rest
			errc <- err
		}()
	}
	var errs []error
	for range s.cfg.Webhooks {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	if len(s.cfg.Webhooks) == 0 {
		<-ctx.Done() // nothing to deliver: idle until stopped, like any service
	}
	return errors.Join(errs...)
}

// consumer is a subscriber's durable consumer: its sites and events, and
// its own replay subject.
func (s *Service) consumer(w config.Webhook) bus.ConsumerConfig {
	sites, kinds := w.Sites, w.Events
	if len(sites) == 0 {
		sites = []string{"*"}
	}
	if len(kinds) == 0 {
		kinds = []events.Kind{"*"}
	}
	var subjects []string
	for _, site := range sites {
		for _, k := range kinds {
			subjects = append(subjects, layout.SiteSubject(site, k))
		}
	}
	stage := StagePrefix + w.Name
	return bus.ConsumerConfig{
		Stage: stage, Stream: layout.StreamSites,
		Subjects:      append(subjects, layout.WebhookSubject(w.Name)),
		ReplaySubject: layout.WebhookSubject(w.Name),
		Ordered:       true, Workers: max(s.cfg.Consumer.Workers, 4), AckWait: s.cfg.Consumer.AckWait,
		// A delivery is retried until its deadline, counted from when
		// the event was stored, not for a number of attempts.
		GiveUpAfter: w.Deadline, MinBackoff: w.MinBackoff, MaxBackoff: w.MaxBackoff,
		HandlerTimeout: s.cfg.AttemptTimeout,
		OnRetry: func(*bus.Msg, error) {
			s.metrics.deliveries.WithLabelValues(w.Name, "retry").Inc()
		},
		OnGiveUp: func(context.Context, *bus.Msg, error) {
			s.metrics.deliveries.WithLabelValues(w.Name, "failed").Inc()
		},
	}
}
