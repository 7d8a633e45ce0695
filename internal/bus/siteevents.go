package bus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/pressline/pressline/internal/layout"
	"github.com/pressline/pressline/pkg/events"
	pb "github.com/pressline/pressline/proto/pressline/v1"
)

// SiteEvent is one of a site's events as the sites' stream keeps it: its
// sequence there is the cursor a reader resumes after.
type SiteEvent struct {
	Seq   uint64
	Event *pb.ArticlePublished
}

// SiteEvents reads up to limit of site's events stored after sequence
// after, oldest first: what a downstream site that was away catches up
// on, without a consumer of its own. Each event is one direct read of
// the stream (the next message of the site's subjects from a sequence
// on), so a reader leaves nothing behind on the server.
func (b *Bus) SiteEvents(ctx context.Context, site string, after uint64, limit int) ([]SiteEvent, error) {
	stream, err := b.js.Stream(ctx, layout.StreamSites)
	if err != nil {
		return nil, fmt.Errorf("bus: site events: %w", err)
	}
	if after == math.MaxUint64 {
		return nil, nil // no sequence comes after it
	}
	var out []SiteEvent
	for seq := after + 1; len(out) < limit; {
		m, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(events.SiteFilter(site)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bus: site events after %d: %w", seq-1, err)
		}
		ev := &pb.ArticlePublished{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			return nil, fmt.Errorf("bus: site event %d: %w", m.Sequence, err)
		}
		out = append(out, SiteEvent{Seq: m.Sequence, Event: ev})
		seq = m.Sequence + 1
	}
	return out, nil
}

// FollowSites calls apply with every site event in the sites' stream
// after sequence after, then with each as it is stored, until ctx ends.
// caughtUp is called once, when apply has seen every event stored when
// following began. A reader that falls behind or loses the server
// resumes where it was (an ordered consumer, which leaves nothing on the
// server when it goes).
func (b *Bus) FollowSites(ctx context.Context, after uint64, apply func(SiteEvent), caughtUp func()) error {
	stream, err := b.js.Stream(ctx, layout.StreamSites)
	if err != nil {
		return fmt.Errorf("bus: follow sites: %w", err)
	}
	var last uint64
	switch m, err := stream.GetLastMsgForSubject(ctx, events.AllSites); {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("bus: follow sites: %w", err)
	default:
		last = m.Sequence
	}
	done := last <= after
	if done {
		caughtUp()
	}
	cons, err := b.js.OrderedConsumer(ctx, layout.StreamSites, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.AllSites}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq: after + 1, InactiveThreshold: time.Minute})
	if err != nil {
		return fmt.Errorf("bus: follow sites: %w", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("bus: follow sites: %w", err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bus: follow sites: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("bus: follow sites: %w", err)
		}
		ev := &pb.ArticlePublished{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			// Not an event of this version's schema: nothing to index,
			// and nothing to retry.
			b.log.Warn("site event not indexed", "seq", md.Sequence.Stream, "err", err)
		} else {
			apply(SiteEvent{Seq: md.Sequence.Stream, Event: ev})
		}
		if !done && md.Sequence.Stream >= last {
			done = true
			caughtUp()
		}
	}
}

// ErrNoSiteEvent means the sites' stream holds no event at a sequence
// (an operator removed it).
var ErrNoSiteEvent = errors.New("no such site event")

// Redeliver sends the sites' stream's event at seq to subject again (a
// webhook subscriber's own, layout.WebhookSubject), as it was stored.
// msgID de-duplicates the copy: a redelivery asked twice within the
// duplicate window is sent once.
func (b *Bus) Redeliver(ctx context.Context, seq uint64, subject, msgID string) error {
	stream, err := b.js.Stream(ctx, layout.StreamSites)
	if err != nil {
		return fmt.Errorf("bus: redeliver: %w", err)
	}
	m, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("bus: redeliver %d: %w", seq, ErrNoSiteEvent)
	}
	if err != nil {
		return fmt.Errorf("bus: redeliver %d: %w", seq, err)
	}
	msg := &nats.Msg{Subject: subject, Data: m.Data, Header: nats.Header{}}
	for k, v := range m.Header {
		if k != jetstream.MsgIDHeader && len(v) > 0 {
			msg.Header.Set(k, v[0])
		}
	}
	return b.publishMsg(ctx, msg, msgID)
}

// SendWebhookTest stores a test event, with webhook-id id, on subject (a
// webhook subscriber's own, layout.WebhookSubject).
func (b *Bus) SendWebhookTest(ctx context.Context, subject, id string) error {
	msg := &nats.Msg{Subject: subject, Header: nats.Header{}}
	msg.Header.Set(HeaderWebhookTest, id)
	return b.publishMsg(ctx, msg, "test/"+id)
}
