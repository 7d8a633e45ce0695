package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
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

	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/kvstore"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/tracing"
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
	// Seq is the message's sequence in its stream.
	Seq uint64
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
	// Stream holds the subjects; layout.StreamArticles when empty.
	Stream string
	// ReplaySubject, when set, is where `pressline dlq replay` sends this
	// stage's dead letters back, instead of the subject they came on: a
	// stage that shares its subject with other consumers (a webhook
	// subscriber reading site events) must get a replay for itself only.
	ReplaySubject string
	// Ordered handles one article's messages one at a time, in stream
	// order, so a later version never overtakes an earlier one; other
	// articles go on in parallel. A failed message of an ordered
	// consumer is retried in place, after the same back-off, so nothing
	// of its article is handled before it.
	Ordered bool
	// Partitions, when set, spreads the stage over that many durable
	// consumers (<Stage>-p00, <Stage>-p01, …), partition i reading
	// PartitionSubjects(i), each with at most one message out at a time:
	// the server hands out a partition's next message only when the last
	// is settled, so its messages are handled one at a time and in
	// stream order however many processes run the stage. A message is
	// retried in place, as with Ordered. Workers is then ignored: at most
	// Partitions messages are handled at once, over all processes.
	Partitions        int
	PartitionSubjects func(p int) []string
	// HandlerTimeout bounds one handler call; AckWait×4 when zero.
	HandlerTimeout time.Duration
	// Workers handle messages concurrently; at least 1.
	Workers int
	// MaxAttempts is how many times a message is tried before it becomes
	// a dead letter. Zero, with GiveUpAfter set, leaves only the
	// deadline.
	MaxAttempts int
	// GiveUpAfter, when set, makes a message a dead letter once a retry
	// would come later than this long after it was stored: a deadline in
	// time rather than in attempts (webhook deliveries).
	GiveUpAfter time.Duration
	// AckWait is how long a delivery may go unacknowledged before the
	// server redelivers it; long handlers extend it with InProgress.
	AckWait time.Duration
	// MinBackoff and MaxBackoff bound the delay before a retry; the delay
	// doubles with each attempt, with jitter. A fault.Retry error may ask
	// for longer.
	MinBackoff, MaxBackoff time.Duration
	// Schedule, when set, is the wait before each retry in turn (up to a
	// tenth longer, at random), in place of the doubling back-off and of
	// MaxAttempts; once it is used up the message becomes a dead letter.
	Schedule []time.Duration
	// StartAt, when set, is where a consumer created now starts in its
	// stream, instead of its first message: a webhook subscriber added
	// through the API hears of what is published from then on, not the
	// stream's history. It cannot change once the consumer exists.
	StartAt time.Time
	// OnRetry, if set, is told of every failure that will be tried again,
	// and in how long.
	OnRetry func(m *Msg, err error, delay time.Duration)
	// OnGiveUp, if set, is told of every message that became a dead
	// letter, after the record is stored (e.g. to mark the article failed).
	OnGiveUp func(ctx context.Context, m *Msg, err error)
}

// deadLetterTimeout bounds one try at storing a dead letter, on a
// context of its own: the handler's may have run out, which is often why
// the message failed.
const deadLetterTimeout = 10 * time.Second

// Consume runs a stage: it creates its durable pull consumer (idempotently)
// and hands messages to h until ctx is cancelled. Then it stops taking new
// messages, lets in-flight ones finish, and returns.
func (b *Bus) Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if len(cfg.Schedule) > 0 {
		cfg.MaxAttempts = len(cfg.Schedule) + 1 // the first, then one per wait
	}
	if cfg.MaxAttempts < 1 && cfg.GiveUpAfter <= 0 {
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
		cfg.Stream = layout.StreamArticles
	}
	if cfg.Partitions > 0 {
		return b.consumePartitions(ctx, cfg, h)
	}
	return b.consume(ctx, cfg, consumerConfig(cfg), h)
}

