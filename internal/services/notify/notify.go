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
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/ops"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/events"
)

type (
	consumer interface {
		Consume(ctx context.Context, cfg bus.ConsumerConfig, h bus.Handler) error
		DeleteConsumer(ctx context.Context, stream, stage string) error
	}
	subscribers interface {
		Seed(ctx context.Context, hooks []config.Webhook) error
		Watch(ctx context.Context, change func(name string, spec *config.WebhookSpec)) error
		Disable(ctx context.Context, name, reason string) (bool, error)
	}
	attemptLog interface {
		Record(ctx context.Context, a webhooks.Attempt) error
	}
)

// StagePrefix names a subscriber's consumer, metrics and dead letters:
// webhook-<subscriber>.
const StagePrefix = "webhook-"

// Config holds the service's dependencies.
type Config struct {
	Bus consumer
	// Subscribers are the webhook subscribers, watched: one created,
	// changed, disabled or deleted (through the API) is delivered to,
	// or not, from then on, without a restart.
	Subscribers subscribers
	// Attempts records every delivery attempt, for operators to read
	// and redeliver from; nil records none.
	Attempts attemptLog
	// Webhooks seed Subscribers (--webhooks-file): each one not there
	// yet is added.
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
	deliveries  *prometheus.CounterVec
	attempts    *prometheus.HistogramVec
	subscribers *prometheus.GaugeVec
	disabled    *prometheus.CounterVec
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Bus == nil || cfg.Subscribers == nil || cfg.Client == nil {
		return nil, errors.New("notify: Bus, Subscribers and Client are required")
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
			subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Namespace: ops.Namespace, Subsystem: "webhook", Name: "subscribers",
				Help: "Webhook subscribers this process knows, by state: delivering, disabled, or invalid (settings it cannot use).",
			}, []string{"state"}),
			disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: ops.Namespace, Subsystem: "webhook", Name: "auto_disabled_total",
				Help: "Webhook subscribers this process disabled, by reason: gone (the receiver answered 410) or failing (no delivery succeeded for its disable_after).",
			}, []string{"subscriber", "reason"}),
		}}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.metrics.deliveries, s.metrics.attempts, s.metrics.subscribers, s.metrics.disabled)
	}
	return s, nil
}

