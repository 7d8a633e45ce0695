package webhooks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pressline/pressline/internal/layout"
)

// DefaultLogRetention is how long delivery attempts are kept: a week,
// time enough to redeliver what a receiver lost over a holiday.
const DefaultLogRetention = 7 * 24 * time.Hour

// Outcomes of an attempt.
const (
	Delivered = "delivered" // a 2xx answer
	Retrying  = "retry"     // it failed and will be tried at NextRetry
	Failed    = "failed"    // it failed for good: a dead letter
	Disabled  = "disabled"  // the receiver answered 410: the subscriber is disabled
)

// Attempt is one try at delivering one event to one subscriber.
type Attempt struct {
	// Seq is the attempt's place in the log, the cursor of a reader.
	Seq        uint64    `json:"seq"`
	Subscriber string    `json:"subscriber"`
	WebhookID  string    `json:"webhook_id"`
	ArticleID  string    `json:"article_id"`
	Version    uint32    `json:"version"`
	Site       string    `json:"site"`
	Event      string    `json:"event"` // published, updated, withdrawn, or test
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	// Status is the receiver's HTTP status; 0 when none came.
	Status    int        `json:"status,omitempty"`
	LatencyMS float64    `json:"latency_ms"`
	Error     string     `json:"error,omitempty"`
	Outcome   string     `json:"outcome"`
	NextRetry *time.Time `json:"next_retry,omitempty"`
	// EventSeq is the event's sequence in the sites' stream: what a
	// redelivery sends again.
	EventSeq uint64 `json:"event_seq"`
}

// Log keeps delivery attempts in a stream of their own, which ages them
// out: notify records each attempt, the API reads them.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// OpenLog makes the log's stream if needed, keeping attempts for
// retention (DefaultLogRetention when zero).
func OpenLog(ctx context.Context, js jetstream.JetStream, replicas int, retention time.Duration) (*Log, error) {
	if retention <= 0 {
		retention = DefaultLogRetention
	}
	sc := jetstream.StreamConfig{
		Name:        layout.StreamWebhookLog,
		Description: "Every webhook delivery attempt, by subscriber and webhook-id; aged out.",
		Subjects:    layout.StreamSubjects(layout.StreamWebhookLog),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    max(replicas, 1),
		MaxAge:      retention,
	}
	stream, err := js.Stream(ctx, sc.Name)
	if err != nil || stream.CachedInfo().Config.MaxAge != retention || stream.CachedInfo().Config.Replicas != sc.Replicas {
		stream, err = js.CreateOrUpdateStream(ctx, sc)
	}
	if err != nil {
		return nil, fmt.Errorf("webhooks: the delivery log: %w", err)
	}
	return &Log{js: js, stream: stream}, nil
}

// Record stores an attempt.
func (l *Log) Record(ctx context.Context, a Attempt) error {
	a.Seq = 0
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := l.js.Publish(ctx, layout.WebhookLogSubject(a.Subscriber, a.WebhookID), data); err != nil {
		return fmt.Errorf("webhooks: record an attempt to %s: %w", a.Subscriber, err)
	}
	return nil
}

// Query selects attempts.
type Query struct {
	Subscriber string
	// WebhookID, when set, keeps one event's attempts.
	WebhookID string
	// After is a cursor: attempts recorded after the one of this Seq.
	After uint64
	// Since and Until bound when the attempts were recorded, which is
	// once their answer came (zero: no bound).
	Since, Until time.Time
	// Limit is the most attempts answered (100 when not positive).
	Limit int
}

// Attempts reads up to q.Limit attempts, oldest first, and whether more
// match after them. Each is one direct read of the stream (the next of
// the subscriber's subjects from a sequence on), and Since is found by
// a binary search of the stream's sequences, so a reader leaves nothing
// on the server.
func (l *Log) Attempts(ctx context.Context, q Query) ([]Attempt, bool, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	filter := layout.WebhookLogFilter(q.Subscriber)
	if q.WebhookID != "" {
		filter = layout.WebhookLogSubject(q.Subscriber, q.WebhookID)
	}
	seq := q.After + 1
	if !q.Since.IsZero() {
		from, err := l.firstSince(ctx, q.Since)
		if err != nil {
			return nil, false, err
		}
		seq = max(seq, from)
	}
	var out []Attempt
	for {
		m, err := l.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("webhooks: the delivery log from %d: %w", seq, err)
		}
		if !q.Until.IsZero() && m.Time.After(q.Until) {
			return out, false, nil
		}
		if len(out) == q.Limit {
			return out, true, nil
		}
		var a Attempt
		if err := json.Unmarshal(m.Data, &a); err != nil {
			return nil, false, fmt.Errorf("webhooks: attempt %d: %w", m.Sequence, err)
		}
		a.Seq = m.Sequence
		out = append(out, a)
		seq = m.Sequence + 1
	}
}

// firstSince is the first sequence stored at or after t: the stream is
// in time order, so a binary search of log2(messages) reads finds it.
func (l *Log) firstSince(ctx context.Context, t time.Time) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("webhooks: the delivery log: %w", err)
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq+1 // the answer is in [lo, hi]
	all := layout.WebhookLogFilter("")
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := l.stream.GetMsg(ctx, mid, jetstream.WithGetMsgSubject(all))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			hi = mid // nothing from mid on: aged out meanwhile
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("webhooks: the delivery log at %d: %w", mid, err)
		}
		if m.Time.Before(t) {
			lo = m.Sequence + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// FailedEvents are the events whose last attempt among attempts failed
// for good, by their sequence in the sites' stream, in the order they
// failed.
func FailedEvents(attempts []Attempt) []uint64 {
	last := map[string]Attempt{}
	for _, a := range attempts {
		last[a.WebhookID] = a
	}
	var failed []Attempt
	for _, a := range last {
		if a.Outcome == Failed {
			failed = append(failed, a)
		}
	}
	slices.SortFunc(failed, func(a, b Attempt) int { return cmp.Compare(a.Seq, b.Seq) })
	seqs := make([]uint64, len(failed))
	for i, a := range failed {
		seqs[i] = a.EventSeq
	}
	return seqs
}