// consumePartitions runs one consumer per partition until ctx ends, or
// one of them fails to start.
func (b *Bus) consumePartitions(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	cfg.Ordered, cfg.Workers = true, 1
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, cfg.Partitions)
	var wg sync.WaitGroup
	for p := range cfg.Partitions {
		cc := consumerConfig(cfg)
		cc.Durable = PartitionConsumer(cfg.Stage, p)
		cc.Description = fmt.Sprintf("Pressline stage %s, partition %d of %d", cfg.Stage, p, cfg.Partitions)
		cc.FilterSubject, cc.FilterSubjects = "", cfg.PartitionSubjects(p)
		cc.MaxAckPending = 1
		wg.Go(func() {
			if errs[p] = b.consume(ctx, cfg, cc, h); errs[p] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PartitionConsumer names the durable consumer of a stage's partition p.
func PartitionConsumer(stage string, p int) string { return fmt.Sprintf("%s-p%02d", stage, p) }

// consumerConfig is the durable consumer of a stage.
func consumerConfig(cfg ConsumerConfig) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Stage,
		Description:   "Pressline stage " + cfg.Stage,
		FilterSubject: cfg.Subject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		// The server never drops a message for its deliveries: a message
		// delivered more often than its attempts (each earlier delivery
		// ended unsettled, its process stopped) is dead-lettered by
		// attempt, and a server cap would end it with no record at all.
		MaxDeliver:    -1,
		MaxAckPending: maxAckPending(cfg.Workers),
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if len(cfg.Subjects) > 0 {
		cc.FilterSubject, cc.FilterSubjects = "", cfg.Subjects
	}
	if !cfg.StartAt.IsZero() {
		start := cfg.StartAt
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	return cc
}

// DeleteConsumer removes a stage's durable consumer from stream, so that
// a stage of the same name made later starts afresh; none is not an
// error.
func (b *Bus) DeleteConsumer(ctx context.Context, stream, stage string) error {
	err := b.js.DeleteConsumer(ctx, stream, stage)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("bus: delete consumer %s: %w", stage, err)
	}
	return nil
}

// consume runs one durable consumer of the stage.
func (b *Bus) consume(ctx context.Context, cfg ConsumerConfig, cc jetstream.ConsumerConfig, h Handler) error {
	cons, err := b.createConsumer(ctx, cfg.Stream, cc)
	if err != nil && ctx.Err() != nil {
		return nil // stopped while starting: a clean stop, as any other
	}
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", cc.Durable, err)
	}
	b.awaitLeader(ctx, cons)
	if b.metrics != nil {
		b.metrics.watch(cfg.Stage, cc.Durable, cons)
		defer b.metrics.unwatch(cc.Durable)
	}

	work := newFair(fairWindow(cfg.Workers))
	var order *serial
	if cfg.Ordered {
		order = &serial{queues: map[string][]*delivery{}}
	}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for d := work.take(); d != nil; d = work.take() {
				b.handle(ctx, cfg, h, d, order)
				work.done(d)
				// The article's next message goes back to the queue
				// rather than on with this worker, so that it, too,
				// takes its newsroom's turn.
				if next := order.next(d); next != nil { // nil when unordered
					work.put(next, true)
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
			work.put(d, false)
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
		work.close()
		wg.Wait()
		return fmt.Errorf("bus: consume %s: %w", cfg.Stage, err)
	}
	<-ctx.Done()
	// Drain hands over what was already pulled, then closes; only then may
	// the workers' queue close.
	consumeCtx.Drain()
	<-consumeCtx.Closed()
	work.close()
	wg.Wait()
	return nil
}

// createConsumer makes or updates a durable consumer, again while
// JetStream cannot answer (a node down, a leader being elected): a stage
// started or restarted during a cluster's fault waits for it, as its
// messages do, rather than end its process.
func (b *Bus) createConsumer(ctx context.Context, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		cons, err := b.js.CreateOrUpdateConsumer(ctx, stream, cc)
		if err == nil || !kvstore.Transient(err) || ctx.Err() != nil {
			return cons, err
		}
		b.log.Warn("JetStream not ready; making the consumer again", "consumer", cc.Durable, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// fairWindow is how many delivered messages a process of a stage queues
// for its workers to share out by newsroom (fair), beyond those in
// hand. The consumer lets out twice that (maxAckPending), so that a
// second process of the stage is not left idle while the first one's
// queue is full.
func fairWindow(workers int) int { return max(32, workers*8) }

func maxAckPending(workers int) int { return 2 * (workers + fairWindow(workers)) }

// awaitLeader waits, for at most 30 s, until a replicated consumer has
// elected its leader. A pull request sent before then goes unanswered,
// and the client only sends another after its heartbeat times out: a
// fresh consumer on a cluster would sit idle for about 30 s.
func (b *Bus) awaitLeader(ctx context.Context, cons jetstream.Consumer) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err == nil && (info.Cluster == nil || info.Cluster.Leader != "") {
			return
		}
		if time.Now().After(deadline) {
			b.log.Warn("consumer has no leader after 30s; consuming all the same", "consumer", cons.CachedInfo().Name, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// delivery is a received message and the stop of its keep-alive.
type delivery struct {
	jetstream.Msg
	stop func()
}

// handle runs h on one delivery and settles it: ack on success, a retry
// after a delay on a retryable failure, dead letter and term when the
// failure is permanent or the attempts or the deadline are used up.
// Handlers run on a context that shutdown does not cancel, so in-flight
// work finishes; HandlerTimeout bounds each call.
func (b *Bus) handle(parent context.Context, cfg ConsumerConfig, h Handler, d *delivery, order *serial) {
	jm := d.Msg
	// The keep-alive runs through retries in place and stops when the
	// message is settled.
	defer d.stop()
	// Stopping: a message not yet started, or waiting for a retry in
	// place, goes back at once, with the ones of its article queued
	// behind it, so that whoever takes them over takes them in order
	// and nothing waits out AckWait.
	handBack := func() {
		_ = jm.Nak()
		order.dropAfter(d)
	}
	if parent.Err() != nil {
		handBack()
		return
	}
	meta, err := jm.Metadata()
	if err != nil {
		b.log.Error("not a JetStream message", "stage", cfg.Stage, "err", err)
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
		Seq:       meta.Sequence.Stream,
	}
	if v, err := strconv.ParseUint(jm.Headers().Get(HeaderVersion), 10, 32); err == nil {
		m.Version = uint32(v)
	}
	if b.metrics != nil && m.Attempt > 1 {
		b.metrics.redeliveries.WithLabelValues(cfg.Stage).Inc()
	}
	for {
		delay, retry := b.attempt(parent, cfg, h, jm, m)
		if !retry {
			return
		}
		if !cfg.Ordered {
			_ = jm.NakWithDelay(delay)
			return
		}
		if parent.Err() != nil {
			handBack()
			return
		}
		select {
		case <-time.After(delay):
			m.Attempt++
		case <-parent.Done():
			handBack()
			return
		}
	}
}

// attempt runs the handler once and settles the outcome, but for a retry,
// whose delay it returns for the caller to carry out.
func (b *Bus) attempt(parent context.Context, cfg ConsumerConfig, h Handler, jm jetstream.Msg, m *Msg) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cfg.HandlerTimeout)
	defer cancel()
	ctx, span := b.tracer.Start(tracing.Extract(ctx, m.Header), cfg.Stage, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", m.Subject),
			attribute.String("pressline.article.id", m.ArticleID), attribute.Int("pressline.article.version", int(m.Version)),
			attribute.Int("messaging.delivery.attempt", m.Attempt)))
	defer span.End()
	m.TraceID = tracing.TraceID(ctx)
	m.Log = b.log.With("stage", cfg.Stage, "article_id", m.ArticleID, "version", m.Version, "trace_id", m.TraceID)
	start := time.Now()
	if b.metrics != nil {
		b.metrics.inFlight.WithLabelValues(cfg.Stage).Inc()
	}
	herr := overdue(cfg, m)
	if herr == nil {
		herr = b.call(ctx, cfg, h, m)
	}
	outcome, delay := b.settle(parent, ctx, cfg, jm, m, herr)
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
	return delay, outcome == "retry"
}

// call runs the handler, catching a panic as a permanent failure (with
// the panic's value and where it happened), so that the message becomes
// a dead letter and the process goes on serving everything else. A
// panic in a goroutine the handler starts is not caught: it still ends
// the process, and the message's later deliveries end in a dead letter
// by overdue.
func (b *Bus) call(ctx context.Context, cfg ConsumerConfig, h Handler, m *Msg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Caught(r, debug.Stack())
			m.Log.Error("handler panicked", "err", err)
			if b.metrics != nil {
				b.metrics.panics.WithLabelValues(cfg.Stage).Inc()
			}
		}
	}()
	return h(ctx, m)
}

// overdue is why a delivery is not handled at all but made a dead letter
// at once: it comes after its attempts or past its deadline, so the
// deliveries before it ended unsettled (their process stopped or
// crashed, or their dead letter could not be stored). nil for a delivery
// to handle. A replay may succeed, so the failure is not permanent.
func overdue(cfg ConsumerConfig, m *Msg) error {
	switch {
	case cfg.MaxAttempts >= 1 && m.Attempt > cfg.MaxAttempts:
		return fmt.Errorf("delivered %d times, more than its %d attempts: the deliveries before ended unsettled (the process handling them stopped, or their dead letter could not be stored)", m.Attempt, cfg.MaxAttempts)
	case cfg.GiveUpAfter > 0 && m.Attempt > 1 && time.Since(m.Stored) > cfg.GiveUpAfter:
		return fmt.Errorf("delivered again %s after it was stored, past its %s deadline: the deliveries before ended unsettled", time.Since(m.Stored).Round(time.Second), cfg.GiveUpAfter)
	}
	return nil
}

// settle acknowledges, dead-letters or decides on a retry; a retry is
// left to the caller, with its delay. A dead letter and OnGiveUp run on
// a context of their own, as ctx, the handler's, may have run out; the
// record is tried until it is stored or parent says the process stops.
func (b *Bus) settle(parent, ctx context.Context, cfg ConsumerConfig, jm jetstream.Msg, m *Msg, herr error) (string, time.Duration) {
	if herr == nil {
		if err := jm.Ack(); err != nil {
			// The server will redeliver; the handler's output is
			// de-duplicated by message id, so that costs only time.
			m.Log.Warn("ack failed", "err", err)
		}
		return "ok", 0
	}
	permanent := fault.IsPermanent(herr)
	delay := backoff(cfg, m.Attempt)
	if d, ok := fault.RetryAfter(herr); ok && d > delay {
		delay = d
	}
	attemptsLeft := cfg.MaxAttempts < 1 || m.Attempt < cfg.MaxAttempts
	beforeDeadline := cfg.GiveUpAfter <= 0 || time.Now().Add(delay).Before(m.Stored.Add(cfg.GiveUpAfter))
	if !permanent && attemptsLeft && beforeDeadline {
		m.Log.Warn("will retry", "attempt", m.Attempt, "delay", delay, "err", herr)
		if cfg.OnRetry != nil {
			cfg.OnRetry(m, herr, delay)
		}
		return "retry", delay
	}
	if !permanent && attemptsLeft {
		herr = fmt.Errorf("not done within the %s deadline, after %d attempts: %w", cfg.GiveUpAfter, m.Attempt, herr)
	}
	own := context.WithoutCancel(ctx)
	for try := 1; ; try++ {
		dctx, cancel := context.WithTimeout(own, deadLetterTimeout)
		err := b.deadLetter(dctx, cfg, jm, m, herr, permanent)
		cancel()
		if err == nil {
			break
		}
		// Without the record, terminating would lose the message.
		m.Log.Error("dead letter not stored, will try again", "try", try, "err", err, "cause", herr)
		select {
		case <-time.After(min(cfg.MinBackoff<<min(try, 10), 30*time.Second)):
		case <-parent.Done():
			// Stopping: the message comes back, and its next delivery,
			// being overdue, is made a dead letter.
			return "retry", 0
		}
	}
	m.Log.Error("gave up", "attempt", m.Attempt, "permanent", permanent, "err", herr)
	_ = jm.TermWithReason(truncate(herr.Error(), 200))
	if cfg.OnGiveUp != nil {
		gctx, cancel := context.WithTimeout(own, deadLetterTimeout)
		cfg.OnGiveUp(gctx, m, herr)
		cancel()
	}
	return "dead_letter", 0
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
	msg := &nats.Msg{Subject: layout.DeadLetterSubject(stage), Data: data, Header: nats.Header{}}
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
	if n := len(cfg.Schedule); n > 0 {
		d := cfg.Schedule[min(max(attempt, 1), n)-1]
		return d + rand.N(d/10+1)
	}
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

// dropAfter hands back the messages of d's article waiting behind it,
// when d was handed back unsettled; next then finds none.
func (s *serial) dropAfter(d *delivery) {
	if s == nil {
		return
	}
	id := d.Headers().Get(HeaderArticleID)
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[id]
	for _, w := range q[1:] {
		w.stop()
		_ = w.Nak()
	}
	s.queues[id] = q[:1]
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
