package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/bus"
	"github.com/pressline/pressline/pkg/config"
	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/webhook"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// subscriber is one webhook receiver. Each has its own durable consumer
// of the site events, so a slow or dead receiver holds up no one else.
type subscriber struct {
	config.Webhook
	secret webhook.Secret
}

func newSubscriber(w config.Webhook) (*subscriber, error) {
	secret, err := webhook.ParseSecret(w.Secret)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	return &subscriber{Webhook: w, secret: secret}, nil
}

// consumer is the subscriber's durable consumer: its sites and events,
// and its own replay subject. Deliveries are ordered per article, so a
// receiver gets an article's versions in the order they were published,
// and a delivery is retried in place until it succeeds or its deadline
// passes.
func (sub *subscriber) consumer(base bus.ConsumerConfig) bus.ConsumerConfig {
	sites, events := sub.Sites, sub.Events
	if len(sites) == 0 {
		sites = []string{"*"}
	}
	if len(events) == 0 {
		events = []string{"*"}
	}
	var subjects []string
	for _, site := range sites {
		for _, ev := range events {
			subjects = append(subjects, bus.SiteSubject(site, ev))
		}
	}
	return bus.ConsumerConfig{
		Stage: "webhook-" + sub.Name, Stream: bus.StreamSites,
		Subjects:      append(subjects, bus.WebhookSubject(sub.Name)),
		ReplaySubject: bus.WebhookSubject(sub.Name),
		Ordered:       true, Workers: max(base.Workers, 4),
		// Attempts here are restarts of the process, not failed POSTs,
		// which the handler retries itself up to the deadline.
		MaxAttempts: 5, AckWait: base.AckWait, MinBackoff: time.Second, MaxBackoff: time.Minute,
		HandlerTimeout: sub.Deadline + time.Minute,
	}
}

// Body is a webhook's JSON body, in the Standard Webhooks shape.
type Body struct {
	Type      string          `json:"type"` // article.published, article.updated or article.withdrawn
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"` // the ArticlePublished event, as in docs/events.md
}

// webhookID is the same for every attempt and every process: receivers
// de-duplicate on it.
func webhookID(ev *pb.ArticlePublished) string {
	return fmt.Sprintf("msg_%s_v%d_%s_%s", ev.GetArticle().GetId(), ev.GetArticle().GetVersion(), ev.GetSite(), kindOf(ev))
}

// kindOf is published, updated or withdrawn.
func kindOf(ev *pb.ArticlePublished) string {
	return strings.ToLower(strings.TrimPrefix(ev.GetKind().String(), "PUBLICATION_KIND_"))
}

func webhookBody(ev *pb.ArticlePublished) ([]byte, error) {
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
	if err != nil {
		return nil, err
	}
	// protojson varies its whitespace on purpose; compacting makes the
	// body the same on every attempt.
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, err
	}
	return json.Marshal(Body{Type: "article." + kindOf(ev), Timestamp: ev.GetPublishedAt().AsTime().UTC(), Data: compact.Bytes()})
}

// deliver POSTs one event to a subscriber, retrying with back-off until it
// is taken or the deadline, counted from when the event was stored,
// passes. Then the event becomes a dead letter that `pressline dlq
// replay` sends to this subscriber alone. Stopping the process ends the
// waiting; the event is delivered again after the restart.
func (s *Service) deliver(run context.Context, sub *subscriber) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var ev pb.ArticlePublished
		if err := proto.Unmarshal(m.Data, &ev); err != nil {
			return fault.Permanent(fmt.Errorf("webhook %s: decode event: %w", sub.Name, err))
		}
		if len(sub.Sites) > 0 && !slices.Contains(sub.Sites, ev.GetSite()) {
			return nil // a replay of an event for a site no longer subscribed
		}
		body, err := webhookBody(&ev)
		if err != nil {
			return fault.Permanent(err)
		}
		id := webhookID(&ev)
		deadline := m.Stored.Add(sub.Deadline)
		for attempt := 1; ; attempt++ {
			start := s.now()
			actx, span := s.tracer.Start(ctx, "webhook "+sub.Name, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("pressline.webhook.subscriber", sub.Name), attribute.String("pressline.webhook.id", id),
					attribute.Int("pressline.webhook.attempt", attempt)))
			err := webhook.Post(actx, s.cfg.WebhookClient, sub.URL, sub.secret, id, start, body, s.cfg.Refused)
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "not delivered")
			}
			span.End()
			s.metrics.attempts.WithLabelValues(sub.Name).Observe(time.Since(start).Seconds())
			if err == nil {
				s.metrics.deliveries.WithLabelValues(sub.Name, "delivered").Inc()
				m.Log.Info("webhook delivered", "subscriber", sub.Name, "webhook_id", id, "attempt", attempt)
				return nil
			}
			if !webhook.IsRetryable(err) {
				s.metrics.deliveries.WithLabelValues(sub.Name, "failed").Inc()
				return fault.Permanent(fmt.Errorf("webhook %s: %s refused %s for good: %w", sub.Name, sub.URL, id, err))
			}
			var retryAfter time.Duration
			if e, ok := err.(*webhook.Error); ok {
				retryAfter = e.RetryAfter
			}
			wait := webhook.Backoff(sub.MinBackoff, sub.MaxBackoff, attempt, retryAfter)
			if s.now().Add(wait).After(deadline) {
				s.metrics.deliveries.WithLabelValues(sub.Name, "failed").Inc()
				return fault.Permanent(fmt.Errorf("webhook %s: %s not delivered after %d attempts within the %s deadline: %w", sub.Name, id, attempt, sub.Deadline, err))
			}
			s.metrics.deliveries.WithLabelValues(sub.Name, "retry").Inc()
			m.Log.Warn("webhook will retry", "subscriber", sub.Name, "webhook_id", id, "attempt", attempt, "wait", wait, "err", err)
			select {
			case <-time.After(wait):
			case <-run.Done():
				return fmt.Errorf("webhook %s: stopped while waiting to retry %s: %w", sub.Name, id, err)
			case <-ctx.Done():
				return fmt.Errorf("webhook %s: %w", sub.Name, ctx.Err())
			}
		}
	}
}
