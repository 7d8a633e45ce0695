package bus

import (
	"context"
	"errors"
	"fmt"
	"math"

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
