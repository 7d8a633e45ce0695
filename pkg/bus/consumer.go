package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/pressline/pressline/pkg/fault"
	"github.com/pressline/pressline/pkg/tracing"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Msg is a delivered event, as a stage handler sees it.
type Msg struct {
	Subject   string
	Data      []byte
	Header    nats.Header
	ArticleID string
	Version   uint32
	// Attempt counts deliveries of this message, from 1.
	Attempt int
	// Stored is when the message entered its stream (for a replayed dead
	// letter, when it was replayed).
	Stored time.Time
	// TraceID is the id of the trace this message belongs to.
	TraceID string
	// Log carries the stage, article id and version on every line.
	Log *slog.Logger
}

// Handler does one stage's work on one message. It returns nil when done;
// an error classified by pkg/fault otherwise (unclassified means retry).
type Handler func(ctx context.Context, m *Msg) error

// ConsumerConfig describes one stage's durable consumer.
type ConsumerConfig struct {
	// Stage names the durable consumer, its metrics and dead letters.
	Stage string
	// Subject the stage consumes.
	Subject string
	// Subjects, when set, replaces Subject with several filters.
	Subjects []string
	// Stream holds the subjects; StreamArticles when empty.
	Stream string
	// ReplaySubject, when set, is where `pressline dlq replay` sends this
	// stage's dead letters back, instead of the subject they came on: a
	// stage that shares its subject with other consumers (a webhook
	// subscriber reading site events) must get a replay for itself only.
	ReplaySubject string
	// Ordered handles one article's messages one at a time, in stream
	// order, so a later version never overtakes an earlier one; other
	// articles go on in parallel.
	Ordered bool
	// HandlerTimeout bounds one handler call; AckWait×4 when zero.
	HandlerTimeout time.Duration
	// Workers handle messages concurrently; at least 1.
	Workers int
	// MaxAttempts is how many times a message is tried before it becomes
	// a dead letter.
	MaxAttempts int
	// AckWait is how long a delivery may go unacknowledged before the
	// server redelivers it; long handlers extend it with InProgress.
	AckWait time.Duration
	// MinBackoff and MaxBackoff bound the delay before a retry; the delay
	// doubles with each attempt, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// OnGiveUp, if set, is told of every message that became a dead
	// letter, after the record is stored (e.g. to mark the article failed).
	OnGiveUp func(ctx context.Context, m *Msg, err error)
}

// deadLetterSpare is how many deliveries beyond MaxAttempts the server
// allows, so that a failure to store a dead letter (NATS itself failing)
// is retried rather than losing the message.
const deadLetterSpare = 5

// Consume runs a stage: it creates its durable pull consumer (idempotently)
// and hands messages to h until ctx is cancelled. Then it stops taking new
// messages, lets in-flight ones finish, and returns.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 1
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = cfg.AckWait * 4
	}
	if cfg.Stream == "" {
		cfg.Stream = StreamArticles
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Stage,
		Description:   "Pressline stage " + cfg.Stage,
		FilterSubject: cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxAttempts + deadLetterSpare,
		MaxAckPending: cfg.Workers * 4,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(cfg.Subjects) > 0 {
		cc.FilterSubject, cc.FilterSubjects = "", cfg.Subjects
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, cfg.Stream, cc)
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", cfg.Stage, err)
	}
	if b.metrics != nil {
		b.metrics.watch(cfg.Stage, cons)
		defer b.metrics.unwatch(cfg.Stage)
	}

	work := make(chan *delivery)
	var order *serial
	if cfg.Ordered {
		order = &serial{queues: map[string][]*delivery{}}
	}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for m := range work {
				for m != nil {
					b.handle(ctx, cfg, h, m)
					m = order.next(m) // nil when unordered
				}
			}
		})
	}
	// A message is kept alive from the moment it arrives: it may wait
	// for a free worker, or behind its article's current message, longer
	// than AckWait, and the server must not deliver it again meanwhile.
	dispatch := func(m jetstream.Msg) {
		d := &delivery{Msg: m, stop: keepAlive(m, cfg.AckWait)}
		if order == nil || order.add(d) {
			work <- d
		}
	}
	// A small pull batch keeps messages from waiting in the client's buffer
	// while their ack timer runs.
	consumeCtx, err := cons.Consume(dispatch,
		jetstream.PullMaxMessages(cfg.Workers),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				b.log.Warn("consume", "stage", cfg.Stage, "err", err)
			}
		}))
	if err != nil {
		close(work)
		wg.Wait()
		return fmt.Errorf("bus: consume %s: %w", cfg.Stage, err)
	}
	<-ctx.Done()
	// Drain hands over what was already pulled, then closes; only then may
	// the workers' channels close.
	consumeCtx.Drain()
	<-consumeCtx.Closed()
	close(work)
	wg.Wait()
	return nil
}

