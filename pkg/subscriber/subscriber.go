// Package subscriber is for downstream sites: it follows one Pressline
// site's publications (published, updated, withdrawn) through a durable
// JetStream consumer, so a site that was away catches up where it left
// off, and a new site can replay history from any time.
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// Config says what to follow.
type Config struct {
	Site string
	// Durable names the consumer on the server; a restart with the same
	// name resumes after the last event handled.
	Durable string
	// StartAt, for a consumer that does not exist yet, is the time to
	// replay history from; zero replays all of it.
	StartAt time.Time
	// RetryDelay is the wait before an event whose handler failed is
	// offered again; 5 s when zero.
	RetryDelay time.Duration
}

// Event is one change to an article on the site.
type Event struct {
	Kind      events.Kind
	ArticleID string
	Version   uint32
	Site      string
	URL       string // the article's page
	NinjsURL  string // its ninjs document; empty for withdrawn
	// Ninjs is the ninjs 3.0 document itself (JSON), when the event
	// carries it (all but the largest do); fetch NinjsURL otherwise.
	Ninjs string
	Title string
	At    time.Time
	// Sequence is the event's position in the stream, increasing.
	Sequence uint64
	Raw      *pb.ArticlePublished
}

// Run hands the site's events to handle one at a time, in the order they
// were published, until ctx is cancelled. An event is acknowledged only
// when handle returns nil; an error offers it again after RetryDelay, and
// nothing after it is handed over meanwhile, so a mirror never sees a
// later version before an earlier one. Handlers should be idempotent by
// (ArticleID, Version): after a crash the last event may come again.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, handle func(context.Context, Event) error) error {
	if cfg.Site == "" || cfg.Durable == "" {
		return errors.New("subscriber: Site and Durable are required")
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "Downstream site following " + cfg.Site,
		FilterSubject: events.SiteFilter(cfg.Site),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 1, // strictly in order
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if !cfg.StartAt.IsZero() {
		start := cfg.StartAt
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := js.Consumer(ctx, events.Stream, cfg.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = js.CreateConsumer(ctx, events.Stream, cc)
	}
	if err != nil {
		return fmt.Errorf("subscriber %s: %w", cfg.Durable, err)
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("subscriber %s: %w", cfg.Durable, err)
		}
		for m := range batch.Messages() {
			if err := deliver(ctx, m, handle, cfg.RetryDelay); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			return fmt.Errorf("subscriber %s: %w", cfg.Durable, err)
		}
	}
	return nil
}

func deliver(ctx context.Context, m jetstream.Msg, handle func(context.Context, Event) error, retry time.Duration) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	raw := &pb.ArticlePublished{}
	_, kind, ok := events.ParseSiteSubject(m.Subject())
	if err := proto.Unmarshal(m.Data(), raw); err != nil || !ok {
		// Not an event this version understands: skipping it is the only
		// way forward, and says so.
		_ = m.Term()
		return nil
	}
	ev := Event{
		Kind:      kind,
		ArticleID: raw.GetArticle().GetId(), Version: raw.GetArticle().GetVersion(),
		Site: raw.GetSite(), URL: raw.GetUrl(), NinjsURL: raw.GetNinjsUrl(), Ninjs: raw.GetNinjs(), Title: raw.GetTitle(),
		At: raw.GetPublishedAt().AsTime(), Sequence: meta.Sequence.Stream, Raw: raw,
	}
	if err := handle(ctx, ev); err != nil {
		_ = m.NakWithDelay(retry)
		return nil
	}
	// A lost acknowledgement means the event comes again, which an
	// idempotent handler absorbs.
	_ = m.DoubleAck(ctx)
	return nil
}