// Run delivers to every enabled subscriber until ctx is cancelled, then
// finishes the attempts in flight; waiting retries are handed back to
// the server. A subscriber's delivery starts, restarts with its new
// settings, or stops as the subscribers' bucket changes.
func (s *Service) Run(ctx context.Context) error {
	if err := s.cfg.Subscribers.Seed(ctx, s.cfg.Webhooks); err != nil {
		return fmt.Errorf("notify: seed the subscribers: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type change struct {
		name string
		spec *config.WebhookSpec
	}
	changes := make(chan change)
	watched := make(chan error, 1)
	go func() {
		watched <- s.cfg.Subscribers.Watch(ctx, func(name string, spec *config.WebhookSpec) {
			select {
			case changes <- change{name, spec}:
			case <-ctx.Done():
			}
		})
	}()
	type delivery struct {
		spec config.WebhookSpec
		stop context.CancelFunc
		done chan error
	}
	running := map[string]*delivery{}
	state := map[string]string{} // by subscriber: delivering, disabled or invalid
	count := func() {
		for _, st := range []string{"delivering", "disabled", "invalid"} {
			n := 0
			for _, v := range state {
				if v == st {
					n++
				}
			}
			s.metrics.subscribers.WithLabelValues(st).Set(float64(n))
		}
	}
	stop := func(d *delivery) error {
		d.stop()
		return <-d.done
	}
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-watched:
			break loop
		case c := <-changes:
			d := running[c.name]
			if d != nil && c.spec != nil && reflect.DeepEqual(d.spec, *c.spec) {
				continue
			}
			if d != nil {
				delete(running, c.name)
				if err = stop(d); err != nil {
					break loop
				}
			}
			switch {
			case c.spec == nil:
				delete(state, c.name)
				// Its durable consumer goes too: a subscriber made
				// later under the name starts from its own creation.
				if derr := s.cfg.Bus.DeleteConsumer(ctx, layout.StreamSites, StagePrefix+c.name); derr != nil {
					s.log.Warn("a deleted subscriber's consumer stays", "subscriber", c.name, "err", derr)
				}
			case c.spec.Disabled:
				state[c.name] = "disabled"
			}
			if c.spec == nil || c.spec.Disabled {
				count()
				s.log.Info("webhook subscriber stopped", "subscriber", c.name, "deleted", c.spec == nil)
				continue
			}
			w, werr := c.spec.Webhook()
			if werr != nil {
				state[c.name] = "invalid"
				count()
				s.log.Error("webhook subscriber not started: its settings are wrong", "subscriber", c.name, "err", werr)
				continue
			}
			state[c.name] = "delivering"
			count()
			dctx, dstop := context.WithCancel(ctx)
			d = &delivery{spec: *c.spec, stop: dstop, done: make(chan error, 1)}
			running[c.name] = d
			go func() {
				// One subscriber's consumer that cannot be made (NATS
				// away, its settings refused) is tried again, and holds
				// no other subscriber up.
				h := &health{}
				for {
					err := s.cfg.Bus.Consume(dctx, s.consumer(w), s.deliver(w, h))
					if err == nil || dctx.Err() != nil {
						d.done <- nil
						return
					}
					s.log.Error("webhook subscriber not delivering; trying again in 5 s", "subscriber", w.Name, "err", err)
					select {
					case <-dctx.Done():
					case <-time.After(5 * time.Second):
					}
				}
			}()
			s.log.Info("webhook subscriber delivering", "subscriber", c.name, "url", w.URL)
		}
	}
	cancel()
	errs := []error{err}
	for _, d := range running {
		if err := stop(d); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
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
		Stage: stage, Stream: layout.StreamSites, StartAt: w.Since,
		Subjects:      append(subjects, layout.WebhookSubject(w.Name)),
		ReplaySubject: layout.WebhookSubject(w.Name),
		Ordered:       true, Workers: max(s.cfg.Consumer.Workers, 4), AckWait: s.cfg.Consumer.AckWait,
		// A delivery is retried on its schedule, or until its deadline,
		// counted from when the event was stored.
		Schedule: w.Schedule, GiveUpAfter: w.Deadline, MinBackoff: w.MinBackoff, MaxBackoff: w.MaxBackoff,
		HandlerTimeout: s.cfg.AttemptTimeout,
		OnRetry: func(m *bus.Msg, err error, delay time.Duration) {
			s.metrics.deliveries.WithLabelValues(w.Name, "retry").Inc()
			s.settled(context.Background(), m, err, webhooks.Retrying, s.now().Add(delay))
		},
		OnGiveUp: func(ctx context.Context, m *bus.Msg, err error) {
			s.metrics.deliveries.WithLabelValues(w.Name, "failed").Inc()
			s.settled(ctx, m, err, webhooks.Failed, time.Time{})
		},
	}
}

// health is how a subscriber's deliveries have gone since its delivery
// (re)started in this process: when its failures began, if the last
// attempt failed. A restart forgets it, which only delays disabling.
type health struct {
	mu    sync.Mutex
	since time.Time
}

// record notes an attempt's outcome and returns when the failures
// began: zero after a success.
func (h *health) record(ok bool, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case ok:
		h.since = time.Time{}
	case h.since.IsZero():
		h.since = now
	}
	return h.since
}

// disable stops deliveries to a subscriber that asked for no more or
// has failed for too long; the watch then stops its consumer, whose
// undelivered events stay in its durable for when an operator enables
// it again. A failure to write is logged and tried at the next answer.
func (s *Service) disable(ctx context.Context, m *bus.Msg, w config.Webhook, reason, why string) {
	changed, err := s.cfg.Subscribers.Disable(ctx, w.Name, why)
	if err != nil {
		m.Log.Error("webhook subscriber not disabled", "subscriber", w.Name, "reason", reason, "err", err)
		return
	}
	if changed {
		s.metrics.disabled.WithLabelValues(w.Name, reason).Inc()
		m.Log.Warn("webhook subscriber disabled", "subscriber", w.Name, "reason", reason, "why", why)
	}
}