// delivery is a received message and the stop of its keep-alive.
type delivery struct {
	jetstream.Msg
	stop func()
}

// handle runs h on one delivery and settles it: ack on success, nak with a
// delay on a retryable failure, dead letter and term when the failure is
// permanent or the attempts are used up. Handlers run on a context that
// shutdown does not cancel, so in-flight work finishes; HandlerTimeout
// bounds it.
func (b *Bus) handle(parent context.Context, cfg ConsumerConfig, h Handler, d *delivery) {
	jm := d.Msg
	meta, err := jm.Metadata()
	if err != nil {
		b.log.Error("not a JetStream message", "stage", cfg.Stage, "err", err)
		d.stop()
		_ = jm.Term()
		return
	}
	m := &Msg{
		Subject:   jm.Subject(),
		Data:      jm.Data(),
		Header:    jm.Headers(),
		ArticleID: jm.Headers().Get(HeaderArticleID),
		Attempt:   int(meta.NumDelivered),
		Stored:    meta.Timestamp,
	}
	if v, err := strconv.ParseUint(jm.Headers().Get(HeaderVersion), 10, 32); err == nil {
		m.Version = uint32(v)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cfg.HandlerTimeout)
	defer cancel()
	ctx, span := b.tracer.Start(tracing.Extract(ctx, m.Header), cfg.Stage, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", m.Subject),
			attribute.String("pressline.article.id", m.ArticleID), attribute.Int("pressline.article.version", int(m.Version)),
			attribute.Int("messaging.delivery.attempt", m.Attempt)))
	defer span.End()
	m.TraceID = tracing.TraceID(ctx)
	m.Log = b.log.With("stage", cfg.Stage, "article_id", m.ArticleID, "version", m.Version, "trace_id", m.TraceID)
	stopProgress := d.stop
	start := time.Now()
	if b.metrics != nil {
		b.metrics.inFlight.WithLabelValues(cfg.Stage).Inc()
		if m.Attempt > 1 {
			b.metrics.redeliveries.WithLabelValues(cfg.Stage).Inc()
		}
	}
	herr := h(ctx, m)
	stopProgress()
	outcome := b.settle(ctx, cfg, jm, m, herr)
	span.SetAttributes(attribute.String("pressline.outcome", outcome))
	if herr != nil {
		span.RecordError(herr)
		span.SetStatus(codes.Error, outcome)
	}
	if b.metrics != nil {
		b.metrics.inFlight.WithLabelValues(cfg.Stage).Dec()
		b.metrics.handled.WithLabelValues(cfg.Stage, outcome).Inc()
		tracing.Observe(ctx, b.metrics.duration.WithLabelValues(cfg.Stage), time.Since(start).Seconds())
	}
}

