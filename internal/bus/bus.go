// Package bus carries Pressline's events over NATS JetStream: it declares
// the streams, publishes events with de-duplication ids, runs durable
// consumers for the stages, and keeps the dead-letter stream. It is the
// only place that settles a message (ack, retry, dead letter). Streams and
// subjects are named by internal/layout.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/fault"
	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/internal/tracing"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Headers set on every event, so that logs, dead letters and operators can
// name the article without decoding the body.
const (
	HeaderArticleID = "Pressline-Article-Id"
	HeaderVersion   = "Pressline-Article-Version"
	// HeaderNewsroom is whose article it is: stages share their workers
	// out by it (fair.go).
	HeaderNewsroom = "Pressline-Newsroom"
	// HeaderWebhookTest marks a test event for one webhook subscriber,
	// with its webhook-id: it carries no article.
	HeaderWebhookTest = "Pressline-Webhook-Test"
)

// MsgID is the de-duplication id of the event a stage emits for one version
// of one article: a retried handler publishes the same id, and JetStream
// drops the second copy.
func MsgID(ref *pb.ArticleRef, stage string) string {
	return ref.GetId() + "/" + strconv.FormatUint(uint64(ref.GetVersion()), 10) + "/" + stage
}

// Config says how streams are laid out.
type Config struct {
	// Replicas per stream: 1 for a single server, 3 for a cluster.
	Replicas int
	// ArticleMaxAge bounds how long stage-to-stage events are kept, for
	// replay and inspection. Published events and dead letters are kept
	// until an operator removes them.
	ArticleMaxAge time.Duration
	// DuplicateWindow is how long JetStream remembers message ids.
	DuplicateWindow time.Duration
	// Tracing makes a span for every message a stage handles, child of
	// the span that published it; nil makes none.
	Tracing trace.TracerProvider
}

// DefaultConfig suits a single server.
func DefaultConfig() Config {
	return Config{Replicas: 1, ArticleMaxAge: 7 * 24 * time.Hour, DuplicateWindow: 10 * time.Minute}
}

// Bus is a JetStream context with Pressline's streams in place.
type Bus struct {
	// instance names this process's readiness subject.
	instance string
	nc       *nats.Conn
	js       jetstream.JetStream
	log      *slog.Logger
	metrics  *Metrics
	tracer   trace.Tracer
}

// New declares the streams (idempotently: every service may do it at
// start-up, in any order) and returns a Bus on nc. metrics may be nil.
func New(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger, metrics *Metrics) (*Bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	tp := cfg.Tracing
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	b := &Bus{instance: instanceName(), nc: nc, js: js, log: log, metrics: metrics, tracer: tp.Tracer("github.com/pressline/pressline/internal/bus")}
	if metrics != nil {
		metrics.mu.Lock()
		metrics.js = js
		metrics.mu.Unlock()
	}
	streams := []jetstream.StreamConfig{
		{
			Name:        layout.StreamArticles,
			Description: "Article events between Pressline stages.",
			MaxAge:      cfg.ArticleMaxAge,
		},
		{
			Name:        layout.StreamSites,
			Description: "Publication events for downstream sites, and replays for one webhook subscriber; kept for replay.",
		},
		{
			Name:        layout.StreamDeadLetter,
			Description: "Messages a stage gave up on; see pressline dlq.",
		},
		{
			Name:              layout.StreamReady,
			Description:       "Each process's last readiness write (/readyz): one small message per process, kept an hour.",
			MaxAge:            time.Hour,
			MaxMsgsPerSubject: 1,
		},
	}
	for _, sc := range streams {
		sc.Subjects = layout.StreamSubjects(sc.Name)
		sc.Storage = jetstream.FileStorage
		sc.Retention = jetstream.LimitsPolicy
		sc.Replicas = cfg.Replicas
		sc.Duplicates = cfg.DuplicateWindow
		if err := declareStream(ctx, js, sc); err != nil {
			return nil, fmt.Errorf("bus: stream %s: %w", sc.Name, err)
		}
	}
	return b, nil
}

// declareStream makes the stream, or updates it where it differs from
// sc; a stream already as asked is left alone. Every process declares
// the streams when it starts, and nats-server 2.15.3 races a stream's
// configuration update against the consumers being made on it (the race
// detector saw it while services started one after another).
func declareStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	s, err := js.Stream(ctx, sc.Name)
	if err == nil {
		c := s.CachedInfo().Config
		if c.Description == sc.Description && slices.Equal(c.Subjects, sc.Subjects) && c.Storage == sc.Storage &&
			c.Retention == sc.Retention && c.Replicas == max(sc.Replicas, 1) && c.Duplicates == sc.Duplicates && c.MaxAge == sc.MaxAge {
			return nil
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	_, err = js.CreateOrUpdateStream(ctx, sc)
	return err
}

// Ping asks JetStream for the account's usage and then stores one small
// message, and fails if either does not come back in time. A connection
// can be up while JetStream answers nothing, and a JetStream that answers
// can still be unable to write: a full disk leaves a stream failing every
// publish unanswered, and readiness must say so.
func (b *Bus) Ping(ctx context.Context) error {
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := b.js.Publish(ctx, layout.ReadySubject(b.instance), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("jetstream cannot store a message: %w", err)
	}
	return nil
}

// instanceName is this process's host and pid, as a subject token.
func instanceName() string {
	host, _ := os.Hostname()
	name := []byte(host + "-" + strconv.Itoa(os.Getpid()))
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			name[i] = '_'
		}
	}
	return string(name)
}

// JetStream exposes the underlying context for packages that keep their own
// JetStream state (the status bucket).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Publish sends m on subject with the given de-duplication id and waits for
// JetStream to persist it. A failure is retryable.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, ref *pb.ArticleRef, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fault.Permanent(fmt.Errorf("bus: marshal %T: %w", m, err))
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(HeaderArticleID, ref.GetId())
	msg.Header.Set(HeaderVersion, strconv.FormatUint(uint64(ref.GetVersion()), 10))
	msg.Header.Set(HeaderNewsroom, ref.GetNewsroom())
	// The next stage's span becomes a child of the caller's.
	tracing.Inject(ctx, msg.Header)
	return b.publishMsg(ctx, msg, msgID)
}

func (b *Bus) publishMsg(ctx context.Context, msg *nats.Msg, msgID string) error {
	start := time.Now()
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if b.metrics != nil {
		outcome := "ok"
		switch {
		case err != nil:
			outcome = "error"
		case ack.Duplicate:
			outcome = "duplicate"
		}
		b.metrics.published.WithLabelValues(layout.StreamOf(msg.Subject), outcome).Inc()
		b.metrics.publishDuration.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fault.Retry(fmt.Errorf("bus: publish %s (%s): %w", msg.Subject, msgID, err), time.Second)
	}
	return nil
}
