package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/bus"
	"github.com/pressline/pressline/internal/config"
	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/webhooks"
	"github.com/pressline/pressline/pkg/events"
	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// deliver POSTs one event to a subscriber, once: a failure that may pass
// is returned for the bus to retry, one that cannot is permanent.
//
// A receiver that answers 410 Gone asks for no more: the subscriber is
// disabled, and the event stays in its consumer, as do the ones after
// it, for when an operator enables it again.
func (s *Service) deliver(w config.Webhook, h *health) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		if id := m.Header.Get(bus.HeaderWebhookTest); id != "" {
			s.test(ctx, w, m, id)
			return nil
		}
		var ev pb.ArticlePublished
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			return fault.Permanent(fmt.Errorf("webhook %s: decode event: %w", w.Name, err))
		}
		if len(w.Sites) > 0 && !slices.Contains(w.Sites, ev.GetSite()) {
			return nil // a replay of an event for a site no longer subscribed
		}
		body, err := bodyOf(&ev)
		if err != nil {
			return fault.Permanent(err)
		}
		id := webhookID(&ev)
		start := s.now()
		actx, span := s.tracer.Start(ctx, "webhook "+w.Name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("pressline.webhook.subscriber", w.Name), attribute.String("pressline.webhook.id", id),
				attribute.Int("pressline.webhook.attempt", m.Attempt)))
		code, err := post(actx, s.cfg.Client, w.URL, w.Secrets(start), id, start, body, s.cfg.Refused)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "not delivered")
		}
		span.End()
		took := time.Since(start)
		s.metrics.attempts.WithLabelValues(w.Name).Observe(took.Seconds())
		a := &webhooks.Attempt{Subscriber: w.Name, WebhookID: id, ArticleID: ev.GetArticle().GetId(), Version: ev.GetArticle().GetVersion(),
			Site: ev.GetSite(), Event: string(events.KindOf(ev.GetKind())), Attempt: m.Attempt, At: start.UTC(),
			Status: code, LatencyMS: float64(took.Microseconds()) / 1000, EventSeq: m.Seq}
		var pe *postError
		if errors.As(err, &pe) {
			a.Error = firstLine(err)
		}
		failing := h.record(err == nil, start)
		if gone(err) {
			a.Outcome = webhooks.Disabled
			s.disable(ctx, m, w, "gone", fmt.Sprintf("%s answered 410 Gone at %s: it asks for no more deliveries", w.URL, start.UTC().Format(time.RFC3339)))
			// Its consumer stops within moments of the bucket's change,
			// handing this event back; the retry is for a disable that
			// could not be written, and comes well inside the deadline.
			return fault.Retry(&attemptError{a, fmt.Errorf("webhook %s: %s: %w; subscriber disabled", w.Name, id, err)}, 5*time.Second)
		}
		if err != nil && w.DisableAfter > 0 && start.Sub(failing) >= w.DisableAfter {
			s.disable(ctx, m, w, "failing", fmt.Sprintf("no delivery succeeded from %s, for over %s", failing.UTC().Format(time.RFC3339), w.DisableAfter))
		}
		if err == nil {
			s.metrics.deliveries.WithLabelValues(w.Name, "delivered").Inc()
			m.Log.Info("webhook delivered", "subscriber", w.Name, "webhook_id", id, "attempt", m.Attempt)
			a.Outcome = webhooks.Delivered
			s.recordAttempt(ctx, m, a)
			return nil
		}
		if !isRetryable(err) {
			return fault.Permanent(&attemptError{a, fmt.Errorf("webhook %s: %s refused %s for good: %w", w.Name, w.URL, id, err)})
		}
		if pe != nil && pe.RetryAfter > 0 {
			return fault.Retry(&attemptError{a, fmt.Errorf("webhook %s: %s: %w", w.Name, id, err)}, pe.RetryAfter)
		}
		return &attemptError{a, fmt.Errorf("webhook %s: %s: %w", w.Name, id, err)}
	}
}

// test sends a test event once, and records what came of it: an
// operator wants to know now whether the receiver takes webhooks, not
// in an hour of retries, and a test that fails is no dead letter.
func (s *Service) test(ctx context.Context, w config.Webhook, m *bus.Msg, id string) {
	start := s.now()
	body, _ := json.Marshal(webhook.NewTestBody(w.Name, start))
	code, err := post(ctx, s.cfg.Client, w.URL, w.Secrets(start), id, start, body, s.cfg.Refused)
	took := time.Since(start)
	a := &webhooks.Attempt{Subscriber: w.Name, WebhookID: id, Event: "test", Attempt: m.Attempt, At: start.UTC(),
		Status: code, LatencyMS: float64(took.Microseconds()) / 1000, Outcome: webhooks.Delivered, EventSeq: m.Seq}
	if err != nil {
		a.Error, a.Outcome = firstLine(err), webhooks.Failed
	}
	m.Log.Info("webhook test sent", "subscriber", w.Name, "webhook_id", id, "outcome", a.Outcome, "status", a.Status)
	s.recordAttempt(ctx, m, a)
}

// attemptError carries a failed attempt's record to the consumer's
// OnRetry or OnGiveUp, which know what comes of it (a retry, and when,
// or a dead letter) and record it then.
type attemptError struct {
	attempt *webhooks.Attempt
	err     error
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// settled records the attempt err carries, if any, with its outcome:
// Retrying with next set, or Failed.
func (s *Service) settled(ctx context.Context, m *bus.Msg, err error, outcome string, next time.Time) {
	var ae *attemptError
	if !errors.As(err, &ae) {
		return // not an attempt: the event could not be read
	}
	a := *ae.attempt
	if a.Outcome == "" {
		a.Outcome = outcome
	}
	if outcome == webhooks.Retrying {
		next := next.UTC()
		a.NextRetry = &next
	}
	s.recordAttempt(ctx, m, &a)
}

// recordAttempt writes a to the delivery log. The log is for people: a
// write that fails is logged, and the delivery goes on as it would.
func (s *Service) recordAttempt(ctx context.Context, m *bus.Msg, a *webhooks.Attempt) {
	if s.cfg.Attempts == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.cfg.Attempts.Record(ctx, *a); err != nil {
		m.Log.Warn("webhook attempt not recorded", "subscriber", a.Subscriber, "webhook_id", a.WebhookID, "err", err)
	}
}

// firstLine is an error's first line, as the log keeps it.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// webhookID is the same for every attempt and every process: receivers
// de-duplicate on it.
func webhookID(ev *pb.ArticlePublished) string {
	return fmt.Sprintf("msg_%s_v%d_%s_%s", ev.GetArticle().GetId(), ev.GetArticle().GetVersion(), ev.GetSite(), events.KindOf(ev.GetKind()))
}

func bodyOf(ev *pb.ArticlePublished) ([]byte, error) {
	b, err := webhook.NewBody(ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(b)
}