func (b *Bus) settle(ctx context.Context, cfg ConsumerConfig, jm jetstream.Msg, m *Msg, herr error) string {
	if herr == nil {
		if err := jm.Ack(); err != nil {
			// The server will redeliver; the handler's output is
			// de-duplicated by message id, so that costs only time.
			m.Log.Warn("ack failed", "err", err)
		}
		return "ok"
	}
	permanent := fault.IsPermanent(herr)
	if !permanent && m.Attempt < cfg.MaxAttempts {
		delay := backoff(cfg, m.Attempt)
		if d, ok := fault.RetryAfter(herr); ok && d > delay {
			delay = d
		}
		m.Log.Warn("will retry", "attempt", m.Attempt, "delay", delay, "err", herr)
		_ = jm.NakWithDelay(delay)
		return "retry"
	}
	if err := b.deadLetter(ctx, cfg, jm, m, herr, permanent); err != nil {
		// Without the record, terminating would lose the message: try again.
		m.Log.Error("dead letter not stored, will retry", "err", err, "cause", herr)
		_ = jm.NakWithDelay(cfg.MaxBackoff)
		return "retry"
	}
	m.Log.Error("gave up", "attempt", m.Attempt, "permanent", permanent, "err", herr)
	_ = jm.TermWithReason(truncate(herr.Error(), 200))
	if cfg.OnGiveUp != nil {
		cfg.OnGiveUp(ctx, m, herr)
	}
	return "dead_letter"
}

func (b *Bus) deadLetter(ctx context.Context, cfg ConsumerConfig, jm jetstream.Msg, m *Msg, herr error, permanent bool) error {
	stage := cfg.Stage
	meta, _ := jm.Metadata()
	hdr := map[string]string{}
	for k, v := range jm.Headers() {
		if len(v) > 0 {
			hdr[k] = v[0]
		}
	}
	subject := m.Subject
	if cfg.ReplaySubject != "" {
		subject = cfg.ReplaySubject
	}
	dl := &pb.DeadLetter{
		Stage:          stage,
		Subject:        subject,
		Data:           m.Data,
		Headers:        hdr,
		Error:          herr.Error(),
		Permanent:      permanent,
		Attempts:       uint32(m.Attempt),
		FailedAt:       timestamppb.Now(),
		ArticleId:      m.ArticleID,
		ArticleVersion: m.Version,
	}
	data, err := proto.Marshal(dl)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: DeadLetterSubject(stage), Data: data, Header: nats.Header{}}
	msg.Header.Set(HeaderArticleID, m.ArticleID)
	msg.Header.Set(HeaderVersion, strconv.FormatUint(uint64(m.Version), 10))
	// One record per failed stream message, however often we get here.
	id := "deadletter/" + stage + "/" + strconv.FormatUint(meta.Sequence.Stream, 10)
	return b.publishMsg(ctx, msg, id)
}

// keepAlive tells the server the message is still being worked on (or
// waiting its turn), so a long handler or a long wait is not mistaken for
// a dead consumer.
func keepAlive(jm jetstream.Msg, ackWait time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = jm.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func backoff(cfg ConsumerConfig, attempt int) time.Duration {
	d := cfg.MinBackoff << min(attempt-1, 20)
	if d <= 0 || d > cfg.MaxBackoff {
		d = cfg.MaxBackoff
	}
	// Full jitter in the upper half keeps retries of a burst from
	// arriving together.
	return d/2 + rand.N(d/2+1)
}

// serial keeps one article's messages in stream order: while one is being
// handled, later ones wait in its queue and the worker that finishes it
// takes the next, so other articles never wait behind a busy one.
type serial struct {
	mu     sync.Mutex
	queues map[string][]*delivery // head is in progress
}

// add queues d behind its article's messages; true when none was in
// progress, so d is to be handed to a worker now.
func (s *serial) add(d *delivery) bool {
	id := d.Headers().Get(HeaderArticleID)
	s.mu.Lock()
	defer s.mu.Unlock()
	q, busy := s.queues[id]
	s.queues[id] = append(q, d)
	return !busy
}

// next returns the message after done of the same article, or nil.
func (s *serial) next(done *delivery) *delivery {
	if s == nil {
		return nil
	}
	id := done.Headers().Get(HeaderArticleID)
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[id][1:]
	if len(q) == 0 {
		delete(s.queues, id)
		return nil
	}
	s.queues[id] = q
	return q[0]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
